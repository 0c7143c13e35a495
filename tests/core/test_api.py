"""The public Python API of HashEmbedder: properties, configuration, equality, pickling, call
forms, output buffers, input forms, awkward strings, long texts and kernel selection."""

from __future__ import annotations

import copy
import json
import pickle
import random

import hashembed
import numpy as np
import pytest
from hashembed import HashEmbedder
from hashembed import reference as ref
from support import M31, assert_same_bits, exact_embed


class SubEmbedder(HashEmbedder):
    """A subclass, to check that pickling and copying keep the type."""


# -- properties and configuration ----------------------------------------------------------------


def test_default_properties(default_embedder):
    e = default_embedder
    assert (e.dim, e.max_ngram, e.seed, e.base) == (768, 3, 42, 31)
    assert (e.hash_modulus, e.buckets) == (1_000_000_007, 1_000_000_007)
    assert e.layout == (128, 256, 384)
    assert isinstance(e.layout, tuple)
    seeds = e.hash_seeds
    assert seeds.dtype == np.uint32 and seeds.shape == (768,)
    assert seeds[:4].tolist() == [678530714, 427935848, 627061557, 163067633]
    assert seeds.tolist() == ref.derive_hash_seeds(42, 768, 1_000_000_007)


def test_hash_seeds_property_is_a_copy():
    e = HashEmbedder(16)
    before = e.embed("hello")
    seeds = e.hash_seeds
    seeds[:] = 1
    assert e.hash_seeds.tolist() == ref.derive_hash_seeds(42, 16, 1_000_000_007)
    assert_same_bits(e.embed("hello"), before)


def test_properties_are_read_only():
    e = HashEmbedder(16)
    for name in ("dim", "max_ngram", "layout", "seed", "base", "hash_modulus", "buckets", "hash_seeds"):
        with pytest.raises(AttributeError):
            setattr(e, name, getattr(e, name))


def test_properties_reflect_arguments():
    e = HashEmbedder(100, max_ngram=5, layout="equal", seed=2**64 - 1, base=M31, hash_modulus=2, buckets=3)
    assert (e.dim, e.max_ngram, e.seed, e.base, e.hash_modulus, e.buckets) == (100, 5, 2**64 - 1, M31, 2, 3)
    assert e.layout == (20, 20, 20, 20, 20)
    assert set(e.hash_seeds.tolist()) <= {1, 2}


@pytest.mark.parametrize(
    ("dim", "max_ngram", "layout", "parts"),
    [
        (768, 3, "proportional", (128, 256, 384)),
        (768, 3, "equal", (256, 256, 256)),
        (12, 3, "proportional", (2, 4, 6)),
        (10, 3, "equal", (3, 3, 4)),
        (1, 1, "proportional", (1,)),
        (36, 8, "proportional", (1, 2, 3, 4, 5, 6, 7, 8)),
        (12, 3, [2, 3, 7], (2, 3, 7)),
        (12, 3, (7, 3, 2), (7, 3, 2)),
    ],
)
def test_layout_property_gives_part_sizes(dim, max_ngram, layout, parts):
    e = HashEmbedder(dim, max_ngram=max_ngram, layout=layout)
    assert e.layout == parts
    bounds = ref.layout_bounds(dim, max_ngram, layout)
    assert tuple(np.diff(bounds)) == parts


def test_numpy_integer_arguments_are_accepted():
    e = HashEmbedder(np.int64(48), max_ngram=np.uint8(4), seed=np.uint64(2**64 - 1), buckets=np.int32(97))
    assert e == HashEmbedder(48, max_ngram=4, seed=2**64 - 1, buckets=97)
    assert type(e.config()["dim"]) is int and type(e.config()["seed"]) is int


