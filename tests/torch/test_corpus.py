"""Training corpora of any size (`hashembed.torch.distillation.corpus`): a list, a generator,
a `datasets` Dataset or IterableDataset, and the files `read_corpus` streams (text, JSON
Lines, Parquet), their errors, and memory that does not grow with the file."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from hashembed import ParameterError, ParameterTypeError
from hashembed.torch import shrink
from hashembed.torch.distillation import corpus
from hashembed.torch.distillation.corpus import as_corpus, read_corpus, training_set
from tiny_models import SMALL, TRAIN, teacher, tiny, tokenizer

shrink_module = importlib.import_module("hashembed.torch.shrink")  # the name is also the function's
os.environ.setdefault("HF_HUB_OFFLINE", "1")
__all__ = ["teacher", "tokenizer"]  # the shared fixtures, used here

QUICK = {"steps": 3, "batch_size": 8}


class _Again:
    """An iterable of texts that is not a list, read anew on each pass."""

    def __init__(self, texts: list) -> None:
        self.texts, self.passes = texts, 0

    def __iter__(self):
        self.passes += 1
        return iter(self.texts)


def _weights(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_list_a_generator_a_dataset_and_an_iterable_dataset_all_train(teacher, tokenizer) -> None:
    """A Dataset is sampled as the list is (the same texts, the same result); a generator
    and an IterableDataset are streams through the same seeded buffer (the same result)."""
    results = {
        "list": tiny(teacher, tokenizer, **QUICK),
        "generator": shrink(teacher, tokenizer, (t for t in TRAIN), **_tiny(**QUICK)),
        "dataset": shrink(teacher, tokenizer, datasets.Dataset.from_dict({"text": TRAIN}), **_tiny(**QUICK)),
        "iterable": shrink(
            teacher,
            tokenizer,
            datasets.Dataset.from_dict({"line": TRAIN, "n": list(range(len(TRAIN)))}).to_iterable_dataset(),
            **_tiny(**QUICK),
        ),
    }
    assert all(r.steps == 3 and r.sentences == 24 for r in results.values())
    weights = {k: _weights(r.model) for k, r in results.items()}
    assert _same(weights["list"], weights["dataset"])
    assert _same(weights["generator"], weights["iterable"])
    assert not _same(weights["list"], weights["generator"])


def _tiny(**kwargs) -> dict:
    return {"embedder": SMALL, "max_length": 32, "progress": False, **kwargs}


def test_a_stream_is_read_again_reshuffled_with_its_seed_and_a_generator_once(teacher, tokenizer) -> None:
    texts = [f"text {i}" for i in range(10)] + ["   "]
    source = _Again(texts)
    stream, is_list = as_corpus(source, "texts")
    assert not is_list and corpus.first(stream, 3) == texts[:3]
    read = iter(training_set(stream, 7))
    passes = [[next(read) for _ in range(10)] for _ in range(3)]
    assert all(sorted(p) == sorted(texts[:10]) for p in passes)  # the blank one is left out
    assert passes[0] != passes[1] and passes[0] != texts[:10]
    again = iter(training_set(as_corpus(_Again(texts), "texts")[0], 7))
    assert [next(again) for _ in range(30)] == [t for p in passes for t in p]
    other = iter(training_set(as_corpus(_Again(texts), "texts")[0], 8))
    assert [next(other) for _ in range(10)] != passes[0]
    # a generator is read once: what was read before training (the first texts) is not lost
    once, _ = as_corpus((t for t in texts), "texts")
    assert corpus.first(once, 4) == texts[:4]
    assert sorted(training_set(once, 0)) == sorted(texts[:10])
    # training ends with it: 3 batches of 4 from 10 texts (the last of 2), not the 50 steps
    result = shrink(teacher, tokenizer, (t for t in TRAIN[:10]), **_tiny(steps=50, batch_size=4))
    assert result.steps == 3


def test_a_stream_resumed_from_a_checkpoint_ends_as_one_never_stopped(teacher, tokenizer, tmp_path) -> None:
    """The stream is read again from its start and the batches trained skipped: 4 steps of 8
    texts from 12 cross three passes, the resume from step 2 the second."""
    options = _tiny(steps=4, batch_size=8, save_steps=2, checkpoint_dir=tmp_path)
    whole = shrink(teacher, tokenizer, _Again(TRAIN[:12]), **options)
    shutil.rmtree(tmp_path / "checkpoint-4")
    resumed = shrink(teacher, tokenizer, _Again(TRAIN[:12]), **options, resume=True)
    assert [h["step"] for h in resumed.history] == [3, 4]  # it went on from step 2
    assert resumed.steps == 4 and _same(_weights(whole.model), _weights(resumed.model))


def test_a_stream_s_projection_weights_come_from_its_first_texts(teacher, tokenizer, monkeypatch) -> None:
    """A list counts every text (as before); a stream its first ones, never read whole."""
    counted: list[int] = []
    real = shrink_module.token_weights
    monkeypatch.setattr(
        shrink_module, "token_weights", lambda rows, n: counted.append(len(rows)) or real(rows, n)
    )
    monkeypatch.setattr(shrink_module, "_WEIGHT_ROWS", 50)
    tiny(teacher, tokenizer, steps=1)
    shrink(teacher, tokenizer, _Again(TRAIN), **_tiny(steps=1))
    assert counted == [len(TRAIN), 50]


def test_read_corpus_of_text_json_lines_and_parquet(tmp_path: Path, teacher, tokenizer) -> None:
    lines = ["  first text  ", "", "second text", "   ", "third"]
    (tmp_path / "a.txt").write_text("\ufeff" + "\n".join(lines) + "\n", encoding="utf-8")
    assert [r["text"] for r in read_corpus(tmp_path / "a.txt")] == ["first text", "second text", "third"]
    jsonl = '{"text": "one", "meta": 1}\n\n{"meta": "x", "text": "two"}\n{"text": "  "}\n'
    (tmp_path / "a.jsonl").write_text(jsonl, encoding="utf-8")
    assert [r["text"] for r in read_corpus(tmp_path / "a.jsonl", text_field="text")] == ["one", "two"]
    (tmp_path / "a.json").write_text('[{"body": "alpha"}, {"body": "beta"}]', encoding="utf-8")
    assert [r["text"] for r in read_corpus(tmp_path / "a.json", text_field="body")] == ["alpha", "beta"]
    table = pa.table({"id": [1, 2, 3], "sentence": ["uno", "", "tres"]})
    pq.write_table(table, tmp_path / "a.parquet", row_group_size=2)
    read = read_corpus(str(tmp_path / "a.parquet"), text_column="sentence")
    assert list(read) == [{"text": "uno"}, {"text": "tres"}]
    result = shrink(teacher, tokenizer, read, **_tiny(steps=2, batch_size=4))
    assert result.steps == 2


def _error(call, kind, parameter: str, words: str):
    with pytest.raises(kind, match=words) as info:
        call()
    assert info.value.parameter == parameter
    return info.value


def test_read_corpus_errors(tmp_path: Path) -> None:
    _error(lambda: read_corpus(tmp_path / "none.txt"), ParameterError, "texts", "none.txt: no such file")
    _error(lambda: read_corpus(tmp_path), ParameterError, "texts", "is not a file")
    (tmp_path / "blank.txt").write_text("\n  \n\n", encoding="utf-8")
    _error(lambda: read_corpus(tmp_path / "blank.txt"), ParameterError, "texts", "holds no non-blank text")
    (tmp_path / "bad.txt").write_bytes(b"fine\n\xff\xfe broken\n")
    words = r"texts .*bad.txt is not UTF-8 text \(invalid start byte\)"
    _error(lambda: read_corpus(tmp_path / "bad.txt"), ParameterError, "texts", words)
    _error(
        lambda: read_corpus(tmp_path / "blank.txt", text_field="text"),
        ParameterError,
        "text_field",
        r"text_field is for JSON Lines \(.jsonl, .json\) files, not blank.txt",
    )
    rows = '{"text": "one"}\n\n{"body": "two", "n": 2}\n'
    (tmp_path / "a.jsonl").write_text(rows, encoding="utf-8")
    _error(lambda: read_corpus(tmp_path / "a.jsonl"), ParameterError, "text_field", "give the field")
    read = read_corpus(tmp_path / "a.jsonl", text_field="text")
    words = r"line 3 of .*a.jsonl has no text field 'text' \(its fields: 'body', 'n'\)"
    _error(lambda: list(read), ParameterError, "text_field", words)
    (tmp_path / "b.jsonl").write_text('{"text": 5}\n', encoding="utf-8")
    words = "line 1 of .*b.jsonl: its 'text' is a int, not a str"
    _error(lambda: read_corpus(tmp_path / "b.jsonl", text_field="text"), ParameterError, "text_field", words)
    (tmp_path / "c.jsonl").write_text('{"text": "a"}\n{"text": "b"\n', encoding="utf-8")
    read = read_corpus(tmp_path / "c.jsonl", text_field="text")
    _error(lambda: list(read), ParameterError, "texts", "line 2 of .*c.jsonl is not JSON")
    (tmp_path / "d.jsonl").write_text("", encoding="utf-8")
    _error(lambda: read_corpus(tmp_path / "d.jsonl", text_field="t"), ParameterError, "texts", "holds no")
    pq.write_table(pa.table({"id": [1], "body": ["x"]}), tmp_path / "a.parquet")
    _error(lambda: read_corpus(tmp_path / "a.parquet"), ParameterError, "text_column", "give the column")
    words = r"text_column 'text' is not a column of .*a.parquet \(its columns: id, body\)"
    _error(
        lambda: read_corpus(tmp_path / "a.parquet", text_column="text"), ParameterError, "text_column", words
    )
    words = "text_column 'id' of .*a.parquet holds int64, not strings"
    _error(
        lambda: read_corpus(tmp_path / "a.parquet", text_column="id"),
        ParameterTypeError,
        "text_column",
        words,
    )
    pq.write_table(pa.table({"body": [" ", ""]}), tmp_path / "b.parquet")
    _error(
        lambda: read_corpus(tmp_path / "b.parquet", text_column="body"), ParameterError, "texts", "holds no"
    )


def test_texts_that_are_no_corpus_or_hold_bad_items_are_errors(teacher, tokenizer, monkeypatch) -> None:
    for texts, kind in [(7, "int"), ({"a": "b"}, "dict"), (b"bytes", "bytes")]:
        error = _error(lambda t=texts: as_corpus(t, "texts"), ParameterTypeError, "texts", f"not {kind}")
        assert "a list of str, an iterable of str or a datasets Dataset" in str(error)
    whole = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": ["a"]})})
    _error(lambda: as_corpus(whole, "texts"), ParameterTypeError, "texts", "pass one of its splits")
    for empty in [(t for t in ["", "  "]), _Again([]), datasets.Dataset.from_dict({"text": [" "]})]:
        _error(lambda e=empty: as_corpus(e, "texts"), ParameterError, "texts", "at least 1 non-blank")
    two = datasets.Dataset.from_dict({"a": ["x"], "b": ["y"]})
    _error(lambda: as_corpus(two, "texts"), ParameterError, "texts", r"no column 'text' and 2 columns of str")
    error = _error(
        lambda: as_corpus(datasets.Dataset.from_dict({"text": ["a", None, "b"]}), "texts"),
        ParameterTypeError,
        "texts",
        r"texts\[1\] must be a str, not NoneType",
    )
    assert error.index == 1
    # a stream's bad text is an error with its index where it is read: here, in training (shrink
    # reads the first 10 up front), whose shuffle buffer reads it
    monkeypatch.setattr(shrink_module, "_WEIGHT_ROWS", 10)
    bad = [*TRAIN[:30], 3, *TRAIN[30:]]
    error = _error(
        lambda: shrink(teacher, tokenizer, iter(bad), **_tiny(steps=2)),
        ParameterTypeError,
        "texts",
        r"texts\[30\] must be a str, not int",
    )
    assert (error.index, error.value) == (30, 3)
    surrogate = _Again([*TRAIN[:4], "a lone \ud800 surrogate"])
    error = _error(
        lambda: shrink(teacher, tokenizer, surrogate, **_tiny(steps=1)),
        ParameterError,
        "texts",
        r"texts\[4\] is not valid Unicode: .*'\\ud800' at character 7",
    )
    assert error.index == 4


# Trains from a text file in a process of its own; prints its peak resident memory (VmHWM, kB).
_PEAK = """
import sys, transformers
from hashembed.torch import shrink
from hashembed.torch.distillation.corpus import read_corpus
import hashembed
path, steps, model_dir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
config = transformers.BertConfig(
    vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
    max_position_embeddings=128,
)
teacher = transformers.BertModel(config).eval()
embedder = hashembed.HashEmbedder.preset("robust", dim=64)
result = shrink(teacher, tokenizer, read_corpus(path), embedder=embedder, steps=steps, batch_size=8,
                max_length=32, progress=False)
assert result.steps == steps, result.steps
status = open("/proc/self/status").read()
print(int(status.split("VmHWM:")[1].split()[0]))
"""


def write_corpus(path: Path, size: int) -> None:
    """About `size` bytes of lines made of the training texts, each numbered, so all differ."""
    with open(path, "w", encoding="utf-8") as f:
        written, i = 0, 0
        while written < size:
            line = f"{TRAIN[i % len(TRAIN)]} {i}\n"
            written += f.write(line)
            i += 1


def _peak_kb(path: Path, steps: int) -> int:
    from _data import minilm_dir

    command = [sys.executable, "-c", _PEAK, str(path), str(steps), str(minilm_dir())]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return int(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc")
def test_peak_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    """20 steps from a 40 MB file take less than 60 MB more than from a 1 MB one: the file is
    streamed, and only its first texts are tokenised up front (benches/streaming_corpus.py
    compares 2 GB with 1 MB)."""
    small, large = tmp_path / "small.txt", tmp_path / "large.txt"
    write_corpus(small, 1 << 20)
    write_corpus(large, 40 << 20)
    grown = _peak_kb(large, 20) - _peak_kb(small, 20)
    assert grown < 60 * 1024, f"peak RSS grew by {grown / 1024:.0f} MB"
