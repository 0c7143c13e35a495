"""The rows of part (c)'s deployment table: the original, each student and the static peer,
each as a device runs it (text in, vectors out), measured on the same held-out sentences."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from hashembed.int8 import quantize_int8
from hashembed.torch import agreement, export_model, parameter_count

from .inference import embed_all, load, model_inputs, peak_rss, throughput, tokenizer_from
from .original import export_original
from .pretrained import MAX_LENGTH
from .static import COUNTED, PCA_DIMS, distil_peer, peer_dtype, peer_shape, write_map

TEACHER = "all-MiniLM-L6-v2"
PEER = f"model2vec (PCA {PCA_DIMS})"
BATCHES = (1, 32)
TIMED = 128
"""How many held-out sentences each round times, at each batch size: the same ones."""
RSS_BATCH = 32
SAMPLED = 256
"""How many training sentences each int8 file is checked on (export_model's default too)."""


@dataclass
class _Deployed:
    name: str
    spec: dict[str, Any]
    params: int
    files: list[Path]
    teacher_space: bool = True


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", name).strip("-")


def _pair(
    name: str, kind: str, paths: tuple[Path, Path], params: int, common: dict[str, Any]
) -> list[_Deployed]:
    """The fp32 and the int8 file of one model."""
    return [
        _Deployed(f"{name}, {p}", {"kind": kind, "path": str(path), **common}, params, [path])
        for p, path in zip(("fp32", "int8"), paths)
    ]


def _onnx_models(setup: Any, out_dir: Path, students: dict[str, Any]) -> list[_Deployed]:
    tokenizer = out_dir / "tokenizer.json"
    setup.tokenizer.backend_tokenizer.save(str(tokenizer))
    common = {"tokenizer": str(tokenizer), "max_length": MAX_LENGTH}
    fp32, int8 = out_dir / "original-fp32.onnx", out_dir / "original-int8.onnx"
    # every int8 file is checked on the training texts, as `shrink` would check it
    encode = tokenizer_from(str(tokenizer), MAX_LENGTH).encode_batch
    sample = [model_inputs(encode(setup.train[i : i + 32]), False) for i in range(0, SAMPLED, 32)]
    quantize_int8(export_original(setup.teacher, fp32), int8, samples=sample)
    models = _pair(TEACHER, "ids", (fp32, int8), parameter_count(setup.teacher), common)
    for name, model in students.items():
        fp32, int8 = (out_dir / f"{_slug(name)}-{p}.onnx" for p in ("fp32", "int8"))
        export_model(model, fp32)
        export_model(model, int8, quantize="int8", tokenizer=setup.tokenizer, texts=setup.train[:SAMPLED])
        models += _pair(name, "codepoints", (fp32, int8), parameter_count(model), common)
    return models


def _static_models(setup: Any, out_dir: Path) -> list[_Deployed]:
    directory = distil_peer(setup.model_dir, out_dir / "model2vec")
    raw = {"kind": "static", "path": str(directory), "max_length": MAX_LENGTH}
    mapping = write_map(setup, load(raw), out_dir / "model2vec-map.safetensors")
    tokens, dim = peer_shape(directory)
    files = [directory / name for name in COUNTED]
    return [
        _Deployed(f"{PEER}, raw", raw, tokens * dim, files, teacher_space=False),
        _Deployed(
            f"{PEER}, with its map", {**raw, "map": str(mapping)},
            tokens * dim + (dim + 1) * setup.targets.shape[1], [*files, mapping],
        ),
    ]  # fmt: skip


def quality(vectors: np.ndarray, targets: np.ndarray, teacher_space: bool) -> dict[str, float | None]:
    """`agreement`'s three figures; for vectors outside the teacher's space, only Spearman and
    NN agreement, which compare similarities within each space, with zero columns padding the
    narrower side to the other's width (zeros change no similarity)."""
    if teacher_space:
        return dict(agreement(vectors, targets))
    width = max(vectors.shape[1], targets.shape[1])
    padded = [np.pad(x, ((0, 0), (0, width - x.shape[1]))) for x in (vectors, targets)]
    return {**agreement(*padded), "mean_cosine": None}


def peer_rows(setup: Any, out_dir: Path, students: dict[str, Any], rounds: int) -> list[dict[str, Any]]:
    """One row per deployed model: the original and each student (`students`: name -> model
    with a HashEmbedding input layer) as ONNX files in fp32 and int8, then the static peer raw
    and with its map (last). `bytes` is the files' size on disk (no tokenizer.json: each row
    needs one); `sps_1` and `sps_32` the best of `rounds` rounds (all in `sps_rounds`);
    `peak_rss` the peak resident set of a fresh process that loads the model and embeds one
    batch, in bytes, nothing subtracted."""
    out_dir.mkdir(parents=True, exist_ok=True)
    models = [*_onnx_models(setup, out_dir, students), *_static_models(setup, out_dir)]
    held_out = list(setup.held_out)
    rates = throughput({m.name: m.spec for m in models}, held_out[:TIMED], BATCHES, rounds)
    rows = []
    for m in models:
        vectors = embed_all(load(m.spec), held_out)
        row = {
            "name": m.name,
            "bytes": sum(f.stat().st_size for f in m.files),
            "files": [f.name for f in m.files],
            "params": m.params,
            **quality(vectors, setup.targets, m.teacher_space),
            **{f"sps_{b}": max(r) for b, r in rates[m.name].items()},
            "sps_rounds": rates[m.name],
            "peak_rss": peak_rss(m.spec, held_out[:RSS_BATCH]),
        }
        if m.spec["kind"] == "static":
            row["vectors_dtype"] = peer_dtype(Path(m.spec["path"]))
        rows.append(row)
    return rows
