"""`DistilConfig`: how `distil` (and `shrink`, which calls it) trains, checked once."""

from __future__ import annotations

import math
import numbers
import operator
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...errors import ParameterError, ParameterTypeError, parameter_error

DEFAULT_LR = 5e-5
"""AdamW's learning rate for the transformer layers (docs/compression.md compares others)."""

WARMUP = 0.05
"""The share of training over which the learning rate warms up."""

INPUT_LR_SCALE = 10.0
"""How much faster than the rest of the model the new input layer learns: it starts from a
fit, not from pretraining, so it has the most to learn."""


# No run needs more; beyond it, counts overflow only after the setup: max_length in the
# tokenizer (a Rust usize), steps x batch_size in the progress bar's floats.
_MAX_INT = 2**63 - 1


def _int(name: str, value: Any, minimum: int) -> int:
    """`value` (an int or NumPy integer) as an int from `minimum` to 2**63 - 1."""
    try:
        n = None if isinstance(value, bool) else operator.index(value)
    except TypeError:
        n = None
    if n is None:
        message = f"{name} must be an int >= {minimum}, not {type(value).__name__}"
        raise parameter_error(ParameterTypeError, message, name, value)
    if n < minimum:
        raise parameter_error(ParameterError, f"{name} must be an int >= {minimum}, not {n}", name, n)
    if n > _MAX_INT:
        raise parameter_error(ParameterError, f"{name}={n} is more than 2**63 - 1", name, n)
    return n


def _optional_count(name: str, value: Any) -> int | None:
    return None if value is None else _int(name, value, 1)


def _positive_float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        message = f"{name} must be a finite number > 0, not {type(value).__name__}"
        raise parameter_error(ParameterTypeError, message, name, value)
    try:
        x = float(value)
    except OverflowError:  # an int beyond the floats
        x = math.inf
    if not math.isfinite(x) or x <= 0:
        message = f"{name} must be a finite number > 0, not {value!r}"
        raise parameter_error(ParameterError, message, name, value)
    return x


def boolean(name: str, value: Any) -> bool:
    """`value` (a bool or NumPy bool) as a bool: a str such as "no" would be true."""
    if not isinstance(value, (bool, np.bool_)):
        message = f"{name} must be a bool, not {type(value).__name__}"
        raise parameter_error(ParameterTypeError, message, name, value)
    return bool(value)


def _seed(value: Any) -> int:
    """`value` as a seed torch.manual_seed takes."""
    try:
        n = None if isinstance(value, bool) else operator.index(value)
    except TypeError:
        n = None
    if n is None:
        message = f"seed must be an int, not {type(value).__name__}"
        raise parameter_error(ParameterTypeError, message, "seed", value)
    if not -(2**63) <= n < 2**64:
        message = f"seed={n} is out of range: torch.manual_seed takes -2**63 <= seed < 2**64"
        raise parameter_error(ParameterError, message, "seed", n)
    return n


def _device(value: Any) -> str:
    """`value` as the name of a device torch has here; None picks CUDA, else MPS, else CPU."""
    import torch

    if value is None:
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        return "mps" if mps is not None and mps.is_available() else "cpu"
    if not isinstance(value, str):
        message = f"device must be a str such as 'cpu' or 'cuda', not {type(value).__name__}"
        raise parameter_error(ParameterTypeError, message, "device", value)
    try:
        device = torch.device(value)
    except RuntimeError:
        message = f"device={value!r} is not a device: one of 'cpu', 'cuda', 'cuda:N', 'mps'"
        raise parameter_error(ParameterError, message, "device", value) from None
    mps = getattr(torch.backends, "mps", None)
    missing = {
        "cuda": not torch.cuda.is_available(),
        "mps": not (mps is not None and mps.is_available()),
    }
    if missing.get(device.type):
        message = f"device={value!r}: this torch has no {device.type.upper()} device"
        raise parameter_error(ParameterError, message, "device", value)
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        count = torch.cuda.device_count()
        message = f"device={value!r}: this machine has {count} CUDA device(s)"
        raise parameter_error(ParameterError, message, "device", value)
    if device.type not in ("cpu", "cuda", "mps"):
        message = f"device={value!r} is not one training runs on: one of 'cpu', 'cuda', 'cuda:N', 'mps'"
        raise parameter_error(ParameterError, message, "device", value)
    return str(device)


def _report_to(value: Any) -> str | list[str]:
    """The Trainer's `report_to`: "none", "all", an integration's name or a list of them."""
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        message = f"report_to must be a str or a list of str, not {type(value).__name__}"
        raise parameter_error(ParameterTypeError, message, "report_to", value)
    from transformers.integrations import get_available_reporting_integrations

    known = {"none", "all", *get_available_reporting_integrations()}
    unknown = [n for n in names if n not in known]
    if unknown:
        have = ", ".join(sorted(known))
        message = f"report_to={unknown[0]!r} is not installed or not an integration: one of {have}"
        raise parameter_error(ParameterError, message, "report_to", value)
    return value if isinstance(value, str) else list(value)


