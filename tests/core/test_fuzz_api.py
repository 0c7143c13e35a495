"""A fuzz harness for the Python API: random mixtures of valid and invalid arguments and
inputs. Every call must either raise a clean exception (ValueError, TypeError, MemoryError or
OverflowError: never a PanicException, a SystemError or a crash) or return exactly what
`hashembed.reference` computes. Configurations are kept small so the slow reference stays
cheap."""

from __future__ import annotations

import numpy as np
import pytest
from hashembed import HashEmbedder
from hashembed import reference as ref
from hypothesis import event, given, settings
from hypothesis import strategies as st
from support import M31, assert_same_bits

CLEAN = (ValueError, TypeError, MemoryError, OverflowError)

# np.dtype() of some junk strings ("a") warns that the alias is deprecated before refusing it.
pytestmark = pytest.mark.filterwarnings("ignore:Data type alias:DeprecationWarning")

# Every kind of value, for any argument: valid ones of several types and junk.
ints = st.one_of(
    st.integers(-3, 40),
    st.sampled_from(
        [0, 1, 2, 3, 8, 9, 65536, 65537, M31 - 1, M31, M31 + 1, 2**63, 2**64 - 1, 2**64, -(2**70)]
    ),
    st.integers(-(2**80), 2**80),
    st.integers(0, 64).map(np.int64),
    st.integers(0, 64).map(np.uint8),
)
junk = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(allow_nan=True),
    st.text(max_size=3),
    st.binary(max_size=3),
    st.lists(st.integers(-2, 5), max_size=3),
    st.just(np.float64(3.0)),
    st.just(object()),
    st.just(np.array([1, 2])),
)
anything = st.one_of(ints, junk)
code_points = st.one_of(
    st.integers(0, 0x7F), st.integers(0, 0x10FFFF), st.sampled_from([0xD800, 0xDFFF, 0x10FFFF])
)
texts = st.lists(code_points, max_size=12).map(lambda cps: "".join(map(chr, cps)))
layouts = st.one_of(
    st.sampled_from(["proportional", "equal", "equal ", "Equal", ""]),
    st.lists(st.one_of(st.integers(-1, 12), junk), max_size=9),
    st.lists(st.integers(1, 6), min_size=1, max_size=8).map(tuple),
    anything,
)


@st.composite
def configs(draw):
    """Constructor keyword arguments: each one usually valid and small, sometimes anything."""
    kwargs = {}
    valid = {
        "dim": st.integers(1, 24),
        "max_ngram": st.integers(1, 4),
        "seed": st.integers(0, 2**64 - 1),
        "base": st.one_of(st.integers(1, 40), st.just(M31 - 1)),
        "hash_modulus": st.one_of(st.integers(2, 50), st.just(M31 - 1), st.just(1_000_000_007)),
        "buckets": st.one_of(st.integers(3, 50), st.just(M31 - 1), st.just(1_000_000_007)),
    }
    for name, strategy in valid.items():
        choice = draw(st.integers(0, 19))
        if choice < 17:
            kwargs[name] = draw(strategy)
        elif choice < 19:
            kwargs[name] = draw(anything)
        # else: left to its default
    if draw(st.booleans()):
        kwargs["layout"] = draw(layouts)
    markers = draw(st.integers(0, 5))
    if markers < 2:
        kwargs["boundary_markers"] = bool(markers)
    elif markers == 2:
        kwargs["boundary_markers"] = draw(st.one_of(anything, st.just(np.bool_(True))))
    seeds_choice = draw(st.integers(0, 5))
    if seeds_choice == 1:
        dim = kwargs.get("dim", 768)
        n = dim if isinstance(dim, int) and 0 < dim <= 64 else 3
        kwargs["hash_seeds"] = draw(st.lists(st.integers(0, 60), min_size=n, max_size=n))
    elif seeds_choice == 2:
        kwargs["hash_seeds"] = draw(st.one_of(anything, st.lists(anything, max_size=4)))
    return kwargs


valid_configs = st.fixed_dictionaries(
    {"dim": st.integers(6, 24), "max_ngram": st.integers(1, 3)},
    optional={
        "layout": st.sampled_from(["proportional", "equal"]),
        "seed": st.integers(0, 2**64 - 1),
        "base": st.sampled_from([1, 2, 31, M31 - 1]),
        "hash_modulus": st.sampled_from([2, 3, 1_000_000_007, M31 - 1]),
        "buckets": st.sampled_from([3, 4, 1_000_000_007, M31 - 1]),
        "boundary_markers": st.booleans(),
    },
)
some_configs = st.one_of(valid_configs, valid_configs, configs())


def reference_accepts(kwargs) -> bool:
    try:
        ref.embed("", **kwargs)
    except (ValueError, TypeError):
        return False
    return True


def build(kwargs):
    """The embedder, or None after checking that both it and the reference refuse kwargs."""
    try:
        e = HashEmbedder(**kwargs)
    except CLEAN:
        # The reference has the same rules, except that it takes only Python and NumPy ints
        # (the embedder takes anything with __index__) and sequences for layout/hash_seeds.
        assert not reference_accepts(kwargs) or _loose_type(kwargs), kwargs
        return None
    return e


def _loose_type(kwargs) -> bool:
    """Whether kwargs hold an argument whose type only one of the two implementations takes."""
    layout = kwargs.get("layout", "proportional")
    return not isinstance(layout, (str, list, tuple))


