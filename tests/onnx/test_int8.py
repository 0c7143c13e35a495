"""int8 files that keep their float model on every CPU (`hashembed.int8`), and the checks of
`export_model`'s target and inputs: a tiny shrunk BERT given an outlier channel, as a
student of a few steps has, exported and compared with its float file."""

from __future__ import annotations

import errno
import os
import shutil
import site
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import transformers
from _data import minilm_dir
from hashembed.errors import ParameterError
from hashembed.int8 import MIN_COSINE, Int8Warning, quantize_int8, read_report, sample_texts
from hashembed.onnx import CHECK_POSITIONS, SENTENCE_OUTPUT
from hashembed.torch import export as export_module
from hashembed.torch import export_model, shrink
from tiny_models import EVAL, TRAIN, onnx_inputs, teacher, tokenizer

__all__ = ["teacher", "tokenizer"]  # the shared fixtures, used here

# Runs an ONNX file on saved inputs in a process of its own (under qemu, as another CPU).
_RUN = """
import sys, numpy as np, onnxruntime as ort
inputs = dict(np.load(sys.argv[2]))
session = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
np.save(sys.argv[3], session.run(None, inputs)[0])
"""


@pytest.fixture(scope="module")
def student(tokenizer):
    """all-MiniLM-L6-v2 shrunk to 2 layers of 128 for 40 steps: a student early in training,
    whose activations have the outlier channels that broke int8 on CPUs without VNNI (one
    such, layer 0's feed-forward input, peaked at 12.5 against a median of 0.38)."""
    teacher = transformers.AutoModel.from_pretrained(str(minilm_dir()), local_files_only=True)
    options = {"steps": 40, "batch_size": 16, "max_length": 64, "progress": False}
    return shrink(teacher, tokenizer, TRAIN, num_layers=2, hidden_size=128, **options).model


@pytest.fixture(scope="module")
def files(student, tokenizer, tmp_path_factory):
    out = tmp_path_factory.mktemp("int8")
    fp32 = export_model(student, out / "fp32.onnx")
    int8 = export_model(student, out / "int8.onnx", quantize="int8", tokenizer=tokenizer, texts=TRAIN)
    return fp32, int8


def _run(path: Path, inputs: dict[str, np.ndarray]) -> np.ndarray:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run([SENTENCE_OUTPUT], inputs)[
        0
    ]


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_an_outlier_heavy_student_keeps_its_float_output_in_int8(files, tokenizer) -> None:
    fp32, int8 = files
    inputs = onnx_inputs(tokenizer, EVAL, 32)
    cosine = _cosines(_run(int8, inputs), _run(fp32, inputs))
    assert float(cosine.mean()) >= MIN_COSINE, cosine.mean()
    report = read_report(int8)
    assert report is not None and report.met and report.mean_cosine >= MIN_COSINE
    assert report.samples == len(TRAIN[:256]) and report.target == MIN_COSINE
    assert read_report(fp32) is None


def test_no_int8_weight_can_saturate_a_cpu_without_vnni(files) -> None:
    """Without VNNI, x86 multiplies uint8 activations by int8 weights and adds each pair of
    products in 16 bits: |w| <= 64 keeps 255 * 64 * 2 = 32,640 below 32,767 on any input."""
    _, int8 = files
    model = onnx.load(str(int8))
    weights = [
        onnx.numpy_helper.to_array(t)
        for t in model.graph.initializer
        if t.data_type == onnx.TensorProto.INT8 and len(t.dims) == 2
    ]
    assert weights and all(int(np.abs(w.astype(np.int32)).max()) <= 64 for w in weights)
    assert {n.op_type for n in model.graph.node} >= {"MatMulInteger", "DynamicQuantizeLinear"}
    # and every weight matrix is int8 but those the report says were kept in float
    floats = {t.name for t in model.graph.initializer if t.data_type == onnx.TensorProto.FLOAT and t.dims[1:]}
    in_float = {n.name for n in model.graph.node if n.op_type in ("MatMul", "Gemm") and set(n.input) & floats}
    report = read_report(int8)
    assert report is not None and in_float == set(report.kept_float)


def _qemu() -> str | None:
    return shutil.which("qemu-x86_64") if os.uname().machine == "x86_64" else None


