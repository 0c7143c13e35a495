"""The configuration parameters, once: name, help and how the CLI takes each, with their
defaults from the core (`_core.defaults()`, the Rust `Config::default` that the C API's
defaults come from too). `HashEmbedder`'s properties and `config()` and the CLI's flags are
made from this table.

What cannot be generated from it is checked against it: `HashEmbedder`'s signature and its
annotations for type checkers, and `hashembed.reference.DEFAULTS`, by tests/core/test_params.py;
the extension's stubs by `python -m mypy.stubtest hashembed._core` (in `make test`).
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
    # What the property says of the value, where `help` (the CLI's) would not do.
    doc: str = ""

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def docstring(self) -> str:
        return self.doc or f"{self.help[0].upper()}{self.help[1:]}."


PARAMETERS: tuple[Parameter, ...] = (
    Parameter("dim", "output dimension", "int"),
    Parameter("max_ngram", "largest n-gram size", "int"),
    Parameter(
        "layout",
        "proportional, equal or comma-separated part sizes",
        "layout",
        "Output positions of each n-gram size, smallest size first.",
    ),
    Parameter("seed", "seed of the position multipliers", "int"),
    Parameter("base", "polynomial hash base", "int"),
    Parameter("hash_modulus", "polynomial hash modulus", "int"),
    Parameter("buckets", "projection modulus", "int"),
    Parameter(
        "hash_seeds",
        "explicit position multipliers, one per output position",
        None,
        "A copy of the position multipliers, one per output position (uint32).",
    ),
    Parameter(
        "boundary_markers",
        "wrap each text in U+0002 ... U+0003 before hashing",
        "flag",
        "Whether texts are wrapped in U+0002 ... U+0003 before hashing.",
    ),
)

DEFAULTS: dict[str, Any] = _core.defaults()