@settings(max_examples=250)
@given(configs())
def test_constructor_refuses_cleanly_or_matches_the_reference(kwargs):
    e = build(kwargs)
    if e is None:
        return
    assert reference_accepts(kwargs), kwargs
    event("constructed")
    for text in ("a", "hostile\ud800\U0010ffff"):
        assert_same_bits(e.embed(text), ref.embed(text, **kwargs), f"{kwargs} {text!r}")


def batch_inputs():
    """Batches: lists/tuples/generators/arrays of str, sometimes with an item of another type."""
    items = st.one_of(texts, texts, texts, anything)
    return st.tuples(st.sampled_from(["list", "tuple", "generator", "array"]), st.lists(items, max_size=6))


def outs():
    """`out` arguments: None, or arrays of assorted shapes, dtypes and layouts."""
    return st.one_of(
        st.none(),
        st.none(),
        st.tuples(
            st.sampled_from(["float32", "float64", "float16", "int32", ">f4", "object"]),
            st.sampled_from(["exact", "short", "wide", "transposed", "readonly", "strided", "flat"]),
        ),
        junk,
    )


def make_out(spec, rows, dim):
    if not isinstance(spec, tuple):
        return spec
    dtype, shape = spec
    if shape == "exact":
        return np.full((rows, dim), 7, dtype)
    if shape == "short":
        return np.full((max(rows - 1, 0), dim), 7, dtype)
    if shape == "wide":
        return np.full((rows, dim + 1), 7, dtype)
    if shape == "transposed":
        return np.full((dim, rows), 7, dtype).T
    if shape == "strided":
        return np.full((rows, 2 * dim), 7, dtype)[:, ::2]
    if shape == "flat":
        return np.full(rows * dim, 7, dtype)
    out = np.full((rows, dim), 7, dtype)
    out.flags.writeable = False
    return out


def as_form(form, items):
    if form == "tuple":
        return tuple(items)
    if form == "generator":
        return (x for x in items)
    if form == "array":
        array = np.empty(len(items), dtype=object)
        for i, x in enumerate(items):
            array[i] = x
        return array
    return list(items)


@settings(max_examples=300)
@given(
    some_configs,
    batch_inputs(),
    outs(),
    st.one_of(st.none(), st.none(), st.sampled_from(["float32", "float64", "float16"]), anything),
    st.one_of(st.none(), st.none(), st.integers(-1, 5), anything),
)
def test_embed_batch_refuses_cleanly_or_matches_the_reference(kwargs, batch, out_spec, dtype, threads):
    e = build(kwargs)
    if e is None:
        return
    form, items = batch
    out = make_out(out_spec, len(items), e.dim)
    call = {"out": out, "num_threads": threads}
    if dtype is not None:
        call["dtype"] = dtype
    try:
        got = e.embed_batch(as_form(form, items), **call)
    except CLEAN:
        return
    event("embed_batch returned")
    assert all(isinstance(t, str) for t in items)
    want_dtype = "float32" if dtype is None else np.dtype(dtype).name
    want = np.stack([ref.embed(t, dtype=want_dtype, **kwargs) for t in items]) if items else None
    assert got.shape == (len(items), e.dim)
    if out is not None:
        assert got is out
    if want is not None:
        assert_same_bits(np.ascontiguousarray(got, dtype=want.dtype), want, f"{kwargs} {items!r}")


@settings(max_examples=200)
@given(
    some_configs,
    st.lists(st.one_of(st.lists(st.one_of(texts, texts, anything), max_size=4), anything), max_size=4),
    st.one_of(st.none(), st.integers(-1, 4), anything),
    st.one_of(st.none(), st.integers(-1, 4), anything),
)
def test_embed_tokens_refuses_cleanly_or_matches_the_reference(kwargs, batch, max_length, multiple):
    e = build(kwargs)
    if e is None:
        return
    try:
        emb, mask = e.embed_tokens(batch, max_length=max_length, pad_to_multiple_of=multiple)
    except CLEAN:
        return
    event("embed_tokens returned")
    assert emb.shape[:2] == mask.shape
    for b, row in enumerate(batch):
        tokens = list(row)[: mask[b].sum()]
        for j, token in enumerate(tokens):
            assert_same_bits(emb[b, j], ref.embed(token, **kwargs), f"{kwargs} {token!r}")
        assert not emb[b, len(tokens) :].any()


@settings(max_examples=200)
@given(st.binary(max_size=40), st.lists(st.integers(-3, 45), max_size=6), st.integers(1, 20))
def test_embed_utf8_refuses_cleanly_or_matches_the_reference(data, offsets, dim):
    e = HashEmbedder(dim, max_ngram=1)
    rows = max(len(offsets) - 1, 0)
    out = np.full((rows, dim), 7, np.float32)
    try:
        e._native.embed_utf8_into(np.frombuffer(data, np.uint8), np.array(offsets, np.int64), out)
    except CLEAN:
        assert (out == 7).all()
        return
    for i in range(rows):
        text = data[offsets[i] : offsets[i + 1]].decode("utf-8")
        assert_same_bits(out[i], ref.embed(text, dim=dim, max_ngram=1))


@pytest.mark.parametrize("method", ["embed", "embed_batch", "embed_tokens", "embed_arrow", "embed_vocab"])
def test_every_method_refuses_junk_cleanly(method):
    e = HashEmbedder(8)
    for value in [
        None,
        5,
        2.5,
        b"x",
        object(),
        {"a": 1},
        np.zeros((2, 2)),
        np.array(["a"], dtype="S"),
        [[[["a"]]]],
    ]:
        try:
            getattr(e, method)(value)
        except CLEAN:
            pass
        except ImportError:
            pytest.skip("needs pyarrow")