def _saturating_product() -> onnx.ModelProto:
    """A MatMulInteger of uint8 255s by int8 127s over 64 terms: exact, 2,072,640 in every
    cell; with each pair of products added in 16 bits, 32,767 x 32 = 1,048,544."""
    b = onnx.numpy_helper.from_array(np.full((64, 16), 127, np.int8), "b")
    node = onnx.helper.make_node("MatMulInteger", ["x", "b"], ["y"])
    graph = onnx.helper.make_graph(
        [node], "pairs", [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.UINT8, [4, 64])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.INT32, [4, 16])], initializer=[b],
    )  # fmt: skip
    return onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)])


@pytest.mark.skipif(
    _qemu() is None, reason="needs qemu-x86_64 (Debian's qemu-user) on x86-64 to run as a CPU without VNNI"
)
def test_the_int8_file_holds_on_a_cpu_without_vnni(files, tokenizer, tmp_path) -> None:
    """Run as on a Haswell (AVX2, no AVX-512, no VNNI) under qemu: that CPU's uint8 x int8
    products do saturate (a product of 255s and 127s comes out wrong), and the int8 file
    still keeps its float output there."""
    fp32, int8 = files
    onnx.save(_saturating_product(), str(tmp_path / "pairs.onnx"))
    inputs = onnx_inputs(tokenizer, EVAL, 32)
    np.savez(tmp_path / "inputs.npz", **inputs)
    np.savez(tmp_path / "pairs.npz", x=np.full((4, 64), 255, np.uint8))
    script = tmp_path / "run.py"
    script.write_text(_RUN)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(site.getsitepackages())}
    python = os.path.realpath(sys.executable)
    got = {}
    for model, feeds in (("pairs", "pairs"), (int8, "inputs")):
        out = tmp_path / f"{Path(model).stem}.npy"
        arguments = [str(script), str(tmp_path / f"{model}.onnx" if model == "pairs" else model)]
        arguments += [str(tmp_path / f"{feeds}.npz"), str(out)]
        command = [str(_qemu()), "-cpu", "Haswell", python, *arguments]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        got[feeds] = np.load(out)
    assert int(got["pairs"].max()) < 255 * 127 * 64, "the emulated CPU did not saturate: not a test"
    cosine = _cosines(got["inputs"], _run(fp32, inputs))
    assert float(cosine.mean()) >= MIN_COSINE, cosine.mean()


def test_nodes_are_kept_in_float_until_the_target_is_met(files, tokenizer, tmp_path) -> None:
    fp32, int8 = files
    cheap = read_report(int8)
    samples = [onnx_inputs(tokenizer, EVAL, 32)]
    target = 1 - (1 - cheap.mean_cosine) * 0.8
    report = quantize_int8(fp32, tmp_path / "strict.onnx", samples=samples, min_cosine=target)
    assert report.met and report.mean_cosine >= target and report.kept_float
    assert 0 < report.float_share <= 0.25
    model = onnx.load(str(tmp_path / "strict.onnx"))
    float_nodes = {n.name for n in model.graph.node if n.op_type in ("MatMul", "Gather")}
    assert set(report.kept_float) <= float_nodes
    assert read_report(tmp_path / "strict.onnx") == report


def test_a_target_out_of_reach_is_said_with_its_figure(files, tokenizer, tmp_path) -> None:
    fp32, _ = files
    samples = [onnx_inputs(tokenizer, EVAL, 32)]
    with pytest.warns(Int8Warning, match=r"mean cosine \d\.\d{4} .*below the target 1\.0.* kept in float"):
        report = quantize_int8(fp32, tmp_path / "exact.onnx", samples=samples, min_cosine=1.0)
    assert not report.met and report.float_share <= 0.25 and report.mean_cosine < 1.0
    assert (tmp_path / "exact.onnx").is_file()


def test_the_check_needs_the_models_tokenizer(student, tmp_path) -> None:
    with pytest.raises(ParameterError, match="needs the model's tokenizer") as e:
        export_model(student, tmp_path / "m.onnx", quantize="int8")
    assert e.value.parameter == "tokenizer" and not (tmp_path / "m.onnx").exists()


def test_bad_samples_and_targets_are_refused(files, tmp_path) -> None:
    fp32, _ = files
    for samples, words in (([], "not empty"), ([{"codepoints": 1}], r"samples\[0\] must be a dict")):
        with pytest.raises(ParameterError, match=words):
            quantize_int8(fp32, tmp_path / "x.onnx", samples=samples)
    for bad in (1.5, -0.1, float("nan")):
        with pytest.raises(ParameterError, match="min_cosine must be in"):
            quantize_int8(fp32, tmp_path / "x.onnx", samples=[{}], min_cosine=bad)
    assert not (tmp_path / "x.onnx").exists()


