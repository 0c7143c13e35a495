"""HashEmbedder.embed_vocab, hashembed.load_tokenizer, read_vocab and save_table on the real
30,522-token BERT vocabulary of all-MiniLM-L6-v2."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import hashembed
import numpy as np
import pytest
from _data import MINILM_VOCAB_SIZE, minilm_dir, stdlib_lines
from hashembed import HashEmbedder
from hashembed.vocab import read_vocab

tokenizers = pytest.importorskip("tokenizers")

DIM = 48


@pytest.fixture(scope="module")
def embedder():
    return HashEmbedder(DIM)


@pytest.fixture(scope="module")
def tokens():
    return read_vocab(minilm_dir() / "vocab.txt")


@pytest.fixture(scope="module")
def table(embedder, tokens):
    return embedder.embed_vocab(tokens)


def test_read_vocab(tokens):
    assert len(tokens) == MINILM_VOCAB_SIZE
    assert tokens[:2] == ["[PAD]", "[unused0]"]
    assert tokens[100:104] == ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert tokens[-1] == "##\uff5e"  # fullwidth tilde
    assert all("\n" not in t for t in tokens)


def test_rows_are_the_tokens(embedder, tokens, table):
    assert table.shape == (MINILM_VOCAB_SIZE, DIM) and table.dtype == np.float32
    assert np.array_equal(table, embedder.embed_batch(tokens))
    rng = np.random.default_rng(0)
    for i in [0, 100, 101, 102, 103, MINILM_VOCAB_SIZE - 1, *rng.integers(0, MINILM_VOCAB_SIZE, 40)]:
        assert np.array_equal(table[i], embedder.embed(tokens[i])), i


def test_every_form_gives_the_same_table(embedder, tokens, table):
    d = minilm_dir()
    ids = {t: i for i, t in enumerate(tokens)}
    shuffled = dict(sorted(ids.items(), key=lambda kv: hash(kv[0])))  # ids not in insertion order
    forms = {
        "tuple": tuple(tokens),
        "array": np.array(tokens, dtype=object),
        "generator": (t for t in tokens),
        "dict": ids,
        "shuffled dict": shuffled,
        "vocab.txt str": str(d / "vocab.txt"),
        "vocab.txt Path": d / "vocab.txt",
        "tokenizer.json": d / "tokenizer.json",
        "directory": d,
        "Tokenizer": tokenizers.Tokenizer.from_file(str(d / "tokenizer.json")),
        "loaded Tokenizer": hashembed.load_tokenizer(d / "vocab.txt"),
    }
    for name, form in forms.items():
        assert np.array_equal(embedder.embed_vocab(form), table), name


def test_transformers_tokenizer(embedder, table, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    transformers = pytest.importorskip("transformers")
    tok = transformers.AutoTokenizer.from_pretrained(str(minilm_dir()))
    assert np.array_equal(embedder.embed_vocab(tok), table)


def test_dtype_and_threads(embedder, tokens, table):
    t64 = embedder.embed_vocab(tokens[:500], dtype="float64", num_threads=1)
    assert t64.dtype == np.float64 and np.array_equal(
        t64, embedder.embed_batch(tokens[:500], dtype="float64")
    )
    assert np.array_equal(embedder.embed_vocab(tokens[:500], num_threads=3), table[:500])


def test_empty_and_odd_vocabularies(embedder, tmp_path):
    assert embedder.embed_vocab([]).shape == (0, DIM)
    assert embedder.embed_vocab({}).shape == (0, DIM)
    path = tmp_path / "vocab.txt"
    path.write_bytes("a b\n\n  c  \r\nnaïve\n☃".encode())  # spaces kept, empty line is a token
    assert read_vocab(path) == ["a b", "", "  c  ", "naïve", "☃"]
    assert np.array_equal(embedder.embed_vocab(path), embedder.embed_batch(read_vocab(path)))
    assert not embedder.embed_vocab(path)[1].any()


def test_dict_ids_must_be_exactly_0_to_v_minus_1(embedder):
    with pytest.raises(ValueError, match=r"id 2 is missing \('d' has id 3\)"):
        embedder.embed_vocab({"a": 0, "b": 1, "d": 3})
    with pytest.raises(ValueError, match=r"id 1 is missing \(id 0 is given to both 'a' and 'b'\)"):
        embedder.embed_vocab({"a": 0, "b": 0})
    with pytest.raises(ValueError, match=r"id 0 is missing \('a' has id -1\)"):
        embedder.embed_vocab({"a": -1})
    with pytest.raises(ValueError, match=r"out of the int64 range"):
        embedder.embed_vocab({"a": 2**70})
    with pytest.raises(TypeError, match=r"the id of 'a' must be an int, not str"):
        embedder.embed_vocab({"a": "0"})
    with pytest.raises(TypeError, match=r"the id of 'a' must be an int, not bool"):
        embedder.embed_vocab({"a": False})
    assert embedder.embed_vocab({"b": np.int64(1), "a": np.int32(0)}).shape == (2, DIM)


def test_vocab_type_errors(embedder):
    with pytest.raises(TypeError, match=r"vocab token 5 \(id 1\) must be str, not int"):
        embedder.embed_vocab({"a": 0, 5: 1})
    with pytest.raises(TypeError, match=r"vocab\[1\] must be str, not int"):
        embedder.embed_vocab(["a", 1])
    with pytest.raises(TypeError, match=r"not bytes"):
        embedder.embed_vocab(b"abc")
    with pytest.raises(TypeError, match=r"not int"):
        embedder.embed_vocab(3)
    with pytest.raises(FileNotFoundError, match=r"no-such-vocab.txt"):
        embedder.embed_vocab("no-such-vocab.txt")


def test_load_tokenizer_json_turns_padding_and_truncation_off():
    path = minilm_dir() / "tokenizer.json"
    raw = tokenizers.Tokenizer.from_file(str(path))
    assert raw.padding is not None and raw.truncation is not None  # as shipped: 128, padded
    tok = hashembed.load_tokenizer(path)
    assert tok.padding is None and tok.truncation is None
    long = " ".join(stdlib_lines(20_000))
    assert len(tok.encode(long).tokens) > 1000
    assert hashembed.load_tokenizer(str(minilm_dir())).get_vocab() == tok.get_vocab()


def test_vocab_txt_tokenizer_matches_tokenizer_json():
    from_json = hashembed.load_tokenizer(minilm_dir() / "tokenizer.json")
    from_txt = hashembed.load_tokenizer(minilm_dir() / "vocab.txt")
    assert isinstance(from_txt, tokenizers.Tokenizer)
    assert from_txt.get_vocab(with_added_tokens=True) == from_json.get_vocab(with_added_tokens=True)
    texts = [*stdlib_lines(100_000)[:2000], "Naïve Café ☃ 中文 😀 ÉCOLE"]
    a = from_json.encode_batch(texts)
    b = from_txt.encode_batch(texts)
    assert [e.tokens for e in a] == [e.tokens for e in b]
    assert [e.ids for e in a] == [e.ids for e in b]
    assert [e.special_tokens_mask for e in a] == [e.special_tokens_mask for e in b]
    assert from_txt.decode(b[0].ids) == from_json.decode(a[0].ids)


def test_vocab_txt_lowercase(tmp_path):
    shutil.copy(minilm_dir() / "vocab.txt", tmp_path / "vocab.txt")
    # No tokenizer_config.json beside it: uncased BERT by default.
    assert hashembed.load_tokenizer(tmp_path / "vocab.txt").encode("Hello").tokens[1] == "hello"
    cased = hashembed.load_tokenizer(tmp_path / "vocab.txt", lowercase=False)
    assert cased.encode("Hello").tokens[1] != "hello"
    (tmp_path / "tokenizer_config.json").write_text('{"do_lower_case": false}')
    assert hashembed.load_tokenizer(tmp_path).encode("Hello").tokens == cased.encode("Hello").tokens


def test_load_tokenizer_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothing.json: no such file"):
        hashembed.load_tokenizer(tmp_path / "nothing.json")
    with pytest.raises(FileNotFoundError, match=r"neither a tokenizer.json nor a vocab.txt"):
        hashembed.load_tokenizer(tmp_path)
    bad_json = tmp_path / "tokenizer.json"
    bad_json.write_text('{"not": "a tokenizer"}')
    with pytest.raises(ValueError, match=r"tokenizer.json: is not a readable tokenizer.json"):
        hashembed.load_tokenizer(bad_json)
    bad_json.write_bytes(b"\xff\xfe garbage")
    with pytest.raises(ValueError, match=r"is not a readable tokenizer.json"):
        hashembed.load_tokenizer(bad_json)
    no_specials = tmp_path / "words.txt"
    no_specials.write_text("a\nb\n")
    with pytest.raises(ValueError, match=r"words.txt: is not a BERT vocab.txt: .*\[UNK\], \[CLS\], \[SEP\]"):
        hashembed.load_tokenizer(no_specials)
    binary = tmp_path / "vocab.bin"
    binary.write_bytes(b"[UNK]\n\xff\xfe\n")
    with pytest.raises(ValueError, match=r"vocab.bin: is not a UTF-8 text file"):
        hashembed.load_tokenizer(binary)
    with pytest.raises(ValueError, match=r"is not a UTF-8 text file"):
        read_vocab(binary)
    with pytest.raises(IsADirectoryError):
        read_vocab(tmp_path)


@pytest.mark.parametrize("dtype", ["float32", "float16", "float64"])
def test_save_table_round_trips(tmp_path, table, dtype):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    t = table[:1000].astype(dtype)
    hashembed.save_table(tmp_path / "table.npy", t)
    back = np.load(tmp_path / "table.npy")
    assert back.dtype == t.dtype and np.array_equal(back, t)
    hashembed.save_table(str(tmp_path / "table.safetensors"), t)
    tensors = safetensors_numpy.load_file(str(tmp_path / "table.safetensors"))
    assert list(tensors) == ["embeddings"]
    assert tensors["embeddings"].dtype == t.dtype and np.array_equal(tensors["embeddings"], t)


def test_save_table_of_a_strided_table(tmp_path, table):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    view = table[::2, ::3]
    hashembed.save_table(tmp_path / "v.safetensors", view)
    assert np.array_equal(safetensors_numpy.load_file(str(tmp_path / "v.safetensors"))["embeddings"], view)
    hashembed.save_table(tmp_path / "V.NPY", view)  # the extension is case-insensitive
    assert np.array_equal(np.load(tmp_path / "V.NPY"), view)


@pytest.mark.parametrize(
    "array",
    [
        np.arange(12, dtype=np.float32).reshape(3, 4),
        np.arange(24, dtype=">f4").reshape(2, 3, 4)[:, ::2],  # big-endian and strided
        np.zeros((0, 8), dtype=np.float16),
        np.float64(2.5),  # 0-d
        np.array([[True, False]]),
        np.arange(6, dtype=np.int8),
        np.arange(6, dtype=np.uint64),
    ],
    ids=lambda a: f"{a.dtype.str}{list(a.shape)}",
)
def test_save_table_writes_safetensors_without_the_package(tmp_path, monkeypatch, array):
    """On the base install (NumPy only) `save_table` to .safetensors was an ImportError. The
    file is now written without the package, in the bytes `safetensors.numpy.save` makes."""
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    want = safetensors_numpy.save(
        {"embeddings": np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))}
    )
    with monkeypatch.context() as patch:
        for name in [m for m in sys.modules if m == "safetensors" or m.startswith("safetensors.")]:
            patch.setitem(sys.modules, name, None)  # `import safetensors` now fails
        hashembed.save_table(tmp_path / "t.safetensors", array)
    assert (tmp_path / "t.safetensors").read_bytes() == want
    back = safetensors_numpy.load_file(str(tmp_path / "t.safetensors"))["embeddings"]
    assert back.dtype == array.dtype.newbyteorder("=") and np.array_equal(back.reshape(array.shape), array)


def test_save_table_names_a_dtype_safetensors_lacks(tmp_path):
    with pytest.raises(
        hashembed.errors.ParameterTypeError, match=r"table has dtype <U1, which safetensors cannot store"
    ) as info:
        hashembed.save_table(tmp_path / "t.safetensors", np.array(["a"]))
    assert info.value.parameter == "table"
    assert not list(tmp_path.iterdir())


def test_save_table_needs_a_known_extension(tmp_path, table):
    for name in ["table.npz", "table.pt", "table", "table.npy.gz"]:
        with pytest.raises(ValueError, match=r"expected .npy or .safetensors"):
            hashembed.save_table(tmp_path / name, table[:2])
    assert not list(Path(tmp_path).iterdir())


def test_exports():
    assert "save_table" in hashembed.__all__ and "load_tokenizer" in hashembed.__all__
    assert hashembed.save_table is hashembed.vocab.save_table


def test_an_unordered_vocab_is_refused(embedder):
    """Defect 10: a set was accepted, and its rows followed its iteration order, which
    changes with PYTHONHASHSEED (embed_batch refuses sets)."""
    for unordered in ({"a", "b"}, frozenset({"a"})):
        with pytest.raises(TypeError, match=r"vocab must be an ordered sequence"):
            embedder.embed_vocab(unordered)
        with pytest.raises(TypeError, match=r"vocab must be an ordered sequence"):
            hashembed.vocab.vocab_tokens(unordered)


def test_vocab_tokens_are_in_id_order(tmp_path):
    from hashembed.vocab import vocab_tokens

    assert vocab_tokens(["b", "a"]) == ["b", "a"]
    assert vocab_tokens({"x": 2, "y": 0, "z": 1}) == ["y", "z", "x"]
    path = tmp_path / "vocab.txt"
    path.write_text("the\nquick\nthe\n", encoding="utf-8")
    assert vocab_tokens(path) == ["the", "quick", "the"]
    tok = hashembed.load_tokenizer(minilm_dir() / "tokenizer.json")
    tokens = vocab_tokens(tok)
    assert tokens == vocab_tokens(minilm_dir() / "tokenizer.json")
    assert all(tokens[i] == t for t, i in tok.get_vocab(with_added_tokens=True).items())
    with pytest.raises(ValueError, match=r"id 1 is missing"):
        vocab_tokens({"a": 0, "b": 2})
    with pytest.raises(TypeError, match=r"vocab\[1\] must be str, not int"):
        vocab_tokens(["a", 1])
