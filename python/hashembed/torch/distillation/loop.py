"""`distil`, and the training loop `shrink` shares with it: a seeded order of the texts,
AdamW with a warm-up and a linear decay, evaluation outside the timed training, a history of
the loss and the metrics."""

from __future__ import annotations

import contextlib
import math
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ...errors import ParameterError, ParameterTypeError, parameter_error
from ...progress import Progress, status
from .. import students
from ..batches import Encoder, check_tokenizer, text_list
from ..embedding import HashEmbedding, input_layer, parameter_count, token_limit
from ..metrics import agreement, sentence_embeddings
from .config import DEFAULT_LR, INPUT_LR_SCALE, WARMUP, DistilConfig
from .loss import distillation_loss
from .result import ShrinkResult


class Clock:
    """Wall and CPU seconds of training, without the time spent evaluating."""

    def start(self) -> None:
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


class Schedule:
    """The learning-rate factor: a linear warm-up over the first 5% of training, then a linear
    decay to zero at its end. Training's progress is the share of `steps` done or, with a time
    budget, the share of `max_seconds` spent, whichever is larger, so a run cut short by its
    budget still ends its decay."""

    def __init__(self, steps: int, max_seconds: float | None, clock: Any):
        self.steps = steps
        self.max_seconds = max_seconds
        self.clock = clock

    def progress(self, step: int) -> float:
        done = step / self.steps
        if self.max_seconds is not None:
            done = max(done, self.clock.read()[0] / self.max_seconds)
        return min(done, 1.0)

    def __call__(self, step: int) -> float:
        done = self.progress(step)
        if done < WARMUP:
            # never above 1: a run of fewer than 20 steps has no step inside the warm-up
            return min(1.0, max(done, 1 / self.steps) / WARMUP)
        return max(0.0, (1.0 - done) / (1.0 - WARMUP))


@dataclass
class Course:
    """What a distillation reads, checked: the teacher's input table (its size is the
    result's `input_parameters_before`, its device the training's), the encoder of the
    tokenizer, the training texts and the evaluation texts."""

    table: torch.Tensor
    encoder: Encoder
    texts: list[str]
    eval_texts: list[str] | None


def input_table(model: Any, parameter: str = "model") -> torch.Tensor:
    """The weight of `model`'s input embedding table, or a ParameterError naming `parameter`."""
    old = input_layer(model)
    weight = getattr(old, "weight", None)
    if not isinstance(weight, torch.Tensor) or weight.dim() != 2 or isinstance(old, HashEmbedding):
        message = (
            f"model ({type(model).__name__}) has no input embedding table to replace: "
            "expected a transformers model whose get_input_embeddings() is an nn.Embedding"
        )
        raise parameter_error(ParameterError, message, parameter, model)
    return weight


def _check_loaded(model: nn.Module, parameter: str) -> None:
    """Refuses a model whose weights are not loaded (on the meta device: made with
    `init_empty_weights` or `device="meta"`), which fails only once a copy or step reads them."""
    if any(t.is_meta for t in (*model.parameters(), *model.buffers())):
        message = (
            f"{parameter} ({type(model).__name__}) has weights on the meta device, which hold no "
            "values: load its weights first (from_pretrained without device_map='meta')"
        )
        raise parameter_error(ParameterError, message, parameter, model)


def check_max_length(model: Any, name: str, max_length: int) -> None:
    """Refuses a `max_length` beyond the tokens `model` (the `name`: teacher or student)
    reads (`token_limit`), which would fail inside its forward, after the setup."""
    limit = token_limit(model)
    if limit is None or max_length <= limit:
        return
    positions = model.config.max_position_embeddings
    why = f"max_position_embeddings, {positions}"
    if limit != positions:
        why += f", less the {positions - limit} before its first position (padding_idx + 1)"
    message = (
        f"max_length={max_length} is more than the {name}'s {why}: it reads at most {limit} tokens a text"
    )
    raise parameter_error(ParameterError, message, "max_length", max_length)