SEEDS_12 = [1 + (7 * k) % 96 for k in range(12)]
CONFIGS = [
    {},
    {"dim": 12},
    {"dim": 100, "max_ngram": 8, "layout": "equal", "seed": 0},
    {"dim": 12, "layout": [2, 3, 7]},
    {"dim": 12, "layout": (2, 3, 7), "base": 1_114_129, "hash_modulus": M31, "buckets": M31},
    {"dim": 12, "layout": range(3, 6)},
    {"dim": 12, "layout": np.array([6, 3, 3])},
    {"dim": 12, "hash_seeds": SEEDS_12, "buckets": 97},
    {"dim": 12, "hash_seeds": np.array(SEEDS_12, dtype=np.uint32), "buckets": 97, "seed": 7},
    {"dim": 5, "max_ngram": 1, "seed": 2**64 - 1, "buckets": 3, "hash_modulus": 2, "base": 1},
    {"dim": 24, "boundary_markers": True},
]
CONFIG_IDS = [f"config{i}" for i in range(len(CONFIGS))]


@pytest.mark.parametrize("kwargs", CONFIGS, ids=CONFIG_IDS)
def test_config_round_trip(kwargs):
    e = HashEmbedder(**kwargs)
    cfg = e.config()
    assert list(cfg) == [
        "dim",
        "max_ngram",
        "layout",
        "seed",
        "base",
        "hash_modulus",
        "buckets",
        "hash_seeds",
        "boundary_markers",
    ]
    json.dumps(cfg)  # plain Python values only
    again = HashEmbedder(**cfg)
    assert again == e
    assert again.config() == cfg
    assert_same_bits(again.embed("round trip \ud800"), e.embed("round trip \ud800"))


def test_config_keeps_a_named_layout_and_explicit_seeds():
    assert HashEmbedder(12, layout="equal").config()["layout"] == "equal"
    assert HashEmbedder(12).config()["hash_seeds"] is None
    e = HashEmbedder(12, hash_seeds=SEEDS_12, buckets=97)
    assert e.config()["hash_seeds"] == SEEDS_12


def test_config_round_trip_when_layout_is_an_iterator():
    """A layout given as a one-shot iterable must be recorded, not consumed twice."""
    e = HashEmbedder(12, layout=iter([2, 3, 7]))
    assert e.layout == (2, 3, 7)
    assert e.config()["layout"] == (2, 3, 7)
    assert HashEmbedder(**e.config()) == e
    assert pickle.loads(pickle.dumps(e)) == e


# -- equality, hashing, repr ----------------------------------------------------------------------


def test_equal_configs_are_equal_and_hash_equal():
    a, b = HashEmbedder(48, seed=3), HashEmbedder(48, seed=3)
    assert a == b and not (a != b)
    assert hash(a) == hash(b)
    assert len({a, b}) == 1
    assert {a: 1}[b] == 1


@pytest.mark.parametrize(
    "change",
    [
        {"dim": 49},
        {"max_ngram": 2},
        {"layout": "equal"},
        {"seed": 4},
        {"base": 37},
        {"hash_modulus": 999_999_937},
        {"buckets": 999_999_937},
        {"hash_seeds": list(range(1, 49))},
    ],
)
def test_different_configs_are_unequal(change):
    base = {"dim": 48, "seed": 3}
    a, b = HashEmbedder(**base), HashEmbedder(**{**base, **change})
    assert a != b and not (a == b)
    assert len({a, b}) == 2


def test_equality_with_other_types():
    e = HashEmbedder(8)
    assert e != "HashEmbedder(dim=8)"
    assert e != 8
    assert e is not None
    assert (e == object()) is False


def test_repr_names_every_parameter_and_evaluates_back():
    e = HashEmbedder(48, max_ngram=4, layout=[6, 10, 12, 20], seed=9, base=37, hash_modulus=101, buckets=103)
    text = repr(e)
    assert text.startswith("HashEmbedder(")
    for part in ("dim=48", "max_ngram=4", "seed=9", "base=37", "hash_modulus=101", "buckets=103"):
        assert part in text
    assert "6, 10, 12, 20" in text
    assert eval(text, {"HashEmbedder": HashEmbedder}) == e
    assert eval(repr(HashEmbedder()), {"HashEmbedder": HashEmbedder}) == HashEmbedder()


def test_repr_summarises_explicit_seeds():
    e = HashEmbedder(12, hash_seeds=SEEDS_12, buckets=97)
    assert "12 explicit seeds" in repr(e)
    assert str(SEEDS_12[5]) not in repr(e).split("hash_seeds")[1]


