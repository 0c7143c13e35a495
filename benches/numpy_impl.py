"""The hashembed function (docs/spec.md) in vectorised NumPy: the baseline a strong Python user
would write without the compiled extension.

Everything is array arithmetic in int64 (exact: a window hash and a seed are both below 2**31,
so their product is below 2**62): window hashes for all texts at once by Horner's rule over a
flat code point buffer, then the projection of a chunk of windows onto all the positions of
one n-gram size as one (windows, positions) matrix, summed per text with `np.add.reduceat`.
Equal texts are embedded once (a dict maps each text to its first occurrence), as hashembed
itself does. The output is bit-identical to hashembed's; compare.py asserts that.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["derive_hash_seeds", "embed_batch", "layout_bounds"]

_GOLDEN = 0x9E3779B97F4A7C15


def derive_hash_seeds(seed: int, dim: int, buckets: int) -> np.ndarray:
    """`h_k = 1 + (z_k mod (B - 1))` from SplitMix64, vectorised: state k is seed + (k+1)*golden."""
    with np.errstate(over="ignore"):
        state = np.uint64(seed) + np.arange(1, dim + 1, dtype=np.uint64) * np.uint64(_GOLDEN)
        z = (state ^ (state >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (np.uint64(1) + z % np.uint64(buckets - 1)).astype(np.int64)


def layout_bounds(dim: int, max_ngram: int, layout: str = "proportional") -> list[int]:
    if layout == "proportional":
        total = max_ngram * (max_ngram + 1) // 2
        return [dim * (i * (i + 1) // 2) // total for i in range(max_ngram + 1)]
    if layout == "equal":
        return [dim * i // max_ngram for i in range(max_ngram + 1)]
    raise ValueError(f"layout={layout!r}: this baseline supports 'proportional' and 'equal'")


def _code_points(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """All texts' code points in one int64 buffer, and each text's length."""
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    flat = "".join(texts).encode("utf-32-le", errors="surrogatepass")
    return np.frombuffer(flat, dtype=np.uint32).astype(np.int64), lengths


def _embed_unique(
    texts: Sequence[str],
    seeds: np.ndarray,
    bounds: list[int],
    base: int,
    modulus: int,
    buckets: int,
    chunk_elements: int,
) -> np.ndarray:
    cps, lengths = _code_points(texts)
    n = len(texts)
    out = np.zeros((n, bounds[-1]), dtype=np.float32)
    starts = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    owner = np.repeat(np.arange(n), lengths)  # text of every code point
    half_b = float(buckets) / 2.0
    for size in range(1, len(bounds)):
        lo, hi = bounds[size - 1], bounds[size]
        h = seeds[lo:hi]
        # Window j of size `size` starts at code point j and must end inside its text.
        first = np.flatnonzero(np.arange(len(cps)) + size <= starts[owner + 1])
        hashes = np.zeros(len(first), dtype=np.int64)
        for t in range(size):
            hashes = (hashes * base + cps[first + t]) % modulus
        windows = np.maximum(lengths - size + 1, 0)
        with_windows = np.flatnonzero(windows)
        if len(with_windows) == 0:
            continue
        win_start = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(windows, out=win_start[1:])
        denominators = windows[with_windows].astype(np.float64) * half_b
        # Chunks of whole texts, about chunk_elements int64 values of projection at a time.
        per_chunk = max(1, chunk_elements // (hi - lo))
        a = 0
        while a < len(with_windows):
            w0 = win_start[with_windows[a]]
            b = max(a + 1, int(np.searchsorted(win_start[with_windows + 1], w0 + per_chunk, "right")))
            b = min(b, len(with_windows))
            rows = with_windows[a:b]
            w1 = win_start[rows[-1] + 1]
            r = hashes[w0:w1, None] * h[None, :] % buckets
            r -= buckets * (2 * r > buckets)  # centre into (-B/2, B/2]
            sums = np.add.reduceat(r, win_start[rows] - w0, axis=0)
            out[rows, lo:hi] = sums.astype(np.float64) / denominators[a:b, None]
            a = b
    return out


def embed_batch(
    texts: Sequence[str],
    *,
    dim: int = 768,
    max_ngram: int = 3,
    layout: str = "proportional",
    seed: int = 42,
    base: int = 31,
    hash_modulus: int = 1_000_000_007,
    buckets: int = 1_000_000_007,
    chunk_elements: int = 1 << 16,
) -> np.ndarray:
    """float32 embeddings of `texts`, shape (len(texts), dim), equal to hashembed's bit for bit."""
    bounds = layout_bounds(dim, max_ngram, layout)
    seeds = derive_hash_seeds(seed, dim, buckets)
    first: dict[str, int] = {}
    inverse = np.fromiter((first.setdefault(t, len(first)) for t in texts), dtype=np.intp, count=len(texts))
    unique = _embed_unique(list(first), seeds, bounds, base, hash_modulus, buckets, chunk_elements)
    if len(unique) == len(texts):
        return unique
    return unique[inverse]
