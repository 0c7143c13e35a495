"""Imports of the optional dependencies: each missing one is an ImportError that says what
needed it and which extra of hashembed installs it."""

from __future__ import annotations

import importlib
from types import ModuleType


def missing(error: ModuleNotFoundError, extra: str, purpose: str) -> ImportError:
    """The error for `purpose` (e.g. "embed_arrow") failing on the missing module of `error`."""
    package = (error.name or "a package").split(".")[0]
    return ImportError(f"{purpose} needs the {package!r} package: pip install 'hashembed[{extra}]'")


def optional(module: str, extra: str, purpose: str) -> ModuleType:
    """`module`, imported; `extra` is the hashembed extra that installs it."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        raise missing(e, extra, purpose) from e
