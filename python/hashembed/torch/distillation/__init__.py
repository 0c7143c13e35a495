"""Distillation: training a student encoder to reproduce its teacher (`distil`), the loop
`shrink` trains its hash-embedding student with. `DistilConfig` holds the training options,
`distillation_loss` the objective, `ShrinkResult` what a run returns."""

from __future__ import annotations

from .config import DEFAULT_LR, INPUT_LR_SCALE, WARMUP, DistilConfig
from .loop import Course, check_max_length, course, distil, input_table, processes, train
from .loss import distillation_loss
from .result import ShrinkResult
from .trainer import DistillationTrainer

__all__ = [
    "DEFAULT_LR",
    "INPUT_LR_SCALE",
    "WARMUP",
    "Course",
    "DistilConfig",
    "DistillationTrainer",
    "ShrinkResult",
    "check_max_length",
    "course",
    "distil",
    "distillation_loss",
    "input_table",
    "processes",
    "train",
]
