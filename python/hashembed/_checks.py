"""Checks and allocations shared by every way of embedding (`HashEmbedder`, tokens, Arrow,
vocabularies): dtypes, output arrays and their memory, ordered text sequences, and `Padding`,
the keywords of every padded `(batch, seq, dim)` output (`max_length`, `pad_to_multiple_of`,
`out`, `dtype`, `num_threads`), checked once where a public method takes them and handed
down as one value to the token-string and token-id paths. A leaf module:
it imports nothing of hashembed's but the extension and the errors, so those modules import it and not
each other."""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _core
from .errors import ParameterError, ParameterTypeError, parameter_error

_DTYPES: dict[str, np.dtype] = {name: np.dtype(name) for name in ("float32", "float64", "float16")}


def dtype_of(dtype: Any) -> np.dtype:
    """The output dtype `dtype` names, or ValueError naming the `dtype` argument."""
    known = _DTYPES.get(dtype) if isinstance(dtype, str) else None
    if known is not None:  # the common case, without numpy's parsing (which costs microseconds)
        return known
    try:
        dt = None if dtype is None else np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.name not in _DTYPES or not dt.isnative:
        message = (
            f"dtype={dtype!r} is not supported: expected 'float32', 'float64' or 'float16' "
            "(in this machine's byte order)"
        )
        raise parameter_error(ParameterError, message, "dtype", dtype)
    return dt


def allocate(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An uninitialised output array, refused up front if it cannot fit in memory.

    NumPy reserves large arrays lazily, so an impossible request would otherwise succeed here
    and be killed by the kernel later, half written.
    """
    check_fits(shape, dtype)
    return np.empty(shape, dtype=dtype)


# Reading /proc/meminfo costs more than a small batch; smaller outputs always fit.
_CHECK_ABOVE = 1 << 28


def check_fits(shape: tuple[int, ...], dtype: np.dtype, extra: int = 0) -> None:
    """MemoryError if an array of `shape` and `dtype` (plus `extra` bytes of working memory)
    would not fit in the memory available."""
    nbytes = math.prod(shape) * dtype.itemsize + extra
    if nbytes < _CHECK_ABOVE:
        return
    available = _core.available_memory()
    if available is not None and nbytes > available:
        raise MemoryError(
            f"an output of shape {shape} and dtype {dtype.name} needs {nbytes / 1e9:.1f} GB, "
            f"more than the {available / 1e9:.1f} GB available: pass out= (an np.memmap works) "
            "or embed in chunks"
        )


def check_out(out: Any, shape: tuple[int, ...], dt: np.dtype) -> np.ndarray:
    """`out` if it is a C-contiguous, writable, aligned array of exactly `shape` and `dt`;
    the extension's rules (the ones every native call applies), else a ParameterError."""
    _core.check_out(out, shape, dt)
    return out


def output(out: Any, shape: tuple[int, ...], dt: np.dtype) -> np.ndarray:
    """A new array of `shape` and `dt` (see `allocate`) if `out` is None, else the checked `out`."""
    return allocate(shape, dt) if out is None else check_out(out, shape, dt)


def as_text_list(texts: Any, name: str = "texts") -> list[str] | tuple[str, ...]:
    """A list or tuple of the items of `texts`, the form the native code reads."""
    if isinstance(texts, (list, tuple)):
        return texts
    if isinstance(texts, (str, bytes)):
        message = f"{name} must be a sequence of str, not a single {type(texts).__name__}"
        raise parameter_error(ParameterTypeError, message, name, texts)
    if isinstance(texts, np.ndarray):
        if texts.ndim != 1:
            message = f"{name} must be one-dimensional, got an array of shape {texts.shape}"
            raise parameter_error(ParameterError, message, name, None)
        return texts.tolist()
    if isinstance(texts, (set, frozenset)):
        raise unordered(name, texts)
    if isinstance(texts, Iterable):
        return list(texts)
    raise parameter_error(
        ParameterTypeError, f"{name} must be a sequence of str, not {type(texts).__name__}", name, texts
    )


def unordered(name: str, value: Any, parameter: str | None = None) -> ParameterTypeError:
    """The error for a set where an ordered sequence is needed: its iteration order changes
    from run to run, so the output rows could not be matched to its items. `name` is how the
    message calls it (`batch[3]`), `parameter` the argument it is in, if not `name` itself."""
    message = (
        f"{name} must be an ordered sequence, not a {type(value).__name__} (whose order is "
        "arbitrary): pass sorted(...) or a list"
    )
    return parameter_error(ParameterTypeError, message, parameter or name, value)


def optional_int(value: Any, name: str, minimum: int = 1) -> int | None:
    """`value` as an int of at least `minimum`, or None; bools, floats and strings are refused."""
    what = "a positive int" if minimum == 1 else f"an int >= {minimum}"
    if value is None:
        return None
    if isinstance(value, bool):
        raise parameter_error(ParameterTypeError, f"{name} must be {what} or None, not bool", name, value)
    try:
        n = operator.index(value)
    except TypeError:
        message = f"{name} must be {what} or None, not {type(value).__name__}"
        raise parameter_error(ParameterTypeError, message, name, value) from None
    if n < minimum:
        message = f"{name}={n} is out of range: expected {what} or None"
        raise parameter_error(ParameterError, message, name, n)
    return n


@dataclass(frozen=True)
class Padding:
    max_length: int | None
    pad_to_multiple_of: int | None
    out: np.ndarray | None
    dtype: np.dtype
    num_threads: int | None

    @classmethod
    def of(
        cls, max_length: Any, pad_to_multiple_of: Any, out: Any, dtype: Any, num_threads: int | None, /
    ) -> Padding:
        """The keywords as a public method takes them, checked (`num_threads` is checked by
        the native call that uses it)."""
        return cls(
            optional_int(max_length, "max_length"),
            optional_int(pad_to_multiple_of, "pad_to_multiple_of"),
            out,
            dtype_of(dtype),
            num_threads,
        )

    def widths(self, longest: int) -> tuple[int, int]:
        """(tokens kept per row, padded sequence length): the longest row cut to max_length,
        and that rounded up to a multiple of pad_to_multiple_of."""
        width = longest if self.max_length is None else min(longest, self.max_length)
        step = self.pad_to_multiple_of
        return width, width if step is None else -(-width // step) * step

    def output(self, batch: int, seq: int, dim: int) -> np.ndarray:
        """The (batch, seq, dim) output: `out`, checked, or a new array. Taken before the
        (batch, seq) mask and positions are built, so that one that cannot fit in memory is
        refused first (a huge `pad_to_multiple_of` would otherwise fill the memory with
        them); NumPy reserves a new array's pages only as they are written."""
        shape = (batch, seq, dim)
        if self.out is None:
            check_fits(shape, self.dtype, extra=batch * seq + 8 * seq)
            return np.empty(shape, dtype=self.dtype)
        return check_out(self.out, shape, self.dtype)
