"""Part (c): students small enough for a device, each trained for a fixed number of steps and
saved, so the ONNX export and the side-by-side speed runs read them back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from hashembed import HashEmbedder
from hashembed.torch import load, save, shrink

from .pretrained import BATCH, MAX_LENGTH, Setup

DEFAULT = HashEmbedder()  # the spec's defaults: ahead of robust at equal steps in part (a)

MAIN = "6x384"
"""The same-size student, trained for the main time budget; the smaller ones train for a
fixed number of steps, so their figures do not depend on what else shares the machine."""

# name -> (description, shrink's arguments, steps; None for MAIN, which has minutes). Every
# student is far from converged at these steps, so each takes a higher learning rate than
# shrink's default, more for the narrower ones (part (c)'s text gives the measurement).
STUDENTS: dict[str, tuple[str, dict[str, Any], int | None]] = {
    MAIN: ("same size: 6 layers x 384, learning rate 1e-4", {"lr": 1e-4}, None),
    "3x384": ("3 layers x 384 (every other layer), learning rate 1e-4", {"num_layers": 3, "lr": 1e-4}, 500),
    "4x256": (
        "4 layers x 256, 8 heads, feed-forward 1024, learning rate 2e-4",
        {"num_layers": 4, "hidden_size": 256, "lr": 2e-4},
        800,
    ),
    "2x128": (
        "2 layers x 128, 4 heads, feed-forward 512, learning rate 2e-4",
        {"num_layers": 2, "hidden_size": 128, "lr": 2e-4},
        800,
    ),
}


def model_dir(results: Path, name: str) -> Path:
    return results / "models" / name


def run_student(
    setup: Setup, results: Path, name: str, steps: int, max_seconds: float | None, curve_points: int
) -> dict[str, Any]:
    """Trains student `name` for `steps` steps or `max_seconds`, saves it under `results`,
    and returns its figures."""
    description, options, _ = STUDENTS[name]
    result = shrink(
        setup.teacher, setup.tokenizer, setup.train, embedder=DEFAULT, steps=steps, batch_size=BATCH,
        max_length=MAX_LENGTH, eval_texts=setup.held_out, eval_every=max(1, steps // curve_points),
        max_seconds=max_seconds, progress=True, **options,
    )  # fmt: skip
    path = save(result.model, setup.tokenizer, model_dir(results, name))
    return {
        "name": name,
        "description": description,
        "options": options,
        "params": result.parameters_after,
        "input_params": result.input_parameters_after,
        "teacher_params": result.parameters_before,
        "metrics": result.metrics,
        "initial_metrics": result.initial_metrics,
        "steps": result.steps,
        "sentences": result.sentences,
        "seconds": result.seconds,
        "cpu_seconds": result.cpu_seconds,
        "history": result.history,
        "max_seconds": max_seconds,
        "threads": torch.get_num_threads(),
        "model_dir": str(path),
    }


def load_student(results: Path, name: str) -> tuple[Any, Any]:
    return load(model_dir(results, name))
