"""The static peer: model2vec distilled from the same teacher (one vector per token, the mean of
a sentence's token vectors), and a least-squares map of its vectors into the teacher's space,
so that its mean cosine to the teacher means something."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from hashembed.torch import sentence_embeddings
from safetensors import safe_open
from safetensors.numpy import save_file

from .inference import Embed, embed_all
from .pretrained import MAX_LENGTH

PCA_DIMS = 256
MAP_SENTENCES = 4_000
"""Training sentences the map is fitted on: about 15 for each coefficient (256 weights and a
bias) of each of its outputs."""
COUNTED = ("model.safetensors", "config.json")
"""The files of a save counted as the model: what StaticModel.from_pretrained reads but the
tokenizer.json, which no row counts (every ONNX file needs one beside it too)."""


def distil_peer(model_dir: Path, out: Path) -> Path:
    """model2vec's vectors of every token of the teacher at `model_dir`, saved to `out`."""
    from model2vec.distill import distill

    distill(str(model_dir), pca_dims=PCA_DIMS, device="cpu").save_pretrained(out)
    return out


def peer_dtype(directory: Path) -> str:
    """The dtype save_pretrained wrote the vectors in (model2vec's distill gives float16)."""
    return json.loads((directory / "config.json").read_text(encoding="utf-8"))["embedding_dtype"]


def peer_shape(directory: Path) -> tuple[int, int]:
    """(tokens, dim) of the saved vectors."""
    with safe_open(str(directory / "model.safetensors"), framework="numpy") as f:
        tokens, dim = f.get_slice("embeddings").get_shape()
    return int(tokens), int(dim)


def fit_map(vectors: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(weight, bias), float32, of the least-squares fit of `targets` (unit vectors) by
    `vectors @ weight + bias`."""
    design = np.hstack([vectors.astype(np.float64), np.ones((len(vectors), 1))])
    solution = np.linalg.lstsq(design, targets.astype(np.float64), rcond=None)[0]
    # A dimension the teacher leaves at zero, below float32's resolution of a unit vector
    # (all-MiniLM-L6-v2 has two, at about 1e-33), is fitted as exactly zero: the fit gives it
    # coefficients of that size, whose products are subnormal and slow the matmul a hundredfold.
    solution[:, np.abs(targets).max(0) < np.finfo(np.float32).eps] = 0
    return solution[:-1].astype(np.float32), solution[-1].astype(np.float32)


def spaced(texts: Sequence[str], n: int) -> list[str]:
    """`n` texts spread over the whole list: the training text comes one source file after another."""
    return [texts[i] for i in np.linspace(0, len(texts) - 1, min(n, len(texts))).astype(int)]


def write_map(setup: Any, embed: Embed, path: Path) -> Path:
    """Fits the map from the peer's vectors (`embed`) of training sentences to the teacher's
    sentence embeddings of them, and saves it (float32 `weight` and `bias`) to `path`."""
    texts = spaced(setup.train, MAP_SENTENCES)
    targets = sentence_embeddings(setup.teacher, setup.tokenizer, texts, max_length=MAX_LENGTH)
    weight, bias = fit_map(embed_all(embed, texts), targets)
    save_file({"weight": weight, "bias": bias}, str(path))
    return path
