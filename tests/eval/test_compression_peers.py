"""Part (c)'s deployment rows (eval/compression_report/peers.py) on the shared tiny teacher and
student: every figure measured, not made up, and the table and plots built from them."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from _data import minilm_dir
from hashembed.onnx import codepoint_inputs
from hashembed.torch import codepoints, sentence_embeddings
from tiny_models import EVAL, TRAIN, teacher, tiny, tokenizer

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "eval"))
from compression_report import inference, peers, pretrained, static, tradeoff

__all__ = ["teacher", "tokenizer"]  # the shared fixtures (tiny_models.py), used here
NAMES = [
    "all-MiniLM-L6-v2, fp32", "all-MiniLM-L6-v2, int8", "hash tiny, fp32", "hash tiny, int8",
    "model2vec (PCA 256), raw", "model2vec (PCA 256), with its map",
]  # fmt: skip
ROUNDS = 2


@pytest.fixture(scope="module")
def student(teacher, tokenizer):
    return tiny(teacher, tokenizer).model


@pytest.fixture(scope="module")
def setup(teacher, tokenizer, tmp_path_factory) -> pretrained.Setup:
    # distill reads the teacher from a directory, as it reads all-MiniLM-L6-v2's
    model_dir = tmp_path_factory.mktemp("teacher")
    teacher.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    targets = sentence_embeddings(teacher, tokenizer, EVAL, max_length=pretrained.MAX_LENGTH)
    return pretrained.Setup(teacher, tokenizer, TRAIN, EVAL, targets, None, 0.0, model_dir)


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("deployed")


@pytest.fixture(scope="module")
def rows(setup, student, out_dir) -> list[dict]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(inference, "MIN_SECONDS", 0.05)  # the real one is for a full run's models
        return peers.peer_rows(setup, out_dir, {"hash tiny": student}, rounds=ROUNDS)


def _embed(out_dir: Path, kind: str, name: str, texts: list[str]) -> np.ndarray:
    spec = {"kind": kind, "path": str(out_dir / name), "tokenizer": str(out_dir / "tokenizer.json"),
            "max_length": pretrained.MAX_LENGTH}  # fmt: skip
    return inference.embed_all(inference.load(spec), texts)


def test_rows_in_order_with_every_figure(rows) -> None:
    assert [r["name"] for r in rows] == NAMES
    for r in rows:
        assert r["params"] > 0 and r["sps_1"] > 0 and r["sps_32"] > 0
        assert all(len(v) == ROUNDS for v in r["sps_rounds"].values())
        assert r["sps_1"] == max(r["sps_rounds"]["1"]) and r["sps_32"] == max(r["sps_rounds"]["32"])
        # a process of its own, without torch: below this one's
        assert 20e6 < r["peak_rss"] < inference._peak_rss()
        assert -1 <= r["spearman"] <= 1 and 0 <= r["nn_agreement"] <= 1
    assert rows[4]["mean_cosine"] is None  # its own space
    assert all(r["mean_cosine"] is not None for r in rows[:4] + rows[5:])


def test_bytes_are_the_files_on_disk(rows, out_dir: Path) -> None:
    onnx_files = ["original-fp32.onnx", "original-int8.onnx", "hash-tiny-fp32.onnx", "hash-tiny-int8.onnx"]
    for r, name in zip(rows, onnx_files):
        assert r["files"] == [name] and r["bytes"] == (out_dir / name).stat().st_size
    raw = sum((out_dir / "model2vec" / f).stat().st_size for f in ("model.safetensors", "config.json"))
    assert rows[4]["bytes"] == raw
    assert rows[5]["bytes"] == raw + (out_dir / "model2vec-map.safetensors").stat().st_size
    assert rows[4]["vectors_dtype"] == rows[5]["vectors_dtype"] == "float16"


def test_the_onnx_files_compute_what_torch_does(rows, setup, student, tokenizer, out_dir: Path) -> None:
    # the original's file against the targets themselves, the student's against torch's student
    assert rows[0]["mean_cosine"] > 0.99999 and rows[0]["nn_agreement"] == 1
    got = _embed(out_dir, "ids", "original-fp32.onnx", EVAL)
    assert float(np.abs(got - setup.targets).max()) < 1e-5
    want = sentence_embeddings(student, tokenizer, EVAL, max_length=pretrained.MAX_LENGTH)
    got = _embed(out_dir, "codepoints", "hash-tiny-fp32.onnx", EVAL)
    assert float(np.abs(got - want).max()) < 1e-5
    # int8 files hold quantised weights and stay close to their fp32 file
    for fp32, int8 in ((rows[0], rows[1]), (rows[2], rows[3])):
        ops = {n.op_type for n in onnx.load(str(out_dir / int8["files"][0])).graph.node}
        assert "MatMulInteger" in ops and abs(fp32["mean_cosine"] - int8["mean_cosine"]) < 0.1


def test_code_points_as_the_graph_takes_them(tokenizer) -> None:
    texts = [*EVAL[:9], "naïve ☃ 🙂", "x"]
    # what the transformers tokenizer and hashembed.torch.codepoints give
    enc = tokenizer(texts, padding=True, truncation=True, max_length=32)
    ids = np.array(enc["input_ids"])
    cp, lengths = codepoints([t for row in ids for t in tokenizer.convert_ids_to_tokens(row.tolist())])
    encodings = inference.tokenizer_from(str(minilm_dir() / "tokenizer.json"), 32).encode_batch(texts)
    got_cp, got_lengths = codepoint_inputs([e.tokens for e in encodings])
    assert np.array_equal(got_cp, cp.numpy().reshape(*ids.shape, -1))
    assert np.array_equal(got_lengths, lengths.numpy().reshape(ids.shape))
    assert np.array_equal([e.attention_mask for e in encodings], enc["attention_mask"])


def test_the_map_reduces_the_error(rows, setup, out_dir: Path) -> None:
    raw = {"kind": "static", "path": str(out_dir / "model2vec"), "max_length": pretrained.MAX_LENGTH}
    texts = static.spaced(TRAIN, static.MAP_SENTENCES)
    vectors = inference.embed_all(inference.load(raw), texts)
    targets = sentence_embeddings(setup.teacher, setup.tokenizer, texts, max_length=pretrained.MAX_LENGTH)
    weight, bias = inference.load_map(str(out_dir / "model2vec-map.safetensors"))
    assert weight.shape == (vectors.shape[1], targets.shape[1]) and weight.dtype == np.float32
    fitted = float(np.square(vectors @ weight + bias - targets).sum())
    assert fitted < 0.5 * float(np.square(targets.mean(0) - targets).sum())  # the best constant
    # and on held-out sentences, closer than the best constant direction
    mean = setup.targets.mean(0) / np.linalg.norm(setup.targets.mean(0))
    assert rows[5]["mean_cosine"] > float((setup.targets @ mean).mean())
    assert rows[5]["params"] == rows[4]["params"] + weight.size + bias.size


def test_table_and_plots(rows, tmp_path: Path) -> None:
    lines = tradeoff.table_rows(rows)
    assert len(lines) == 2 + len(rows) and lines[0].count("|") == 11
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]
    assert cells[0][0] == NAMES[0] and cells[0][8] == "1.0x"
    assert cells[4][3] == "n/a" and cells[5][3] != "n/a"
    for key in ("bytes", "sps_32"):
        path = tmp_path / f"{key}.png"
        tradeoff.plot_quality(rows, key, path)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_map_fit() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((200, 8)).astype(np.float32)
    weight, bias = rng.standard_normal((8, 5)), rng.standard_normal(5)
    targets = vectors @ weight + bias
    targets[:, 2] = 1e-33 * rng.standard_normal(200)  # a dimension the teacher leaves at zero
    got_weight, got_bias = static.fit_map(vectors, targets)
    assert got_weight.dtype == got_bias.dtype == np.float32
    keep = [0, 1, 3, 4]
    assert np.allclose(got_weight[:, keep], weight[:, keep], atol=1e-4)
    assert np.allclose(got_bias[keep], bias[keep], atol=1e-4)
    assert not got_weight[:, 2].any() and got_bias[2] == 0