def course(
    teacher: Any,
    tokenizer: Any,
    texts: Sequence[str],
    eval_texts: Sequence[str] | None,
    options: dict[str, Any],
    student: Any = None,
) -> tuple[Course, DistilConfig]:
    """The checked inputs of a distillation and its `DistilConfig` (made of `options`), in
    the order the arguments come. Refuses a model whose weights are not loaded, a
    `max_length` beyond the tokens a model reads and, where the
    student is to be a copy of the teacher (`student` None, `shrink`'s case), a teacher in a
    precision it cannot train in (its float32 input layer would meet float16 or bfloat16
    layers)."""
    table = input_table(teacher, "model" if student is None else "teacher")
    _check_loaded(teacher, "model" if student is None else "teacher")
    check_tokenizer(tokenizer)
    kept = text_list(texts, "texts", 1)
    held_out = None if eval_texts is None else text_list(eval_texts, "eval_texts", 3)
    config = DistilConfig(**options)
    if student is not None and not isinstance(input_layer(student), nn.Module):
        message = f"student ({type(student).__name__}) has no input embeddings"
        raise parameter_error(ParameterError, message, "student", student)
    if student is not None:
        _check_loaded(student, "student")
    for name, model in (("teacher", teacher), ("student", student)):
        check_max_length(model, name, config.max_length)
    if student is None and table.dtype not in (torch.float32, torch.float64):
        message = (
            f"the model's parameters are {table.dtype}: shrink trains a float32 or float64 copy of it; "
            "convert it first (model.float())"
        )
        raise parameter_error(ParameterTypeError, message, "model", table.dtype)
    return Course(table, Encoder(tokenizer, config.max_length), kept, held_out), config


def distil(
    teacher: Any,
    student: Any,
    tokenizer: Any,
    texts: Sequence[str],
    *,
    steps: int = 1000,
    batch_size: int = 32,
    max_length: int = 128,
    lr: float = DEFAULT_LR,
    eval_texts: Sequence[str] | None = None,
    progress: bool = True,
    seed: int = 0,
    eval_every: int | None = None,
    max_seconds: float | None = None,
) -> ShrinkResult:
    """Trains `student` (a transformers encoder with the teacher's hidden sizes and any input
    layer: `shrink` makes one, and docs/compression.md's baselines are others) to reproduce
    `teacher`, in place; returns a `ShrinkResult` with it.

    Each of `steps` steps takes `batch_size` of `texts` (a seeded random order, reshuffled
    once all are used), truncated to `max_length` tokens; the loss matches every hidden state
    of the teacher (relative squared error) and its mean-pooled sentence embeddings (one minus
    cosine). All student weights train, with AdamW at `lr` (the input layer, new, at 10x), a
    5% warm-up and a linear decay to zero. Dropout is off: the target is the teacher's
    deterministic output. On CPU the result is the same for the same `seed`.

    `max_seconds` is a time budget: training ends when it is spent or after `steps`,
    whichever comes first, and the warm-up and decay follow whichever is nearer its end, so a
    run the budget cuts short has still decayed (its result then depends on the machine's
    speed, not on the seed alone).

    With `eval_texts`, `.metrics` compares the student's and the teacher's sentence
    embeddings of them (mean cosine, Spearman of pairwise similarities, nearest-neighbour
    agreement), also every `eval_every` steps in `.history`; evaluation time is not counted
    as training time. `progress` draws a bar with the loss, sentences/s and the time left on
    stderr. The training options are a `DistilConfig`'s.
    """
    options = {
        "steps": steps, "batch_size": batch_size, "max_length": max_length, "lr": lr,
        "eval_every": eval_every, "max_seconds": max_seconds, "seed": seed, "progress": progress,
    }  # fmt: skip
    lesson, config = course(teacher, tokenizer, texts, eval_texts, options, student)
    return train(teacher, student, lesson, lesson.encoder.token_ids(lesson.texts), config)


def train(
    teacher: Any, student: Any, lesson: Course, rows: list[list[int]], config: DistilConfig
) -> ShrinkResult:
    """The training loop on the token ids `rows` of the lesson's texts, with the teacher in
    eval mode and its own mode restored afterwards."""
    teacher_training = teacher.training
    teacher.eval()
    try:
        return _Run(teacher, student, lesson, config).train(rows)
    finally:
        teacher.train(teacher_training)


def _order(count: int, batch_size: int, seed: int) -> Iterator[list[int]]:
    """Batches of indices into `count` rows, in a seeded random order reshuffled once all
    are used; the first order is drawn now, before the clock starts."""
    order = list(range(count))
    shuffle = random.Random(seed)
    shuffle.shuffle(order)
    return _batches(order, shuffle, batch_size)


def _batches(order: list[int], shuffle: random.Random, batch_size: int) -> Iterator[list[int]]:
    cursor = 0
    while True:
        if cursor + batch_size > len(order) and cursor > 0:
            shuffle.shuffle(order)
            cursor = 0
        yield order[cursor : cursor + batch_size]
        cursor += batch_size


