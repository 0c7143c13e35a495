"""Dynamic hash embeddings: a deterministic, table-free replacement for an input embedding layer.

Every character n-gram of a string gets a polynomial rolling hash, projected through a fixed
vector of seeds modulo a prime; the per-size averages, scaled into [-1, 1], make the vector.
Any string gets one, no table is stored, and strings sharing n-grams get nearby vectors.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._bound import VocabEmbedder
from ._core import __version__, available_kernels, default_threads, get_kernel, set_kernel
from ._embedder import HashEmbedder
from ._optional import missing
from .errors import ItemError, ItemTypeError, ParameterError, ParameterTypeError
from .vocab import load_tokenizer, save_table

__all__ = [
    "HashEmbedder",
    "ItemError",
    "ItemTypeError",
    "ParameterError",
    "ParameterTypeError",
    "VocabEmbedder",
    "__version__",
    "available_kernels",
    "default_threads",
    "get_kernel",
    "load_tokenizer",
    "save_table",
    "set_kernel",
]

# Submodules imported on first access (`hashembed.torch` after `import hashembed`), each with
# the extra that installs what it needs; `reference` needs nothing.
_LAZY = {"reference": None, "torch": "torch", "dask": "dask", "onnx": "onnx", "int8": "int8"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'hashembed' has no attribute {name!r}")
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as e:
        extra = _LAZY[name]
        if e.name is None or e.name.startswith(__name__) or extra is None:
            raise
        raise missing(e, extra, f"hashembed.{name}") from e
