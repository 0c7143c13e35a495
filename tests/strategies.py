"""Hypothesis strategies shared by the property tests: arbitrary text (lone surrogates
included) and arbitrary valid configurations."""

from __future__ import annotations

from hypothesis import strategies as st
from support import M31

MAX_DIM = 200

chars = st.one_of(
    st.characters(exclude_categories=()),  # every category, surrogates allowed
    st.characters(categories=["Cs"]),  # lone surrogates, which are otherwise rare
    st.sampled_from("ab \x00\U0010ffff"),  # a small alphabet, so n-grams repeat
)
texts = st.text(alphabet=chars, max_size=24)


@st.composite
def configs(draw) -> dict:
    n = draw(st.integers(1, 8))
    kind = draw(st.sampled_from(["proportional", "equal", "explicit"]))
    if kind == "explicit":
        layout = draw(st.lists(st.integers(1, MAX_DIM // n), min_size=n, max_size=n))
        dim = sum(layout)
    elif kind == "equal":
        layout, dim = "equal", draw(st.integers(n, MAX_DIM))
    else:
        layout, dim = "proportional", draw(st.integers(n * (n + 1) // 2, MAX_DIM))
    buckets = draw(st.one_of(st.sampled_from([3, 4, 5, 6, M31, 1_000_000_007]), st.integers(3, M31)))
    config = {
        "dim": dim,
        "max_ngram": n,
        "layout": layout,
        "seed": draw(st.integers(0, 2**64 - 1)),
        "base": draw(st.one_of(st.sampled_from([1, 2, 31, 1_114_129, M31]), st.integers(1, M31))),
        "hash_modulus": draw(st.one_of(st.sampled_from([2, 3, 97, M31]), st.integers(2, M31))),
        "buckets": buckets,
        "hash_seeds": None,
    }
    if draw(st.integers(0, 4)) == 0:
        config["hash_seeds"] = draw(st.lists(st.integers(1, buckets - 1), min_size=dim, max_size=dim))
    return config


@st.composite
def full_configs(draw) -> dict:
    return {**draw(configs()), "boundary_markers": draw(st.booleans())}