# -- pickle and copy -------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", CONFIGS, ids=CONFIG_IDS)
@pytest.mark.parametrize(
    "clone",
    [
        lambda e: pickle.loads(pickle.dumps(e)),
        lambda e: pickle.loads(pickle.dumps(e, protocol=0)),
        copy.copy,
        copy.deepcopy,
    ],
    ids=["pickle", "pickle0", "copy", "deepcopy"],
)
def test_clones_are_equal_and_embed_identically(kwargs, clone):
    e = HashEmbedder(**kwargs)
    c = clone(e)
    assert type(c) is HashEmbedder
    assert c == e and hash(c) == hash(e) and c.config() == e.config()
    texts = ["", "a", "clone \U0001f600", "\ud800\udc00", "x" * 300]
    assert_same_bits(c.embed_batch(texts), e.embed_batch(texts))
    assert_same_bits(c.hash_seeds, e.hash_seeds)


def test_pickling_keeps_the_subclass():
    e = SubEmbedder(24, seed=5)
    for c in (pickle.loads(pickle.dumps(e)), copy.copy(e), copy.deepcopy(e)):
        assert type(c) is SubEmbedder
        assert c == e
        assert_same_bits(c.embed("sub"), e.embed("sub"))


def test_pickle_is_small():
    """It pickles to its configuration, not its seed table."""
    assert len(pickle.dumps(HashEmbedder(65536))) < 1000


# -- calling forms and output -----------------------------------------------------------------------


def test_call_dispatches_on_str_or_sequence():
    e = HashEmbedder(32)
    assert_same_bits(e("hello"), e.embed("hello"))
    assert e("hello").shape == (32,)
    batch = e(["hello", "world"])
    assert batch.shape == (2, 32)
    assert_same_bits(batch, e.embed_batch(["hello", "world"]))
    assert_same_bits(e(("hello",), dtype="float64"), e.embed_batch(["hello"], dtype="float64"))
    out = np.empty((1, 32), np.float16)
    assert e(["hi"], out=out, dtype="float16", num_threads=1) is out


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_embed_batch_dtype_and_shape(dtype):
    e = HashEmbedder(40)
    got = e.embed_batch(["a", "bc", "def"], dtype=dtype)
    assert got.dtype == np.dtype(dtype) and got.shape == (3, 40)
    assert got.flags.c_contiguous and got.flags.writeable
    wide = e.embed_batch(["a", "bc", "def"], dtype="float64")
    assert_same_bits(got, wide.astype(dtype))


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_out_is_filled_in_place_and_returned(dtype):
    e = HashEmbedder(40)
    texts = ["in", "place", "in"]
    out = np.full((3, 40), 7.0, dtype=dtype)
    result = e.embed_batch(texts, out=out, dtype=dtype)
    assert result is out
    assert_same_bits(out, e.embed_batch(texts, dtype=dtype))


def test_out_can_be_a_memmap(tmp_path):
    e = HashEmbedder(64)
    texts = [f"row {i} \u05e9" for i in range(50)]
    path = tmp_path / "emb.f32"
    mm = np.memmap(path, dtype=np.float32, mode="w+", shape=(50, 64))
    assert e.embed_batch(texts, out=mm) is mm
    mm.flush()
    del mm
    back = np.fromfile(path, dtype=np.float32).reshape(50, 64)
    assert_same_bits(back, e.embed_batch(texts))


def test_out_may_be_a_c_contiguous_view_of_a_larger_array():
    e = HashEmbedder(16)
    big = np.full((5, 16), 9.0, np.float32)
    view = big[1:3]
    assert view.flags.c_contiguous
    e.embed_batch(["x", "y"], out=view)
    assert_same_bits(big[1:3], e.embed_batch(["x", "y"]))
    assert np.all(big[[0, 3, 4]] == 9.0)


