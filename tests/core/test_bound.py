"""HashEmbedder.bind and VocabEmbedder: token ids in, rows bit-identical to the strings'."""

from __future__ import annotations

import os
import pickle
import threading

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers / huggingface_hub load

import hashembed
import numpy as np
import pytest
from _data import minilm_dir, stdlib_lines
from hashembed import HashEmbedder, ParameterError, ParameterTypeError, VocabEmbedder
from hashembed.vocab import read_vocab

DIM = 48
CACHES = ["none", "lazy", "full"]


@pytest.fixture(scope="module")
def embedder():
    return HashEmbedder(DIM)


@pytest.fixture(scope="module")
def vocab():
    return read_vocab(minilm_dir() / "vocab.txt")


@pytest.fixture(scope="module")
def table(embedder, vocab):
    return embedder.embed_vocab(vocab)


@pytest.fixture(scope="module", params=CACHES)
def bound(request, embedder, vocab):
    return embedder.bind(vocab, cache=request.param)


def ids_like(shape, seed=0, high=30522):
    return np.random.default_rng(seed).integers(0, high, size=shape)


def test_rows_are_the_strings_rows(bound, vocab, table):
    assert isinstance(bound, VocabEmbedder) and len(bound) == len(vocab) and bound.dim == DIM
    ids = ids_like((4, 33))
    for _ in range(2):  # the second call reads what the first one cached
        got = bound.embed_ids(ids)
        assert got.shape == (4, 33, DIM) and got.dtype == np.float32
        assert np.array_equal(got, table[ids])
    assert bound.cached_rows == {"none": 0, "lazy": len(np.unique(ids)), "full": len(vocab)}[bound.cache]
    assert bound.cache_bytes == bound.cached_rows * DIM * 4


def test_every_integer_dtype_shape_and_stride(bound, table):
    base = ids_like((6, 10), seed=1, high=255)
    for dt in (np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64):
        ids = base.astype(dt) if dt != np.int8 else (base % 128).astype(dt)
        assert np.array_equal(bound.embed_ids(ids), table[ids.astype(np.int64)]), dt
    strided = base[::2, ::-3]  # not contiguous, negative strides: read in place, in C order
    assert not strided.flags.c_contiguous
    assert np.array_equal(bound.embed_ids(strided), table[strided])
    assert bound.embed_ids(np.int64(7)).shape == (DIM,)
    assert np.array_equal(bound.embed_ids(np.int64(7)), table[7])
    assert bound.embed_ids(np.zeros((3, 0), np.int64)).shape == (3, 0, DIM)
    assert np.array_equal(bound.embed_ids([[1, 2], [3, 4]]), table[[[1, 2], [3, 4]]])


def test_mask_and_zero_ids_give_zero_rows(bound, table):
    ids = ids_like((5, 12), seed=2)
    ids[:, -3:] = 0  # [PAD]
    mask = np.ones_like(ids, dtype=bool)
    mask[1, 4:] = False
    got = bound.embed_ids(ids, attention_mask=mask, zero_ids=[0])
    want = table[ids] * (mask & (ids != 0))[..., None]
    assert np.array_equal(got, want)
    for m in (mask.astype(np.int64), mask.astype(np.uint8)):
        assert np.array_equal(bound.embed_ids(ids, attention_mask=m, zero_ids=0), want)
    # A zero id need not be in the vocabulary: -1 as padding.
    ids[ids == 0] = -1
    assert np.array_equal(bound.embed_ids(ids, attention_mask=mask, zero_ids=(-1,)), want)


def test_other_dtypes_and_out(bound, embedder, vocab):
    ids = ids_like((3, 7), seed=3)
    strings = [vocab[i] for i in ids.ravel()]
    for dt in ("float64", "float16", np.float32):
        want = embedder.embed_batch(strings, dtype=dt).reshape(3, 7, DIM)
        assert np.array_equal(bound.embed_ids(ids, dtype=dt), want), dt
    out = np.full((3, 7, DIM), np.nan, np.float32)
    assert bound.embed_ids(ids, out=out) is out
    assert np.array_equal(out, embedder.embed_batch(strings).reshape(3, 7, DIM))
    with pytest.raises(ParameterError, match=r"out has shape"):
        bound.embed_ids(ids, out=np.zeros((3, DIM), np.float32))
    with pytest.raises(ParameterError, match=r"dtype"):
        bound.embed_ids(ids, dtype="int32")


