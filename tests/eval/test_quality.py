"""The metric functions of the quality report (eval/quality_report/) on tiny inputs: sane ranges,
the spec's collision counts, and a smoke run of the whole report."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hashembed import reference as ref

NEEDS = "the quality report needs {} (pip install -r benches/requirements-quality.txt)"
pytest.importorskip("wordfreq", reason=NEEDS.format("wordfreq"))
pytest.importorskip("sklearn", reason=NEEDS.format("scikit-learn"))

# eval/quality.py runs with eval/ on sys.path, which is how it finds its package.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "eval"))
from quality_report import collisions, data, methods, metrics  # noqa: E402
from quality_report.cli import main  # noqa: E402
from quality_report.typos import EDITS, make_typos  # noqa: E402

PRINTABLE = [chr(c) for c in range(0x20, 0x7F)]


@pytest.fixture(scope="module")
def words():
    return data.load_words("en", 300)


@pytest.fixture(scope="module")
def method():
    return methods.HashEmbed(dim=64)


def edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions, adjacent swaps."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[-1][-1]


# -- metric 1 ------------------------------------------------------------------------------------


def test_typos_are_seeded_single_edits_off_the_list(words):
    typos, kinds = make_typos(words, seed=7)
    assert len(typos) == len(words) and set(kinds) <= set(EDITS)
    assert all(edit_distance(w, t) == 1 for w, t in zip(words, typos))
    assert not set(typos) & set(words)
    alphabet = set("".join(words))
    assert set("".join(typos)) <= alphabet
    assert make_typos(words, seed=7) == (typos, kinds)
    assert make_typos(words, seed=8)[0] != typos


def test_typo_robustness_is_sane(words, method):
    typos, _ = make_typos(words, seed=1)
    result = metrics.typo_robustness(method, words, typos)
    assert 0.5 < result["auc"] <= 1.0
    assert 0.0 <= result["recall@1"] <= result["recall@10"] <= 1.0
    assert result["recall@1"] > 0.2  # far above chance (1/300)
    assert result["hits@1"].shape == (len(words),)
    assert result["cos_typo"] > result["cos_unrelated"]


def test_typo_robustness_of_the_alternative(words):
    typos, _ = make_typos(words, seed=1)
    result = metrics.typo_robustness(methods.CharHashing(64), words, typos)
    assert 0.5 < result["auc"] <= 1.0
    assert result["recall@10"] >= result["recall@1"] > 0.2


def test_identical_words_are_found_and_ties_count_against_the_target():
    keys = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    queries = np.array([[1.0, 0.1], [0.0, 1.0]], dtype=np.float32)
    # Query 0 is nearest to keys 0 and 1, which tie: either target has rank 1, not 0.
    assert metrics.neighbour_ranks(queries, keys, np.array([0, 2])).tolist() == [1, 0]
    assert metrics.neighbour_ranks(queries, keys, np.array([1, 0])).tolist() == [1, 2]


def test_boundary_markers_wrap_the_text():
    plain, marked = methods.HashEmbed(dim=64), methods.HashEmbed(dim=64, boundary_markers=True)
    np.testing.assert_array_equal(marked(["word"]), plain(["\x02word\x03"]))


# -- metric 2 ------------------------------------------------------------------------------------


def test_vectorised_hash_is_the_spec_hash():
    grams = ["abc", "the", "xyz", "ßüé", "中文字", "\U0010ffff\x00a"]
    for base in (methods.DEFAULT_BASE, methods.WIDE_BASE, 2**31 - 1):
        expected = [ref.ngram_hash([ord(c) for c in g], base, collisions.MODULUS) for g in grams]
        assert collisions.ngram_hashes(grams, base).tolist() == expected
    assert collisions.ngram_hashes(["xa", "yB"], methods.DEFAULT_BASE).tolist() == [3817, 3817]


def test_printable_ascii_bigram_collisions():
    bigrams = [a + b for a in PRINTABLE for b in PRINTABLE]
    narrow = collisions.collision_stats(bigrams, methods.DEFAULT_BASE)
    wide = collisions.collision_stats(bigrams, methods.WIDE_BASE)
    assert narrow["distinct"] == wide["distinct"] == 9025
    assert narrow["hashes"] == 3009  # the spec's figure
    assert 0 < narrow["share"] <= 1 and "xa" in narrow["colliding_grams"]
    assert wide["hashes"] == 9025 and wide["colliding"] == 0 and wide["share"] == 0.0


def test_trigram_collisions_match_the_spec():
    chars = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [str(d) for d in range(10)] + ["#"]
    trigrams = [a + b + c for a in chars for b in chars for c in chars]
    assert collisions.collision_stats(trigrams, methods.DEFAULT_BASE)["hashes"] == 27421
    assert collisions.collision_stats(trigrams, methods.WIDE_BASE)["colliding"] == 0


def test_distinct_ngrams_and_words_touched():
    assert collisions.distinct_ngrams(["abab", "b"], 2) == ["ab", "ba"]
    assert collisions.distinct_ngrams(["ab"], 3) == []
    assert collisions.words_touched(["xa", "yB", "zz"], {"xa", "yB"}, 2) == pytest.approx(2 / 3)


def test_unigrams_never_collide(words):
    grams = collisions.distinct_ngrams(words, 1)
    assert collisions.collision_stats(grams, methods.DEFAULT_BASE)["colliding"] == 0


def test_identical_groups_come_from_repeated_runs():
    groups = collisions.identical_groups(methods.HashEmbed(dim=64), ["###", "####", "ab", "ba", "abc"])
    assert groups == [["###", "####"]]


def test_identical_kinds():
    assert collisions.identical_kind(["###", "####"]) == "run"
    assert collisions.identical_kind(["LOAD_CONST__LOAD_FAST", "LOAD_FAST__LOAD_CONST"]) == "order"
    assert collisions.identical_kind(["xa", "yB"]) == "hash"
    # Same 1- to 3-grams in another order: the same vector, whatever the base.
    for base in (methods.DEFAULT_BASE, methods.WIDE_BASE):
        swapped = ["LOAD_CONST__LOAD_FAST", "LOAD_FAST__LOAD_CONST"]
        assert collisions.identical_groups(methods.HashEmbed(dim=64, base=base), swapped) == [swapped]


# -- metric 3 ------------------------------------------------------------------------------------


def test_sample_pairs_respect_their_groups(words):
    pairs = metrics.sample_pairs(words, 200, seed=3)
    assert set(pairs) == set(metrics.GROUPS)
    for group, p in pairs.items():
        assert len(p) > 0, group
        assert (p[:, 0] != p[:, 1]).all()
    assert all(words[i][:3] == words[j][:3] for i, j in pairs["prefix"])
    assert all(words[i][-3:] == words[j][-3:] for i, j in pairs["suffix"])
    assert all(not set(words[i]) & set(words[j]) for i, j in pairs["disjoint"])


def test_separation_is_sane(words, method):
    pairs = metrics.sample_pairs(words, 300, seed=3)
    result = metrics.separation(method, words, pairs)
    assert abs(result["disjoint_mean"]) < 0.06  # centred on zero, spread about 1/sqrt(64)
    assert 0.05 < result["disjoint_std"] < 0.25
    assert result["prefix_mean"] > result["random_mean"] + 0.1
    assert result["suffix_mean"] > result["random_mean"] + 0.1
    assert 0.5 < result["affix_auc"] <= 1.0


# -- the whole report ----------------------------------------------------------------------------


def test_quick_run_writes_the_report(tmp_path):
    pytest.importorskip("matplotlib", reason=NEEDS.format("matplotlib"))
    assert main(["--quick", "--out", str(tmp_path)]) == 0
    report = (tmp_path / "quality.md").read_text(encoding="utf-8")
    assert report.startswith("# Embedding quality") and "Smoke run" in report
    images = sorted(p.name for p in (tmp_path / "img").glob("*.png"))
    assert "typo_by_language.png" in images and "collisions.png" in images
    for name in images:
        assert f"(img/{name})" in report
        assert (tmp_path / "img" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
