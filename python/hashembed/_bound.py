"""`VocabEmbedder`: a vocabulary bound to a `HashEmbedder` (`HashEmbedder.bind`), with the
tokens' code points and the cache of their rows held natively (`hashembed._core.VocabEmbedder`).

A training loop sees one vocabulary every step, and its token ids already say which string
each position holds: `embed_ids` reads the ids in place, computes each id's row at most once
(with the lazy or full cache) and writes every position of the output with the GIL released.
"""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _checks, _core
from . import tokens as _tokens
from . import vocab as _vocab
from .errors import ParameterError, ParameterTypeError, parameter_error

if TYPE_CHECKING:
    from ._embedder import HashEmbedder

CACHES = ("none", "lazy", "full")
_ROW_BYTES = 4  # the cache holds float32 rows


def _int_array(value: Any, name: str, kinds: str) -> np.ndarray:
    """`value` as a numpy array without a copy (numpy arrays, buffers, CPU torch tensors)."""
    try:
        array = np.asarray(value)
    except (TypeError, RuntimeError, ValueError) as e:
        raise parameter_error(
            ParameterTypeError, f"{name} cannot be read as an array: {e}", name, None
        ) from None
    if array.dtype.kind not in kinds:
        what = "integers" if kinds == "iu" else "integers or bools"
        message = f"{name} must be an array of {what}, not of {array.dtype}"
        raise parameter_error(ParameterTypeError, message, name, None)
    return array


