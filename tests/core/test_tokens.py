"""HashEmbedder.embed_tokens on real WordPiece tokens of the standard library's sources."""

from __future__ import annotations

import hashembed
import numpy as np
import pytest
from _data import minilm_dir, stdlib_lines
from hashembed import HashEmbedder

tokenizers = pytest.importorskip("tokenizers")

DIM = 96


@pytest.fixture(scope="module")
def embedder():
    return HashEmbedder(DIM)


@pytest.fixture(scope="module")
def batch():
    """120 token sequences of 0 to ~100 WordPiece tokens (runs of stdlib source lines)."""
    tok = hashembed.load_tokenizer(minilm_dir() / "tokenizer.json")
    lines = stdlib_lines(60_000)
    texts = [" ".join(lines[8 * k : 8 * k + k % 9]) for k in range(120)]  # 0 to 8 lines each
    rows = [e.tokens for e in tok.encode_batch(texts, add_special_tokens=False)]
    assert len(rows) == 120 and min(map(len, rows)) == 0 and max(map(len, rows)) > 60
    return rows


def expected(embedder, rows, seq, dtype="float32"):
    """The reference result built one sequence at a time with embed_batch."""
    out = np.zeros((len(rows), seq, embedder.dim), dtype=dtype)
    for b, row in enumerate(rows):
        row = row[:seq]
        if row:
            out[b, : len(row)] = embedder.embed_batch(row, dtype=dtype)
    return out


def test_every_position_is_its_token_and_padding_is_zero(embedder, batch):
    emb, mask = embedder.embed_tokens(batch)
    seq = max(map(len, batch))
    assert emb.shape == (len(batch), seq, DIM) and emb.dtype == np.float32
    assert mask.shape == (len(batch), seq) and mask.dtype == np.bool_
    assert mask.sum(axis=1).tolist() == [len(r) for r in batch]
    assert np.array_equal(emb, expected(embedder, batch, seq))
    assert not emb[~mask].any()
    # Spot checks against the single-string path, bit for bit.
    for b, j in [(1, 0), (5, 3), (len(batch) - 1, len(batch[-1]) - 1)]:
        assert np.array_equal(emb[b, j], embedder.embed(batch[b][j]))


def test_mask_is_a_prefix_per_row(embedder, batch):
    _, mask = embedder.embed_tokens(batch)
    lens = np.array([len(r) for r in batch])
    assert np.array_equal(mask, np.arange(mask.shape[1]) < lens[:, None])


def test_max_length_truncates(embedder, batch):
    emb, mask = embedder.embed_tokens(batch, max_length=16)
    assert emb.shape == (len(batch), 16, DIM)
    assert mask.sum(axis=1).tolist() == [min(len(r), 16) for r in batch]
    assert np.array_equal(emb, expected(embedder, batch, 16))


def test_max_length_longer_than_every_row_does_not_pad(embedder, batch):
    emb, _ = embedder.embed_tokens(batch, max_length=10_000)
    assert emb.shape[1] == max(map(len, batch))