def test_unaligned_out_is_filled_correctly_or_refused_with_a_value_error():
    """An unaligned array meets every stated requirement of `out` (C-contiguous, writable,
    right shape and dtype): it must be filled, or refused like the other bad outs are, with a
    ValueError that says what is wrong with it."""
    e = HashEmbedder(16)
    raw = bytearray(2 * 16 * 4 + 1)
    out = np.frombuffer(raw, dtype=np.float32, offset=1).reshape(2, 16)
    assert not out.flags.aligned and out.flags.writeable and out.flags.c_contiguous
    try:
        e.embed_batch(["x", "yz"], out=out)
    except ValueError as err:
        assert "aligned" in str(err)
        return
    assert_same_bits(out.copy(), e.embed_batch(["x", "yz"]))


def test_threads_argument_does_not_change_output():
    e = HashEmbedder(96)
    rng = random.Random(5)
    texts = [
        "".join(rng.choice("abcde\u00e9\U0001f600") for _ in range(rng.randrange(30))) for _ in range(500)
    ]
    want = e.embed_batch(texts, num_threads=1)
    for threads in (2, 3, 7, 64, None, hashembed.default_threads()):
        assert_same_bits(e.embed_batch(texts, num_threads=threads), want, f"num_threads={threads}")


def test_default_threads_is_positive():
    n = hashembed.default_threads()
    assert isinstance(n, int) and n >= 1


# -- input forms ----------------------------------------------------------------------------------

TEXTS = ["alpha", "", "\u05e9\u05dc\u05d5\u05dd", "alpha", "\U0001f600 \ud800"]


class Str(str):
    """A str subclass: still a str."""


@pytest.mark.parametrize(
    "make",
    [
        list,
        tuple,
        lambda t: (s for s in t),
        iter,
        np.array,
        lambda t: np.array(t, dtype=object),
        lambda t: [np.str_(s) for s in t],
        lambda t: [Str(s) for s in t],
    ],
    ids=[
        "list",
        "tuple",
        "generator",
        "iterator",
        "numpy-str",
        "numpy-object",
        "numpy-str-items",
        "str-subclass",
    ],
)
def test_sequence_forms_give_the_same_rows(make):
    e = HashEmbedder(32)
    want = np.stack([e.embed(t) for t in TEXTS])
    assert_same_bits(e.embed_batch(make(TEXTS)), want)
    assert_same_bits(e(make(TEXTS)), want)


def test_numpy_str_array_keeps_lone_surrogates():
    arr = np.array(TEXTS)
    assert arr.dtype.kind == "U" and arr.tolist() == TEXTS


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize(
    "empty", [[], (), np.array([], dtype=str), iter([])], ids=["list", "tuple", "numpy", "iter"]
)
def test_empty_batch(empty, dtype):
    e = HashEmbedder(24)
    got = e.embed_batch(empty, dtype=dtype)
    assert got.shape == (0, 24) and got.dtype == np.dtype(dtype)
    out = np.empty((0, 24), dtype)
    assert e.embed_batch([], out=out, dtype=dtype) is out


def test_batch_with_many_repeats():
    e = HashEmbedder(24)
    texts = ["same"] * 1000 + ["other"] + ["same"] * 3
    got = e.embed_batch(texts)
    assert_same_bits(got, np.stack([e.embed(t) for t in texts]))


# -- awkward strings ------------------------------------------------------------------------------

STRINGS = {
    "lone-high-surrogate": "\ud800",
    "lone-low-surrogate": "\udfff",
    "surrogate-pair-as-two-code-points": "\ud83d\ude00",
    "surrogates-in-text": "ab\udc00cd\ud800",
    "nul": "\x00",
    "nuls": "a\x00\x00b\x00",
    "emoji": "\U0001f600",
    "emoji-zwj-family": "\U0001f468\u200d\U0001f469\u200d\U0001f467 \U0001f44d\U0001f3fd",
    "combining-marks": "e\u0301 a\u0308 Z\u0324\u0354\u0367\u0311\u0313",
    "arabic": "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",
    "hebrew": "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd",
    "bidi-mixed": "abc \u202e\u05d0\u05d1\u05d2\u202c def \u0661\u0662\u0663",
    "cjk": "\u6f22\u5b57\u30c6\u30b9\u30c8\u4e2d\u6587\ud55c\uad6d\uc5b4",
    "max-code-point": "\U0010ffff\U0010fffe",
    "control-and-bom": "\ufeff\t\r\n\x7f\x85",
    "whitespace": "   ",
}