class VocabEmbedder:
    """A vocabulary bound to a `HashEmbedder`: token ids in, rows out. Made by
    `HashEmbedder.bind`; immutable apart from its cache, and safe to share between threads.

    Rows are bit-identical to `embedder.embed_batch` of the tokens' strings. The cache holds
    float32 rows; `embed_ids(dtype="float64" or "float16")` computes its ids on every call.
    It pickles to its configuration and vocabulary (a full cache is recomputed on loading).
    """

    __slots__ = ("_cache", "_embedder", "_max_cache_bytes", "_native")

    def __init__(
        self,
        embedder: HashEmbedder,
        vocab: Any,
        *,
        cache: str = "lazy",
        max_cache_bytes: int | None = None,
        num_threads: int | None = None,
    ) -> None:
        if cache not in CACHES:
            message = f"cache={cache!r} is unknown: expected one of {', '.join(map(repr, CACHES))}"
            raise parameter_error(ParameterError, message, "cache", cache)
        limit = _checks.optional_int(max_cache_bytes, "max_cache_bytes", minimum=0)
        tokens = _vocab.vocab_tokens(vocab)
        row_bytes = embedder.dim * _ROW_BYTES
        max_rows = len(tokens) if limit is None else min(len(tokens), limit // row_bytes)
        if cache == "full":
            if limit is not None and max_rows < len(tokens):
                message = (
                    f"cache='full' needs {len(tokens) * row_bytes:,} bytes for the table of "
                    f"{len(tokens):,} x {embedder.dim} float32, more than max_cache_bytes={limit:,}"
                )
                raise parameter_error(ParameterError, message, "max_cache_bytes", limit)
            _checks.check_fits((len(tokens), embedder.dim), np.dtype(np.float32))
        self._embedder = embedder
        self._cache = cache
        self._max_cache_bytes = limit
        self._native = _core.VocabEmbedder(embedder._native, tokens, cache, max_rows, num_threads)

    @property
    def embedder(self) -> HashEmbedder:
        """The embedder the vocabulary is bound to."""
        return self._embedder

    @property
    def dim(self) -> int:
        """Output dimension."""
        return self._embedder.dim

    @property
    def cache(self) -> str:
        """The cache policy: "none", "lazy" or "full"."""
        return self._cache

    @property
    def max_cache_bytes(self) -> int | None:
        """The most memory the cache may hold (None: no limit)."""
        return self._max_cache_bytes

    @property
    def cached_rows(self) -> int:
        """Rows the cache holds now."""
        return self._native.cached_rows

    @property
    def cache_bytes(self) -> int:
        """Bytes of rows the cache holds now."""
        return self.cached_rows * self.dim * _ROW_BYTES

    def __len__(self) -> int:
        return len(self._native)

    def tokens(self) -> list[str]:
        """The vocabulary's tokens, in id order."""
        return self._native.tokens()

    def embed_ids(
        self,
        ids: Any,
        *,
        attention_mask: Any = None,
        zero_ids: Any = (),
        out: np.ndarray | None = None,
        dtype: Any = "float32",
        num_threads: int | None = None,
    ) -> np.ndarray:
        """The rows of token ids, shape `(*ids.shape, dim)`.

        `ids` is an integer array of any shape, strides and integer dtype: a NumPy array or
        anything NumPy reads without a copy (a buffer, a CPU torch tensor). Positions where
        `attention_mask` (the same shape, bool or integer) is 0, and ids in `zero_ids` (the
        pad id, say), give zero rows; any other id must be in [0, len(self)), else an
        IndexError names its position. `out`, if given, is filled and returned: C-contiguous,
        writable, of exactly that shape and of dtype `dtype` (float32, float64 or float16).
        """
        ids = _int_array(ids, "ids", "iu")
        mask = None if attention_mask is None else _int_array(attention_mask, "attention_mask", "biu")
        zeros = _zero_ids(zero_ids)
        out = _checks.output(out, (*ids.shape, self.dim), _checks.dtype_of(dtype))
        self._native.embed_ids_into(ids, out, mask, zeros, num_threads)
        return out

    def embed_encodings(
        self,
        encodings: Any,
        *,
        skip_special_tokens: bool = False,
        max_length: int | None = None,
        pad_to_multiple_of: int | None = None,
        out: np.ndarray | None = None,
        dtype: Any = "float32",
        num_threads: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """`HashEmbedder.embed_encodings` from the encodings' token ids: the same
        `(embeddings, mask)`, with each id's row from the cache. The ids must be this
        vocabulary's (the tokenizer's own)."""
        return _tokens.embed_encoding_ids(
            self,
            encodings,
            skip_special_tokens=skip_special_tokens,
            max_length=max_length,
            pad_to_multiple_of=pad_to_multiple_of,
            out=out,
            dtype=dtype,
            num_threads=num_threads,
        )

    def __repr__(self) -> str:
        limit = "" if self._max_cache_bytes is None else f", max_cache_bytes={self._max_cache_bytes}"
        return (
            f"VocabEmbedder({self._embedder!r}, {len(self)} tokens, cache={self._cache!r}{limit}, "
            f"cached_rows={self.cached_rows})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self._embedder, self.tokens(), self._cache, self._max_cache_bytes))


def _zero_ids(zero_ids: Any) -> list[int]:
    """`zero_ids` (an int or a sequence of them) as a list of ints; ids outside int64 cannot
    occur, so they are dropped."""
    if isinstance(zero_ids, tuple) and not zero_ids:
        return []
    if isinstance(zero_ids, (str, bytes)):
        values: list[Any] = [zero_ids]
    else:
        values = [zero_ids] if np.ndim(zero_ids) == 0 else list(zero_ids)
    out = []
    for z in values:
        if isinstance(z, (bool, np.bool_)):
            z = None  # refused below, as numpy's bools are ints to operator.index
        try:
            out.append(operator.index(z))
        except TypeError:
            message = f"zero_ids must be an int or a sequence of ints, not holding {type(z).__name__}"
            raise parameter_error(ParameterTypeError, message, "zero_ids", zero_ids) from None
    return [z for z in out if -(2**63) <= z < 2**63]


def _rebuild(
    embedder: HashEmbedder, tokens: list[str], cache: str, max_cache_bytes: int | None
) -> VocabEmbedder:
    return VocabEmbedder(embedder, tokens, cache=cache, max_cache_bytes=max_cache_bytes)
