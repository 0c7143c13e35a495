"""Type stubs for `hashembed._core`, the compiled extension (src/python/*.rs)."""

from collections.abc import Sequence
from typing import Any, final

import numpy as np
import numpy.typing as npt
from typing_extensions import Self, TypeAlias

__all__ = [
    "Embedder",
    "ItemError",
    "ItemTypeError",
    "ParameterError",
    "ParameterTypeError",
    "VocabEmbedder",
    "__version__",
    "available_kernels",
    "available_memory",
    "check_out",
    "default_threads",
    "defaults",
    "get_kernel",
    "set_kernel",
]

__version__: str

_Int: TypeAlias = int | np.integer
_Layout: TypeAlias = str | Sequence[_Int]
_FloatArray2D: TypeAlias = npt.NDArray[np.float32] | npt.NDArray[np.float64] | npt.NDArray[np.float16]

# Final: `hashembed.HashEmbedder` holds one rather than extending it.
@final
class Embedder:
    """An embedding function with a fixed configuration. Immutable, so it is shared freely
    between threads."""

    def __new__(
        cls,
        dim: _Int,
        *,
        max_ngram: _Int,
        layout: _Layout,
        seed: _Int,
        base: _Int,
        hash_modulus: _Int,
        buckets: _Int,
        hash_seeds: Sequence[_Int] | None,
        boundary_markers: bool | np.bool_,
    ) -> Self:
        """Every argument is required here; `hashembed.HashEmbedder` supplies the defaults."""
    @property
    def dim(self) -> int: ...
    @property
    def max_ngram(self) -> int: ...
    @property
    def layout(self) -> tuple[int, ...]:
        """Output positions of each n-gram size, smallest size first."""
    @property
    def seed(self) -> int: ...
    @property
    def base(self) -> int: ...
    @property
    def hash_modulus(self) -> int: ...
    @property
    def buckets(self) -> int: ...
    @property
    def hash_seeds(self) -> npt.NDArray[np.uint32]:
        """A copy of the hash seeds, one per output position."""
    @property
    def boundary_markers(self) -> bool:
        """Whether texts are wrapped in U+0002 ... U+0003 before hashing."""
    @property
    def explicit_hash_seeds(self) -> bool:
        """Whether the seeds were given explicitly rather than derived from `seed`."""
    def embed(self, text: str) -> npt.NDArray[np.float32]:
        """The float32 embedding of one string, shape `(dim,)`."""
    def embed_batch_into(
        self,
        texts: list[str] | tuple[str, ...],
        out: _FloatArray2D,
        num_threads: _Int | None = None,
        rows: npt.NDArray[np.int64] | None = None,
    ) -> None:
        """Fills `out` (C-contiguous, writable, 2-D with `dim` columns, float32, float64 or
        float16) with the embeddings of `texts`, a list or tuple of `str`: text `i` goes to row
        `rows[i]` (distinct int64 row numbers), or to row `i` with exactly one row per text."""
    def embed_utf8_into(
        self,
        data: npt.NDArray[np.uint8],
        offsets: npt.NDArray[np.int64],
        out: _FloatArray2D,
        num_threads: _Int | None = None,
        rows: npt.NDArray[np.int64] | None = None,
    ) -> None:
        """As `embed_batch_into`, for texts given as UTF-8: text `i` is
        `data[offsets[i]:offsets[i + 1]]` (the layout of an Arrow string array)."""

@final
class VocabEmbedder:
    """A vocabulary bound to an embedder: token ids in, rows out."""

    def __new__(
        cls,
        embedder: Embedder,
        tokens: list[str] | tuple[str, ...],
        cache: str,
        max_rows: int,
        num_threads: _Int | None = None,
    ) -> Self:
        """`tokens` (a list of str, token i at index i) bound to `embedder`; `cache` is "none",
        "lazy" (keeping at most `max_rows` rows) or "full" (the whole table, computed now)."""
    def __len__(self) -> int:
        """Tokens in the vocabulary."""
    @property
    def cached_rows(self) -> int:
        """Rows the cache holds now."""
    def tokens(self) -> list[str]:
        """The tokens, in id order (for pickling)."""
    def embed_ids_into(
        self,
        ids: npt.NDArray[np.integer[Any]],
        out: npt.NDArray[np.float32] | npt.NDArray[np.float64] | npt.NDArray[np.float16],
        mask: npt.NDArray[np.integer[Any]] | npt.NDArray[np.bool_] | None = None,
        zero_ids: Sequence[int] = ...,
        num_threads: _Int | None = None,
    ) -> None:
        """Writes into `out` (C-contiguous, of shape `ids.shape + (dim,)`, float32, float64 or
        float16) the row of every id of `ids` (a numpy integer array of any shape and
        strides); zeros where `mask` (same shape, bool or integer) is 0 or the id is one of
        `zero_ids`. Float32 rows go through the cache; other dtypes compute their ids."""

class ParameterError(ValueError):
    """A parameter out of its range: `.parameter` is its name, `.value` the value given and
    `.index` the position of the bad element for a sequence (layout, hash_seeds, rows), else None."""

    parameter: str
    index: int | None
    value: object

class ParameterTypeError(TypeError):
    """A parameter of the wrong type; attributes as for ParameterError."""

    parameter: str
    index: int | None
    value: object

class ItemError(ValueError):
    """An item of a batch that cannot be embedded: `.index` is its position, `.reason` the
    message after the item's name; for invalid UTF-8, `.byte` is where it goes wrong."""

    index: Any
    reason: str
    byte: int

class ItemTypeError(TypeError):
    """An item of a batch of the wrong type; attributes as for ItemError."""

    index: Any
    reason: str

def set_kernel(name: str) -> None:
    """Forces the projection kernel for the whole process: "auto", "scalar", "avx2" or "avx512"."""

def get_kernel() -> str:
    """The kernel in use."""

def available_kernels() -> list[str]:
    """The kernels this CPU can run, slowest first."""

def defaults() -> dict[str, Any]:
    """The default configuration (the spec's), as keyword arguments of `HashEmbedder`."""

def available_memory() -> int | None:
    """Bytes of memory available to new allocations (Linux's MemAvailable), or None if unknown."""

def check_out(out: object, shape: tuple[int, ...], dtype: np.dtype) -> None:
    """Checks an output array as every native call does: a numpy.ndarray of exactly `shape`
    and `dtype`, C-contiguous, writable and aligned (ParameterError or ParameterTypeError)."""

def default_threads() -> int:
    """Worker threads a batch uses by default."""
