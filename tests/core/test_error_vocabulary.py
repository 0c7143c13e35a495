"""Every argument error of the core, vocab, tokens, Arrow, Dask and ONNX paths is a
ParameterError (a ValueError) or ParameterTypeError (a TypeError) naming its parameter; a
missing optional dependency names the extra that installs it."""

from __future__ import annotations

import numpy as np
import pytest
from hashembed import HashEmbedder, ParameterError, ParameterTypeError, load_tokenizer, save_table
from hashembed._optional import missing, optional
from hashembed.vocab import read_vocab

E = HashEmbedder(16)


def _raises(cls, call, parameter, index=None):
    with pytest.raises(cls) as info:
        call()
    assert type(info.value) is cls, type(info.value)
    assert info.value.parameter == parameter
    assert info.value.index == index
    return info.value


@pytest.mark.parametrize(
    ("call", "cls", "parameter"),
    [
        (lambda: E.embed_batch("one text"), ParameterTypeError, "texts"),
        (lambda: E.embed_batch({"a", "b"}), ParameterTypeError, "texts"),
        (lambda: E.embed_batch(np.array([["a"], ["b"]])), ParameterError, "texts"),
        (lambda: E.embed_batch(42), ParameterTypeError, "texts"),
        (lambda: E.embed_tokens("tokens"), ParameterTypeError, "batch"),
        (lambda: E.embed_tokens(42), ParameterTypeError, "batch"),
        (lambda: E.embed_tokens([{"a", "b"}]), ParameterTypeError, "batch"),
        (lambda: E.embed_encodings("text"), ParameterTypeError, "encodings"),
        (lambda: E.embed_vocab(b"bytes"), ParameterTypeError, "vocab"),
        (lambda: E.embed_vocab(42), ParameterTypeError, "vocab"),
        (lambda: E.embed_vocab({"a": True}), ParameterTypeError, "vocab"),
        (lambda: E.embed_vocab({"a": "0"}), ParameterTypeError, "vocab"),
        (lambda: E.embed_vocab({"a": 2**70}), ParameterError, "vocab"),
    ],
)
def test_core_argument_errors_name_their_parameter(call, cls, parameter) -> None:
    _raises(cls, call, parameter)


def test_an_unknown_table_format_names_the_path_and_writes_nothing(tmp_path) -> None:
    target = tmp_path / "table.txt"
    _raises(ParameterError, lambda: save_table(target, np.zeros((2, 2))), "path")
    assert list(tmp_path.iterdir()) == []


def test_bool_ids_in_a_batch_encoding_are_refused_as_by_embed_ids() -> None:
    transformers = pytest.importorskip("transformers", reason="a BatchEncoding is transformers'")
    from _data import minilm_dir

    tok = transformers.AutoTokenizer.from_pretrained(str(minilm_dir()), local_files_only=True)
    batch = tok(["hash embeddings", "a"], padding=True, return_tensors="np")
    bound = E.bind(tok)
    want, _ = bound.embed_encodings(batch)
    assert np.array_equal(want, E.embed_encodings(batch)[0])
    batch["input_ids"] = batch["input_ids"].astype(bool)
    error = _raises(ParameterTypeError, lambda: bound.embed_encodings(batch), "ids")
    assert "must be an array of integers, not of bool" in str(error)


def test_a_vocabulary_with_a_missing_id_names_it() -> None:
    error = _raises(ParameterError, lambda: E.embed_vocab({"a": 0, "b": 2}), "vocab", index=1)
    assert "id 1 is missing" in str(error)


def test_an_unreadable_vocabulary_file_names_the_argument_it_was_given_as(tmp_path) -> None:
    bad = tmp_path / "vocab.txt"
    bad.write_bytes(b"[CLS]\n\xff\xfe\n")
    assert "is not a UTF-8 text file" in str(_raises(ParameterError, lambda: read_vocab(bad), "path"))
    _raises(ParameterError, lambda: E.embed_vocab(bad), "vocab")
    _raises(ParameterError, lambda: E.bind(bad), "vocab")
    plain = tmp_path / "plain" / "vocab.txt"
    plain.parent.mkdir()
    plain.write_text("hello\nworld\n", encoding="utf-8")
    error = _raises(ParameterError, lambda: load_tokenizer(plain), "path")
    assert "lacks the special token(s) [UNK], [CLS], [SEP]" in str(error)
    broken = tmp_path / "tokenizer.json"
    broken.write_text("{not json", encoding="utf-8")
    _raises(ParameterError, lambda: load_tokenizer(broken), "path")
    _raises(ParameterError, lambda: E.embed_vocab(broken), "vocab")


def test_arrow_argument_errors_name_the_array() -> None:
    pa = pytest.importorskip("pyarrow", reason="the Arrow path needs pyarrow")
    _raises(ParameterTypeError, lambda: E.embed_arrow(["a", "b"]), "array")
    error = _raises(ParameterTypeError, lambda: E.embed_arrow(pa.array([1, 2])), "array")
    assert "expected an Arrow string array" in str(error)


def test_dask_argument_errors_name_their_parameter() -> None:
    pd = pytest.importorskip("pandas", reason="hashembed.dask needs pandas")
    pa = pytest.importorskip("pyarrow", reason="hashembed.dask needs pyarrow")
    from hashembed import dask as hd

    frame = pd.DataFrame({"a": ["x"], "b": ["y"]})
    _raises(ParameterTypeError, lambda: hd.embed_partition(42, E), "df_or_series")
    _raises(ParameterError, lambda: hd.embed_partition(frame, E), "column")
    _raises(ParameterError, lambda: hd.embed_partition(frame["a"], E, "b"), "column")
    _raises(ParameterTypeError, lambda: hd.embed_partition(pd.Series([1, 2], name="n"), E), "df_or_series")
    _raises(ParameterTypeError, lambda: hd.to_numpy(pa.array(["a"])), "embeddings")
    nulls = pa.array([[1.0, 2.0], None], type=pa.list_(pa.float32(), 2))
    _raises(ParameterError, lambda: hd.to_numpy(nulls), "embeddings")
    _raises(ParameterError, lambda: hd.save_npy_partition(frame["a"], E, "out"), "partition_info")


def test_onnx_argument_errors_name_their_parameter() -> None:
    pytest.importorskip("onnx", reason="hashembed.onnx needs onnx")
    from hashembed import onnx as graphs

    _raises(ParameterTypeError, lambda: graphs.embedder_model("e"), "embedder")
    _raises(ParameterError, lambda: graphs.embedder_model(E, opset=9), "opset")
    _raises(ParameterError, lambda: graphs.check_quantize("int4"), "quantize")
    _raises(ParameterError, lambda: graphs.check_quantize(8), "quantize")


def test_a_missing_optional_module_names_what_needs_it_and_the_extra() -> None:
    with pytest.raises(ModuleNotFoundError) as info:
        optional("hashembed_no_such_module.sub", "arrow", "embed_arrow")
    message = "embed_arrow needs the 'hashembed_no_such_module' package: pip install 'hashembed[arrow]'"
    assert str(info.value) == message
    assert info.value.name == "hashembed_no_such_module"
    assert isinstance(info.value.__cause__, ModuleNotFoundError)


def test_a_module_that_fails_to_import_is_reported_with_its_error() -> None:
    error = missing(ImportError("libfoo.so: cannot open shared object file"), "onnx", "export_model")
    assert isinstance(error, ModuleNotFoundError) and error.name is None
    assert str(error) == (
        "export_model needs a package that does not import (libfoo.so: cannot open shared object "
        "file): pip install 'hashembed[onnx]'"
    )
