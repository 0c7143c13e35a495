"""The safetensors file format, written for one array with NumPy alone, so that `save_table`
works on the base install: an 8-byte little-endian header length, a JSON header (the
tensor's dtype, shape and byte range) padded with spaces to a multiple of 8 bytes, then the
tensor's bytes, little-endian and in C order. The bytes are those `safetensors.numpy.save`
writes for the same array."""

from __future__ import annotations

import json

import numpy as np

from .errors import ParameterTypeError, parameter_error

# The NumPy dtypes safetensors has a name for (its numpy module reads back exactly these).
DTYPES = {
    np.dtype(np.float64): "F64",
    np.dtype(np.float32): "F32",
    np.dtype(np.float16): "F16",
    np.dtype(np.int64): "I64",
    np.dtype(np.uint64): "U64",
    np.dtype(np.int32): "I32",
    np.dtype(np.uint32): "U32",
    np.dtype(np.int16): "I16",
    np.dtype(np.uint16): "U16",
    np.dtype(np.int8): "I8",
    np.dtype(np.uint8): "U8",
    np.dtype(np.bool_): "BOOL",
    np.dtype(np.complex64): "C64",
}


def little_endian(array: np.ndarray, parameter: str) -> np.ndarray:
    """`array` as safetensors stores it: C-contiguous, little-endian, of a dtype it names."""
    native = array.dtype.newbyteorder("=")
    if native not in DTYPES:
        names = ", ".join(str(d) for d in DTYPES)
        raise parameter_error(
            ParameterTypeError,
            f"{parameter} has dtype {array.dtype}, which safetensors cannot store (it stores {names})",
            parameter,
            array,
        )
    return np.ascontiguousarray(array, dtype=native.newbyteorder("<"))


def header(name: str, array: np.ndarray) -> bytes:
    """The length and header that go before `array`'s bytes (`array` as `little_endian` gives it)."""
    info = {"dtype": DTYPES[array.dtype.newbyteorder("=")], "shape": list(array.shape)}
    info["data_offsets"] = [0, array.nbytes]
    text = json.dumps({name: info}, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text


def payload(array: np.ndarray) -> memoryview:
    """The bytes that follow the header (`array` as `little_endian` gives it)."""
    return array.reshape(-1).view(np.uint8).data
