"""`hashembed.torch.export_model`: a tiny shrunk BERT (tiny_models.py's) exported end to end, run
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
from hashembed.onnx import CHECK_MASK, SENTENCE_OUTPUT
from hashembed.torch import export_model, sentence_embeddings
from tiny_models import EVAL, TRAIN, onnx_inputs, teacher, tiny, tokenizer

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "onnx_sentence_embeddings.py"
VOCAB = 30522
__all__ = ["teacher", "tokenizer"]  # the shared fixtures, used here


@pytest.fixture(scope="module")
def student(teacher, tokenizer):
    return tiny(teacher, tokenizer).model


@pytest.fixture(scope="module")
def exported(student, tmp_path_factory) -> Path:
    return export_model(student, tmp_path_factory.mktemp("onnx") / "model.onnx")


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
    for quantize in ("int4", "INT8", True, 8):
        with pytest.raises(ValueError, match=rf"quantize={quantize!r} is not known: one of None, 'int8'"):
            export_model(student, tmp_path / "m.onnx", quantize=quantize)
    assert list(tmp_path.iterdir()) == []


def _session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 4  # the bad-input runs are expected to fail; they raise
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def test_an_attention_mask_not_of_lengths_shape_or_not_0_and_1_fails_in_its_check(
    tokenizer, exported: Path
) -> None:
    session = _session(exported)
    inputs = onnx_inputs(tokenizer, EVAL[:4], 32)
    mask = inputs["attention_mask"]
    # one column, a column short, a row short, -1 and 2 as values
    for bad in (mask[:, :1], mask[:, :-1], mask[:-1], np.where(mask == 0, -1, mask), mask * 2):
        with pytest.raises(Exception, match=CHECK_MASK):  # onnxruntime's own types
            session.run(None, {**inputs, "attention_mask": np.ascontiguousarray(bad)})
    session.run(None, inputs)  # and the good one runs


def test_empty_batches_texts_and_tokens(tokenizer, exported: Path) -> None:
    session = _session(exported)
    inputs = onnx_inputs(tokenizer, EVAL[:3], 32)
    cp, lengths, mask = inputs["codepoints"], inputs["lengths"], inputs["attention_mask"]

    def run(cp: np.ndarray, lengths: np.ndarray, mask: np.ndarray) -> np.ndarray:
        (out,) = session.run(None, {"codepoints": cp, "lengths": lengths, "attention_mask": mask})
        assert out.dtype == np.float32 and not np.isnan(out).any()
        return out

    assert run(cp[:0], lengths[:0], mask[:0]).shape == (0, 32)
    assert run(cp[:0, :0, :0], lengths[:0, :0], mask[:0, :0]).shape == (0, 32)
    # no positions: what every position masked out gives
    nothing = run(cp[:, :0], lengths[:, :0], mask[:, :0])
    np.testing.assert_array_equal(nothing, run(cp[:, :1], lengths[:, :1], np.zeros_like(mask[:, :1])))
    # tokens of no code points, as lengths of 0 are whatever the width
    empty = run(cp[:, :, :0], np.zeros_like(lengths), mask)
    np.testing.assert_array_equal(empty, run(cp[:, :, :1], np.zeros_like(lengths), mask))
    assert empty.shape == (3, 32) and not np.array_equal(empty, run(cp, lengths, mask))


def test_int8_export_quantises_the_body_and_keeps_the_hash_graph(
    student, tokenizer, exported: Path, tmp_path: Path
) -> None:
    fp32 = onnx.load(str(exported))
    path = export_model(student, tmp_path / "int8.onnx", quantize="int8", tokenizer=tokenizer, texts=TRAIN)
    int8 = onnx.load(str(path))
    ops = {n.op_type for n in int8.graph.node}
    assert "MatMulInteger" in ops and "DynamicQuantizeLinear" in ops
    # every weight matrix of the body is int8 now
    floats = {x.name for x in int8.graph.initializer if x.data_type == onnx.TensorProto.FLOAT and x.dims[1:]}
    assert not [n for n in int8.graph.node if n.op_type in ("MatMul", "Gemm") and set(n.input) & floats]

    def hash_graph(m: onnx.ModelProto) -> tuple[list[bytes], dict[str, bytes]]:
        nodes = [n for n in m.graph.node if n.name.startswith(("hashembed/", "input_check"))]
        names = {i for n in nodes for i in n.input}
        # the quantiser re-sorts the nodes; what each one is stays
        return sorted(n.SerializeToString() for n in nodes), {
            x.name: x.SerializeToString() for x in m.graph.initializer if x.name in names
        }

    assert hash_graph(int8) == hash_graph(fp32) and len(hash_graph(fp32)[0]) > 100
    props = {p.key: p.value for p in int8.metadata_props}
    assert props["hashembed.spec_version"] == "1"
    inputs = onnx_inputs(tokenizer, EVAL, 32)
    got, want = (_session(p).run(None, inputs)[0] for p in (path, exported))
    cosine = (got * want).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(want, axis=1)
    assert float(cosine.min()) > 0.98 and not np.array_equal(got, want)


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