def test_bad_ids_name_their_position(bound):
    ids = np.zeros((2, 3, 4), np.int64)
    ids[1, 2, 3] = 30522
    with pytest.raises(IndexError, match=r"ids\[1, 2, 3\] = 30522 .* 0 <= id < 30522"):
        bound.embed_ids(ids)
    ids[1, 2, 3] = -5
    with pytest.raises(IndexError, match=r"ids\[1, 2, 3\] = -5"):
        bound.embed_ids(ids)
    # A masked position may hold anything (test_masked_positions_may_hold_any_id), the others not.
    mask = np.ones_like(ids)
    mask[0, 0, 0] = 0
    with pytest.raises(IndexError, match=r"ids\[1, 2, 3\] = -5 .* where attention_mask is not 0"):
        bound.embed_ids(ids, attention_mask=mask)
    with pytest.raises(IndexError, match=r"ids\[1\] = 18446744073709551615"):
        bound.embed_ids(np.array([0, 2**64 - 1], dtype=np.uint64))
    with pytest.raises(ParameterTypeError, match=r"ids must be an array of integers, not of float64"):
        bound.embed_ids(np.zeros(3))
    with pytest.raises(ParameterTypeError, match=r"attention_mask must be an array of integers or bools"):
        bound.embed_ids(np.zeros(3, np.int64), attention_mask=np.zeros(3))
    with pytest.raises(ValueError, match=r"attention_mask has shape \[2\]: expected the shape of ids, \[3\]"):
        bound.embed_ids(np.zeros(3, np.int64), attention_mask=np.zeros(2, bool))
    with pytest.raises(ParameterTypeError, match=r"zero_ids"):
        bound.embed_ids(np.zeros(3, np.int64), zero_ids=["0"])
    with pytest.raises(ParameterTypeError, match=r"zero_ids"):
        bound.embed_ids(np.zeros(3, np.int64), zero_ids=[True])
    with pytest.raises(ParameterError, match=r"num_threads"):
        bound.embed_ids(np.zeros(3, np.int64), num_threads=0)


def test_masked_positions_may_hold_any_id(bound, table):
    """Collators pad with -1 or -100 under the mask; those positions were refused as ids
    outside the vocabulary, though the mask gives them zero rows."""
    ids = ids_like((3, 8), seed=4)
    mask = np.ones_like(ids, dtype=bool)
    mask[0, 5:], mask[2, 1:] = False, False
    want = table[ids] * mask[..., None]
    for pad in (-100, -1, 30522, 2**40):
        padded = np.where(mask, ids, pad)
        assert np.array_equal(bound.embed_ids(padded, attention_mask=mask), want), pad
        assert np.array_equal(bound.embed_ids(padded, attention_mask=mask.astype(np.int8)), want), pad
    unsigned = np.where(mask, ids, 2**64 - 1).astype(np.uint64)
    assert np.array_equal(bound.embed_ids(unsigned, attention_mask=mask), want)


def test_lazy_cache_keeps_within_its_budget(embedder, vocab, table):
    bound = embedder.bind(vocab, cache="lazy", max_cache_bytes=100 * DIM * 4 + 7)
    assert bound.max_cache_bytes == 100 * DIM * 4 + 7
    first = np.arange(150)
    assert np.array_equal(bound.embed_ids(first), table[first])
    assert bound.cached_rows == 100  # the first 100 ids seen are kept, the rest computed
    later = np.arange(120, 400)
    assert np.array_equal(bound.embed_ids(later), table[later])
    assert bound.cached_rows == 100
    none = embedder.bind(vocab, cache="lazy", max_cache_bytes=0)
    assert np.array_equal(none.embed_ids(first), table[first]) and none.cached_rows == 0


def test_bind_arguments(embedder, vocab, table):
    with pytest.raises(ParameterError, match=r"cache='table' is unknown"):
        embedder.bind(vocab, cache="table")
    for bad in (-1, True, "1", 1.5):
        with pytest.raises((ParameterError, ParameterTypeError), match=r"max_cache_bytes"):
            embedder.bind(vocab, max_cache_bytes=bad)
    with pytest.raises(ParameterError, match=r"cache='full' needs 5,860,224 bytes"):
        embedder.bind(vocab, cache="full", max_cache_bytes=1 << 20)
    with pytest.raises(hashembed.ItemTypeError, match=r"vocab\[1\]"):
        embedder.bind(["a", 1])
    # Every vocabulary form embed_vocab reads.
    path = minilm_dir() / "vocab.txt"
    tokenizer = hashembed.load_tokenizer(minilm_dir() / "tokenizer.json")
    for source in (path, str(path), minilm_dir(), tokenizer, {t: i for i, t in enumerate(vocab)}):
        b = embedder.bind(source, cache="none")
        assert len(b) == len(vocab) and np.array_equal(b.embed_ids(np.arange(50)), table[:50])
    assert embedder.bind([], cache="full").embed_ids(np.zeros(0, np.int64)).shape == (0, DIM)


def test_pickles_to_its_configuration_and_vocabulary(embedder):
    tokens = ["", "a", "\ud800 lone", "😀", "##ing"]
    for cache in CACHES:
        b = embedder.bind(tokens, cache=cache, max_cache_bytes=10**6)
        b.embed_ids(np.arange(5))
        c = pickle.loads(pickle.dumps(b))
        assert (c.cache, c.max_cache_bytes, c.tokens(), c.embedder) == (cache, 10**6, tokens, embedder)
        assert np.array_equal(c.embed_ids(np.arange(5)), b.embed_ids(np.arange(5)))
        assert np.array_equal(b.embed_ids(np.arange(5))[2], embedder.embed("\ud800 lone"))
        assert repr(c).startswith("VocabEmbedder(HashEmbedder(dim=48")