class _Run:
    """One training run: the student's optimiser, the clock and schedule, the evaluation."""

    def __init__(self, teacher: Any, student: Any, lesson: Course, config: DistilConfig):
        self.teacher, self.student, self.lesson, self.config = teacher, student, lesson, config
        self.layer = student.get_input_embeddings()
        self.matched = students.hidden_state_map(teacher, student)
        self.projection = students.output_projection(student)
        self.device = lesson.table.device
        student.to(self.device)
        student.eval()  # dropout off; gradients flow all the same
        fresh = {id(p) for p in self.layer.parameters()}
        body = [p for p in student.parameters() if id(p) not in fresh]
        groups: list[dict[str, Any]] = [
            {"params": body},
            {"params": list(self.layer.parameters()), "lr": config.lr * INPUT_LR_SCALE},
        ]
        self.optimizer = torch.optim.AdamW(groups, lr=config.lr)
        self.base_lrs = [group["lr"] for group in self.optimizer.param_groups]
        self.clock = Clock()
        self.schedule = Schedule(config.steps, config.max_seconds, self.clock)
        self.targets = None
        self.initial: dict[str, float] = {}
        if lesson.eval_texts is not None:
            what = f"evaluating the teacher and the untrained student on {len(lesson.eval_texts):,} texts"
            status("shrink", what, config.progress)
            self.targets = self._embed(teacher)
            self.initial = agreement(self._embed(student), self.targets)

    def _embed(self, model: Any) -> Any:
        return sentence_embeddings(model, self.lesson.encoder, self.lesson.eval_texts or [])

    def evaluate(self) -> dict[str, float]:
        """The student's agreement with the teacher on the evaluation texts (none: {})."""
        if self.targets is None:
            return {}
        with self.clock.paused():
            return agreement(self._embed(self.student), self.targets)

    def step(self, step: int, ids: torch.Tensor, mask: torch.Tensor) -> float:
        """One optimiser step on a batch; its loss."""
        with torch.no_grad():
            want = self.teacher(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        got = self.student(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        loss = distillation_loss(got, want, mask, self.matched, self.projection)
        value = loss.detach().item()
        if not math.isfinite(value):
            raise FloatingPointError(
                f"the loss became {value} at step {step}: try a lower lr than {self.config.lr}"
            )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.student.parameters(), 1.0)
        factor = self.schedule(step)
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base * factor
        self.optimizer.step()
        return value

    def train(self, rows: list[list[int]]) -> ShrinkResult:
        config, encoder = self.config, self.lesson.encoder
        history: list[dict[str, float]] = []
        log_every = max(1, config.steps // 100)
        done = sentences = 0
        value = math.nan
        batches = _order(len(rows), config.batch_size, config.seed)
        bar = Progress(
            config.steps * config.batch_size, label="shrink", unit="sentences", enabled=config.progress,
            min_interval=1.0,
        )  # fmt: skip
        self.clock.start()
        with bar:
            for step, picked in zip(range(config.steps), batches):
                ids, mask = encoder.pad([rows[i] for i in picked])
                value = self.step(step, ids.to(self.device), mask.to(self.device))
                done, sentences = step + 1, sentences + len(picked)
                bar.note = f"loss {value:.4f}"
                if config.max_seconds is not None:
                    bar.time_left = config.max_seconds - self.clock.read()[0]
                bar.update(len(picked))
                entry: dict[str, float] = {}
                if done % log_every == 0 or done == config.steps:
                    entry = {"step": done, "loss": value}
                if config.eval_every is not None and done % config.eval_every == 0 and done < config.steps:
                    entry = {"step": done, "loss": value, **self.evaluate()}
                if entry:
                    entry["seconds"], entry["cpu_seconds"] = self.clock.read()
                    history.append(entry)
                if self.schedule.progress(done) >= 1.0:
                    break
        return self._result(history, done, sentences, value)

    def _result(
        self, history: list[dict[str, float]], done: int, sentences: int, value: float
    ) -> ShrinkResult:
        seconds, cpu_seconds = self.clock.read()
        if self.lesson.eval_texts is not None:
            status(
                "shrink",
                f"evaluating the student on {len(self.lesson.eval_texts):,} texts",
                self.config.progress,
            )
        metrics = self.evaluate()
        if metrics and self.config.eval_every is not None:
            history.append(
                {"step": done, "loss": value, **metrics, "seconds": seconds, "cpu_seconds": cpu_seconds}
            )
        for p in self.student.parameters():
            p.grad = None
        return ShrinkResult(
            model=self.student,
            metrics=metrics,
            initial_metrics=self.initial,
            parameters_before=parameter_count(self.teacher),
            parameters_after=parameter_count(self.student),
            input_parameters_before=int(self.lesson.table.numel()),
            input_parameters_after=parameter_count(self.layer),
            steps=done,
            sentences=sentences,
            seconds=seconds,
            cpu_seconds=cpu_seconds,
            projection_r2=None,
            history=history,
        )
