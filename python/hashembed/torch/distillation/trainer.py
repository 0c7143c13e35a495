"""Distillation on transformers' `Trainer`: the loss is hashembed's (the teacher's hidden
states and pooled embedding, computed inside it without gradients), the loop, devices,
mixed precision, clipping, schedule, logging and checkpoints are the Trainer's. What is
hashembed's besides the loss: the input layer's faster learning rate (`create_optimizer`),
dropout held off in the student, a time budget and the held-out evaluation as callbacks."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import torch
import transformers
from torch import nn

from ...progress import Progress
from .loss import distillation_loss


class DistillationTrainer(transformers.Trainer):
    """A `Trainer` of a student against `teacher`: `matched` maps student hidden states to
    the teacher's, `projection` is a narrower student's output projection; the parameters
    in `fast` (the new input layer) learn at `fast_scale` times the learning rate."""

    def __init__(
        self,
        *,
        teacher: Any,
        matched: Any,
        projection: Any,
        fast: list[nn.Parameter],
        fast_scale: float,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.teacher, self.matched, self.projection = teacher, matched, projection
        self.fast, self.fast_scale = fast, fast_scale
        self.last_loss = math.nan

    def compute_loss(
        self,
        model: nn.Module,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: Any = None,
    ) -> Any:
        with torch.no_grad():
            want = self.teacher(**inputs, output_hidden_states=True)
        got = model(**inputs, output_hidden_states=True)
        loss = distillation_loss(got, want, inputs["attention_mask"], self.matched, self.projection)
        self.last_loss = float(loss.detach())
        if not math.isfinite(self.last_loss):
            step, lr = self.state.global_step, self.args.learning_rate
            raise FloatingPointError(
                f"the loss became {self.last_loss} at step {step}: try a lower lr than {lr}"
            )
        return (loss, got) if return_outputs else loss

    def create_optimizer(self, model: Any = None) -> torch.optim.Optimizer:
        """AdamW over two groups: the body at the learning rate, the new input layer (which
        starts from a fit, not from pretraining, so has the most to learn) faster."""
        if self.optimizer is None:
            fresh = {id(p) for p in self.fast}
            trained: Any = self.model if model is None else model
            body = [p for p in trained.parameters() if id(p) not in fresh and p.requires_grad]
            lr = self.args.learning_rate
            groups: list[dict[str, Any]] = [
                {"params": body},
                {"params": list(self.fast), "lr": lr * self.fast_scale},
            ]
            self.optimizer = torch.optim.AdamW(groups, lr=lr, weight_decay=self.args.weight_decay)
        return self.optimizer


@contextlib.contextmanager
def no_dropout(model: nn.Module) -> Iterator[None]:
    """Dropout off in `model` while the Trainer sets it to train mode: the target is the
    teacher's deterministic output. The rates are put back after."""
    rates = [(m, m.p) for m in model.modules() if isinstance(m, nn.Dropout)]
    for m, _ in rates:
        m.p = 0.0
    try:
        yield
    finally:
        for m, p in rates:
            m.p = p


class Watch(transformers.TrainerCallback):
    """The time budget, the held-out evaluation every `eval_every` steps, the progress bar
    and the history: wall and CPU seconds of training, without the time spent evaluating."""

    def __init__(
        self,
        *,
        max_seconds: float | None,
        eval_every: int | None,
        evaluate: Callable[[], dict[str, float]],
        loss: Callable[[], float],
        log_every: int,
        bar: Progress,
        batch_size: int,
    ) -> None:
        self.max_seconds, self.eval_every, self.evaluate = max_seconds, eval_every, evaluate
        self.loss, self.log_every, self.bar, self.batch_size = loss, log_every, bar, batch_size
        self.history: list[dict[str, float]] = []
        self._wall = self._cpu = 0.0

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._wall, self._cpu = time.monotonic(), time.process_time()

    def read(self) -> tuple[float, float]:
        return time.monotonic() - self._wall, time.process_time() - self._cpu

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        wall, cpu = time.monotonic(), time.process_time()
        try:
            yield
        finally:
            self._wall += time.monotonic() - wall
            self._cpu += time.process_time() - cpu

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        done, loss = state.global_step, self.loss()
        self.bar.note = f"loss {loss:.4f}"
        if self.max_seconds is not None:
            self.bar.time_left = self.max_seconds - self.read()[0]
        self.bar.update(self.batch_size)
        entry: dict[str, float] = {}
        # the rates the scheduler has set for the next step, of the body and of the input layer
        body, fast = (float(g["lr"]) for g in kwargs["optimizer"].param_groups)
        if done % self.log_every == 0 or done == state.max_steps:
            entry = {"step": done, "loss": loss, "lr": body, "input_lr": fast}
        if self.eval_every is not None and done % self.eval_every == 0 and done < state.max_steps:
            with self.paused():
                entry = {"step": done, "loss": loss, "lr": body, "input_lr": fast, **self.evaluate()}
        if entry:
            entry["seconds"], entry["cpu_seconds"] = self.read()
            self.history.append(entry)
        if self.max_seconds is not None and self.read()[0] >= self.max_seconds:
            control.should_training_stop = True
