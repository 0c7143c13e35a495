"""Property tests: arbitrary text (lone surrogates included) and arbitrary valid configurations,
checked bit for bit against the pure-Python reference."""

from __future__ import annotations

import random

import hashembed
import numpy as np
from hashembed import HashEmbedder
from hashembed import reference as ref
from hypothesis import example, given, settings
from hypothesis import strategies as st
from strategies import configs, texts
from support import assert_same_bits, exact_embed

DEFAULT = {"dim": 12, "max_ngram": 3, "layout": "proportional", "seed": 42, "base": 31}


@settings(max_examples=1000)
@given(config=configs(), text=texts)
@example(config=DEFAULT, text="")
@example(config=DEFAULT, text="\ud800")
@example(config={**DEFAULT, "buckets": 4, "dim": 6}, text="abab\x00\udfff")
def test_embed_equals_reference(config, text):
    e = HashEmbedder(**config)
    got = e.embed(text)
    assert got.shape == (e.dim,) == (config["dim"],)
    assert got.dtype == np.float32
    assert np.all(np.isfinite(got))
    assert np.all(np.abs(got) <= 1.0)
    assert_same_bits(got, ref.embed(text, **config), "embed vs reference")
    assert_same_bits(e.embed(text), got, "second call")
    assert_same_bits(e(text), got, "__call__")


@settings(max_examples=400)
@given(config=configs(), text=texts)
def test_float64_and_float16_equal_reference(config, text):
    e = HashEmbedder(**config)
    for dtype in ("float64", "float16"):
        got = e.embed_batch([text], dtype=dtype)
        assert got.shape == (1, e.dim)
        assert_same_bits(got[0], ref.embed(text, dtype=dtype, **config), dtype)


@settings(max_examples=300)
@given(
    config=configs(),
    batch=st.lists(st.one_of(texts, st.sampled_from(["", "a", "ab", "\ud800"])), max_size=12),
)
def test_batch_rows_equal_single_embeds_for_any_thread_count(config, batch):
    e = HashEmbedder(**config)
    singles = np.stack([e.embed(t) for t in batch]) if batch else np.zeros((0, e.dim), np.float32)
    for threads in (1, 2, None):
        got = e.embed_batch(batch, num_threads=threads)
        assert got.shape == (len(batch), e.dim)
        assert_same_bits(got, singles, f"num_threads={threads}")
        assert_same_bits(e.embed_batch(tuple(batch), num_threads=threads), singles, "tuple input")


@settings(max_examples=150)
@given(
    config=configs(),
    text=st.text(alphabet=st.sampled_from("ab\ud800\U0001f600"), min_size=200, max_size=700),
)
def test_texts_longer_than_a_window_chunk_equal_the_exact_oracle(config, text):
    """Texts of 200 to 700 code points cross the 256-window chunking of the native code."""
    got = HashEmbedder(**config).embed(text)
    assert_same_bits(got, exact_embed(text, **config), "long text")


@settings(max_examples=400)
@given(config=configs(), text=texts, dtype=st.sampled_from(["float32", "float64", "float16"]))
def test_exact_oracle_equals_reference(config, text, dtype):
    """The fast oracle in support.py, used for long texts elsewhere, is the reference function."""
    assert_same_bits(exact_embed(text, dtype=dtype, **config), ref.embed(text, dtype=dtype, **config))


@settings(max_examples=150)
@given(config=configs(), text=texts)
def test_every_kernel_gives_identical_bits(config, text):
    e = HashEmbedder(**config)
    previous = hashembed.get_kernel()
    try:
        outputs = {}
        for k in hashembed.available_kernels():
            hashembed.set_kernel(k)
            outputs[k] = (e.embed(text), e.embed_batch([text, text + "x"], dtype="float64"))
    finally:
        hashembed.set_kernel(previous)
    first_single, first_batch = outputs["scalar"]
    for k, (single, batch) in outputs.items():
        assert_same_bits(single, first_single, k)
        assert_same_bits(batch, first_batch, k)


@settings(max_examples=20)
@given(
    config=configs(),
    length=st.integers(4090, 4700),
    seed=st.integers(0, 2**32 - 1),
    alphabet=st.sampled_from(["ab", "abcdefghij", "a\ud800\U0001f600\x00 \u05e9"]),
)
def test_texts_past_the_long_text_threshold_equal_the_exact_oracle(config, length, seed, alphabet):
    """From 4096 code points a text is split into blocks of output positions across workers."""
    text = "".join(random.Random(seed).choices(alphabet, k=length))
    e = HashEmbedder(**config)
    want = exact_embed(text, **config)
    assert_same_bits(e.embed(text), want, "embed")
    assert_same_bits(e.embed_batch(["x", text, text], num_threads=2)[1:], np.stack([want, want]), "batch")
