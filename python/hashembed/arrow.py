"""Embedding Arrow string columns straight from their buffers.

An Arrow string array is already what the native UTF-8 batch reads: one data buffer of
UTF-8 bytes and the offsets of each row in it. `embed_arrow` hands those buffers over as
zero-copy NumPy views, so no Python `str` is ever made; the only copies are the offsets
(converted to int64), for string_view arrays a cast to large_string, and, in the rare case
of more than a few null rows whose offsets span bytes (Arrow allows any bytes under a null),
a copy of the data without those bytes.

`pyarrow` is imported only when an Arrow array is passed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _checks, _core
from ._optional import optional
from .errors import ItemError, ParameterError, ParameterTypeError, item_error, parameter_error, renamed

__all__ = ["check_type"]  # embed_arrow: the method's body, which takes the native embedder

# Above this many null rows whose offsets span bytes, those rows are cut out of a copy of
# the data rather than embedding the valid runs between them with one native call each.
_MAX_SPLITS = 64


def _is_view(pa: Any, t: Any) -> bool:
    is_string_view = getattr(pa.types, "is_string_view", None)
    is_binary_view = getattr(pa.types, "is_binary_view", None)
    return bool((is_string_view and is_string_view(t)) or (is_binary_view and is_binary_view(t)))


def check_type(pa: Any, t: Any, parameter: str = "array") -> None:
    """A ParameterTypeError naming `parameter` unless `t` is an Arrow type `embed_arrow`
    reads (the CLI checks a column with it)."""
    if pa.types.is_string(t) or pa.types.is_large_string(t) or _is_view(pa, t):
        return
    if pa.types.is_null(t):
        return  # every row null: what pyarrow infers for a column of only None
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return  # bytes, decoded as UTF-8 (the spec's rule for bytes)
    hint = ": decode it first with .dictionary_decode()" if pa.types.is_dictionary(t) else ""
    message = f"expected an Arrow string array (string, large_string or string_view), got {t}{hint}"
    raise parameter_error(ParameterTypeError, message, parameter, t)


def _as_arrow(pa: Any, array: Any) -> Any:
    """`array` as a pyarrow Array or ChunkedArray of a string type."""
    if not isinstance(array, (pa.Array, pa.ChunkedArray)):
        if hasattr(array, "__arrow_c_stream__"):
            array = pa.chunked_array(array)
        elif hasattr(array, "__arrow_c_array__"):
            array = pa.array(array)
        else:
            message = (
                f"embed_arrow needs a pyarrow Array or ChunkedArray of strings, not {type(array).__name__} "
                "(for a list of str, use embed_batch)"
            )
            raise parameter_error(ParameterTypeError, message, "array", array)
    check_type(pa, array.type)
    return array


def _utf8(
    native: _core.Embedder,
    data: np.ndarray,
    offsets: np.ndarray,
    out: np.ndarray,
    num_threads: int | None,
    first_row: int,
) -> None:
    """Rows `first_row ...` of the array: data[offsets[i]:offsets[i+1]] into out[i]."""
    try:
        native.embed_utf8_into(data, offsets, out, num_threads)
    except ItemError as e:
        row = first_row + e.index
        raise renamed(e, f"row {row}", row) from None


def _check_utf8(pa: Any, chunks: list[Any]) -> None:
    """ValueError naming the first row (of all the chunks) that is not valid UTF-8."""
    start = 0
    for chunk in chunks:
        t = chunk.type
        if not pa.types.is_null(t):
            wide = pa.types.is_large_string(t) or pa.types.is_large_binary(t)
            text = pa.large_string() if wide else pa.string_view() if _is_view(pa, t) else pa.string()
            try:
                chunk.view(text).validate(full=True)  # Arrow's UTF-8 check skips null rows, as we do
            except pa.ArrowInvalid:
                for i, value in enumerate(chunk.cast(pa.large_binary()).to_pylist()):
                    try:
                        if value is not None:
                            value.decode("utf-8")
                    except UnicodeDecodeError as e:
                        reason = f"is not valid UTF-8 (at byte {e.start})"
                        raise item_error(
                            ItemError, f"row {start + i}", start + i, reason, byte=e.start
                        ) from None
                raise
        start += len(chunk)


def _embed_chunk(
    pa: Any,
    native: _core.Embedder,
    chunk: Any,
    out: np.ndarray,
    num_threads: int | None,
    start: int,
) -> None:
    """Embeds one Arrow array into `out` (its rows), naming rows from `start`."""
    n = len(chunk)
    if n == 0:
        return
    if pa.types.is_null(chunk.type):
        out[...] = 0
        return
    if _is_view(pa, chunk.type):
        binary = not pa.types.is_string_view(chunk.type)
        chunk = chunk.cast(pa.large_binary() if binary else pa.large_string())  # the one allowed copy
    wide = pa.types.is_large_string(chunk.type) or pa.types.is_large_binary(chunk.type)
    _validity, offsets_buf, data_buf = chunk.buffers()[:3]
    raw = np.frombuffer(offsets_buf, dtype=np.int64 if wide else np.int32, count=chunk.offset + n + 1)
    raw = raw[chunk.offset :]
    base, end = int(raw[0]), int(raw[-1])
    offsets = raw.astype(np.int64)  # the one copy: n + 1 integers
    offsets -= base
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    data = data[base:end]
    if not chunk.null_count:
        _utf8(native, data, offsets, out, num_threads, start)
        return
    null = chunk.is_null().to_numpy(zero_copy_only=False)
    spans = np.flatnonzero(null & (offsets[1:] != offsets[:-1]))
    if len(spans) > _MAX_SPLITS:
        # Many nulls cover bytes: drop those bytes (a copy of the data) so each null is empty.
        lengths = np.diff(offsets)
        lengths[null] = 0
        data = data[np.repeat(~null, np.diff(offsets))]
        offsets = np.concatenate(([0], np.cumsum(lengths)))
        spans = spans[:0]
    # A few nulls cover bytes (Arrow allows any bytes under a null): embed the valid runs
    # between them, each with its own native call on views of the same buffers.
    lo = 0
    for hi in [*spans.tolist(), n]:
        if hi > lo:
            a, b = int(offsets[lo]), int(offsets[hi])
            _utf8(native, data[a:b], offsets[lo : hi + 1] - a, out[lo:hi], num_threads, start + lo)
        lo = hi + 1
    # Embedded as the empty string, a null row would not be zeros with boundary markers.
    out[null] = 0


def embed_arrow(
    native: _core.Embedder,
    dim: int,
    array: Any,
    *,
    nulls: str = "zero",
    out: np.ndarray | None = None,
    dtype: Any = "float32",
    num_threads: int | None = None,
) -> np.ndarray:
    """See `HashEmbedder.embed_arrow`."""
    if nulls not in ("zero", "error"):
        raise parameter_error(
            ParameterError, f"nulls={nulls!r} is unknown: expected 'zero' or 'error'", "nulls", nulls
        )
    pa = optional("pyarrow", "arrow", "embed_arrow")
    array = _as_arrow(pa, array)
    if nulls == "error" and array.null_count:
        first = int(np.flatnonzero(array.is_null().to_numpy(zero_copy_only=False))[0])
        raise item_error(ItemError, f"row {first}", first, "is null (nulls='error')")
    dt = _checks.dtype_of(dtype)
    out = _checks.output(out, (len(array), dim), dt)
    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    if len(chunks) > 1 or array.null_count:
        # More than one native call: each checks only its own rows before writing, so every
        # row is checked here first, or a bad row in chunk 1 would leave chunk 0 written.
        _check_utf8(pa, chunks)
    start = 0
    for chunk in chunks:
        stop = start + len(chunk)
        _embed_chunk(pa, native, chunk, out[start:stop], num_threads, start)
        start = stop
    return out
