"""`VocabEmbedder`: a vocabulary bound to a `HashEmbedder` (`HashEmbedder.bind`), with the
tokens' code points and the cache of their rows held natively (`hashembed._core.VocabEmbedder`):
the token-id paths, as tokens.py holds the token-string ones.

A training loop sees one vocabulary every step, and its token ids already say which string
each position holds: `embed_ids` reads the ids in place, computes each id's row at most once
(with the lazy or full cache) and writes every position of the output with the GIL released.
"""

from __future__ import annotations

import operator
from typing import Any, Generic, Protocol, TypeVar

import numpy as np

from . import _checks, _core
from ._checks import Padding
from .errors import ItemError, ParameterError, ParameterTypeError, item_error, parameter_error
from .tokens import encoding_list, is_batch_encoding
from .vocab import vocab_tokens


class Embeds(Protocol):
    """What a vocabulary is bound to: a `HashEmbedder` (this module does not import it, as
    `HashEmbedder.bind` imports this one)."""

    @property
    def dim(self) -> int: ...

    @property
    def _native(self) -> _core.Embedder: ...


E = TypeVar("E", bound=Embeds)

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


class VocabEmbedder(Generic[E]):
    """A vocabulary bound to a `HashEmbedder`: token ids in, rows out. Made by
    `HashEmbedder.bind`; immutable apart from its cache, and safe to share between threads.

    Rows are bit-identical to `embedder.embed_batch` of the tokens' strings. The cache holds
    float32 rows; `embed_ids(dtype="float64" or "float16")` computes its ids on every call.
    It pickles to its configuration and vocabulary (a full cache is recomputed on loading).
    """

    __slots__ = ("_cache", "_embedder", "_max_cache_bytes", "_native")

    def __init__(
        self,
        embedder: E,
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
        tokens = vocab_tokens(vocab)
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
    def embedder(self) -> E:
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
        padding = Padding.of(max_length, pad_to_multiple_of, out, dtype, num_threads)
        arrays = _batch_arrays(encodings, skip_special_tokens)
        if arrays is not None:
            return self._embed_arrays(padding, *arrays)
        encs = encoding_list(encodings)
        ids = [e.ids for e in encs]
        lens = [len(i) for i in ids]
        width, seq = padding.widths(max(lens, default=0))
        out = padding.output(len(encs), seq, self.dim)
        attention = [e.attention_mask for e in encs]
        for b, a in enumerate(attention):
            if len(a) != lens[b]:
                reason = f"has {lens[b]} tokens but {len(a)} mask entries"
                raise item_error(ItemError, f"encodings[{b}]", b, reason)
        mask = _padded(attention, lens, width, seq, bool)
        keep = mask
        if skip_special_tokens:
            special = _padded([e.special_tokens_mask for e in encs], lens, width, seq, bool)
            keep = mask & ~special
        return self._write(_padded(ids, lens, width, seq, np.int64), keep, out, padding.num_threads), mask

    def _embed_arrays(
        self, padding: Padding, ids: np.ndarray, attention: np.ndarray, special: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """`embed_encodings` of a padded batch given as arrays."""
        ids = _int_array(ids, "ids", "iu")  # bool ids are refused, as by embed_ids
        batch, longest = ids.shape
        width, seq = padding.widths(longest)
        out = padding.output(batch, seq, self.dim)
        mask = np.zeros((batch, seq), dtype=bool)
        mask[:, :width] = attention[:, :width]
        keep = mask if special is None else mask & np.pad(special[:, :width] == 0, ((0, 0), (0, seq - width)))
        if seq != longest or width != longest:
            grid = np.zeros((batch, seq), dtype=ids.dtype)
            grid[:, :width] = ids[:, :width]
            ids = grid
        return self._write(ids, keep, out, padding.num_threads), mask

    def _write(
        self, ids: np.ndarray, keep: np.ndarray, out: np.ndarray, num_threads: int | None
    ) -> np.ndarray:
        """`out` filled with the rows of a (B, S) grid of ids, zeros where `keep` is False."""
        self._native.embed_ids_into(ids, out, keep, [], num_threads)
        return out

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


def _padded(rows: list[list[int]], lens: list[int], width: int, seq: int, dtype: Any) -> np.ndarray:
    """`rows` cut to `width` and padded with zeros to `seq`, as one (len(rows), seq) array."""
    if rows and min(lens) == max(lens):  # a padded batch: one conversion, no Python loop
        grid = np.array(rows, dtype=dtype).reshape(len(rows), lens[0])[:, :width]
        if grid.shape[1] == seq:
            return grid
        out = np.zeros((len(rows), seq), dtype=dtype)
        out[:, : grid.shape[1]] = grid
        return out
    out = np.zeros((len(rows), seq), dtype=dtype)
    for b, row in enumerate(rows):
        n = min(lens[b], width)
        out[b, :n] = row[:n]
    return out


def _batch_arrays(encodings: Any, skip_special_tokens: bool) -> tuple[np.ndarray, ...] | None:
    """The (ids, attention mask[, special tokens mask]) of a padded transformers
    BatchEncoding as 2-D arrays (its tensors are read without a copy), or None where the
    encodings must be read one by one (ragged lists, a missing mask, not a BatchEncoding)."""
    if not is_batch_encoding(encodings):
        return None
    names = ["input_ids", "attention_mask"] + (["special_tokens_mask"] if skip_special_tokens else [])
    if not all(name in encodings for name in names) or encodings.encodings is None:
        return None
    try:
        arrays = tuple(np.asarray(encodings[name]) for name in names)
    except (TypeError, ValueError, RuntimeError):
        return None
    shape = arrays[0].shape
    if len(shape) != 2 or any(a.shape != shape or a.dtype.kind not in "biu" for a in arrays):
        return None
    return arrays


def _rebuild(embedder: E, tokens: list[str], cache: str, max_cache_bytes: int | None) -> VocabEmbedder[E]:
    return VocabEmbedder(embedder, tokens, cache=cache, max_cache_bytes=max_cache_bytes)
