"""The compiled embedder against every golden vector, bit for bit, with every kernel."""

from __future__ import annotations

import numpy as np
import pytest
from hashembed import HashEmbedder
from support import CONFIG_KEYS, assert_same_bits, golden_groups, load_golden, text_of

CASES = load_golden()
GROUPS = golden_groups()


def expected(case) -> np.ndarray:
    return np.array(case["bits"], dtype=np.uint32).view(np.float32)


def test_golden_file_is_well_formed():
    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names)) >= 40
    for case in CASES:
        assert set(case) == {"name", "config", "input", "bits"}, case["name"]
        assert set(case["config"]) == set(CONFIG_KEYS), case["name"]
        assert len(case["bits"]) == case["config"]["dim"], case["name"]
        assert all(0 <= c <= 0x10FFFF for c in case["input"]), case["name"]


def test_golden_cases_cover_surrogates_and_long_texts():
    inputs = [c["input"] for c in CASES]
    assert any(0xD800 <= cp <= 0xDFFF for i in inputs for cp in i)
    assert any(cp > 0xFFFF for i in inputs for cp in i)
    assert max(len(i) for i in inputs) >= 4096  # reaches the long-text (position block) path


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_embed_gives_golden_bits(case, kernel):
    e = HashEmbedder(**case["config"])
    got = e.embed(text_of(case["input"]))
    assert_same_bits(got, expected(case), f"{case['name']} with kernel {kernel}")


@pytest.mark.parametrize("group", list(GROUPS.values()), ids=[g[0]["name"] for g in GROUPS.values()])
def test_embed_batch_gives_golden_bits(group, kernel):
    e = HashEmbedder(**group[0]["config"])
    texts = [text_of(c["input"]) for c in group]
    want = np.stack([expected(c) for c in group])
    assert_same_bits(e.embed_batch(texts), want, f"float32 batch, kernel {kernel}")

    wide = e.embed_batch(texts, dtype="float64")
    assert wide.dtype == np.float64
    assert_same_bits(wide.astype(np.float32), want, f"float64 batch rounded, kernel {kernel}")

    # float16 is rounded once, straight from the double (NumPy's cast does exactly that)
    half = e.embed_batch(texts, dtype="float16")
    assert_same_bits(half, wide.astype(np.float16), f"float16 batch, kernel {kernel}")


def test_whole_golden_file_as_one_batch_per_config_with_repeats(kernel):
    """Each config's inputs twice, interleaved: repeats are copied from their first row."""
    for group in GROUPS.values():
        e = HashEmbedder(**group[0]["config"])
        texts = [text_of(c["input"]) for c in group]
        doubled = [t for pair in zip(texts, reversed(texts)) for t in pair]
        want = {t: expected(c) for t, c in zip(texts, group)}
        got = e.embed_batch(doubled)
        for i, t in enumerate(doubled):
            assert_same_bits(got[i], want[t], f"row {i} of {group[0]['name']} group")
