"""Writes tests/golden/vectors.json from the reference implementation.

Run from anywhere: ``python tests/golden/generate.py``. The reference module is loaded by
path, so neither the compiled extension nor an installed package is needed. The output is
deterministic; regenerating must give a byte-identical file.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "vectors.json"
FORMAT = "hashembed-golden-v1"


def _load_reference():
    path = HERE.parent.parent / "python" / "hashembed" / "reference.py"
    spec = importlib.util.spec_from_file_location("hashembed_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


reference = _load_reference()

DEFAULTS = reference.DEFAULTS
M31 = 2**31 - 1
PANGRAM = "The quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs. "
SAMPLE = "hello world"


def _pseudo_random_text(length: int, seed: int) -> list[int]:
    """Half ASCII letters, half any code point (surrogates included), from SplitMix64 so the
    text does not depend on Python's random module."""
    stream = reference.splitmix64(seed)
    out = []
    for _ in range(length):
        z = next(stream)
        out.append(97 + z % 26 if z & 1 else (z >> 1) % 0x110000)
    return out


def _explicit_seeds(dim: int, buckets: int) -> list[int]:
    """Covers both ends of the valid range [1, B) and a spread in between."""
    return [1, buckets - 1] + [1 + (k * 7_919_999 + 12_345) % (buckets - 1) for k in range(dim - 2)]


def _cases() -> list[tuple[str, str | list[int], dict]]:
    small = {"dim": 64}
    return [
        # The spec's check values, default parameters.
        ("hello-default", "hello", {}),
        ("abc-default", "abc", {}),
        ("the-default", "the", {}),
        ("a-default", "a", {}),
        ("a-dim12", "a", {"dim": 12}),
        ("xa-default", "xa", {}),
        ("yB-default", "yB", {}),
        ("empty-default", "", {}),
        ("empty-dim37", "", {"dim": 37}),
        # Shorter than some n-gram sizes: those parts are zero.
        ("one-char-max8", "x", {"dim": 64, "max_ngram": 8}),
        ("two-chars", "ab", {"dim": 48}),
        # Code points: surrogates, NUL, astral planes, marks, right-to-left scripts, CJK.
        ("lone-surrogate", "\ud800", small),
        ("surrogates-in-text", "a\udc00b\ud83d", small),
        ("nul", "\x00", small),
        ("nul-in-text", "a\x00b\x00", small),
        ("emoji", "\U0001f44d\U0001f3fd ok \U0001f389\U0001f468\u200d\U0001f469", small),
        ("combining-marks", "e\u0301 n\u0303 a\u0308\u0304", small),
        (
            "arabic",
            "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",
            small,
        ),
        ("hebrew", "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd", small),
        ("cjk", "\u6f22\u5b57\u30c6\u30b9\u30c8\ud55c\uad6d\uc5b4", small),
        ("max-code-point", [0x10FFFF, 0x10FFFE, 0x10FFFF], small),
        # Long texts: more windows than one 256-window chunk, and many chunks.
        ("long-720-default", (PANGRAM * 9)[:720], {}),
        ("windows-256-257-258", (PANGRAM * 3)[:258], {"dim": 48}),
        ("long-5000-dim32", _pseudo_random_text(5000, 7), {"dim": 32}),
        # Parameter boundaries.
        ("buckets-3", SAMPLE, {"dim": 32, "buckets": 3}),
        ("buckets-4-centre-tie", SAMPLE, {"dim": 32, "buckets": 4}),
        ("buckets-max", SAMPLE, {"dim": 32, "buckets": M31}),
        ("hash-modulus-2", SAMPLE, {"dim": 32, "hash_modulus": 2}),
        # Boundary markers: the text wrapped in U+0002 ... U+0003.
        ("markers-empty", "", {"dim": 48, "boundary_markers": True}),
        ("markers-hello-default", "hello", {"boundary_markers": True}),
        ("markers-one-char-max8", "x", {"dim": 64, "max_ngram": 8, "boundary_markers": True}),
        ("markers-long-720", (PANGRAM * 9)[:720], {"dim": 40, "boundary_markers": True}),
        ("hash-modulus-97", "\u00e9t\u00e9 \U0001f600", {"dim": 32, "hash_modulus": 97}),
        ("hash-modulus-max", SAMPLE, {"dim": 32, "hash_modulus": M31}),
        ("base-1", SAMPLE, {"dim": 32, "base": 1}),
        ("base-max", SAMPLE, {"dim": 32, "base": M31}),
        (
            "all-max-operands",
            _pseudo_random_text(300, 11),
            {"dim": 40, "base": M31 - 1, "hash_modulus": M31, "buckets": M31},
        ),
        ("base-1114129", "the cat #1", {"dim": 48, "base": 1_114_129}),
        ("dim1-max-ngram1", SAMPLE, {"dim": 1, "max_ngram": 1}),
        ("max-ngram-8", PANGRAM, {"dim": 100, "max_ngram": 8}),
        ("layout-equal", SAMPLE, {"dim": 96, "layout": "equal"}),
        ("layout-explicit", SAMPLE, {"dim": 32, "layout": [5, 7, 20]}),
        (
            "hash-seeds-explicit",
            SAMPLE,
            {"dim": 16, "hash_seeds": _explicit_seeds(16, 1_000_000_007)},
        ),
        (
            "hash-seeds-explicit-small-b",
            SAMPLE,
            {"dim": 12, "max_ngram": 2, "buckets": 5, "hash_seeds": [1, 2, 3, 4] * 3},
        ),
        ("seed-0", SAMPLE, {"dim": 32, "seed": 0}),
        ("seed-max", SAMPLE, {"dim": 32, "seed": 2**64 - 1}),
        ("dim-37", PANGRAM, {"dim": 37}),
        ("dim-100", PANGRAM, {"dim": 100}),
        ("dim-1000", "hello", {"dim": 1000}),
        ("dim-1100-equal-2", "hello", {"dim": 1100, "max_ngram": 2, "layout": "equal"}),
    ]


def build() -> dict:
    cases = []
    for name, text, overrides in _cases():
        config = {**DEFAULTS, **overrides}
        vector = reference.embed(text, **config)
        chars = [ord(c) for c in text] if isinstance(text, str) else list(text)
        cases.append(
            {
                "name": name,
                "config": config,
                "input": chars,
                "bits": [int(b) for b in vector.view("u4")],
            }
        )
    return {"format": FORMAT, "cases": cases}


def render(golden: dict) -> str:
    """One case per line, so a change to one case is a one-line diff."""
    lines = ",\n".join("  " + json.dumps(case) for case in golden["cases"])
    return f'{{"format": {json.dumps(golden["format"])},\n "cases": [\n{lines}\n]}}\n'


def main() -> None:
    OUTPUT.write_text(render(build()), encoding="utf-8")


if __name__ == "__main__":
    main()
