"""`hashembed.onnx.export_model`: a tiny shrunk BERT (test_shrink's) exported end to end, run
by onnxruntime on held-out sentences against the torch model, its file without a table, and
the example that runs it with only onnxruntime and tokenizers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from _data import minilm_dir
from hashembed.onnx import SENTENCE_OUTPUT, export_model
from hashembed.torch import codepoints, sentence_embeddings
from test_shrink import EVAL, _tiny, teacher, tokenizer

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "onnx_sentence_embeddings.py"
VOCAB = 30522
__all__ = ["teacher", "tokenizer"]  # test_shrink's fixtures, used here


@pytest.fixture(scope="module")
def student(teacher, tokenizer):
    return _tiny(teacher, tokenizer).model


@pytest.fixture(scope="module")
def exported(student, tmp_path_factory) -> Path:
    return export_model(student, tmp_path_factory.mktemp("onnx") / "model.onnx")


def onnx_inputs(tokenizer, sentences: list[str], max_length: int) -> dict[str, np.ndarray]:
    enc = tokenizer(sentences, padding=True, truncation=True, max_length=max_length)
    ids = np.array(enc["input_ids"])
    cp, lengths = codepoints([t for row in ids for t in tokenizer.convert_ids_to_tokens(row.tolist())])
    return {
        "codepoints": cp.numpy().reshape(*ids.shape, -1),
        "lengths": lengths.numpy().reshape(ids.shape),
        "attention_mask": np.array(enc["attention_mask"], dtype=np.int64),
    }


def test_matches_the_torch_model_on_held_out_sentences(student, tokenizer, exported: Path) -> None:
    session = ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    want = sentence_embeddings(student, tokenizer, EVAL, max_length=32)
    # one batch, then batches of other sizes and paddings than the exporter's example
    (whole,) = session.run([SENTENCE_OUTPUT], onnx_inputs(tokenizer, EVAL, 32))
    batches = [onnx_inputs(tokenizer, EVAL[i : i + 7], 32) for i in range(0, len(EVAL), 7)]
    parts = [session.run([SENTENCE_OUTPUT], inputs)[0] for inputs in batches]
    for got in (whole, np.concatenate(parts)):
        assert got.shape == want.shape == (len(EVAL), 32)
        assert float(np.abs(got - want).max()) < 1e-5


def test_the_file_holds_no_table(exported: Path) -> None:
    model = onnx.load(str(exported))
    assert [i.name for i in model.graph.input] == ["codepoints", "lengths", "attention_mask"]
    assert [o.name for o in model.graph.output] == [SENTENCE_OUTPUT]
    assert {n.domain for n in model.graph.node} == {""}
    assert all(VOCAB not in x.dims for x in model.graph.initializer)
    props = {p.key: p.value for p in model.metadata_props}
    assert props["hashembed.spec_version"] == "1" and '"dim": 64' in props["hashembed.embedder"]
    assert exported.stat().st_size < VOCAB * 32 * 4 / 10  # a tenth of the teacher's table alone


def test_the_model_is_left_as_it_was(student, tokenizer, exported: Path, tmp_path: Path) -> None:
    student.train()
    before = {k: v.clone() for k, v in student.state_dict().items()}
    other = export_model(student, tmp_path / "m.onnx", opset=14, deduplicate=False)
    assert student.training
    student.eval()
    assert all(torch.equal(before[k], v) for k, v in student.state_dict().items())
    # and that export, another opset without Unique, computes the same
    inputs = onnx_inputs(tokenizer, EVAL[:9], 32)
    got, want = (ort.InferenceSession(str(p)).run(None, inputs)[0] for p in (other, exported))
    assert float(np.abs(got - want).max()) < 1e-6


def test_bad_arguments_are_refused(teacher, student, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="has no HashEmbedding input layer"):
        export_model(teacher, tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="opset=9 is not supported"):
        export_model(student, tmp_path / "m.onnx", opset=9)
    assert not (tmp_path / "m.onnx").exists()


def test_the_example_runs_without_hashembed(student, tokenizer, exported: Path) -> None:
    sentences = ["Hash embeddings need no table.", "A table of embeddings is big.", "zebra"]
    # hashembed made unimportable: the example needs only onnxruntime and tokenizers
    run = (
        "import runpy, sys; sys.modules['hashembed'] = None; "
        f"sys.argv = {[str(EXAMPLE), str(exported), str(minilm_dir() / 'tokenizer.json'), *sentences]!r}; "
        "runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    out = subprocess.run([sys.executable, "-c", run], capture_output=True, text=True, timeout=120, check=True)
    want = sentence_embeddings(student, tokenizer, sentences)
    lines = out.stdout.splitlines()
    assert [line.split("  ", 1)[1] for line in lines[:3]] == sentences
    assert all(line.startswith("1.0000") for line in lines[:3])
    assert lines[3:] == [f"cosine({i}, {j}) = {want[i] @ want[j]:.4f}" for i, j in [(0, 1), (0, 2), (1, 2)]]