@pytest.mark.parametrize("text", list(STRINGS.values()), ids=list(STRINGS))
def test_awkward_strings_match_reference(text, default_embedder):
    got = default_embedder.embed(text)
    assert_same_bits(got, ref.embed(text), "embed")
    assert_same_bits(default_embedder.embed_batch([text, "pad"])[0], got, "batch")
    small = HashEmbedder(37, max_ngram=5, layout="equal", base=1_114_129)
    assert_same_bits(small.embed(text), ref.embed(text, dim=37, max_ngram=5, layout="equal", base=1_114_129))


def test_surrogate_pair_code_points_differ_from_the_astral_character(default_embedder):
    """A str holding two surrogate code points is not the character they would encode."""
    pair = default_embedder.embed("\ud83d\ude00")
    astral = default_embedder.embed("\U0001f600")
    assert not np.array_equal(pair, astral)
    assert_same_bits(pair, ref.embed([0xD83D, 0xDE00]))


@pytest.mark.parametrize(
    "kwargs", [{}, {"dim": 1, "max_ngram": 1}, {"dim": 64, "max_ngram": 8}, {"buckets": 4}]
)
def test_empty_string_is_positive_zeros(kwargs):
    e = HashEmbedder(**kwargs)
    for v in (e.embed(""), e.embed_batch([""], dtype="float64")[0], e.embed_batch([""], dtype="float16")[0]):
        assert v.shape == (e.dim,)
        assert not v.any()
        assert not np.signbit(v).any()


@pytest.mark.parametrize("text", ["a", "\ud800", "ab", "\U0001f600\x00", "abc", "abcdefg"])
@pytest.mark.parametrize("layout", ["proportional", "equal", [1, 2, 3, 4, 5, 6, 7, 8]])
def test_parts_for_n_grams_longer_than_the_text_are_zero(text, layout):
    e = HashEmbedder(36, max_ngram=8, layout=layout, buckets=M31)
    v = e.embed(text)
    bounds = np.concatenate([[0], np.cumsum(e.layout)])
    for size in range(1, 9):
        part = v[bounds[size - 1] : bounds[size]]
        if size > len(text):
            assert not part.any() and not np.signbit(part).any(), f"size {size}"
        else:
            assert part.any(), f"size {size} should see {len(text) - size + 1} windows"
    assert_same_bits(v, ref.embed(text, dim=36, max_ngram=8, layout=layout, buckets=M31))


# -- explicit hash seeds --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "form",
    [list, tuple, lambda s: np.array(s, dtype=np.uint32), lambda s: np.array(s, dtype=np.int64), iter],
    ids=["list", "tuple", "uint32", "int64", "iterator"],
)
def test_explicit_hash_seeds(form):
    seeds = [1 + (k * 7919) % 96 for k in range(24)]
    e = HashEmbedder(24, buckets=97, hash_seeds=form(seeds))
    assert e.hash_seeds.tolist() == seeds
    assert e.config()["hash_seeds"] == seeds
    for text in ("", "seeds", "\ud800\U0001f600 x"):
        assert_same_bits(e.embed(text), ref.embed(text, dim=24, buckets=97, hash_seeds=seeds), text)


def test_explicit_seeds_ignore_seed_and_equal_derived_ones():
    seeds = ref.derive_hash_seeds(42, 48, 1_000_000_007)
    derived = HashEmbedder(48)
    for seed in (0, 42, 2**64 - 1):
        e = HashEmbedder(48, seed=seed, hash_seeds=seeds)
        assert_same_bits(e.embed("same function"), derived.embed("same function"))
        assert e.hash_seeds.tolist() == seeds


def test_extreme_explicit_seeds():
    e = HashEmbedder(8, max_ngram=2, buckets=M31, hash_seeds=[1, M31 - 1] * 4)
    want = ref.embed("extreme", dim=8, max_ngram=2, buckets=M31, hash_seeds=[1, M31 - 1] * 4)
    assert_same_bits(e.embed("extreme"), want)