def test_pad_to_multiple_of(embedder, batch):
    seq = max(map(len, batch))
    emb, mask = embedder.embed_tokens(batch, pad_to_multiple_of=64)
    assert emb.shape[1] == -(-seq // 64) * 64 and emb.shape[1] > seq
    assert np.array_equal(emb, expected(embedder, batch, emb.shape[1]))
    assert not mask[:, seq:].any()


def test_max_length_then_pad_to_multiple_of(embedder, batch):
    emb, mask = embedder.embed_tokens(batch, max_length=10, pad_to_multiple_of=8)
    assert emb.shape[1] == 16
    assert mask.sum(axis=1).max() == 10  # cut at max_length, not at the padded length
    ref = expected(embedder, [r[:10] for r in batch], 16)
    assert np.array_equal(emb, ref)


def test_fixed_length_with_both_options(embedder):
    emb, mask = embedder.embed_tokens([["a", "b"], ["c"]], max_length=32, pad_to_multiple_of=32)
    assert emb.shape == (2, 32, DIM) and mask.sum() == 3


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_dtypes(embedder, batch, dtype):
    emb, _ = embedder.embed_tokens(batch[:30], dtype=dtype)
    assert emb.dtype == np.dtype(dtype)
    assert np.array_equal(emb, expected(embedder, batch[:30], emb.shape[1], dtype))


def test_out_is_reused_and_fully_overwritten(embedder, batch):
    first, _ = embedder.embed_tokens(batch, max_length=24)
    out = np.full_like(first, np.nan)
    got, _ = embedder.embed_tokens(batch, max_length=24, out=out)
    assert got is out
    assert np.array_equal(out, first)  # padding rows were reset to zero, not left NaN
    # Reused again for a different batch of the same shape.
    got, _ = embedder.embed_tokens(batch[::-1], max_length=24, out=out)
    assert np.array_equal(out, expected(embedder, batch[::-1], 24))


def test_out_memmap(embedder, batch, tmp_path):
    shape = (len(batch), 8, DIM)
    mm = np.lib.format.open_memmap(tmp_path / "tokens.npy", mode="w+", dtype=np.float32, shape=shape)
    got, _ = embedder.embed_tokens(batch, max_length=8, out=mm)
    assert got is mm
    mm.flush()
    assert np.array_equal(np.load(tmp_path / "tokens.npy"), expected(embedder, batch, 8))


def test_num_threads(embedder, batch):
    one, _ = embedder.embed_tokens(batch, num_threads=1)
    many, _ = embedder.embed_tokens(batch, num_threads=4)
    assert np.array_equal(one, many)


def test_input_forms(embedder, batch):
    ref, ref_mask = embedder.embed_tokens(batch[:20])
    forms = {
        "tuples": tuple(tuple(r) for r in batch[:20]),
        "generator of lists": (r for r in batch[:20]),
        "arrays": [np.array(r, dtype=object) for r in batch[:20]],
        "unicode arrays": [np.array(r, dtype=str) if r else np.array([], dtype=str) for r in batch[:20]],
        "iterators": [iter(r) for r in batch[:20]],
    }
    for name, form in forms.items():
        emb, mask = embedder.embed_tokens(form)
        assert np.array_equal(emb, ref), name
        assert np.array_equal(mask, ref_mask), name


def test_two_dimensional_array(embedder):
    grid = np.array([["def", "main"], ["return", "none"]])
    emb, mask = embedder.embed_tokens(grid)
    assert mask.all()
    assert np.array_equal(emb.reshape(4, DIM), embedder.embed_batch(grid.ravel().tolist()))


def test_non_ascii_tokens(embedder):
    rows = [["é", "☃", "😀", "中文"], ["\U0010ffff", ""]]
    emb, mask = embedder.embed_tokens(rows)
    assert np.array_equal(emb[0], embedder.embed_batch(rows[0]))
    assert np.array_equal(emb[1, 0], embedder.embed("\U0010ffff"))
    assert mask[1].tolist() == [True, True, False, False]
    assert not emb[1, 1:].any()  # the empty token embeds to zeros, but is a real position


def test_empty_inputs(embedder):
    emb, mask = embedder.embed_tokens([])
    assert emb.shape == (0, 0, DIM) and mask.shape == (0, 0)
    emb, mask = embedder.embed_tokens([[], []], pad_to_multiple_of=8)
    assert emb.shape == (2, 0, DIM) and mask.shape == (2, 0)
    emb, mask = embedder.embed_tokens([[], ["x"]], pad_to_multiple_of=8)
    assert emb.shape == (2, 8, DIM) and mask.sum() == 1


def test_same_as_default_embedder(batch):
    e = HashEmbedder()
    emb, _ = e.embed_tokens(batch[:8])
    assert emb.shape[2] == 768
    assert np.array_equal(emb, expected(e, batch[:8], emb.shape[1]))


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (["def", "main"], r"batch\[0\] is a str, not a sequence of tokens"),
        ([["a"], "bc"], r"batch\[1\] is a str"),
        ([["a"], b"bc"], r"batch\[1\] is a bytes"),
        ([["a"], 7], r"batch\[1\] must be a sequence of str tokens, not int"),
        ("def main", r"not a single str"),
        (42, r"not int"),
        ([["a", "b"], ["c", 3]], r"batch\[1\]\[1\] must be str, not int"),
        ([["a", "b"], [], ["c", "d", None]], r"batch\[2\]\[2\] must be str, not NoneType"),
        ([[b"a"]], r"batch\[0\]\[0\] must be str, not bytes"),
    ],
)
def test_type_errors(embedder, bad, match):
    with pytest.raises(TypeError, match=match):
        embedder.embed_tokens(bad)


def test_bad_token_leaves_out_untouched(embedder):
    out = np.full((2, 2, DIM), 7.0, dtype=np.float32)
    with pytest.raises(TypeError, match=r"batch\[1\]\[0\]"):
        embedder.embed_tokens([["a", "b"], [1, "c"]], out=out)
    assert (out == 7.0).all()


def test_nested_array_errors(embedder):
    with pytest.raises(ValueError, match=r"batch\[0\] must be one-dimensional"):
        embedder.embed_tokens([np.array([["a"]])])


@pytest.mark.parametrize("name", ["max_length", "pad_to_multiple_of"])
@pytest.mark.parametrize(
    ("value", "error"),
    [(0, ValueError), (-3, ValueError), (True, TypeError), (2.0, TypeError), ("8", TypeError)],
)
def test_length_options_must_be_positive_ints(embedder, name, value, error):
    with pytest.raises(error, match=name):
        embedder.embed_tokens([["a"]], **{name: value})


def test_length_options_accept_numpy_ints(embedder):
    emb, _ = embedder.embed_tokens([["a", "b", "c"]], max_length=np.int64(2), pad_to_multiple_of=np.int32(4))
    assert emb.shape == (1, 4, DIM)


def test_out_errors(embedder):
    rows = [["a", "b"], ["c"]]
    good = np.zeros((2, 2, DIM), dtype=np.float32)
    with pytest.raises(ValueError, match=r"out has shape \(2, 3, 96\): expected \(2, 2, 96\)"):
        embedder.embed_tokens(rows, out=np.zeros((2, 3, DIM), np.float32))
    with pytest.raises(ValueError, match=r"out has dtype float64: expected float32"):
        embedder.embed_tokens(rows, out=good.astype(np.float64))
    with pytest.raises(ValueError, match=r"not C-contiguous"):
        embedder.embed_tokens(rows, out=np.zeros((2, 2, 2 * DIM), np.float32)[:, :, ::2])
    ro = good.copy()
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=r"read-only"):
        embedder.embed_tokens(rows, out=ro)
    raw = np.frombuffer(bytearray(2 * 2 * DIM * 4 + 1), dtype=np.float32, offset=1).reshape(2, 2, DIM)
    with pytest.raises(ValueError, match=r"out is not aligned"):
        embedder.embed_tokens(rows, out=raw)
    with pytest.raises(TypeError, match=r"numpy.ndarray"):
        embedder.embed_tokens(rows, out=good.tolist())
    with pytest.raises(ValueError, match=r"dtype"):
        embedder.embed_tokens(rows, dtype="int8")
    got, _ = embedder.embed_tokens(rows, out=good, dtype="float32")
    assert got is good


def test_bad_num_threads(embedder):
    with pytest.raises(ValueError, match=r"num_threads"):
        embedder.embed_tokens([["a"]], num_threads=0)
