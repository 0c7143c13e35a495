"""The configuration parameters, once: name, help and how the CLI takes each, with their
defaults from the core (`_core.defaults()`, the Rust `Config::default` that the C API's
defaults come from too).

What cannot be generated from this table is checked against it: `HashEmbedder`'s signature
and `hashembed.reference.DEFAULTS` by tests/test_params.py, the extension's stubs by
`python -m mypy.stubtest hashembed._core` (in `make test`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import _core


@dataclass(frozen=True)
class Parameter:
    name: str
    help: str
    # How the CLI takes it: "int", "layout", "flag" (--x / --no-x), or None for no flag.
    cli: str | None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


PARAMETERS: tuple[Parameter, ...] = (
    Parameter("dim", "output dimension", "int"),
    Parameter("max_ngram", "largest n-gram size", "int"),
    Parameter("layout", "proportional, equal or comma-separated part sizes", "layout"),
    Parameter("seed", "seed of the position multipliers", "int"),
    Parameter("base", "polynomial hash base", "int"),
    Parameter("hash_modulus", "polynomial hash modulus", "int"),
    Parameter("buckets", "projection modulus", "int"),
    Parameter("hash_seeds", "explicit position multipliers, one per output position", None),
    Parameter("boundary_markers", "wrap each text in U+0002 ... U+0003 before hashing", "flag"),
)

DEFAULTS: dict[str, Any] = _core.defaults()