# -- long texts -------------------------------------------------------------------------------------


def _random_text(length: int, seed: int) -> str:
    rng = random.Random(seed)
    alphabet = "abcdefgh \u00e9\u05e9\u6f22\U0001f600\ud800\x00"
    return "".join(rng.choice(alphabet) for _ in range(length))


@pytest.mark.parametrize("length", [255, 256, 257, 258, 4095, 4096, 4097, 9000])
@pytest.mark.parametrize(
    "config",
    [{"dim": 40}, {"dim": 600, "max_ngram": 2, "layout": "equal"}, {"dim": 1100, "max_ngram": 1}],
    ids=["dim40", "dim600", "dim1100"],
)
def test_long_texts_equal_exact_oracle(length, config):
    """Around the 256-window chunk and the 4096-code-point threshold where a text is split
    into blocks of 512 positions (dims 600 and 1100 give parts of several blocks)."""
    text = _random_text(length, length)
    e = HashEmbedder(**config)
    want = exact_embed(text, **config)
    assert_same_bits(e.embed(text), want, "embed")
    batch = e.embed_batch(["short", text, "", text, text[:100]], dtype="float64")
    assert_same_bits(batch[1].astype(np.float32), want, "batch row 1")
    assert_same_bits(batch[3], batch[1], "repeated long text")
    assert_same_bits(batch[4].astype(np.float32), e.embed(text[:100]), "short row")


def test_largest_dim():
    e = HashEmbedder(65536, max_ngram=8)
    text = "the largest output \U0001f600"
    assert_same_bits(e.embed(text), exact_embed(text, dim=65536, max_ngram=8))
    assert e.embed_batch([text, text], dtype="float16").shape == (2, 65536)


def test_ten_million_code_points(restore_kernel):
    pattern = "the quick brown fox \u05e9\u05dc\u05d5\u05dd \U0001f600\ud800 "
    length = 10_000_000
    text = (pattern * (length // len(pattern) + 1))[:length]
    assert len(text) == length
    e = HashEmbedder(96)
    want = exact_embed(periodic=(pattern, length), dim=96)
    got = e.embed(text)
    assert got.shape == (96,) and np.all(np.isfinite(got))
    assert_same_bits(got, want, "embed")
    assert_same_bits(e.embed_batch([text, "tail"])[0], want, "embed_batch")
    hashembed.set_kernel("scalar")
    assert_same_bits(e.embed(text), want, "scalar kernel")


# -- kernels ----------------------------------------------------------------------------------------


def test_available_kernels():
    kernels = hashembed.available_kernels()
    assert kernels[0] == "scalar"
    assert set(kernels) <= {"scalar", "avx2", "avx512"}
    assert len(set(kernels)) == len(kernels)
    order = ["scalar", "avx2", "avx512"]
    assert kernels == sorted(kernels, key=order.index)


def test_set_and_get_kernel(restore_kernel):
    for k in hashembed.available_kernels():
        assert hashembed.set_kernel(k) is None
        assert hashembed.get_kernel() == k
    hashembed.set_kernel("auto")
    assert hashembed.get_kernel() == hashembed.available_kernels()[-1]


def test_unsupported_kernel_is_refused(restore_kernel):
    before = hashembed.get_kernel()
    missing = {"scalar", "avx2", "avx512"} - set(hashembed.available_kernels())
    for k in missing:
        with pytest.raises(ValueError, match=k):
            hashembed.set_kernel(k)
        assert hashembed.get_kernel() == before


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"dim": 17, "max_ngram": 1},
        {"dim": 33, "buckets": 3},
        {"dim": 100, "max_ngram": 8, "buckets": M31},
    ],
    ids=["default", "dim17", "dim33-b3", "dim100-n8"],
)
def test_every_kernel_gives_identical_output(config, restore_kernel):
    e = HashEmbedder(**config)
    texts = [_random_text(n, n) for n in (0, 1, 2, 3, 15, 16, 17, 300, 5000)]
    results = {}
    for k in hashembed.available_kernels():
        hashembed.set_kernel(k)
        results[k] = [e.embed_batch(texts, dtype=d) for d in ("float32", "float64", "float16")]
        results[k].append(np.stack([e.embed(t) for t in texts]))
    for k, arrays in results.items():
        for got, want in zip(arrays, results["scalar"]):
            assert_same_bits(got, want, f"kernel {k}")


