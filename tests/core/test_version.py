"""The version is stated once, in Cargo.toml; everything that reports it must agree."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import hashembed

ROOT = Path(__file__).resolve().parents[2]


def cargo_version() -> str:
    manifest = (ROOT / "Cargo.toml").read_text(encoding="utf-8")
    match = re.search(r'^\[package\]\n(?:.*\n)*?version = "([^"]+)"', manifest, re.M)
    assert match, "no [package] version in Cargo.toml"
    return match.group(1)


def test_installed_wheel_reports_the_cargo_version():
    assert hashembed.__version__ == importlib.metadata.version("hashembed") == cargo_version()


def test_changelog_records_this_version_as_the_latest_release():
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    releases = re.findall(r"^## \[(\d[^\]]*)\]", changelog, re.M)
    assert releases, "CHANGELOG.md records no release"
    assert releases[0] == cargo_version()
    assert re.search(r"^## \[Unreleased\]", changelog, re.M), "CHANGELOG.md has no Unreleased section"
