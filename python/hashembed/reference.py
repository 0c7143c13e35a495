"""Executable specification of the hashembed function (spec version 1).

This module is the definition every other implementation is tested against: the golden
vectors are generated from it and the test suite uses it as the oracle. It follows the spec
step by step with exact Python integers and is slow by design; do not optimise it, because
its value is that each line can be checked against the written spec by eye.

Only the standard library and NumPy are used, so it runs without the compiled extension.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, cast

import numpy as np

__all__ = [
    "DEFAULTS",
    "SPEC_VERSION",
    "derive_hash_seeds",
    "embed",
    "layout_bounds",
    "ngram_hash",
    "splitmix64",
]

SPEC_VERSION = 1
"""The version of docs/spec.md this module and the core compute; saved with every model."""

MAX_DIM = 65536
MAX_NGRAM = 8
MAX_CODE_POINT = 0x10FFFF
_MASK64 = (1 << 64) - 1
_LIMIT31 = 1 << 31
_DTYPES = ("float32", "float64", "float16")

# The spec's default configuration: the defaults of `embed` and of `HashEmbedder`.
DEFAULTS: dict[str, Any] = {
    "dim": 768,
    "max_ngram": 3,
    "layout": "proportional",
    "seed": 42,
    "base": 31,
    "hash_modulus": 1_000_000_007,
    "buckets": 1_000_000_007,
    "hash_seeds": None,
    "boundary_markers": False,
}


def _int(name: str, value: object, lo: int, hi: int, valid: str) -> int:
    """Checks ``lo <= value <= hi``; NumPy integers are accepted, bools are not."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    value = int(value)
    if not lo <= value <= hi:
        raise ValueError(f"{name}={value} is out of range: {valid}")
    return value


def splitmix64(seed: int) -> Iterator[int]:
    """The SplitMix64 stream started from ``seed`` (spec step 2), endless."""
    state = _int("seed", seed, 0, _MASK64, "0 <= seed < 2**64")
    while True:
        state = (state + 0x9E3779B97F4A7C15) & _MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        yield z ^ (z >> 31)


def derive_hash_seeds(seed: int, dim: int, buckets: int) -> list[int]:
    """Seeds ``h_k = 1 + (z_k mod (B - 1))``, each in ``[1, B)``."""
    dim = _int("dim", dim, 1, MAX_DIM, f"1 <= dim <= {MAX_DIM}")
    buckets = _int("buckets", buckets, 3, _LIMIT31 - 1, "3 <= buckets < 2**31")
    stream = splitmix64(seed)
    return [1 + next(stream) % (buckets - 1) for _ in range(dim)]