@pytest.mark.parametrize("name", ["default", "unicode", "robust", "fuzzy", "compact"])
def test_presets_are_plain_configs_that_match_the_reference(name):
    e = HashEmbedder.preset(name)
    assert HashEmbedder(**e.config()) == e
    for word in ["", "x", "colour", "naïve"]:
        assert_same_bits(e.embed(word), ref.embed(word, **e.config()))
    assert HashEmbedder.preset(name, dim=32).dim == 32


def test_boundary_markers_change_output_only_when_asked():
    plain, marked = HashEmbedder(48), HashEmbedder(48, boundary_markers=True)
    assert plain != marked
    assert not plain.embed("").any() and marked.embed("").any()
    assert_same_bits(marked.embed("ab"), ref.embed([2, 97, 98, 3], dim=48))


def test_unknown_preset_and_non_bool_markers_are_refused():
    with pytest.raises(ValueError, match="preset='nope'"):
        HashEmbedder.preset("nope")
    with pytest.raises(TypeError, match="boundary_markers must be a bool, not int"):
        HashEmbedder(boundary_markers=1)


def test_embed_takes_a_dtype():
    """Defect 18: `embed` had no dtype though every other path offers float64 and float16."""
    e = HashEmbedder(32)
    for dtype in ("float32", "float64", "float16"):
        got = e.embed("héllo", dtype=dtype)
        assert got.dtype == np.dtype(dtype) and got.shape == (32,)
        assert_same_bits(got, e.embed_batch(["héllo"], dtype=dtype)[0], dtype)
        assert_same_bits(e("héllo", dtype=dtype), got, dtype)
    with pytest.raises(TypeError, match=r"text must be str, not bytes"):
        e.embed(b"hello", dtype="float64")


def test_the_pickled_size_in_the_docs_is_right():
    """Defect 18: docs/distributed.md gave a pickled size the code does not have."""
    import pickle
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "distributed.md").read_text(encoding="utf-8")
    stated = int(re.search(r"len\(data\)\s+# (\d+) bytes", doc).group(1))
    assert len(pickle.dumps(HashEmbedder(dim=256))) == stated


LAZY = """
import sys, hashembed
assert "hashembed.reference" not in sys.modules
print(hashembed.reference.embed("a", dim=12).shape)
try:
    hashembed.torch
except ImportError as e:
    print(e)
print(hasattr(hashembed, "dask"), hasattr(hashembed, "nope"))
"""


def test_optional_modules_are_lazy_attributes():
    """Contract 6: `import hashembed` then `hashembed.reference`, `.torch`, `.dask` works,
    and a missing optional dependency names the extra to install."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", LAZY], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "(12,)"
    try:
        import torch  # noqa: F401
    except ImportError:
        assert lines[1] == "hashembed.torch needs the 'torch' package: pip install 'hashembed[torch]'"
    assert lines[-1] == "True False"


def test_the_native_entry_points_are_not_public():
    """Contract 2: HashEmbedder holds the native embedder instead of extending it, so its
    raw entry points are not part of the API; texts given as UTF-8 have a public method."""
    e = HashEmbedder(16)
    assert not isinstance(e, hashembed._core.Embedder)
    for name in ("embed_batch_into", "embed_utf8_into"):
        assert not hasattr(e, name), name
    data = np.frombuffer("héllo wörld".encode(), np.uint8)
    offsets = np.array([0, 6, 6, len(data)], np.int64)
    got = e.embed_utf8(data, offsets, dtype="float64")
    assert_same_bits(got, e.embed_batch(["héllo", "", " wörld"], dtype="float64"))
    with pytest.raises(hashembed.ItemError) as info:
        e.embed_utf8(np.frombuffer(b"ok\xff", np.uint8), np.array([0, 2, 3]))
    assert (info.value.index, info.value.byte) == (1, 0)
    with pytest.raises(AttributeError):
        e.dim = 3
