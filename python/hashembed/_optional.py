"""Imports of the optional dependencies: each missing one is an ImportError that says what
needed it and which extra of hashembed installs it."""

from __future__ import annotations

import importlib
from types import ModuleType


def missing(error: ImportError, extra: str, purpose: str) -> ModuleNotFoundError:
    """The error for `purpose` (e.g. "embed_arrow") failing on the import that raised
    `error`: a ModuleNotFoundError, as the import's own, with its `.name`."""
    package = (error.name or "").split(".")[0]
    what = f"the {package!r} package" if package else f"a package that does not import ({error})"
    message = f"{purpose} needs {what}: pip install 'hashembed[{extra}]'"
    return ModuleNotFoundError(message, name=error.name)


def optional(module: str, extra: str, purpose: str) -> ModuleType:
    """`module`, imported; `extra` is the hashembed extra that installs it. A module that is
    there but fails to import (a broken install) is reported the same way."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise missing(e, extra, purpose) from e