def test_the_built_in_sample_is_prose() -> None:
    texts = sample_texts(64)
    assert len(texts) == 64 and len(set(texts)) == 64
    assert all(20 <= len(t) <= 300 and t[0].isupper() for t in texts)


def test_more_positions_than_the_model_has_fail_in_a_named_node(student, files, tokenizer) -> None:
    fp32, _ = files
    limit = student.config.max_position_embeddings
    inputs = onnx_inputs(tokenizer, [" ".join(EVAL * 4)], 10_000)
    assert inputs["attention_mask"].shape[1] > limit
    with pytest.raises(Exception, match=f"{CHECK_POSITIONS}{limit}"):  # onnxruntime's own types
        _run(fp32, inputs)
    fits = {k: v[:, :limit] for k, v in inputs.items()}
    assert _run(fp32, fits).shape == (1, 384)


def _refuses_before_tracing(monkeypatch, student, target, error, words) -> None:
    def no_trace(*args, **kwargs):
        raise AssertionError("traced before the target was checked")

    monkeypatch.setattr(export_module, "trace_onnx", no_trace)
    with pytest.raises(error, match=words):
        export_model(student, target)


def test_targets_are_checked_before_the_trace_and_named_as_given(student, tmp_path, monkeypatch) -> None:
    (tmp_path / "file").write_text("x")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere.onnx")
    cases = [
        (tmp_path / "missing" / "m.onnx", FileNotFoundError, "the directory .*missing does not exist"),
        (tmp_path / "file" / "m.onnx", NotADirectoryError, "file/m.onnx: .*file is a file, not a directory"),
        (
            tmp_path / "dangling",
            FileNotFoundError,
            "dangling: is a symbolic link to .*nowhere.onnx, which does not",
        ),
        (tmp_path, IsADirectoryError, "is a directory"),
    ]
    for target, error, words in cases:
        _refuses_before_tracing(monkeypatch, student, target, error, words)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dangling", "file"]


def test_a_symbolic_link_is_followed_and_stays_a_link(student, tmp_path) -> None:
    real = tmp_path / "real.onnx"
    real.write_text("old")
    link = tmp_path / "link.onnx"
    link.symlink_to(real)
    assert export_model(student, link) == link
    assert link.is_symlink() and onnx.load(str(real)).graph.output[0].name == SENTENCE_OUTPUT


def test_a_full_disk_names_the_users_path(student, tmp_path, monkeypatch) -> None:
    def full(model, path, *args, **kwargs):
        Path(path).write_bytes(b"partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(onnx, "save", full)
    with pytest.raises(OSError, match=r"No space left on device: '.*out\.onnx'") as e:
        export_model(student, tmp_path / "out.onnx")
    assert e.value.filename == str(tmp_path / "out.onnx") and list(tmp_path.iterdir()) == []


def test_export_warns_where_int8_cannot_reach_the_target(student, tokenizer, tmp_path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        export_model(student, tmp_path / "a.onnx", quantize="int8", tokenizer=tokenizer)
    with pytest.warns(Int8Warning, match="a.onnx|b.onnx"):
        export_model(student, tmp_path / "b.onnx", quantize="int8", tokenizer=tokenizer, min_cosine=1.0)


def _small_graph(nameless: bool = False, output: str = "wide") -> onnx.ModelProto:
    """x (N, 16) -> Gemm "g" -> Relu -> MatMul "m" -> y (N, 8), and MatMul "w" of a weight by
    x (a constant first input, which the quantiser leaves in float) added in; `output`
    "argmax" or "narrow" makes y an int64 or a (N, 1) output instead."""
    rng = np.random.default_rng(0)
    h = onnx.helper
    inits = [
        onnx.numpy_helper.from_array(rng.normal(size=(16, 16)).astype(np.float32), "G"),
        onnx.numpy_helper.from_array(rng.normal(size=16).astype(np.float32), "C"),
        onnx.numpy_helper.from_array(rng.normal(size=(16, 8)).astype(np.float32), "M"),
        onnx.numpy_helper.from_array(rng.normal(size=(8, 8)).astype(np.float32), "W"),
    ]
    name = (lambda n: "") if nameless else (lambda n: n)
    nodes = [
        h.make_node("Gemm", ["x", "G", "C"], ["g"], name=name("g")),
        h.make_node("Relu", ["g"], ["r"], name=name("r")),
        h.make_node("MatMul", ["r", "M"], ["m"], name=name("m")),
        h.make_node("Transpose", ["m"], ["mt"], name=name("t")),
        h.make_node("MatMul", ["W", "mt"], ["wm"], name=name("w")),
        h.make_node("Transpose", ["wm"], ["y"], name=name("y")),
    ]
    out = h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["N", 8])
    if output == "argmax":
        nodes.append(h.make_node("ArgMax", ["y"], ["z"], axis=1, keepdims=1, name=name("z")))
        out = h.make_tensor_value_info("z", onnx.TensorProto.INT64, ["N", 1])
    elif output == "narrow":
        nodes.append(h.make_node("ReduceSum", ["y"], ["z"], keepdims=1, name=name("z")))
        out = h.make_tensor_value_info("z", onnx.TensorProto.FLOAT, ["N", 1])
    graph = h.make_graph(
        nodes, "small", [h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["N", 16])], [out], inits
    )
    return h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])


