"""HashEmbedder.embed_encodings on the output of the real MiniLM (BERT WordPiece) tokenizer,
through `tokenizers` and through a `transformers` fast tokenizer."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers / huggingface_hub load

import hashembed
import numpy as np
import pytest
from _data import minilm_dir, stdlib_lines
from hashembed import HashEmbedder

tokenizers = pytest.importorskip("tokenizers")

DIM = 64
SPECIAL = {"[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]"}


@pytest.fixture(scope="module")
def embedder():
    return HashEmbedder(DIM)


@pytest.fixture(scope="module")
def texts():
    lines = stdlib_lines(80_000)
    return [" ".join(lines[6 * k : 6 * k + 1 + k % 6]) for k in range(64)] + ["", "é ☃ 😀 中文 naïve"]


@pytest.fixture
def tokenizer():
    """A fresh tokenizer (tests change its padding)."""
    return hashembed.load_tokenizer(minilm_dir() / "tokenizer.json")


@pytest.fixture(scope="module")
def hf_tokenizer():
    transformers = pytest.importorskip("transformers")
    return transformers.AutoTokenizer.from_pretrained(str(minilm_dir()))


def check(embedder, encodings, emb, mask, *, skip_special=False):
    """Every attended position is its token's embedding (zeros for skipped special tokens),
    every other position is zero, and the mask is the attention mask."""
    assert emb.shape[:2] == mask.shape
    for b, enc in enumerate(encodings):
        n = min(len(enc.tokens), mask.shape[1])
        attention = np.array(enc.attention_mask[:n], dtype=bool)
        assert np.array_equal(mask[b, :n], attention)
        assert not mask[b, n:].any()
        special = np.array(enc.special_tokens_mask[:n], dtype=bool)
        keep = attention & ~special if skip_special else attention
        toks = [t for t, k in zip(enc.tokens[:n], keep) if k]
        if toks:
            assert np.array_equal(emb[b, :n][keep], embedder.embed_batch(toks))
        assert not emb[b, :n][~keep].any()
        assert not emb[b, n:].any()


def test_padded_encode_batch(embedder, tokenizer, texts):
    tokenizer.enable_padding()
    encs = tokenizer.encode_batch(texts)
    seq = len(encs[0])
    assert all(len(e) == seq for e in encs) and any(0 in e.attention_mask for e in encs)
    emb, mask = embedder.embed_encodings(encs)
    assert emb.shape == (len(texts), seq, DIM) and emb.dtype == np.float32
    assert np.array_equal(mask, np.array([e.attention_mask for e in encs], dtype=bool))
    check(embedder, encs, emb, mask)
    # Special tokens are embedded as their strings by default.
    assert encs[0].tokens[0] == "[CLS]"
    assert np.array_equal(emb[0, 0], embedder.embed("[CLS]"))
    assert np.array_equal(emb[-1, 0], embedder.embed("[CLS]"))
    # The [PAD] positions the tokenizer added are zeros, not embed("[PAD]").
    b = int(np.argmin(mask.sum(axis=1)))
    assert encs[b].tokens[-1] == "[PAD]" and not emb[b, -1].any()


def test_skip_special_tokens_zeros_exactly_the_special_positions(embedder, tokenizer, texts):
    tokenizer.enable_padding()
    encs = tokenizer.encode_batch(texts)
    full, mask = embedder.embed_encodings(encs)
    skipped, mask2 = embedder.embed_encodings(encs, skip_special_tokens=True)
    assert np.array_equal(mask, mask2)  # the mask stays the attention mask
    special = np.array([e.special_tokens_mask for e in encs], dtype=bool)
    assert special[:, 0].all() and special.sum() > 2 * len(encs)
    assert not skipped[special].any()
    assert np.array_equal(skipped[~special], full[~special])
    check(embedder, encs, skipped, mask, skip_special=True)
    # [UNK] is a special token of the vocabulary, but not to the tokenizer's mask: kept.
    tokens = [t for e in encs for t in e.tokens]
    assert "[UNK]" in tokens


def test_unpadded_encodings_are_padded_to_the_longest(embedder, tokenizer, texts):
    encs = tokenizer.encode_batch(texts)
    lens = [len(e) for e in encs]
    assert len(set(lens)) > 1
    emb, mask = embedder.embed_encodings(encs)
    assert emb.shape == (len(texts), max(lens), DIM)
    assert mask.sum(axis=1).tolist() == lens
    check(embedder, encs, emb, mask)


def test_max_length_and_pad_to_multiple_of(embedder, tokenizer, texts):
    tokenizer.enable_padding()
    encs = tokenizer.encode_batch(texts)
    emb, mask = embedder.embed_encodings(encs, max_length=20, pad_to_multiple_of=16)
    assert emb.shape == (len(texts), 32, DIM)
    assert mask.sum(axis=1).max() == 20
    check(embedder, encs, emb[:, :20], mask[:, :20])
    assert not emb[:, 20:].any() and not mask[:, 20:].any()
    emb, mask = embedder.embed_encodings(encs, pad_to_multiple_of=128)
    assert emb.shape[1] % 128 == 0
    check(embedder, encs, emb, mask)


def test_tokenizer_pad_to_multiple_of(embedder, tokenizer, texts):
    tokenizer.enable_padding(pad_to_multiple_of=32)
    encs = tokenizer.encode_batch(texts)
    emb, mask = embedder.embed_encodings(encs)
    assert emb.shape[1] % 32 == 0
    check(embedder, encs, emb, mask)


def test_out_dtype_threads(embedder, tokenizer, texts):
    tokenizer.enable_padding()
    encs = tokenizer.encode_batch(texts)
    ref, _ = embedder.embed_encodings(encs)
    out = np.full(ref.shape, np.nan, dtype=np.float64)
    got, mask = embedder.embed_encodings(encs, out=out, dtype="float64", num_threads=2)
    assert got is out
    assert np.array_equal(
        out, embedder.embed_tokens([e.tokens for e in encs], dtype="float64")[0] * mask[..., None]
    )
    half, _ = embedder.embed_encodings(encs, dtype=np.float16)
    assert half.dtype == np.float16
    with pytest.raises(ValueError, match=r"out has shape"):
        embedder.embed_encodings(encs, out=np.zeros((1, 1, DIM), np.float32))


def test_transformers_batch_encoding(embedder, hf_tokenizer, tokenizer, texts):
    be = hf_tokenizer(texts, padding=True)
    emb, mask = embedder.embed_encodings(be)
    assert np.array_equal(mask, np.array(be["attention_mask"], dtype=bool))
    check(embedder, be.encodings, emb, mask)
    # The same tokens as the tokenizers library gives for the same tokenizer.json.
    tokenizer.enable_padding()
    direct, direct_mask = embedder.embed_encodings(tokenizer.encode_batch(texts))
    assert np.array_equal(emb, direct) and np.array_equal(mask, direct_mask)


def test_transformers_tensors_and_truncation(embedder, hf_tokenizer, texts):
    be = hf_tokenizer(texts, padding="max_length", truncation=True, max_length=48, return_tensors="np")
    emb, mask = embedder.embed_encodings(be, skip_special_tokens=True)
    assert emb.shape == (len(texts), 48, DIM)
    assert np.array_equal(mask, be["attention_mask"].astype(bool))
    check(embedder, be.encodings, emb, mask, skip_special=True)


def test_batch_encoding_from_a_slow_path_is_refused(embedder):
    transformers = pytest.importorskip("transformers")
    be = transformers.BatchEncoding({"input_ids": [[101, 102]], "attention_mask": [[1, 1]]})
    with pytest.raises(TypeError, match=r"fast tokenizer"):
        embedder.embed_encodings(be)


def test_empty(embedder):
    emb, mask = embedder.embed_encodings([])
    assert emb.shape == (0, 0, DIM) and mask.shape == (0, 0)


def test_errors(embedder, tokenizer):
    enc = tokenizer.encode("def main(): pass")
    with pytest.raises(TypeError, match=r"not a single one"):
        embedder.embed_encodings(enc)
    with pytest.raises(TypeError, match=r"encodings\[1\] is a str"):
        embedder.embed_encodings([enc, "def main"])
    with pytest.raises(TypeError, match=r"not str"):
        embedder.embed_encodings("def main")
    with pytest.raises(TypeError, match=r"not int"):
        embedder.embed_encodings(3)
    with pytest.raises(ValueError, match=r"max_length"):
        embedder.embed_encodings([enc], max_length=0)
    with pytest.raises(TypeError, match=r"pad_to_multiple_of"):
        embedder.embed_encodings([enc], pad_to_multiple_of=1.5)