def _directory(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
        message = f"checkpoint_dir must be a path, not {value!r}"
        raise parameter_error(ParameterTypeError, message, "checkpoint_dir", value)
    path = os.fspath(value)
    if os.path.exists(path) and not os.path.isdir(path):
        message = f"checkpoint_dir {path}: is a file, not a directory"
        raise parameter_error(ParameterError, message, "checkpoint_dir", value)
    return str(path)


def _check_precision(device: str, bf16: bool, fp16: bool) -> None:
    """bf16 and fp16 where the device has them (torch's autocast): bf16 on the CPU and on a
    GPU that supports it, fp16 on a GPU."""
    import torch

    if bf16 and fp16:
        raise parameter_error(ParameterError, "bf16 and fp16 are two precisions: pass one", "fp16", fp16)
    kind = device.split(":")[0]
    if fp16 and kind == "cpu":
        message = "fp16=True needs a GPU (device='cuda' or 'mps'): on the CPU, mixed precision is bf16"
        raise parameter_error(ParameterError, message, "fp16", fp16)
    if bf16 and kind == "cuda" and not torch.cuda.is_bf16_supported():
        message = f"bf16=True: the GPU {torch.cuda.get_device_name()} has no bfloat16; pass fp16=True"
        raise parameter_error(ParameterError, message, "bf16", bf16)


@dataclass(frozen=True)
class DistilConfig:
    """The training options of `distil` and `shrink`, as Python numbers and bools (NumPy
    scalars are taken; counts up to 2**63 - 1); an invalid one is a `ParameterError` or
    `ParameterTypeError` naming it.

    Each of `steps` steps takes `batch_size` texts, truncated to `max_length` tokens, with
    AdamW at `lr`; `max_seconds` is a time budget; with evaluation texts, the student is also
    evaluated every `eval_every` steps; `seed` fixes the order of the texts (and
    `shrink` seeds torch with it); `progress` draws a bar on stderr. `device` is where the
    teacher and the student run ("cpu", "cuda", "cuda:N", "mps"; None: CUDA if there is
    one, else MPS, else the CPU); `bf16` or `fp16` train in mixed precision (autocast; the
    student's weights stay float32): bf16 on the CPU or a GPU that has it, fp16 on a GPU.
    Every `save_steps` steps a checkpoint is written into `checkpoint_dir`
    (`checkpoint-N/`: the student, optimiser, scheduler, data position and RNG states);
    `resume` continues from its latest. The loss and learning rate are logged every
    `logging_steps` steps (default: every 1% of the steps) into `.history` and to the
    Trainer's `report_to` integrations ("tensorboard", "wandb", ...: they write into
    `checkpoint_dir`).
    """

    steps: int = 1000
    batch_size: int = 32
    max_length: int = 128
    lr: float = DEFAULT_LR
    eval_every: int | None = None
    max_seconds: float | None = None
    seed: int = 0
    progress: bool = True
    device: str | None = None
    bf16: bool = False
    fp16: bool = False
    save_steps: int | None = None
    checkpoint_dir: str | os.PathLike[str] | None = None
    resume: bool = False
    logging_steps: int | None = None
    report_to: str | list[str] = "none"

    def __post_init__(self) -> None:
        budget = self.max_seconds
        checked = {
            "steps": _int("steps", self.steps, 1),
            "batch_size": _int("batch_size", self.batch_size, 1),
            "max_length": _int("max_length", self.max_length, 2),
            "lr": _positive_float("lr", self.lr),
            "eval_every": _optional_count("eval_every", self.eval_every),
            "max_seconds": None if budget is None else _positive_float("max_seconds", budget),
            "seed": _seed(self.seed),
            "progress": boolean("progress", self.progress),
            "device": _device(self.device),
            "bf16": boolean("bf16", self.bf16),
            "fp16": boolean("fp16", self.fp16),
            "save_steps": _optional_count("save_steps", self.save_steps),
            "checkpoint_dir": _directory(self.checkpoint_dir),
            "resume": boolean("resume", self.resume),
            "logging_steps": None
            if self.logging_steps is None
            else _int("logging_steps", self.logging_steps, 1),
            "report_to": _report_to(self.report_to),
        }
        for name, value in checked.items():
            object.__setattr__(self, name, value)  # frozen: set once, here
        _check_precision(str(self.device), bool(self.bf16), bool(self.fp16))
        for name in ("save_steps", "resume", "report_to"):
            if getattr(self, name) not in (None, False, "none", []) and self.checkpoint_dir is None:
                message = f"{name} needs checkpoint_dir, the directory the checkpoints go to"
                raise parameter_error(ParameterError, message, "checkpoint_dir", None)
