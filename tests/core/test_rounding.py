"""Rounding of the output at chosen values: ties, the centring tie at r = B/2, subnormal float16,
and values where rounding through float32 would give a different float16 than rounding once.

The text "\\x01" has one 1-gram whose hash is 1, so with max_ngram=1 and explicit hash seeds,
position k is exactly centre(h_k mod B) / (B / 2): the seeds choose the output values.
"""

from __future__ import annotations

import numpy as np
import pytest
from hashembed import HashEmbedder
from hashembed import reference as ref
from support import M31, assert_same_bits


def centred(h: int, b: int) -> int:
    return h - b if 2 * h > b else h


def values_for(seeds: list[int], b: int) -> np.ndarray:
    """The spec's double for each position: A / (n * (B / 2)) with n = 1."""
    return np.array([centred(h, b) / (1.0 * (b / 2.0)) for h in seeds], dtype=np.float64)


def double_rounding_seeds(b: int) -> list[int]:
    """Seeds whose value, rounded to float16 via float32, differs from rounding it once."""
    ties = [0.5 + 3 * 2**-12, 0.75 + 2**-12, 0.25 + 2**-13, 2**-14 + 2**-25, 2**-20 + 2**-25, 1.5 * 2**-24]
    seeds = []
    for t in ties:
        middle = int(t * b / 2)
        for h in range(middle - 40, middle + 40):
            for s in (h, b - h):  # the positive value and its negative counterpart
                v = np.float64(centred(s, b) / (b / 2.0))
                if v.astype(np.float16) != v.astype(np.float32).astype(np.float16):
                    seeds.append(s)
    return seeds


def embed_all(seeds: list[int], b: int) -> dict[str, np.ndarray]:
    e = HashEmbedder(len(seeds), max_ngram=1, buckets=b, hash_seeds=seeds)
    out = {d: e.embed_batch(["\x01"], dtype=d)[0] for d in ("float32", "float64", "float16")}
    assert_same_bits(e.embed("\x01"), out["float32"])
    return out


def test_double_rounding_cases_round_once_to_float16(kernel):
    seeds = double_rounding_seeds(M31)
    assert len(seeds) > 50
    want = values_for(seeds, M31)
    got = embed_all(seeds, M31)
    assert_same_bits(got["float64"], want, "float64")
    assert_same_bits(got["float32"], want.astype(np.float32), "float32")
    assert_same_bits(got["float16"], want.astype(np.float16), "float16 rounded once")
    assert_same_bits(
        got["float16"],
        ref.embed("\x01", dim=len(seeds), max_ngram=1, buckets=M31, hash_seeds=seeds, dtype="float16"),
        "reference",
    )


B30 = 2**30  # value = r / 2**29 exactly: every tie of float32 and float16 can be hit


@pytest.mark.parametrize(
    "seeds",
    [
        # float32 ties in [0.5, 1): r = k * 2**5 + 2**4, even and odd k
        [2**28 + 2**4, 2**28 + 3 * 2**4, 2**28 + 2**5 * 1000 + 2**4, 2**28 + 2**5 * 1001 + 2**4],
        # float16 ties in [0.5, 1): r = k * 2**18 + 2**17
        [2**28 + 2**17, 2**28 + 3 * 2**17, 2**28 + 2**18 * 100 + 2**17, 2**28 + 2**18 * 101 + 2**17],
        # float16 subnormals and the smallest values: 2**-24 is r = 2**5, its half is r = 2**4
        [2**4, 2**5, 3 * 2**4, 5 * 2**4, 2**15 + 2**4, 2**15 - 2**4, 1, 2],
        # negatives: r > B/2 is centred to r - B
        [B30 - 2**4, B30 - 3 * 2**4, B30 - 2**28 - 2**17, B30 - 1],
        # the centring tie: r = B/2 stays positive, so the value is +1.0 (r = B/2 + 1 gives near -1)
        [B30 // 2, B30 // 2 + 1, B30 // 2 - 1],
    ],
    ids=["f32-ties", "f16-ties", "f16-subnormal", "negative", "centre-tie"],
)
def test_exact_ties_round_to_even(seeds, kernel):
    want = values_for(seeds, B30)
    got = embed_all(seeds, B30)
    assert_same_bits(got["float64"], want, "float64")
    assert_same_bits(got["float32"], want.astype(np.float32), "float32")
    assert_same_bits(got["float16"], want.astype(np.float16), "float16")


def test_centre_tie_is_plus_one_at_the_smallest_even_buckets():
    # B = 4: r = 2 = B/2 stays +2 -> +1.0; r = 1 -> +0.5; r = 3 > 2 -> 3 - 4 = -1 -> -0.5
    got = embed_all([2, 1, 3], 4)
    assert got["float32"].tolist() == [1.0, 0.5, -0.5]
    assert not np.signbit(got["float64"][0])
