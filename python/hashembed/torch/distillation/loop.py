"""`distil`, and the training `shrink` shares with it: the checked inputs (`course`) handed
to `DistillationTrainer`, transformers' Trainer with hashembed's loss, a seeded order of the
texts, AdamW with a warm-up and a linear decay; evaluation outside the timed training, a
history of the loss and the metrics."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import transformers
from torch import nn

from ...errors import ParameterError, ParameterTypeError, parameter_error
from ...progress import Progress, status
from .. import students
from ..batches import Encoder, check_tokenizer, text_list
from ..embedding import HashEmbedding, input_layer, parameter_count, token_limit
from ..metrics import agreement, sentence_embeddings
from . import checkpoints
from .config import DEFAULT_LR, INPUT_LR_SCALE, WARMUP, DistilConfig
from .corpus import Corpus, Stream, as_corpus, training_set
from .result import ShrinkResult
from .trainer import DistillationTrainer, Watch, no_dropout


@dataclass
class Course:
    """What a distillation reads, checked: the teacher's input table (its size is the
    result's `input_parameters_before`, its device the training's), the encoder of the
    tokenizer, the training texts (a list, or a `corpus` read lazily) and the evaluation
    texts."""

    table: torch.Tensor
    encoder: Encoder
    texts: Corpus
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
    texts: Iterable[str],
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
    kept, _ = as_corpus(texts, "texts")
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
    texts: Iterable[str],
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
    device: str | None = None,
    bf16: bool = False,
    fp16: bool = False,
    save_steps: int | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    logging_steps: int | None = None,
    report_to: str | list[str] = "none",
) -> ShrinkResult:
    """Trains `student` (a transformers encoder with the teacher's hidden sizes and any input
    layer: `shrink` makes one, and docs/compression.md's baselines are others) to reproduce
    `teacher`, in place; returns a `ShrinkResult` with it.

    Training is transformers' `Trainer` (`DistillationTrainer`), on `device` (default CUDA,
    else MPS, else the CPU; the teacher runs there too and is put back after), in mixed
    precision with `bf16` or `fp16`. Each of `steps` steps takes `batch_size` of `texts` (a
    seeded random order, reshuffled once all are used), tokenised per batch and truncated to
    `max_length` tokens; the loss matches every hidden state of the teacher (relative squared
    error) and its mean-pooled sentence embeddings (one minus cosine), the teacher's computed
    inside it without gradients. All student weights train, with AdamW at `lr` (the input
    layer, new, at 10x), a 5% warm-up and a linear decay to zero, gradients clipped at norm
    1. Dropout is off: the target is the teacher's deterministic output. On CPU the result
    is the same for the same `seed`.

    `texts` is a list of str, held in memory, or a corpus of any size read lazily: a
    `datasets.Dataset` (its "text" column, or its only column of str) sampled row by row in
    the same seeded order, or a stream, a `datasets.IterableDataset` (such as `read_corpus`
    gives of a text, JSON Lines or Parquet file) or any other iterable of str, read in its
    order through a shuffle buffer of `corpus.SHUFFLE_BUFFER` texts seeded by `seed`, and read
    again, reshuffled, as often as the steps need (a one-shot iterator, such as a generator,
    is read once: training ends with it). Blank texts are left out; a text that is no str or
    not valid Unicode is a ParameterError with its index, where it is read. Under several
    processes the first reads a stream and hands out its batches (accelerate's dispatch).

    `max_seconds` is a time budget: training ends when it is spent or after `steps`,
    whichever comes first; the schedule follows the steps, so give steps the budget can hold
    for the learning rate to have decayed when it ends.

    With `eval_texts`, `.metrics` compares the student's and the teacher's sentence
    embeddings of them (mean cosine, Spearman of pairwise similarities, nearest-neighbour
    agreement), also every `eval_every` steps in `.history`; evaluation time is not counted
    as training time. `progress` draws a bar with the loss, sentences/s and the time left on
    stderr. The training options are a `DistilConfig`'s.
    """
    options = {
        "steps": steps, "batch_size": batch_size, "max_length": max_length, "lr": lr,
        "eval_every": eval_every, "max_seconds": max_seconds, "seed": seed, "progress": progress,
        "device": device, "bf16": bf16, "fp16": fp16, "save_steps": save_steps,
        "checkpoint_dir": checkpoint_dir, "resume": resume, "logging_steps": logging_steps,
        "report_to": report_to,
    }  # fmt: skip
    lesson, config = course(teacher, tokenizer, texts, eval_texts, options, student)
    return train(teacher, student, lesson, config)


def train(teacher: Any, student: Any, lesson: Course, config: DistilConfig) -> ShrinkResult:
    """`student` trained against `teacher` on the lesson's texts by `DistillationTrainer`,
    with the teacher in eval mode and its own mode restored afterwards."""
    teacher_training, teacher_device = teacher.training, lesson.table.device
    teacher.eval()
    try:
        return _train(teacher, student, lesson, config)
    finally:
        teacher.train(teacher_training)
        teacher.to(teacher_device)


class _StreamEnd(transformers.TrainerCallback):
    """Training ends where a stream's pass does: a stream is read again without end but for
    a one-shot iterator (a generator), which has no second pass to start."""

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        control.should_training_stop = True


class _Collator:
    """A batch of texts tokenised, padded to its longest: tokenisation happens per batch."""

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder

    def __call__(self, texts: list[str]) -> dict[str, torch.Tensor]:
        ids, mask = self.encoder(texts)
        return {"input_ids": ids, "attention_mask": mask}


def _log_every(config: DistilConfig) -> int:
    return config.logging_steps or max(1, config.steps // 100)


def processes() -> tuple[int, int]:
    """(this process's rank, how many processes train): (0, 1) unless launched by torchrun
    or accelerate launch, which set RANK and WORLD_SIZE."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def _arguments(config: DistilConfig, device: torch.device, batch: int, world: int, out: str) -> Any:
    """The Trainer's arguments: `batch` is the global batch, split over `world` processes."""
    if device.type == "cuda" and device.index is not None and world == 1:
        torch.cuda.set_device(device)  # the Trainer trains on the current CUDA device
    return transformers.TrainingArguments(
        output_dir=out, max_steps=config.steps, per_device_train_batch_size=batch // world,
        ddp_backend="gloo" if world > 1 and device.type == "cpu" else None,
        learning_rate=config.lr, warmup_steps=WARMUP, lr_scheduler_type="linear", weight_decay=0.01,
        max_grad_norm=1.0, seed=config.seed, data_seed=config.seed, logging_strategy="steps",
        logging_steps=_log_every(config), report_to=config.report_to, disable_tqdm=True,
        remove_unused_columns=False,
        use_cpu=device.type == "cpu", dataloader_drop_last=True, optim="adamw_torch", bf16=config.bf16,
        fp16=config.fp16, save_strategy="no" if config.save_steps is None else "steps",
        save_steps=config.save_steps or 500,
    )  # fmt: skip


def _train(teacher: Any, student: Any, lesson: Course, config: DistilConfig) -> ShrinkResult:
    layer = student.get_input_embeddings()
    device = torch.device(str(config.device))  # DistilConfig resolved None to a device
    rank, world = processes()
    # a stream never runs out (it is read again, reshuffled), so each batch is full
    texts = lesson.texts
    batch = config.batch_size if isinstance(texts, Stream) else min(config.batch_size, len(texts))
    if batch % world:
        message = f"batch_size={batch} (the global batch) does not split over {world} processes"
        raise parameter_error(ParameterError, message, "batch_size", config.batch_size)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))  # each process its GPU
    teacher.to(device)
    student.to(device)
    # one process evaluates and draws the bar; all train
    shown = config.progress and rank == 0
    targets, initial = None, {}

    def embed(model: Any) -> Any:
        return sentence_embeddings(model, lesson.encoder, lesson.eval_texts or [])

    if lesson.eval_texts is not None and rank == 0:
        what = f"evaluating the teacher and the untrained student on {len(lesson.eval_texts):,} texts"
        status("shrink", what, shown)
        targets = embed(teacher)
        initial = agreement(embed(student), targets)

    def evaluate() -> dict[str, float]:
        return {} if targets is None else agreement(embed(student), targets)

    bar = Progress(config.steps * batch, label="shrink", unit="sentences", enabled=shown, min_interval=1.0)
    with contextlib.ExitStack() as stack:
        if config.checkpoint_dir is None:
            out = stack.enter_context(tempfile.TemporaryDirectory(prefix="hashembed-distil-"))
        else:
            out = str(config.checkpoint_dir)
        run = checkpoints.fingerprint(teacher, student, layer, lesson.table)
        start = checkpoints.prepare(Path(out), run, config.resume) if config.checkpoint_dir else None
        trainer = DistillationTrainer(
            teacher=teacher, matched=students.hidden_state_map(teacher, student),
            projection=students.output_projection(student), fast=list(layer.parameters()),
            fast_scale=INPUT_LR_SCALE, model=student, args=_arguments(config, device, batch, world, out),
            train_dataset=training_set(lesson.texts, config.seed), data_collator=_Collator(lesson.encoder),
        )  # fmt: skip
        watch = Watch(
            max_seconds=config.max_seconds, eval_every=config.eval_every, evaluate=evaluate,
            loss=lambda: trainer.last_loss, log_every=_log_every(config), bar=bar, batch_size=batch,
        )  # fmt: skip
        trainer.add_callback(watch)
        if isinstance(texts, Stream):
            trainer.add_callback(_StreamEnd())
        # the logs go to report_to's integrations and the history; the bar is the one display
        trainer.remove_callback(transformers.trainer_callback.PrinterCallback)
        with bar, no_dropout(student):
            try:
                trainer.train(resume_from_checkpoint=None if start is None else str(start))
            except KeyboardInterrupt:
                if config.save_steps is None or trainer.state.global_step == 0:
                    raise
                # what was trained is kept, where a resume finds it (the Trainer's own writer)
                trainer._save_checkpoint(student, trial=None)
                kept = Path(out) / f"checkpoint-{trainer.state.global_step}"
                raise KeyboardInterrupt(
                    f"interrupted at step {trainer.state.global_step}; saved {kept}"
                ) from None
        done = trainer.state.global_step
    student.eval()
    seconds, cpu_seconds = watch.read()
    history = watch.history
    if lesson.eval_texts is not None:
        status("shrink", f"evaluating the student on {len(lesson.eval_texts):,} texts", shown)
    metrics = evaluate()
    if metrics and config.eval_every is not None:
        loss = trainer.last_loss
        history.append(
            {"step": done, "loss": loss, **metrics, "seconds": seconds, "cpu_seconds": cpu_seconds}
        )
    for p in student.parameters():
        p.grad = None
    return ShrinkResult(
        model=student, metrics=metrics, initial_metrics=initial, parameters_before=parameter_count(teacher),
        parameters_after=parameter_count(student), input_parameters_before=int(lesson.table.numel()),
        input_parameters_after=parameter_count(layer), steps=done, sentences=done * batch, seconds=seconds,
        cpu_seconds=cpu_seconds, projection_r2=None, history=history,
    )  # fmt: skip
