"""Metric 2: how often the spec's rolling hash H gives two distinct n-grams the same value, and
which distinct tokens end up with identical vectors."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from .methods import DEFAULT_BASE, WIDE_BASE, HashEmbed, Method

MODULUS = 1_000_000_007
POOLED = "all (pooled)"


def distinct_ngrams(tokens: Sequence[str], n: int) -> list[str]:
    """The distinct n-grams (windows of n code points) of the tokens, sorted."""
    return sorted({t[i : i + n] for t in tokens for i in range(len(t) - n + 1)})


def ngram_hashes(grams: Sequence[str], base: int, modulus: int = MODULUS) -> np.ndarray:
    """H(g) of the spec (Horner's rule, reduced mod m after every step) for n-grams of one length,
    vectorised: equal to `hashembed.reference.ngram_hash` on each."""
    if not grams:
        return np.zeros(0, dtype=np.int64)
    n = len(grams[0])
    if any(len(g) != n for g in grams):
        raise ValueError("all n-grams must have the same length")
    points = np.frombuffer("".join(grams).encode("utf-32-le"), dtype=np.uint32).reshape(len(grams), n)
    h = np.zeros(len(grams), dtype=np.int64)
    for col in range(n):  # h < 2^31 and base < 2^31, so h * base + c < 2^63
        h = (h * base + points[:, col].astype(np.int64)) % modulus
    return h


def collision_stats(grams: Sequence[str], base: int, modulus: int = MODULUS) -> dict[str, Any]:
    """How many distinct n-grams share their hash with another distinct n-gram.

    Returns `distinct` (n-grams), `hashes` (distinct hash values), `colliding` (n-grams whose
    hash another one has), `share` (colliding / distinct) and `colliding_grams` (a set).
    """
    grams = list(dict.fromkeys(grams))
    h = ngram_hashes(grams, base, modulus)
    values, inverse, counts = np.unique(h, return_inverse=True, return_counts=True)
    shared = counts[inverse] > 1
    colliding = int(shared.sum())
    return {
        "distinct": len(grams),
        "hashes": len(values),
        "colliding": colliding,
        "share": colliding / len(grams) if grams else 0.0,
        "colliding_grams": {g for g, s in zip(grams, shared) if s},
    }


def words_touched(words: Sequence[str], colliding: set[str], n: int) -> float:
    """The share of words holding at least one n-gram from `colliding`."""
    if not words:
        return 0.0
    hit = sum(any(w[i : i + n] in colliding for i in range(len(w) - n + 1)) for w in words)
    return hit / len(words)


def identical_groups(method: Method, tokens: Sequence[str]) -> list[list[str]]:
    """Groups of distinct tokens that get exactly the same vector, largest first."""
    tokens = list(dict.fromkeys(tokens))
    groups: dict[bytes, list[str]] = defaultdict(list)
    for token, row in zip(tokens, method(tokens)):
        groups[row.tobytes()].append(token)
    return sorted((g for g in groups.values() if len(g) > 1), key=len, reverse=True)


def identical_kind(group: Sequence[str], max_ngram: int = 3) -> str:
    """Why the strings of a group of identical vectors are alike: "run" (one repeated character),
    "order" (the same n-gram proportions for every size up to max_ngram) or "hash" (neither)."""
    if all(len(set(t)) == 1 for t in group) and len({t[0] for t in group}) == 1:
        return "run"

    def proportions(t: str, n: int) -> dict[str, float]:
        c = Counter(t[i : i + n] for i in range(len(t) - n + 1))
        total = sum(c.values())
        return {g: k / total for g, k in c.items()}

    first = group[0]
    if all(proportions(t, n) == proportions(first, n) for t in group[1:] for n in range(1, max_ngram + 1)):
        return "order"
    return "hash"


def collision_examples(tokens: Sequence[str], per_n: int = 3) -> dict[int, list[list[str]]]:
    """A few sets of frequent n-grams (n = 2, 3) that share a base-31 hash, for illustration."""
    out = {}
    for n in (2, 3):
        counts = Counter(t[i : i + n] for t in tokens for i in range(len(t) - n + 1))
        grams = [g for g, _ in counts.most_common()]
        by_hash: dict[int, list[str]] = defaultdict(list)
        for g, h in zip(grams, ngram_hashes(grams, DEFAULT_BASE).tolist()):
            by_hash[h].append(g)
        shared = [g for g in by_hash.values() if len(g) > 1]
        shared.sort(key=lambda g: -min(counts[x] for x in g))
        out[n] = shared[:per_n]
    return out


def collision_report(sources: dict[str, list[str]]) -> dict[str, Any]:
    """Metric 2 for each source and for all of them pooled (under POOLED), with both bases.

    `collisions[source][n][base]` holds `collision_stats` of the distinct n-grams (n = 1 ... 5)
    and `touched[source][n]` the share of tokens holding a base-31 collision; `examples`,
    `identical` (per base and source) and `ascii_bigrams` (per base) illustrate them.
    """
    pooled = list(dict.fromkeys(tok for toks in sources.values() for tok in toks))
    bases = (DEFAULT_BASE, WIDE_BASE)
    collisions: dict[str, dict[int, dict[int, dict[str, Any]]]] = {}
    touched: dict[str, dict[int, float]] = {}
    for name, toks in {**sources, POOLED: pooled}.items():
        collisions[name], touched[name] = {}, {}
        for n in (1, 2, 3, 4, 5):
            grams = distinct_ngrams(toks, n)
            collisions[name][n] = {b: collision_stats(grams, b) for b in bases}
            touched[name][n] = words_touched(
                toks, collisions[name][n][DEFAULT_BASE].pop("colliding_grams"), n
            )
            collisions[name][n][WIDE_BASE].pop("colliding_grams")
    printable = [chr(a) + chr(b) for a in range(0x20, 0x7F) for b in range(0x20, 0x7F)]
    ascii_bigrams = {b: collision_stats(printable, b) for b in bases}
    for stats in ascii_bigrams.values():
        stats.pop("colliding_grams")
    return {
        "pooled": len(pooled),
        "collisions": collisions,
        "touched": touched,
        "examples": collision_examples(pooled),
        "identical": {
            b: {name: identical_groups(HashEmbed(base=b), toks) for name, toks in sources.items()}
            for b in bases
        },
        "ascii_bigrams": ascii_bigrams,
    }
