"""Helpers shared by the tests of the compiled embedder: bit views, golden cases, and an exact
oracle that is fast enough for long texts.

`exact_embed` computes the spec's function from the multiset of window hashes of each n-gram
size, so a text whose windows repeat (a periodic text of millions of code points) costs only
as much as its distinct n-grams. It uses the reference module's hash, seeds and layout; its
projection and averaging are checked against `hashembed.reference.embed` in
test_properties.py, so it is an oracle, not a second guess.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from hashembed import reference as ref
from hashembed._params import PARAMETERS

GOLDEN_PATH = Path(__file__).resolve().parent / "golden" / "vectors.json"
GOLDEN_FORMAT = "hashembed-golden-v1"
CONFIG_KEYS = tuple(p.name for p in PARAMETERS)
M31 = 2**31 - 1
DEFAULTS = ref.DEFAULTS

_BITS = {np.dtype(np.float16): np.uint16, np.dtype(np.float32): np.uint32, np.dtype(np.float64): np.uint64}


def bits(array: np.ndarray) -> np.ndarray:
    """The IEEE bit patterns of a float array, so that comparisons see -0.0 and NaN (integer
    arrays are returned as they are)."""
    array = np.ascontiguousarray(array)
    if array.dtype.kind in "iu":
        return array
    return array.view(_BITS[array.dtype])


def assert_same_bits(got: np.ndarray, want: np.ndarray, what: str = "") -> None:
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    differ = np.flatnonzero(bits(got).ravel() != bits(want).ravel())
    assert differ.size == 0, (
        f"{what}: {differ.size} of {got.size} values differ, first at flat index {differ[0]}: "
        f"{got.ravel()[differ[0]]!r} != {want.ravel()[differ[0]]!r}"
    )


def text_of(code_points: Sequence[int]) -> str:
    """A str of exactly these code points (lone surrogates included)."""
    return "".join(map(chr, code_points))


def load_golden() -> list[dict[str, Any]]:
    data = json.loads(GOLDEN_PATH.read_text(encoding="utf-8"))
    if data.get("format") != GOLDEN_FORMAT:
        raise ValueError(f"{GOLDEN_PATH} has format {data.get('format')!r}, expected {GOLDEN_FORMAT!r}")
    return data["cases"]


def config_key(config: Mapping[str, Any]) -> str:
    return json.dumps(dict(config), sort_keys=True)


def full_config(**overrides: Any) -> dict[str, Any]:
    return {**DEFAULTS, **overrides}


# -- exact oracle --------------------------------------------------------------------------------


def window_hash_counts(code_points: Sequence[int], size: int, base: int, m: int) -> Counter:
    """How often each hash occurs among the windows of `size` code points."""
    return Counter(
        ref.ngram_hash(code_points[j : j + size], base, m) for j in range(len(code_points) - size + 1)
    )


def periodic_hash_counts(pattern: Sequence[int], length: int, size: int, base: int, m: int) -> Counter:
    """`window_hash_counts` of the first `length` code points of `pattern` repeated forever."""
    period = len(pattern)
    windows = length - size + 1
    counts: Counter = Counter()
    for q in range(min(period, max(windows, 0))):
        gram = [pattern[(q + t) % period] for t in range(size)]
        # windows j in [0, windows) with j % period == q
        counts[ref.ngram_hash(gram, base, m)] += (windows - 1 - q) // period + 1
    return counts


def exact_embed(
    text: str | None = None,
    *,
    periodic: tuple[str, int] | None = None,
    dtype: str = "float32",
    **config: Any,
) -> np.ndarray:
    """The spec's embedding of `text`, or of `periodic = (pattern, length)`, from hash counts."""
    cfg = full_config(**config)
    bounds = ref.layout_bounds(cfg["dim"], cfg["max_ngram"], cfg["layout"])
    b = cfg["buckets"]
    if cfg["hash_seeds"] is None:
        seeds = ref.derive_hash_seeds(cfg["seed"], cfg["dim"], b)
    else:
        seeds = [int(h) for h in cfg["hash_seeds"]]
    seeds_arr = np.array(seeds, dtype=np.int64)
    values = np.zeros(cfg["dim"], dtype=np.float64)
    for size in range(1, cfg["max_ngram"] + 1):
        if periodic is not None:
            assert not cfg["boundary_markers"], "periodic texts are counted without markers"
            pattern, length = periodic
            counts = periodic_hash_counts(
                [ord(c) for c in pattern], length, size, cfg["base"], cfg["hash_modulus"]
            )
        else:
            assert text is not None
            chars = [ord(c) for c in text]
            if cfg["boundary_markers"]:
                chars = [ref.START_MARKER, *chars, ref.END_MARKER]
            counts = window_hash_counts(chars, size, cfg["base"], cfg["hash_modulus"])
        n = sum(counts.values())
        if n == 0:
            continue
        lo, hi = bounds[size - 1], bounds[size]
        s = np.array(list(counts.keys()), dtype=np.int64)
        w = np.array(list(counts.values()), dtype=np.int64)
        r = (s[:, None] * seeds_arr[None, lo:hi]) % b  # < 2**62: exact in int64
        c = np.where(2 * r > b, r - b, r)
        total = (w[:, None] * c).sum(axis=0)  # |total| <= n * b / 2: exact in int64
        values[lo:hi] = total.astype(np.float64) / (np.float64(n) * (np.float64(b) / 2.0))
    return values.astype(dtype)


def golden_groups() -> dict[str, list[dict]]:
    """The golden cases grouped by configuration (`config_key`), in file order."""
    groups: dict[str, list[dict]] = {}
    for case in load_golden():
        groups.setdefault(config_key(case["config"]), []).append(case)
    return groups


def golden_bits(group: list[dict]) -> np.ndarray:
    """The expected float32 rows of a group of golden cases."""
    return np.stack([np.array(c["bits"], dtype=np.uint32).view(np.float32) for c in group])


MIXED = ["hello", "", "a", "naïve ☃", "\ud800x\udfff", "\U0001d11eab", "\x00\x00", "x" * 90, "שלום", "漢字"]
"""Texts of every kind a batch may mix: empty, one character, combining, lone surrogates,
astral, NULs, long, right-to-left, CJK."""
