"""`hashembed.onnx.export_embedder`: the exported graph run by onnxruntime against the golden
vectors and the core, bit for bit, for arbitrary strings and configurations; its operators,
dynamic shapes, opsets and the failure of bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from hashembed import HashEmbedder
from hashembed.onnx import CHECK_ROWS, CHECK_VALUES, MIN_OPSET, embedder_model, export_embedder
from hashembed.torch.functional import codepoints
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import full_configs, texts
from support import MIXED, assert_same_bits, golden_bits, golden_groups
from tiny_models import padded

# The opsets this graph is written for: the first it needs, the default, onnx's newest that
# onnxruntime runs.
OPSETS = [MIN_OPSET, 17, 21]
GROUPS = golden_groups()


def session(model: onnx.ModelProto) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 4  # the failing-input tests expect errors; they are raised
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def run(s: ort.InferenceSession, cp: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    return s.run(["embeddings"], {"codepoints": cp, "lengths": lengths})[0]


def run_texts(e: HashEmbedder, batch: list[str], opset: int = 17) -> np.ndarray:
    cp, lengths = codepoints(batch)
    return run(session(embedder_model(e, opset=opset)), cp.numpy(), lengths.numpy())


@pytest.mark.parametrize("deduplicate", [True, False])
@pytest.mark.parametrize("group", list(GROUPS.values()), ids=[g[0]["name"] for g in GROUPS.values()])
def test_golden_vectors(group: list[dict], deduplicate: bool) -> None:
    e = HashEmbedder(**group[0]["config"])
    cp, lengths = padded([c["input"] for c in group], fill=-(2**62))
    model = embedder_model(e, deduplicate=deduplicate)
    assert ("Unique" in {n.op_type for n in model.graph.node}) == deduplicate
    assert_same_bits(run(session(model), cp.numpy(), lengths.numpy()), golden_bits(group))


@settings(max_examples=300)
@given(config=full_configs(), batch=st.lists(texts, max_size=6))
def test_any_strings_and_configuration_equal_the_core(config: dict, batch: list[str]) -> None:
    e = HashEmbedder(**config)
    assert_same_bits(run_texts(e, batch), e.embed_batch(batch))


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("markers", [False, True])
def test_opsets(opset: int, markers: bool) -> None:
    e = HashEmbedder(64, max_ngram=4, base=1_114_129, boundary_markers=markers)
    assert_same_bits(run_texts(e, MIXED, opset), e.embed_batch(MIXED))


@pytest.mark.parametrize("deduplicate", [True, False])
def test_one_session_takes_any_batch_and_width(deduplicate: bool) -> None:
    e = HashEmbedder.preset("robust", dim=48)
    s = session(embedder_model(e, deduplicate=deduplicate))
    for batch in ([], [""], ["a"], MIXED, ["ab" * 2000, "b"], [""] * 5, ["a", "b", "a", "a\x00", "a"]):
        cp, lengths = codepoints(batch)
        assert_same_bits(run(s, cp.numpy(), lengths.numpy()), e.embed_batch(batch), f"{batch!r:.40}")
    cp, lengths = codepoints(MIXED)
    wide = np.pad(cp.numpy(), ((0, 0), (0, 9)), constant_values=0x7FFFFFFF)
    assert_same_bits(run(s, wide, lengths.numpy()), e.embed_batch(MIXED), "padding past L")


def test_file_has_the_interface_and_standard_operators_only(tmp_path: Path) -> None:
    e = HashEmbedder(96, max_ngram=4, boundary_markers=True)
    path = export_embedder(e, tmp_path / "e.onnx")
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    assert {n.domain for n in model.graph.node} == {""}
    assert [o.domain for o in model.opset_import] == [""] and model.opset_import[0].version == 17
    ins = {i.name: i.type.tensor_type for i in model.graph.input}
    assert ins["codepoints"].elem_type == ins["lengths"].elem_type == onnx.TensorProto.INT64
    assert [d.dim_param for d in ins["codepoints"].shape.dim] == ["N", "L"]
    (out,) = model.graph.output
    assert out.name == "embeddings" and out.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim] == ["N", 96]
    # the seeds are the only sizeable constant: dim int64 values, and nothing V x dim
    assert path.stat().st_size < 96 * 8 + 20_000


@pytest.mark.parametrize(
    ("lengths", "cp", "node"),
    [
        ([1, 4], [[97, 98, 99], [97, 98, 99]], CHECK_VALUES),  # longer than L
        ([-1, 2], [[97, 98, 99], [97, 98, 99]], CHECK_VALUES),  # negative
        ([3, 2], [[97, 0x110000, 99], [97, 98, 99]], CHECK_VALUES),  # not a code point
        ([3, 2], [[97, -1, 99], [97, 98, 99]], CHECK_VALUES),  # negative code point
        ([1, 2, 3], [[97, 98, 99], [97, 98, 99]], CHECK_ROWS),  # one length too many
        ([2], [[97, 98, 99], [97, 98, 99]], CHECK_ROWS),  # one too few (it would broadcast)
    ],
)
def test_bad_input_fails_in_a_check_node(lengths: list[int], cp: list[list[int]], node: str) -> None:
    s = session(embedder_model(HashEmbedder(6, boundary_markers=True)))
    with pytest.raises(Exception, match=node):
        run(s, np.array(cp, dtype=np.int64), np.array(lengths, dtype=np.int64))
    # a bad value past a row's length is padding, not an error
    out = run(s, np.array([[97, 0x110000, -1]], dtype=np.int64), np.array([1], dtype=np.int64))
    assert_same_bits(out, HashEmbedder(6, boundary_markers=True).embed_batch(["a"]))


def test_float_codepoints_are_refused_by_the_runtime() -> None:
    s = session(embedder_model(HashEmbedder(6)))
    with pytest.raises(Exception, match=r"(?i)type.*tensor\(double\).*expected.*tensor\(int64\)"):
        run(s, np.zeros((1, 2)), np.array([1], dtype=np.int64))


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="embedder must be a HashEmbedder, not int"):
        embedder_model(5)  # type: ignore[arg-type]
    for opset in (12, 10_000, "17", True):
        with pytest.raises(ValueError, match=rf"opset={opset!r} is not supported: an int from {MIN_OPSET}"):
            export_embedder(HashEmbedder(6), tmp_path / "e.onnx", opset=opset)  # type: ignore[arg-type]
    assert not (tmp_path / "e.onnx").exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the peak is read from /proc/self")
@pytest.mark.timeout(120)
def test_memory_grows_with_the_code_points_not_rows_times_the_longest() -> None:
    # one 3,000-code-point text among 512 short tokens: padded to its width, the products of
    # every row took 3.6 GB more; packed, they take what the code points take
    bench = Path(__file__).resolve().parents[2] / "benches" / "onnx_share.py"
    out = subprocess.run(
        [sys.executable, str(bench), "--memory-only", "--json"], capture_output=True, text=True, timeout=110
    )
    assert out.returncode == 0, out.stderr[-2000:]
    memory = {int(n): m for n, m in json.loads(out.stdout)["memory"].items()}
    assert memory[3000]["peak"] <= 10 * memory[30]["peak"]
    assert memory[3000]["peak"] - memory[3000]["before"] < 256 * 2**20
