"""Strings that share character n-grams get nearer vectors than unrelated strings (default
configuration). Each triple is (anchor, similar, dissimilar)."""

from __future__ import annotations

import numpy as np
import pytest

TRIPLES = [
    # word order
    ("the cat sat on the mat", "on the mat the cat sat", "stock prices fell sharply today"),
    ("green tea with lemon", "lemon with green tea", "a broken bicycle chain"),
    ("machine learning model", "model learning machine", "fresh bread from the bakery"),
    # one-word edits
    ("the quick brown fox jumps", "the quick brown dog jumps", "interest rates remain unchanged"),
    ("I would like a cup of coffee", "I would like a cup of tea", "the river flooded the valley"),
    ("open the front door", "close the front door", "quarterly earnings report"),
    # typos
    ("definitely", "definately", "crocodile"),
    ("accommodation", "acommodation", "thunderstorm"),
    ("receive the package", "recieve the package", "migrating birds at dusk"),
    ("embedding", "embeding", "volcano"),
    # plural / singular and inflection
    ("apple", "apples", "zebra"),
    ("the children are playing", "the child is playing", "mortgage applications declined"),
    ("running quickly", "runs quickly", "purple umbrella"),
    ("database", "databases", "weekend"),
    # casing and punctuation
    ("Hello, world!", "hello world", "xylophone quartet"),
    # non-Latin scripts
    (
        "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd",
        "\u05e9\u05dc\u05d5\u05dd \u05dc\u05db\u05d5\u05dd",
        "good morning",
    ),
    ("\u6771\u4eac\u5927\u5b66", "\u4eac\u90fd\u5927\u5b66", "\u0645\u0631\u062d\u0628\u0627"),
]


def cos(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float64), b.astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.mark.parametrize(("anchor", "similar", "dissimilar"), TRIPLES, ids=[t[0] for t in TRIPLES])
def test_similar_is_closer_than_dissimilar(anchor, similar, dissimilar, default_embedder):
    a, s, d = default_embedder.embed_batch([anchor, similar, dissimilar])
    assert cos(a, s) > cos(a, d), (cos(a, s), cos(a, d))


def test_identical_strings_have_cosine_one(default_embedder):
    v = default_embedder.embed("identical")
    assert cos(v, v) == pytest.approx(1.0, abs=1e-12)


def test_triples_are_distinct_strings():
    assert len(TRIPLES) >= 12
    for triple in TRIPLES:
        assert len(set(triple)) == 3
