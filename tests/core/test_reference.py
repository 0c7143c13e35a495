"""The reference implementation against the spec's check values, and the golden vectors
against the reference. Uses only hashembed.reference, never the compiled extension."""

from __future__ import annotations

import importlib.util
import itertools
import string
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
GOLDEN_DIR = ROOT / "tests" / "golden"


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


try:
    from hashembed import reference as ref
except ImportError:
    # The package's __init__ needs the compiled extension; the reference itself does not, so
    # these tests still run from a source checkout before the extension is built.
    ref = _load("hashembed_reference", ROOT / "python" / "hashembed" / "reference.py")


def _generator():
    return _load("golden_generate", GOLDEN_DIR / "generate.py")


def _bits(vector: np.ndarray) -> list[str]:
    return [f"{int(b):08x}" for b in vector.view(np.uint32)]


def H(s: str, base: int = 31, m: int = 1_000_000_007) -> int:
    return ref.ngram_hash([ord(c) for c in s], base, m)


def test_splitmix64_seed_0_stream():
    assert list(itertools.islice(ref.splitmix64(0), 2)) == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4]


def test_hash_seeds_for_seed_42():
    seeds = ref.derive_hash_seeds(42, 768, 1_000_000_007)
    assert seeds[:4] == [678530714, 427935848, 627061557, 163067633]
    assert all(1 <= h < 1_000_000_007 for h in seeds)


def test_ngram_hash_check_values():
    assert H("abc") == 96354
    assert H("the") == 114801
    assert H("xa") == H("yB") == 3817


def test_collision_counts_of_the_weaknesses_section():
    printable = [chr(c) for c in range(32, 127)]
    bigrams = ["".join(g) for g in itertools.product(printable, repeat=2)]
    trigrams = ["".join(g) for g in itertools.product(string.ascii_lowercase + string.digits + "#", repeat=3)]
    assert len({H(g) for g in bigrams}) == 3009
    assert len({H(g) for g in trigrams}) == 27421
    assert len({H(g, base=1_114_129) for g in bigrams}) == len(bigrams) == 9025
    assert len({H(g, base=1_114_129) for g in trigrams}) == len(trigrams) == 50653


def test_layout_bounds():
    assert ref.layout_bounds(768, 3, "proportional") == [0, 128, 384, 768]
    assert ref.layout_bounds(768, 3, "equal") == [0, 256, 512, 768]
    assert ref.layout_bounds(12, 3, [2, 3, 7]) == [0, 2, 5, 12]


def test_embed_hello_bits():
    v = ref.embed("hello")
    assert v.shape == (768,) and v.dtype == np.float32
    bits = _bits(v)
    expected = {0: "bc0df7f2", 1: "be0a7f8c", 128: "3ecbddac", 384: "be408d50", 767: "be05742d"}
    assert {k: bits[k] for k in expected} == expected


def test_embed_a_dim_12():
    expected = np.array([-0.36504242, -0.98044604] + [0.0] * 10, dtype=np.float32)
    assert _bits(ref.embed("a", dim=12)) == _bits(expected)


def test_embed_empty_is_zeros():
    v = ref.embed("")
    assert v.shape == (768,) and not np.signbit(v).any() and not v.any()


def test_text_forms_agree():
    text = "h\u00e9llo \U0001f600 \ud800"
    as_list = ref.embed([ord(c) for c in text], dim=48)
    assert _bits(ref.embed(text, dim=48)) == _bits(as_list)
    assert _bits(ref.embed("h\u00e9llo".encode(), dim=48)) == _bits(ref.embed("h\u00e9llo", dim=48))


def test_golden_file_regenerates_identically():
    gen = _generator()
    assert gen.render(gen.build()) == (GOLDEN_DIR / "vectors.json").read_text(encoding="utf-8")


def test_golden_values_lie_in_unit_interval():
    golden = _generator().build()
    for case in golden["cases"]:
        values = np.array(case["bits"], dtype=np.uint32).view(np.float32)
        assert len(values) == case["config"]["dim"]
        assert np.all(np.abs(values) <= 1.0), case["name"]


WIDTH_CASES = [
    ("hello", {}),
    ("the quick brown fox", {"dim": 100, "max_ngram": 5}),
    ("abc" * 50, {"dim": 64, "buckets": 3}),
    ("\U0001f600x\u05e9", {"dim": 37, "base": 1_114_129, "buckets": 2**31 - 1}),
]


@pytest.mark.parametrize(("text", "config"), WIDTH_CASES)
def test_other_widths_round_from_the_double(text, config):
    wide = ref.embed(text, dtype="float64", **config)
    assert wide.dtype == np.float64
    assert _bits(wide.astype(np.float32)) == _bits(ref.embed(text, **config))
    half = ref.embed(text, dtype="float16", **config)
    assert half.dtype == np.float16
    assert half.view(np.uint16).tolist() == wide.astype(np.float16).view(np.uint16).tolist()
    assert np.all(np.abs(wide) <= 1.0)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"dim": 0}, ValueError, "dim"),
        ({"dim": 65537}, ValueError, "dim"),
        ({"dim": 2}, ValueError, "dim"),  # proportional layout would leave size 1 empty
        ({"dim": 7.0}, TypeError, "dim"),
        ({"max_ngram": 0}, ValueError, "max_ngram"),
        ({"max_ngram": 9}, ValueError, "max_ngram"),
        ({"max_ngram": True}, TypeError, "max_ngram"),
        ({"layout": "golden"}, ValueError, "layout"),
        ({"layout": [100, 100]}, ValueError, "layout"),
        ({"layout": [0, 368, 400]}, ValueError, "layout"),
        ({"layout": [100, 268, 399]}, ValueError, "layout"),
        ({"layout": 3}, TypeError, "layout"),
        ({"seed": -1}, ValueError, "seed"),
        ({"seed": 2**64}, ValueError, "seed"),
        ({"seed": "42"}, TypeError, "seed"),
        ({"base": 0}, ValueError, "base"),
        ({"base": 2**31}, ValueError, "base"),
        ({"hash_modulus": 1}, ValueError, "hash_modulus"),
        ({"hash_modulus": 2**31}, ValueError, "hash_modulus"),
        ({"buckets": 2}, ValueError, "buckets"),
        ({"buckets": 2**31}, ValueError, "buckets"),
        ({"buckets": False}, TypeError, "buckets"),
        ({"hash_seeds": [1] * 767}, ValueError, "hash_seeds"),
        ({"hash_seeds": [0] * 768}, ValueError, "hash_seeds"),
        ({"hash_seeds": [1_000_000_007] * 768}, ValueError, "hash_seeds"),
        ({"hash_seeds": 5}, TypeError, "hash_seeds"),
        ({"dtype": "int8"}, ValueError, "dtype"),
    ],
)
def test_bad_parameters_name_themselves(kwargs, error, name):
    with pytest.raises(error, match=name):
        ref.embed("hello", **kwargs)


@pytest.mark.parametrize(("text", "error"), [([0x110000], ValueError), ([-1], ValueError), (42, TypeError)])
def test_bad_text(text, error):
    with pytest.raises(error, match="text"):
        ref.embed(text)
