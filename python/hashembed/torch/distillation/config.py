"""`DistilConfig`: how `distil` (and `shrink`, which calls it) trains, checked once."""

from __future__ import annotations

import math
import numbers
import operator
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


@dataclass(frozen=True)
class DistilConfig:
    """The training options of `distil` and `shrink`, as Python numbers and bools (NumPy
    scalars are taken; counts up to 2**63 - 1); an invalid one is a `ParameterError` or
    `ParameterTypeError` naming it.

    Each of `steps` steps takes `batch_size` texts, truncated to `max_length` tokens, with
    AdamW at `lr`; `max_seconds` is a time budget; with evaluation texts, the student is also
    evaluated every `eval_every` steps; `seed` fixes the order of the texts (and
    `shrink` seeds torch with it); `progress` draws a bar on stderr.
    """

    steps: int = 1000
    batch_size: int = 32
    max_length: int = 128
    lr: float = DEFAULT_LR
    eval_every: int | None = None
    max_seconds: float | None = None
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        budget = self.max_seconds
        checked = {
            "steps": _int("steps", self.steps, 1),
            "batch_size": _int("batch_size", self.batch_size, 1),
            "max_length": _int("max_length", self.max_length, 2),
            "lr": _positive_float("lr", self.lr),
            "eval_every": None if self.eval_every is None else _int("eval_every", self.eval_every, 1),
            "max_seconds": None if budget is None else _positive_float("max_seconds", budget),
            "seed": _seed(self.seed),
            "progress": boolean("progress", self.progress),
        }
        for name, value in checked.items():
            object.__setattr__(self, name, value)  # frozen: set once, here
