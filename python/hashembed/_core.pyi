"""Type stubs for `hashembed._core`, the compiled extension (src/python/*.rs)."""

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from typing_extensions import Self, TypeAlias

__all__ = ["Embedder", "__version__", "available_kernels", "default_threads", "get_kernel", "set_kernel"]

__version__: str

_Int: TypeAlias = int | np.integer
_Layout: TypeAlias = str | Sequence[_Int]
_FloatArray2D: TypeAlias = npt.NDArray[np.float32] | npt.NDArray[np.float64] | npt.NDArray[np.float16]

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

def set_kernel(name: str) -> None:
    """Forces the projection kernel for the whole process: "auto", "scalar", "avx2" or "avx512"."""

def get_kernel() -> str:
    """The kernel in use."""

def available_kernels() -> list[str]:
    """The kernels this CPU can run, slowest first."""

def default_threads() -> int:
    """Worker threads a batch uses by default."""
