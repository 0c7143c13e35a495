"""Every error the Python API raises: its type, and a message that names what was wrong."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import hashembed
import numpy as np
import pytest
from hashembed import HashEmbedder
from support import M31

# -- constructor: numeric parameters ---------------------------------------------------------------

OUT_OF_RANGE = [
    ("dim", 0),
    ("dim", -1),
    ("dim", 65537),
    ("dim", 2**70),
    ("max_ngram", 0),
    ("max_ngram", -3),
    ("max_ngram", 9),
    ("seed", -1),
    ("seed", 2**64),
    ("base", 0),
    ("base", -31),
    ("base", 2**31),
    ("hash_modulus", 1),
    ("hash_modulus", 0),
    ("hash_modulus", 2**31),
    ("buckets", 2),
    ("buckets", 0),
    ("buckets", 2**31),
]
RANGES = {
    "dim": "65536",
    "max_ngram": "8",
    "seed": "18446744073709551615",
    "base": "2147483647",
    "hash_modulus": "2147483647",
    "buckets": "2147483647",
}


@pytest.mark.parametrize(("name", "value"), OUT_OF_RANGE, ids=[f"{n}={v}" for n, v in OUT_OF_RANGE])
def test_out_of_range_parameter(name, value):
    with pytest.raises(ValueError) as info:
        HashEmbedder(**{name: value})
    message = str(info.value)
    assert f"{name}={value}" in message
    # The valid range, e.g. "1 <= dim <= 65536", in a notation C callers read too (not 2**31).
    assert RANGES[name] in message and "**" not in message
    assert isinstance(info.value, hashembed.ParameterError)
    assert (info.value.parameter, info.value.value, info.value.index) == (name, value, None)


ENDS = [
    ("dim", 1, {"max_ngram": 1}),
    ("dim", 65536, {}),
    ("max_ngram", 1, {}),
    ("max_ngram", 8, {"dim": 36}),
    ("seed", 0, {}),
    ("seed", 2**64 - 1, {}),
    ("base", 1, {}),
    ("base", M31, {}),
    ("hash_modulus", 2, {}),
    ("hash_modulus", M31, {}),
    ("buckets", 3, {}),
    ("buckets", M31, {}),
]


@pytest.mark.parametrize(("name", "value", "others"), ENDS, ids=[f"{n}={v}" for n, v, _ in ENDS])
def test_both_ends_of_each_range_are_valid(name, value, others):
    e = HashEmbedder(**{name: value}, **others)
    assert getattr(e, name) == value
    v = e.embed("ends")
    assert v.shape == (e.dim,) and np.all(np.abs(v) <= 1.0)


NUMERIC = ["dim", "max_ngram", "seed", "base", "hash_modulus", "buckets"]
WRONG_TYPES = [True, False, np.bool_(True), 8.0, np.float64(8.0), "8", b"8", [8], 8 + 0j]


@pytest.mark.parametrize("name", NUMERIC)
@pytest.mark.parametrize("value", WRONG_TYPES, ids=lambda v: f"{type(v).__name__}")
def test_wrong_type_of_numeric_parameter(name, value):
    with pytest.raises(TypeError) as info:
        HashEmbedder(**{name: value})
    message = str(info.value)
    assert name in message
    assert type(value).__name__ in message


@pytest.mark.parametrize("name", [*NUMERIC, "layout"])
def test_none_is_not_a_value_for_a_parameter_with_a_default(name):
    """Only hash_seeds takes None; the other parameters are ints (or a layout), and None must
    not silently stand for the default."""
    with pytest.raises(TypeError) as info:
        HashEmbedder(**{name: None})
    assert name in str(info.value)
    if name == "dim":
        with pytest.raises(TypeError, match="dim"):
            HashEmbedder(None)


def test_parameters_other_than_dim_are_keyword_only():
    with pytest.raises(TypeError):
        HashEmbedder(48, 3)


def test_unknown_keyword_is_refused():
    with pytest.raises(TypeError, match="dimension"):
        HashEmbedder(dimension=48)


# -- constructor: layout --------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["bogus", "Proportional", "EQUAL", "", " equal"])
def test_unknown_layout_name(layout):
    with pytest.raises(ValueError) as info:
        HashEmbedder(48, layout=layout)
    message = str(info.value)
    assert "layout" in message and repr(layout)[1:-1] in message
    assert "proportional" in message and "equal" in message


@pytest.mark.parametrize("layout", [3, 3.0, object()], ids=["int", "float", "object"])
def test_layout_of_wrong_type(layout):
    with pytest.raises(TypeError, match="layout"):
        HashEmbedder(48, layout=layout)


@pytest.mark.parametrize(("layout", "count"), [([48], 1), ([16, 32], 2), ([12, 12, 12, 12], 4), ([], 0)])
def test_layout_of_wrong_length(layout, count):
    with pytest.raises(ValueError) as info:
        HashEmbedder(48, layout=layout)
    message = str(info.value)
    assert "layout" in message and str(count) in message and "3" in message


@pytest.mark.parametrize(("layout", "index"), [([0, 16, 32], 0), ([16, 32, 0], 2)])
def test_layout_with_a_zero_part(layout, index):
    with pytest.raises(ValueError, match=re.escape(f"layout[{index}]")):
        HashEmbedder(48, layout=layout)


@pytest.mark.parametrize(("layout", "index"), [([-1, 17, 32], 0), ([16, 2**64, 32], 1)])
def test_layout_with_an_out_of_range_part(layout, index):
    with pytest.raises(ValueError, match=re.escape(f"layout[{index}]={layout[index]}")):
        HashEmbedder(48, layout=layout)


@pytest.mark.parametrize(("layout", "total"), [([16, 16, 15], 47), ([16, 16, 17], 49), ([1, 1, 1], 3)])
def test_layout_with_the_wrong_sum(layout, total):
    with pytest.raises(ValueError) as info:
        HashEmbedder(48, layout=layout)
    message = str(info.value)
    assert "layout" in message and str(total) in message and "dim=48" in message


@pytest.mark.parametrize(
    ("part", "kind"), [(16.0, "float"), (True, "bool"), ("16", "str"), (None, "NoneType")]
)
def test_layout_part_of_wrong_type(part, kind):
    with pytest.raises(TypeError) as info:
        HashEmbedder(48, layout=[16, part, 16])
    message = str(info.value)
    assert "layout[1]" in message and kind in message


@pytest.mark.parametrize(
    ("dim", "max_ngram", "layout"),
    [
        (2, 3, "proportional"),
        (5, 3, "proportional"),
        (35, 8, "proportional"),
        (2, 3, "equal"),
        (7, 8, "equal"),
    ],
)
def test_named_layout_leaving_a_size_without_positions(dim, max_ngram, layout):
    with pytest.raises(ValueError) as info:
        HashEmbedder(dim, max_ngram=max_ngram, layout=layout)
    message = str(info.value)
    assert "layout" in message and f"dim={dim}" in message


# -- constructor: hash_seeds ------------------------------------------------------------------------


@pytest.mark.parametrize("count", [0, 5, 7, 12])
def test_hash_seeds_of_wrong_length(count):
    with pytest.raises(ValueError) as info:
        HashEmbedder(6, hash_seeds=[1] * count)
    message = str(info.value)
    assert "hash_seeds" in message and str(count) in message and "6" in message


@pytest.mark.parametrize(
    ("seeds", "index", "value"),
    [
        ([0, 1, 1, 1, 1, 1], 0, 0),
        ([1, 1, 1, 1, 1, 97], 5, 97),
        ([1, 1, 1, 200, 1, 1], 3, 200),
        ([1, -5, 1, 1, 1, 1], 1, -5),
        ([1, 1, 2**64, 1, 1, 1], 2, 2**64),
    ],
)
def test_hash_seed_out_of_range_names_its_index(seeds, index, value):
    with pytest.raises(ValueError) as info:
        HashEmbedder(6, buckets=97, hash_seeds=seeds)
    assert f"hash_seeds[{index}]={value}" in str(info.value)


def test_hash_seed_out_of_range_as_ndarray():
    with pytest.raises(ValueError, match=re.escape("hash_seeds[4]=97")):
        HashEmbedder(6, buckets=97, hash_seeds=np.array([1, 2, 3, 4, 97, 5], dtype=np.uint32))


@pytest.mark.parametrize(("item", "kind"), [(2.0, "float"), (True, "bool"), ("2", "str"), (None, "NoneType")])
def test_hash_seed_of_wrong_type_names_its_index(item, kind):
    with pytest.raises(TypeError) as info:
        HashEmbedder(6, hash_seeds=[1, 2, 3, item, 5, 6])
    message = str(info.value)
    assert "hash_seeds[3]" in message and kind in message


@pytest.mark.parametrize("seeds", [5, 5.0, object()], ids=["int", "float", "object"])
def test_hash_seeds_not_a_sequence(seeds):
    with pytest.raises(TypeError, match="hash_seeds"):
        HashEmbedder(6, hash_seeds=seeds)


def test_float_ndarray_hash_seeds():
    with pytest.raises(TypeError, match=re.escape("hash_seeds[0]")):
        HashEmbedder(6, hash_seeds=np.arange(1.0, 7.0))


def test_seed_is_still_checked_with_explicit_hash_seeds():
    with pytest.raises(ValueError, match="seed=-1"):
        HashEmbedder(6, seed=-1, hash_seeds=[1] * 6)


# -- embed and embed_batch inputs -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind"), [(5, "int"), (b"bytes", "bytes"), (None, "NoneType"), (["a"], "list")]
)
def test_embed_of_non_str(text, kind):
    with pytest.raises(TypeError) as info:
        HashEmbedder(8).embed(text)
    assert "text" in str(info.value) and kind in str(info.value)


@pytest.mark.parametrize(("item", "kind"), [(7, "int"), (b"x", "bytes"), (None, "NoneType"), (3.5, "float")])
@pytest.mark.parametrize("index", [0, 2])
def test_non_str_batch_item_names_index_and_type(item, kind, index):
    texts = ["a", "b", "c"]
    texts[index] = item
    with pytest.raises(TypeError) as info:
        HashEmbedder(8).embed_batch(texts)
    message = str(info.value)
    assert f"texts[{index}]" in message and kind in message


@pytest.mark.parametrize(
    ("texts", "kind"), [("abc", "str"), (b"abc", "bytes"), (5, "int"), (None, "NoneType")]
)
def test_batch_that_is_not_a_sequence(texts, kind):
    with pytest.raises(TypeError) as info:
        HashEmbedder(8).embed_batch(texts)
    assert "texts" in str(info.value) and kind in str(info.value)


def test_two_dimensional_numpy_batch():
    with pytest.raises(ValueError, match="one-dimensional"):
        HashEmbedder(8).embed_batch(np.array([["a", "b"], ["c", "d"]]))


def test_call_with_a_str_takes_only_the_options_of_embed():
    assert HashEmbedder(8)("a", dtype="float64").dtype == np.float64
    with pytest.raises(TypeError, match="num_threads"):
        HashEmbedder(8)("a", num_threads=2)


@pytest.mark.parametrize("item", [1, b"x", None])
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_failed_batch_writes_nothing_into_out(item, dtype):
    e = HashEmbedder(16)
    out = np.full((4, 16), 0.125, dtype=dtype)
    with pytest.raises(TypeError, match=r"texts\[3\]"):
        e.embed_batch(["first", "second", "third", item], out=out, dtype=dtype)
    assert np.all(out == 0.125)


def test_failed_batch_in_other_input_forms_writes_nothing():
    e = HashEmbedder(16)
    out = np.full((3, 16), -2.0, dtype=np.float32)
    for texts in (("a", "b", 3), (s for s in ["a", "b", 3]), np.array(["a", "b", 3], dtype=object)):
        with pytest.raises(TypeError, match=r"texts\[2\]"):
            e.embed_batch(texts, out=out)
        assert np.all(out == -2.0)


# -- out --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(3, 16), (1, 16), (2, 15), (2, 17), (32,), (2, 16, 1), (16, 2)])
def test_out_of_wrong_shape(shape):
    out = np.zeros(shape, np.float32)
    with pytest.raises(ValueError) as info:
        HashEmbedder(16).embed_batch(["a", "b"], out=out)
    message = str(info.value)
    assert "shape" in message and "(2, 16)" in message
    assert not out.any()


@pytest.mark.parametrize(
    ("out_dtype", "dtype"),
    [
        ("float64", "float32"),
        ("float16", "float32"),
        ("float32", "float64"),
        ("int32", "float32"),
        ("uint16", "float16"),
    ],
)
def test_out_of_wrong_dtype(out_dtype, dtype):
    out = np.zeros((2, 16), out_dtype)
    with pytest.raises(ValueError) as info:
        HashEmbedder(16).embed_batch(["a", "b"], out=out, dtype=dtype)
    message = str(info.value)
    assert "dtype" in message and out_dtype in message and dtype in message
    assert not out.any()


@pytest.mark.parametrize(
    "make",
    [
        lambda: np.zeros((2, 16), np.float32, order="F"),
        lambda: np.zeros((2, 32), np.float32)[:, ::2],
        lambda: np.zeros((4, 16), np.float32)[::2],
        lambda: np.zeros((16, 2), np.float32).T,
    ],
    ids=["fortran", "strided-columns", "strided-rows", "transposed"],
)
def test_out_not_c_contiguous(make):
    out = make()
    with pytest.raises(ValueError, match="C-contiguous"):
        HashEmbedder(16).embed_batch(["a", "b"], out=out)
    assert not out.any()


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_out_read_only(dtype):
    out = np.zeros((2, 16), dtype)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        HashEmbedder(16).embed_batch(["a", "b"], out=out, dtype=dtype)
    assert not out.any()


def test_out_not_an_array():
    with pytest.raises(TypeError, match="out"):
        HashEmbedder(16).embed_batch(["a", "b"], out=[[0.0] * 16] * 2)


# -- dtype, num_threads, kernels ------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["int32", "bogus", "float128", "complex64", "bfloat16", "f2x"])
def test_bad_dtype(dtype):
    with pytest.raises(ValueError) as info:
        HashEmbedder(8).embed_batch(["a"], dtype=dtype)
    message = str(info.value)
    assert "dtype" in message and dtype in message


def test_dtype_none_is_refused_not_read_as_float64():
    """None is not one of "float32", "float64", "float16" (NumPy reads np.dtype(None) as
    float64, which must not leak through as a silent choice of output type)."""
    with pytest.raises((TypeError, ValueError), match="dtype"):
        HashEmbedder(8).embed_batch(["a"], dtype=None)


@pytest.mark.parametrize("threads", [0, -1, -100, 1025, 2**64])
def test_num_threads_out_of_range(threads):
    with pytest.raises(ValueError) as info:
        HashEmbedder(8).embed_batch(["a"], num_threads=threads)
    assert f"num_threads={threads}" in str(info.value)


@pytest.mark.parametrize("threads", [True, 2.0, "2"], ids=["bool", "float", "str"])
def test_num_threads_of_wrong_type(threads):
    with pytest.raises(TypeError, match="num_threads"):
        HashEmbedder(8).embed_batch(["a"], num_threads=threads)


@pytest.mark.parametrize("name", ["bogus", "AVX2", "Scalar", "", "avx-512", "sse2"])
def test_set_kernel_unknown_name(name, restore_kernel):
    before = hashembed.get_kernel()
    with pytest.raises(ValueError) as info:
        hashembed.set_kernel(name)
    assert "kernel" in str(info.value) and repr(name)[1:-1] in str(info.value)
    assert hashembed.get_kernel() == before


def test_set_kernel_of_wrong_type(restore_kernel):
    with pytest.raises(TypeError):
        hashembed.set_kernel(None)


def test_errors_about_an_item_or_an_element_carry_it():
    """Contract 3: the batch index, an Arrow row or a parameter's element is an attribute,
    so no caller reads it back out of the message."""
    e = HashEmbedder(8)
    with pytest.raises(hashembed.ItemTypeError) as info:
        e.embed_batch(["a", "b", 3])
    assert isinstance(info.value, TypeError)
    assert (info.value.index, info.value.reason) == (2, "must be str, not int")
    with pytest.raises(hashembed.ItemTypeError) as info:
        e.embed_tokens([["a"], ["b", None]])
    assert info.value.index == (1, 1) and str(info.value) == "batch[1][1] must be str, not NoneType"
    with pytest.raises(hashembed.ParameterError) as info:
        HashEmbedder(8, hash_seeds=[1] * 7 + [2**40])
    assert (info.value.parameter, info.value.index, info.value.value) == ("hash_seeds", 7, 2**40)
    with pytest.raises(hashembed.ParameterTypeError) as info:
        HashEmbedder(8, layout=[4, 2.0, 2])
    assert (info.value.parameter, info.value.index, info.value.value) == ("layout", 1, 2.0)
    with pytest.raises(hashembed.ParameterError) as info:
        e.embed_batch(["a"], num_threads=0)
    assert (info.value.parameter, info.value.value) == ("num_threads", 0)
    checked_in_python = [
        (lambda: e.embed_batch(["a"], dtype="int8"), "dtype", "int8"),
        (lambda: e.embed_tokens([["a"]], max_length=0), "max_length", 0),
        (lambda: HashEmbedder.preset("nope"), "preset", "nope"),
    ]
    for call, parameter, value in checked_in_python:
        with pytest.raises(hashembed.ParameterError) as info:
            call()
        assert (info.value.parameter, info.value.value) == (parameter, value)
    with pytest.raises(hashembed.ParameterError) as info:
        e.embed_batch(["a"], out=np.zeros((2, 8), np.float32))
    assert info.value.parameter == "out"


def test_unclear_errors_are_clear():
    """Defect 14: messages that named the wrong thing or were the wrong type."""
    e = HashEmbedder(8)
    data, offsets, out = np.frombuffer(b"ab", np.uint8), np.array([0, 1, 2]), np.zeros((2, 8), np.float32)
    with pytest.raises(
        TypeError, match=r"^offsets must be a 1-D numpy array of int64, not a 1-D array of int32$"
    ):
        e._native.embed_utf8_into(data, offsets.astype(np.int32), out)
    with pytest.raises(TypeError, match=r"^rows must be a 1-D numpy array of int64, not list$"):
        e._native.embed_batch_into(["a", "b"], out, None, [0, 1])
    with pytest.raises(ValueError, match=r"^dtype='>f4' is not supported: .*byte order"):
        e.embed_batch(["a"], dtype=">f4")

    class FloatIndex:
        def __index__(self):
            return 2.5

    with pytest.raises(TypeError, match=r"^dim must be an int, not FloatIndex$"):
        HashEmbedder(FloatIndex())
    with pytest.raises(TypeError, match=r"^kernel must be a str, not NoneType$"):
        hashembed.set_kernel(None)


def test_an_unknown_hashembed_kernel_is_an_error():
    """Contract 7: HASHEMBED_KERNEL with an unknown value fell back to the best kernel."""
    env = {**os.environ, "HASHEMBED_KERNEL": "avx9000"}
    result = subprocess.run(
        [sys.executable, "-c", "import hashembed"], capture_output=True, text=True, env=env
    )
    assert result.returncode == 1
    assert (
        "HASHEMBED_KERNEL=\"avx9000\" is unknown: expected 'auto', 'scalar', 'avx2' or 'avx512'"
        in result.stderr
    )
    for lacking in {"avx2", "avx512"} - set(hashembed.available_kernels()):
        env["HASHEMBED_KERNEL"] = lacking  # a kernel this CPU lacks: the best it has, silently
        code = "import hashembed; print(hashembed.get_kernel())"
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
        assert result.stdout == f"{hashembed.available_kernels()[-1]}\n", result.stderr
    env["HASHEMBED_KERNEL"] = "scalar"
    result = subprocess.run(
        [sys.executable, "-c", "import hashembed; print(hashembed.get_kernel())"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.stdout == "scalar\n", result.stderr
