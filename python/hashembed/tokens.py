"""Embedding tokenized text: padded `(batch, seq, dim)` tensors of token embeddings.

`embed_tokens` takes sequences of token strings (the output of any tokenizer), and
`embed_encodings` the `Encoding` objects of the `tokenizers` library or a `BatchEncoding` of
a fast `transformers` tokenizer. Both return `(embeddings, mask)`: the embeddings are the
table-free stand-in for `nn.Embedding(input_ids)`, with zeros at padding positions, and the
mask is True where a position holds a real token.

Every token is embedded by the native batch code straight into its row of the output (one
call, no intermediate copies, equal tokens computed once); `tokenizers` and `transformers`
are never imported here, so neither is needed unless you pass their objects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _checks
from .errors import (
    ItemError,
    ItemTypeError,
    item_error,
    renamed,
)

if TYPE_CHECKING:
    from ._bound import VocabEmbedder
    from ._embedder import HashEmbedder

__all__ = ["embed_encodings", "embed_tokens"]


def _widths(longest: int, max_length: int | None, pad_to_multiple_of: int | None) -> tuple[int, int]:
    """(tokens kept per row, padded sequence length): the longest row cut to max_length, and
    that rounded up to a multiple of pad_to_multiple_of."""
    width = longest if max_length is None else min(longest, max_length)
    seq = width if pad_to_multiple_of is None else -(-width // pad_to_multiple_of) * pad_to_multiple_of
    return width, seq


def _token_rows(batch: Any) -> list[Sequence[Any]]:
    """The rows of `batch` as a list of lists or tuples of tokens (not yet type-checked)."""
    if isinstance(batch, (str, bytes)):
        raise TypeError(f"batch must be a sequence of token sequences, not a single {type(batch).__name__}")
    if isinstance(batch, np.ndarray) and batch.ndim == 2:
        return batch.tolist()
    if not isinstance(batch, Iterable):
        raise TypeError(f"batch must be a sequence of token sequences, not {type(batch).__name__}")
    if isinstance(batch, (set, frozenset)):
        raise _checks.unordered("batch", batch)
    rows: list[Sequence[Any]] = []
    for b, row in enumerate(batch):
        if isinstance(row, (list, tuple)):
            rows.append(row)
        elif isinstance(row, (str, bytes)):
            reason = f"is a {type(row).__name__}, not a sequence of tokens (for one sequence, pass [tokens])"
            raise item_error(ItemTypeError, f"batch[{b}]", b, reason)
        elif isinstance(row, (set, frozenset)):
            raise _checks.unordered(f"batch[{b}]", row)
        elif isinstance(row, np.ndarray):
            if row.ndim != 1:
                reason = f"must be one-dimensional, got an array of shape {row.shape}"
                raise item_error(ItemError, f"batch[{b}]", b, reason)
            rows.append(row.tolist())
        elif isinstance(row, Iterable):
            rows.append(list(row))
        else:
            reason = f"must be a sequence of str tokens, not {type(row).__name__}"
            raise item_error(ItemTypeError, f"batch[{b}]", b, reason)
    return rows


def _check_size(embedder: HashEmbedder, batch: int, seq: int, out: Any, dtype: Any) -> None:
    """Refuses an output that cannot fit in memory, or an `out` of the wrong shape, before the
    (batch, seq) mask and positions are built: a huge `pad_to_multiple_of` would otherwise
    fill the memory with them before the output's own check."""
    dt = _checks.dtype_of(dtype)
    shape = (batch, seq, embedder.dim)
    if out is None:
        _checks.check_fits(shape, dt, extra=batch * seq + 8 * seq)
    else:
        _checks.check_out(out, shape, dt)


def _fill(
    embedder: HashEmbedder,
    tokens: list[Any],
    positions: np.ndarray,
    mask: np.ndarray,
    out: np.ndarray | None,
    dtype: Any,
    num_threads: int | None,
    where: Callable[[int], tuple[str, tuple[int, int]]],
) -> np.ndarray:
    """Writes token k at flat position positions[k] of a (B, S, dim) output, zeros elsewhere.

    `where(k)` is how an error names token k, and its (sequence, token) index (the native
    code says "texts[k]").
    """
    dt = _checks.dtype_of(dtype)
    batch, seq = mask.shape
    shape = (batch, seq, embedder.dim)
    out = _checks.output(out, shape, dt)
    flat = out.view()
    flat.shape = (batch * seq, embedder.dim)  # a view, never a copy: out is C-contiguous
    if tokens:
        try:
            embedder._native.embed_batch_into(tokens, flat, num_threads, positions)
        except ItemTypeError as e:
            raise renamed(e, *where(e.index)) from None
    written = np.zeros(batch * seq, dtype=bool)
    written[positions] = True
    if not written.all():
        flat[~written] = 0
    return out