def layout_bounds(dim: int, max_ngram: int, layout: str | Sequence[int]) -> list[int]:
    """Boundaries ``b_0 = 0 < ... < b_N = dim``; n-gram size i owns ``[b_{i-1}, b_i)``."""
    dim = _int("dim", dim, 1, MAX_DIM, f"1 <= dim <= {MAX_DIM}")
    n = _int("max_ngram", max_ngram, 1, MAX_NGRAM, f"1 <= max_ngram <= {MAX_NGRAM}")
    if isinstance(layout, str):
        if layout == "proportional":
            total = n * (n + 1) // 2
            bounds = [dim * (i * (i + 1) // 2) // total for i in range(n + 1)]
        elif layout == "equal":
            bounds = [dim * i // n for i in range(n + 1)]
        else:
            raise ValueError(f"layout={layout!r} is not valid: 'proportional', 'equal' or {n} positive ints")
    elif isinstance(layout, (Sequence, np.ndarray)):
        layout = list(cast("Sequence[int]", layout))  # a str was handled above
        if len(layout) != n:
            raise ValueError(f"layout={layout!r} has {len(layout)} parts, max_ngram={n} needs {n}")
        bounds = [0]
        for part in layout:
            part = _int("layout part", part, 1, MAX_DIM, f"1 <= part <= {MAX_DIM}")
            bounds.append(bounds[-1] + part)
        if bounds[-1] != dim:
            raise ValueError(f"layout={layout!r} sums to {bounds[-1]}, must equal dim={dim}")
    else:
        raise TypeError(f"layout must be a str or a sequence of ints, got {type(layout).__name__}")
    for i in range(1, n + 1):
        if bounds[i] <= bounds[i - 1]:
            raise ValueError(
                f"dim={dim} with layout={layout!r} leaves n-gram size {i} no positions; "
                "every part must be >= 1"
            )
    return bounds


def ngram_hash(codepoints: Sequence[int], base: int, hash_modulus: int) -> int:
    """``H(g)`` in Horner form: ``H = (H * p + c) mod m`` over the code points of ``g``."""
    h = 0
    for c in codepoints:
        h = (h * base + c) % hash_modulus
    return h


def _code_points(text: object) -> list[int]:
    if isinstance(text, str):
        return [ord(c) for c in text]
    if isinstance(text, (bytes, bytearray)):
        return [ord(c) for c in bytes(text).decode("utf-8")]
    if isinstance(text, (Sequence, np.ndarray)):
        valid = f"0 <= code point <= {MAX_CODE_POINT:#x}"
        return [_int("text code point", c, 0, MAX_CODE_POINT, valid) for c in text]
    raise TypeError(f"text must be a str or a sequence of ints, got {type(text).__name__}")


START_MARKER = 0x02
END_MARKER = 0x03


def embed(
    text: str | Sequence[int],
    *,
    dim: int = 768,
    max_ngram: int = 3,
    layout: str | Sequence[int] = "proportional",
    seed: int = 42,
    base: int = 31,
    hash_modulus: int = 1_000_000_007,
    buckets: int = 1_000_000_007,
    hash_seeds: Sequence[int] | None = None,
    boundary_markers: bool = False,
    dtype: str = "float32",
) -> np.ndarray:
    """The embedding of ``text``: a vector of ``dim`` values in [-1, 1].

    ``text`` is a str (its code points, lone surrogates included), UTF-8 bytes, or a sequence
    of code points. With ``boundary_markers`` the code points are wrapped in U+0002 ... U+0003
    before hashing, as if they were part of the text. ``dtype`` is "float32" (the function's
    defined output), "float64" (the double before rounding) or "float16" (rounded from that
    double).
    """
    chars = _code_points(text)
    if not isinstance(boundary_markers, (bool, np.bool_)):
        raise TypeError(f"boundary_markers must be a bool, got {type(boundary_markers).__name__}")
    if boundary_markers:
        chars = [START_MARKER, *chars, END_MARKER]
    bounds = layout_bounds(dim, max_ngram, layout)
    dim, n_max = bounds[-1], len(bounds) - 1
    base = _int("base", base, 1, _LIMIT31 - 1, "1 <= base < 2**31")
    m = _int("hash_modulus", hash_modulus, 2, _LIMIT31 - 1, "2 <= hash_modulus < 2**31")
    b = _int("buckets", buckets, 3, _LIMIT31 - 1, "3 <= buckets < 2**31")
    if hash_seeds is None:
        seeds = derive_hash_seeds(seed, dim, b)
    else:
        _int("seed", seed, 0, _MASK64, "0 <= seed < 2**64")
        if isinstance(hash_seeds, str) or not isinstance(hash_seeds, (Sequence, np.ndarray)):
            raise TypeError(f"hash_seeds must be a sequence of ints, got {type(hash_seeds).__name__}")
        if len(hash_seeds) != dim:
            raise ValueError(f"hash_seeds has {len(hash_seeds)} entries, dim={dim} needs {dim}")
        seeds = [_int("hash_seeds entry", h, 1, b - 1, f"1 <= h < buckets={b}") for h in hash_seeds]
    if not isinstance(dtype, str):
        raise TypeError(f"dtype must be a str, got {type(dtype).__name__}")
    if dtype not in _DTYPES:
        raise ValueError(f"dtype={dtype!r} is not valid: one of {', '.join(_DTYPES)}")

    values = [0.0] * dim
    for size in range(1, n_max + 1):
        windows = len(chars) - size + 1
        if windows <= 0:
            continue  # text shorter than the n-gram: the part stays 0.0, never NaN
        hashes = [ngram_hash(chars[j : j + size], base, m) for j in range(windows)]
        denominator = float(windows) * (float(b) / 2.0)
        for k in range(bounds[size - 1], bounds[size]):
            total = 0
            for s in hashes:
                r = s * seeds[k] % b
                total += r - b if 2 * r > b else r
            values[k] = float(total) / denominator
    # NumPy's float64 -> float32/float16 casts round to nearest, ties to even, as the spec requires.
    return np.array(values, dtype=np.float64).astype(dtype)