def _feeds(rows: int = 64) -> list[dict[str, np.ndarray]]:
    x = np.random.default_rng(1).normal(size=(rows, 16)).astype(np.float32)
    x[:, 0] *= 60.0  # an outlier channel, which uint8 activations lose the rest to
    return [{"x": x}]


def test_a_kept_gemm_stays_in_float_and_a_constant_first_input_is_not_counted(tmp_path) -> None:
    report = quantize_int8(_small_graph(), tmp_path / "a.onnx", samples=_feeds(), min_cosine=0.0, keep=("g",))
    model = onnx.load(str(tmp_path / "a.onnx"))
    ops = {n.name: n.op_type for n in model.graph.node}
    # the quantiser rewrites every Gemm as a MatMul and an Add; this one reads its float weight
    assert ops.get("g_MatMul") == "MatMul" and "MatMulInteger" in ops.values()
    weights = {i for n in model.graph.node if n.name == "g_MatMul" for i in n.input}
    assert any(t.name in weights and t.data_type == onnx.TensorProto.FLOAT for t in model.graph.initializer)
    # MatMul(W, x): the quantiser leaves it in float, so it is no node the search could keep
    assert ops.get("w") == "MatMul" and report.met and report.kept_float == ()


def test_what_the_search_keeps_is_the_better_file(tmp_path) -> None:
    full = quantize_int8(_small_graph(), tmp_path / "full.onnx", samples=_feeds(), min_cosine=0.0)
    with pytest.warns(Int8Warning):
        strict = quantize_int8(_small_graph(), tmp_path / "strict.onnx", samples=_feeds(), min_cosine=1.0)
    assert strict.mean_cosine >= full.mean_cosine and not strict.met
    # the summary never rounds a shortfall up to its target
    assert "1.0000000" not in strict.summary() and "below the target 1.0" in strict.summary()


def test_graphs_no_cosine_can_check_are_refused(tmp_path) -> None:
    for output, words in (("argmax", "is not a float tensor"), ("narrow", "has one value a row")):
        with pytest.raises(ParameterError, match=words):
            quantize_int8(_small_graph(output=output), tmp_path / "x.onnx", samples=_feeds())
    with pytest.warns(Int8Warning, match="even with 0% of the weights kept in float"):
        report = quantize_int8(
            _small_graph(nameless=True), tmp_path / "x.onnx", samples=_feeds(), min_cosine=1
        )
    assert report.kept_float == ()  # unnamed nodes are quantised, never kept: no name says which
    with pytest.raises(ParameterError, match=r"samples\[0\] has no rows"):
        quantize_int8(_small_graph(), tmp_path / "x.onnx", samples=[{"x": np.zeros((0, 16), np.float32)}])
    with pytest.raises(ParameterError, match="samples cannot be run by the float model"):
        quantize_int8(_small_graph(), tmp_path / "x.onnx", samples=[{"x": np.zeros((2, 16), np.float64)}])
    assert quantize_int8(
        _small_graph(), tmp_path / "x.onnx", samples=_feeds(), min_cosine=np.float32(0.5)
    ).met


def test_a_zero_row_on_one_side_only_does_not_agree(tmp_path) -> None:
    from hashembed.int8 import _Runner

    runner = _Runner(_small_graph(), _feeds(4))
    runner.reference[1] = 0.0
    cos = runner.cosines(_small_graph().SerializeToString())
    assert cos[1] == 0.0 and cos[0] == pytest.approx(1.0)


def test_read_report_names_a_file_that_is_not_onnx(tmp_path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("not a model")
    with pytest.raises(ParameterError, match=r"notes\.txt: is not an ONNX model"):
        read_report(bad)
    with pytest.raises(ParameterError, match="count must be an int >= 1"):
        sample_texts(0)
