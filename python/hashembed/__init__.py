"""Dynamic hash embeddings: a deterministic, table-free replacement for an input embedding layer.

Every character n-gram of a string gets a polynomial rolling hash, projected through a fixed
vector of seeds modulo a prime; the per-size averages, scaled into [-1, 1], make the vector.
Any string gets one, no table is stored, and strings sharing n-grams get nearby vectors.
"""

from __future__ import annotations

from ._core import __version__, available_kernels, default_threads, get_kernel, set_kernel
from ._embedder import HashEmbedder
from .vocab import load_tokenizer, save_table

__all__ = [
    "HashEmbedder",
    "__version__",
    "available_kernels",
    "default_threads",
    "get_kernel",
    "load_tokenizer",
    "save_table",
    "set_kernel",
]