def embed_tokens(
    embedder: HashEmbedder,
    batch: Any,
    *,
    max_length: int | None = None,
    pad_to_multiple_of: int | None = None,
    out: np.ndarray | None = None,
    dtype: Any = "float32",
    num_threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """See `HashEmbedder.embed_tokens`."""
    max_length = _checks.optional_int(max_length, "max_length")
    pad_to_multiple_of = _checks.optional_int(pad_to_multiple_of, "pad_to_multiple_of")
    rows = _token_rows(batch)
    full = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
    seq = _widths(int(full.max(initial=0)), max_length, pad_to_multiple_of)[1]
    _check_size(embedder, len(rows), seq, out, dtype)
    lens = full if max_length is None else np.minimum(full, max_length)
    if max_length is not None and (lens < full).any():
        rows = [r[:max_length] for r in rows]
    mask = np.arange(seq, dtype=np.int64) < lens[:, None]
    tokens = [t for r in rows for t in r]
    positions = np.flatnonzero(mask)  # row-major, the order of `tokens`
    ends = np.cumsum(lens)

    def where(k: int) -> tuple[str, tuple[int, int]]:
        b = int(np.searchsorted(ends, k, side="right"))
        j = k - (int(ends[b]) - int(lens[b]))
        return f"batch[{b}][{j}]", (b, j)

    out = _fill(embedder, tokens, positions, mask, out, dtype, num_threads, where)
    return out, mask


def _is_encoding(obj: Any) -> bool:
    """Whether `obj` looks like a `tokenizers.Encoding` (checked on its type: reading the
    properties of an Encoding builds Python lists)."""
    cls = type(obj)
    return all(hasattr(cls, name) for name in ("tokens", "attention_mask", "special_tokens_mask"))


def _encodings(encodings: Any) -> list[Any]:
    if hasattr(encodings, "encodings") and callable(getattr(encodings, "keys", None)):
        # A transformers BatchEncoding: only a fast tokenizer keeps the Encoding objects.
        encs = encodings.encodings
        if encs is None:
            raise TypeError(
                "this BatchEncoding has no .encodings (it comes from a slow tokenizer): "
                "use a fast tokenizer (use_fast=True) or pass the tokens to embed_tokens"
            )
        return list(encs)
    if _is_encoding(encodings):
        raise TypeError("encodings must be a list of Encoding objects, not a single one: pass [encoding]")
    if isinstance(encodings, (str, bytes)) or not isinstance(encodings, Iterable):
        raise TypeError(
            "encodings must be a list of tokenizers.Encoding or a transformers BatchEncoding, "
            f"not {type(encodings).__name__}"
        )
    encs = list(encodings)
    for i, e in enumerate(encs):
        if not _is_encoding(e):
            reason = f"is a {type(e).__name__}, not a tokenizers.Encoding"
            raise item_error(ItemTypeError, f"encodings[{i}]", i, reason)
    return encs


def embed_encodings(
    embedder: HashEmbedder,
    encodings: Any,
    *,
    skip_special_tokens: bool = False,
    max_length: int | None = None,
    pad_to_multiple_of: int | None = None,
    out: np.ndarray | None = None,
    dtype: Any = "float32",
    num_threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """See `HashEmbedder.embed_encodings`."""
    max_length = _checks.optional_int(max_length, "max_length")
    pad_to_multiple_of = _checks.optional_int(pad_to_multiple_of, "pad_to_multiple_of")
    encs = _encodings(encodings)
    token_rows = [e.tokens for e in encs]
    lens = [len(t) for t in token_rows]
    longest = max(lens, default=0)
    width, seq = _widths(longest, max_length, pad_to_multiple_of)
    _check_size(embedder, len(encs), seq, out, dtype)
    mask = np.zeros((len(encs), seq), dtype=bool)
    keep = np.zeros((len(encs), seq), dtype=bool)
    for b, e in enumerate(encs):
        n = min(lens[b], width)
        if n == 0:
            continue
        attention = np.asarray(e.attention_mask[:n], dtype=bool)
        if len(attention) != n:
            reason = f"has {lens[b]} tokens but {len(e.attention_mask)} mask entries"
            raise item_error(ItemError, f"encodings[{b}]", b, reason)
        mask[b, :n] = attention
        if skip_special_tokens:
            attention = attention & ~np.asarray(e.special_tokens_mask[:n], dtype=bool)
        keep[b, :n] = attention
    positions = np.flatnonzero(keep)
    flat_tokens: list[Any] = [t for row in token_rows for t in row[:width]]
    # Index of each kept position in flat_tokens (rows are cut to `width`, then concatenated).
    cut = np.minimum(np.asarray(lens, dtype=np.int64), width)
    starts = np.cumsum(cut) - cut
    b_idx, j_idx = np.divmod(positions, seq) if seq else (positions, positions)
    src = (starts[b_idx] + j_idx).tolist() if len(positions) else []
    tokens = list(map(flat_tokens.__getitem__, src))

    def where(k: int) -> tuple[str, tuple[int, int]]:
        b, j = int(b_idx[k]), int(j_idx[k])
        return f"encodings[{b}].tokens[{j}]", (b, j)

    out = _fill(embedder, tokens, positions, mask, out, dtype, num_threads, where)
    return out, mask


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


def embed_encoding_ids(
    bound: VocabEmbedder,
    encodings: Any,
    *,
    skip_special_tokens: bool = False,
    max_length: int | None = None,
    pad_to_multiple_of: int | None = None,
    out: np.ndarray | None = None,
    dtype: Any = "float32",
    num_threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """See `VocabEmbedder.embed_encodings`: `embed_encodings` from the encodings' ids."""
    max_length = _checks.optional_int(max_length, "max_length")
    pad_to_multiple_of = _checks.optional_int(pad_to_multiple_of, "pad_to_multiple_of")
    arrays = _batch_arrays(encodings, skip_special_tokens)
    if arrays is not None:
        ids, attention, *special = arrays
        return _embed_arrays(
            bound,
            ids,
            attention,
            special[0] if special else None,
            max_length=max_length,
            pad_to_multiple_of=pad_to_multiple_of,
            out=out,
            dtype=dtype,
            num_threads=num_threads,
        )
    encs = _encodings(encodings)
    ids = [e.ids for e in encs]
    lens = [len(i) for i in ids]
    longest = max(lens, default=0)
    width, seq = _widths(longest, max_length, pad_to_multiple_of)
    _check_size(bound.embedder, len(encs), seq, out, dtype)
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
    grid = _padded(ids, lens, width, seq, np.int64)
    embeddings = bound.embed_ids(grid, attention_mask=keep, out=out, dtype=dtype, num_threads=num_threads)
    return embeddings, mask


def _batch_arrays(encodings: Any, skip_special_tokens: bool) -> tuple[np.ndarray, ...] | None:
    """The (ids, attention mask[, special tokens mask]) of a padded transformers
    BatchEncoding as 2-D arrays (its tensors are read without a copy), or None where the
    encodings must be read one by one (ragged lists, a missing mask, not a BatchEncoding)."""
    if not (hasattr(encodings, "encodings") and callable(getattr(encodings, "keys", None))):
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


def _embed_arrays(
    bound: VocabEmbedder,
    ids: np.ndarray,
    attention: np.ndarray,
    special: np.ndarray | None,
    *,
    max_length: int | None = None,
    pad_to_multiple_of: int | None = None,
    out: np.ndarray | None = None,
    dtype: Any = "float32",
    num_threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """`embed_encoding_ids` for a padded batch given as arrays."""
    batch, longest = ids.shape
    width, seq = _widths(longest, max_length, pad_to_multiple_of)
    _check_size(bound.embedder, batch, seq, out, dtype)
    mask = np.zeros((batch, seq), dtype=bool)
    mask[:, :width] = attention[:, :width]
    keep = mask if special is None else mask & np.pad(special[:, :width] == 0, ((0, 0), (0, seq - width)))
    if seq != longest or width != longest:
        grid = np.zeros((batch, seq), dtype=ids.dtype)
        grid[:, :width] = ids[:, :width]
        ids = grid
    embeddings = bound.embed_ids(ids, attention_mask=keep, out=out, dtype=dtype, num_threads=num_threads)
    return embeddings, mask