def test_threads_share_one_lazy_cache(embedder, vocab, table):
    bound = embedder.bind(vocab, cache="lazy")
    batches = [ids_like((8, 40), seed=s) for s in range(24)]
    errors = []

    def work(k):
        try:
            for ids in batches[k::4]:
                assert np.array_equal(bound.embed_ids(ids, num_threads=2), table[ids])
        except Exception as e:  # reported below: an assert in a thread would be lost
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert bound.cached_rows == len(np.unique(np.concatenate([b.ravel() for b in batches])))


def test_large_calls_write_in_parallel(bound, table):
    ids = ids_like((64, 128), seed=5)  # above the size written on the calling thread
    assert np.array_equal(bound.embed_ids(ids, num_threads=2), table[ids])


def test_torch_tensor_ids(bound, table):
    torch = pytest.importorskip("torch")
    ids = torch.randint(0, 30522, (3, 9))
    assert np.array_equal(bound.embed_ids(ids), table[ids.numpy()])
    assert np.array_equal(bound.embed_ids(ids.T), table[ids.numpy().T])  # a strided view


@pytest.fixture(scope="module")
def tokenizer():
    pytest.importorskip("tokenizers")
    return hashembed.load_tokenizer(minilm_dir() / "tokenizer.json")


@pytest.fixture(scope="module")
def texts():
    lines = stdlib_lines(40_000)
    return [" ".join(lines[5 * k : 5 * k + 1 + k % 5]) for k in range(40)] + ["", "é ☃ 😀 中文 naïve"]


def test_encodings_through_ids_equal_the_strings_path(embedder, vocab, tokenizer, texts):
    bound = embedder.bind(tokenizer, cache="lazy")
    unpadded = tokenizer.encode_batch(texts)
    tokenizer.enable_padding(pad_to_multiple_of=8)
    try:
        padded = tokenizer.encode_batch(texts)
    finally:
        tokenizer.no_padding()
    cases = [
        {},
        {"skip_special_tokens": True},
        {"max_length": 12},
        {"max_length": 20, "pad_to_multiple_of": 16},
        {"pad_to_multiple_of": 64, "dtype": "float16"},
        {"dtype": "float64", "num_threads": 1},
    ]
    for encs in (padded, unpadded, padded[:1], []):
        for kw in cases:
            want, want_mask = embedder.embed_encodings(encs, **kw)
            for got, mask in (
                bound.embed_encodings(encs, **kw),
                embedder.embed_encodings(encs, vocab=bound, **kw),
            ):
                assert np.array_equal(mask, want_mask), kw
                assert got.dtype == want.dtype and np.array_equal(got, want), kw


def test_transformers_batch_encoding_through_ids(embedder, tokenizer, texts):
    transformers = pytest.importorskip("transformers")
    hf = transformers.AutoTokenizer.from_pretrained(str(minilm_dir()))
    be = hf(texts, padding=True, truncation=True, max_length=32)
    bound = embedder.bind(hf, cache="none")
    want, want_mask = embedder.embed_encodings(be)
    got, mask = bound.embed_encodings(be)
    assert np.array_equal(got, want) and np.array_equal(mask, want_mask)


def test_embed_encodings_vocab_must_be_bound_to_this_embedder(embedder, vocab, tokenizer):
    encs = tokenizer.encode_batch(["a b"])
    with pytest.raises(ParameterTypeError, match=r"bind the vocabulary once"):
        embedder.embed_encodings(encs, vocab=vocab)
    other = HashEmbedder(DIM, seed=7).bind(vocab, cache="none")
    with pytest.raises(ParameterError, match=r"different embedder"):
        embedder.embed_encodings(encs, vocab=other)


def test_batch_encoding_arrays_through_ids(embedder, texts):
    """A padded BatchEncoding is read from its arrays (lists, numpy or torch tensors)."""
    transformers = pytest.importorskip("transformers")
    hf = transformers.AutoTokenizer.from_pretrained(str(minilm_dir()))
    bound = embedder.bind(hf, cache="lazy")
    for tensors in (None, "np", "pt"):
        be = hf(texts, padding=True, return_special_tokens_mask=True, return_tensors=tensors)
        for kw in ({}, {"skip_special_tokens": True}, {"max_length": 9, "pad_to_multiple_of": 4}):
            want, want_mask = embedder.embed_encodings(be, **kw)
            got, mask = bound.embed_encodings(be, **kw)
            assert np.array_equal(got, want) and np.array_equal(mask, want_mask), (tensors, kw)
