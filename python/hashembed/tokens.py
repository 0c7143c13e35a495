"""Embedding tokenized text given as strings: padded `(batch, seq, dim)` tensors of token
embeddings.

`embed_tokens` takes sequences of token strings (the output of any tokenizer), and
`embed_encodings` the `Encoding` objects of the `tokenizers` library or a `BatchEncoding` of
a fast `transformers` tokenizer (their ids are `_bound.py`'s). Both return
`(embeddings, mask)`: the embeddings are the table-free stand-in for
`nn.Embedding(input_ids)`, with zeros at padding positions, and the mask is True where a
position holds a real token.

Every token is embedded by the native batch code straight into its row of the output (one
call, no intermediate copies, equal tokens computed once); `tokenizers` and `transformers`
are never imported here, so neither is needed unless you pass their objects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from . import _checks, _core
from ._checks import Padding
from .errors import ItemError, ItemTypeError, ParameterTypeError, item_error, parameter_error, renamed

# The embed_* functions here are the bodies of `HashEmbedder`'s methods, which take its
# native embedder; callers use the methods.
__all__ = ["encoding_list", "is_batch_encoding"]


def _token_rows(batch: Any) -> list[Sequence[Any]]:
    """The rows of `batch` as a list of lists or tuples of tokens (not yet type-checked)."""
    if isinstance(batch, (str, bytes)):
        message = f"batch must be a sequence of token sequences, not a single {type(batch).__name__}"
        raise parameter_error(ParameterTypeError, message, "batch", batch)
    if isinstance(batch, np.ndarray) and batch.ndim == 2:
        return batch.tolist()
    if not isinstance(batch, Iterable):
        message = f"batch must be a sequence of token sequences, not {type(batch).__name__}"
        raise parameter_error(ParameterTypeError, message, "batch", batch)
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
            raise _checks.unordered(f"batch[{b}]", row, "batch")
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


def _fill(
    native: _core.Embedder,
    out: np.ndarray,
    tokens: list[Any],
    positions: np.ndarray,
    num_threads: int | None,
    where: Callable[[int], tuple[str, tuple[int, int]]],
) -> np.ndarray:
    """Writes token k at flat position positions[k] of a (B, S, dim) output, zeros elsewhere.

    `where(k)` is how an error names token k, and its (sequence, token) index (the native
    code says "texts[k]").
    """
    batch, seq, dim = out.shape
    flat = out.view()
    flat.shape = (batch * seq, dim)  # a view, never a copy: out is C-contiguous
    if tokens:
        try:
            native.embed_batch_into(tokens, flat, num_threads, positions)
        except ItemTypeError as e:
            raise renamed(e, *where(e.index)) from None
    written = np.zeros(batch * seq, dtype=bool)
    written[positions] = True
    if not written.all():
        flat[~written] = 0
    return out


def embed_tokens(
    native: _core.Embedder, dim: int, batch: Any, padding: Padding
) -> tuple[np.ndarray, np.ndarray]:
    """See `HashEmbedder.embed_tokens`."""
    max_length = padding.max_length
    rows = _token_rows(batch)
    full = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
    seq = padding.widths(int(full.max(initial=0)))[1]
    out = padding.output(len(rows), seq, dim)
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

    return _fill(native, out, tokens, positions, padding.num_threads, where), mask


def _is_encoding(obj: Any) -> bool:
    """Whether `obj` looks like a `tokenizers.Encoding` (checked on its type: reading the
    properties of an Encoding builds Python lists)."""
    cls = type(obj)
    return all(hasattr(cls, name) for name in ("tokens", "attention_mask", "special_tokens_mask"))


def is_batch_encoding(encodings: Any) -> bool:
    """Whether `encodings` looks like a transformers BatchEncoding (a mapping with `.encodings`)."""
    return hasattr(encodings, "encodings") and callable(getattr(encodings, "keys", None))


def encoding_list(encodings: Any) -> list[Any]:
    """The `tokenizers.Encoding` objects of a list of them or of a fast tokenizer's
    BatchEncoding, each checked to be one."""
    if is_batch_encoding(encodings):
        # A transformers BatchEncoding: only a fast tokenizer keeps the Encoding objects.
        encs = encodings.encodings
        if encs is None:
            message = (
                "this BatchEncoding has no .encodings (it comes from a slow tokenizer): "
                "use a fast tokenizer (use_fast=True) or pass the tokens to embed_tokens"
            )
            raise parameter_error(ParameterTypeError, message, "encodings", encodings)
        return list(encs)
    if _is_encoding(encodings):
        message = "encodings must be a list of Encoding objects, not a single one: pass [encoding]"
        raise parameter_error(ParameterTypeError, message, "encodings", encodings)
    if isinstance(encodings, (str, bytes)) or not isinstance(encodings, Iterable):
        message = (
            "encodings must be a list of tokenizers.Encoding or a transformers BatchEncoding, "
            f"not {type(encodings).__name__}"
        )
        raise parameter_error(ParameterTypeError, message, "encodings", encodings)
    encs = list(encodings)
    for i, e in enumerate(encs):
        if not _is_encoding(e):
            reason = f"is a {type(e).__name__}, not a tokenizers.Encoding"
            raise item_error(ItemTypeError, f"encodings[{i}]", i, reason)
    return encs


def embed_encodings(
    native: _core.Embedder, dim: int, encodings: Any, skip_special_tokens: bool, padding: Padding
) -> tuple[np.ndarray, np.ndarray]:
    """See `HashEmbedder.embed_encodings`."""
    encs = encoding_list(encodings)
    token_rows = [e.tokens for e in encs]
    lens = [len(t) for t in token_rows]
    width, seq = padding.widths(max(lens, default=0))
    out = padding.output(len(encs), seq, dim)
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

    return _fill(native, out, tokens, positions, padding.num_threads, where), mask
