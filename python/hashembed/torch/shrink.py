"""`shrink`: distil a transformers encoder into a copy whose input embeddings are hash embeddings."""

from __future__ import annotations

import contextlib
import copy
import math
import numbers
import operator
import random
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .._embedder import HashEmbedder
from ..errors import ParameterError, ParameterTypeError, parameter_error
from ..vocab import vocab_tokens
from . import students
from .batches import Encoder, check_tokenizer, text_list
from .embedding import HashEmbedding, parameter_count, replace_input_embeddings
from .metrics import agreement, mean_pool, sentence_embeddings

DEFAULT_PRESET = "robust"
"""The embedder `shrink` uses when given none (docs/compression.md compares the presets)."""

DEFAULT_LR = 5e-5
"""AdamW's learning rate for the transformer layers (docs/compression.md compares others)."""

WARMUP = 0.05
"""The share of training over which the learning rate warms up."""

INPUT_LR_SCALE = 10.0
"""How much faster than the rest of the model the new input layer learns: it starts from a
fit, not from pretraining, so it has the most to learn."""

# How many training texts the principal directions of a narrower student are taken from: a
# few thousand token vectors of every layer pin down a few hundred directions.
_BASIS_ROWS = 256

# Models pad their embedding matrix to a multiple of 8, 64 or 128 rows for speed; a tokenizer
# with more ids, or with fewer than the rows minus that padding, belongs to another model.
_MAX_PADDING_ROWS = 128


@dataclass
class ShrinkResult:
    """What `shrink` returns: the student and what it keeps of the teacher.

    `metrics` (empty without eval_texts) compares the student's mean-pooled sentence
    embeddings of eval_texts with the teacher's (see `hashembed.torch.metrics.agreement`);
    `initial_metrics` does the same for the student before training. Parameter counts are of
    the whole model and of its input embedding layer, before (teacher) and after (student).
    `history` has one entry per logged step: step, loss, seconds, and metrics where
    `eval_every` asked for them.
    """

    model: Any
    metrics: dict[str, float]
    initial_metrics: dict[str, float]
    parameters_before: int
    parameters_after: int
    input_parameters_before: int
    input_parameters_after: int
    steps: int
    sentences: int
    seconds: float
    cpu_seconds: float
    projection_r2: float | None
    history: list[dict[str, float]] = field(default_factory=list)

    def summary(self) -> str:
        """A small plain-text table of the sizes and metrics."""
        share = self.input_parameters_after / max(self.input_parameters_before, 1)
        before, after = self.input_parameters_before, self.input_parameters_after
        rows = [
            ("", "teacher", "student"),
            ("parameters", f"{self.parameters_before:,}", f"{self.parameters_after:,}"),
            ("input layer parameters", f"{before:,}", f"{after:,}"),
            ("input layer / table", "100.0%", f"{share:.1%}"),
        ]
        for name, value in self.metrics.items():
            if name in self.initial_metrics:
                rows.append((f"{name}, untrained", "", f"{self.initial_metrics[name]:.3f}"))
            rows.append((name, "1.000", f"{value:.3f}"))
        lines = [f"{a:28}{b:>14}{c:>14}" for a, b, c in rows]
        lines.append(
            f"trained {self.steps:,} steps, {self.sentences:,} sentences in {self.seconds:.0f} s "
            f"({self.cpu_seconds:.0f} s CPU)"
        )
        return "\n".join(lines)


def _positive(name: str, value: Any, minimum: int = 1) -> int:
    """`value` (an int or NumPy integer) as an int of at least `minimum`."""
    try:
        n = None if isinstance(value, bool) else operator.index(value)
    except TypeError:
        n = None
    if n is None:
        message = f"{name} must be an int >= {minimum}, not {type(value).__name__}"
        raise parameter_error(ParameterTypeError, message, name, value)
    if n < minimum:
        raise parameter_error(ParameterError, f"{name} must be an int >= {minimum}, not {n}", name, n)
    return n


def _positive_float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        message = f"{name} must be a finite number > 0, not {type(value).__name__}"
        raise parameter_error(ParameterTypeError, message, name, value)
    if not math.isfinite(value) or value <= 0:
        message = f"{name} must be a finite number > 0, not {value!r}"
        raise parameter_error(ParameterError, message, name, value)
    return float(value)


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


def _input_table(model: Any) -> torch.Tensor:
    get = getattr(model, "get_input_embeddings", None)
    old = get() if callable(get) else None
    weight = getattr(old, "weight", None)
    if not isinstance(weight, torch.Tensor) or weight.dim() != 2 or isinstance(old, HashEmbedding):
        raise ValueError(
            f"model ({type(model).__name__}) has no input embedding table to replace: "
            "expected a transformers model whose get_input_embeddings() is an nn.Embedding"
        )
    return weight


def _check_vocab(tokens: list[str], rows: int) -> None:
    if not (rows - _MAX_PADDING_ROWS < len(tokens) <= rows):
        raise ValueError(
            f"the tokenizer's vocabulary ({len(tokens):,} tokens) does not match the model's "
            f"input embeddings ({rows:,} rows): pass the tokenizer the model was trained with"
        )


def _layer_loss(student: torch.Tensor, teacher: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the unmasked positions, relative to the teacher's variance
    there, so every layer counts alike whatever its scale."""
    err = ((student - teacher).square() * weights).sum()
    scale = (teacher.square() * weights).sum().clamp(min=1e-12)
    return err / scale


def distillation_loss(
    student_out: Any,
    teacher_out: Any,
    mask: torch.Tensor,
    layers: Sequence[int] | None = None,
    projection: nn.Module | None = None,
) -> torch.Tensor:
    """Every hidden state (the embedding output and each layer's) matched to the teacher's,
    plus one minus the cosine of the mean-pooled sentence embeddings. A smaller student's
    hidden state i is matched to the teacher's `layers[i]` (`students.hidden_state_map`),
    through `projection` where it is narrower."""
    weights = mask.unsqueeze(-1).to(student_out.last_hidden_state.dtype)
    index = range(len(student_out.hidden_states)) if layers is None else layers
    lift = projection if projection is not None else nn.Identity()
    pairs = [(lift(s), teacher_out.hidden_states[i]) for s, i in zip(student_out.hidden_states, index)]
    hidden = sum(_layer_loss(s, t, weights) for s, t in pairs) / len(pairs)
    s_pool = mean_pool(student_out.last_hidden_state, mask, projection)
    t_pool = mean_pool(teacher_out.last_hidden_state, mask)
    return hidden + (1 - (s_pool * t_pool).sum(-1)).mean()


class _Clock:
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


def _check_options(
    steps: Any, batch_size: Any, max_length: Any, lr: Any, eval_every: Any, max_seconds: Any, seed: Any
) -> tuple[int, int, int, float, int | None, float | None, int]:
    """The training options, checked, as Python numbers (NumPy scalars are taken)."""
    return (
        _positive("steps", steps),
        _positive("batch_size", batch_size),
        _positive("max_length", max_length, 2),
        _positive_float("lr", lr),
        None if eval_every is None else _positive("eval_every", eval_every),
        None if max_seconds is None else _positive_float("max_seconds", max_seconds),
        _seed(seed),
    )


def _check_models(max_length: int, teacher: Any, student: Any = None) -> None:
    """Refuses a `max_length` beyond a model's position embeddings (a long text would fail
    inside its forward, after the setup) and, where the student is to be a copy of the teacher
    (`student` None), a teacher in a precision it cannot train in (its float32 input layer
    would meet float16 or bfloat16 layers)."""
    for name, model in (("teacher", teacher), ("student", student)):
        limit = getattr(getattr(model, "config", None), "max_position_embeddings", None)
        if isinstance(limit, int) and max_length > limit:
            message = (
                f"max_length={max_length} is more than the {name}'s max_position_embeddings, {limit}: "
                f"it reads at most {limit} tokens a text"
            )
            raise parameter_error(ParameterError, message, "max_length", max_length)
    dtype = _input_table(teacher).dtype
    if student is None and dtype not in (torch.float32, torch.float64):
        message = (
            f"the model's parameters are {dtype}: shrink trains a float32 or float64 copy of it; "
            "convert it first (model.float())"
        )
        raise parameter_error(ParameterTypeError, message, "model", dtype)


class _Schedule:
    """The learning-rate factor: a linear warm-up over the first 5% of training, then a linear
    decay to zero at its end. Training's progress is the share of `steps` done or, with a time
    budget, the share of `max_seconds` spent, whichever is larger, so a run cut short by its
    budget still ends its decay."""

    def __init__(self, steps: int, max_seconds: float | None, clock: _Clock):
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


def shrink(
    model: Any,
    tokenizer: Any,
    texts: Sequence[str],
    *,
    embedder: HashEmbedder | None = None,
    out_dim: int | None = None,
    steps: int = 1000,
    batch_size: int = 32,
    max_length: int = 128,
    lr: float = DEFAULT_LR,
    eval_texts: Sequence[str] | None = None,
    progress: bool = True,
    seed: int = 0,
    init_projection: bool = True,
    eval_every: int | None = None,
    max_seconds: float | None = None,
    num_layers: int | None = None,
    hidden_size: int | None = None,
    intermediate_size: int | None = None,
    num_attention_heads: int | None = None,
) -> ShrinkResult:
    """Distils a copy of `model` whose input embeddings are a `HashEmbedding`; returns a
    `ShrinkResult` with the student.

    `model` is a transformers encoder (BERT, MiniLM, ...), the teacher; it is left unchanged.
    `tokenizer` is its tokenizer (transformers or `tokenizers.Tokenizer`); `texts` are the
    training sentences.

    The student is a copy of the teacher with its word-embedding table replaced by
    `HashEmbedding(tokenizer, embedder, out_dim=...)`: `embedder` defaults to the "robust"
    preset (dim 768), and when its dim differs from the model's hidden size a trainable
    projection maps it there (`out_dim` defaults to the hidden size). The projection starts as
    a ridge fit to the teacher's table, weighted by how often each token occurs in `texts`
    (`init_projection=False`: PyTorch's random initialisation). Training is `distil`'s; its
    arguments are passed on.
    """
    from ..cli.progress import status  # the CLI's package, only when needed

    table = _input_table(model)
    check_tokenizer(tokenizer)
    texts = text_list(texts, "texts", 1)
    eval_list = None if eval_texts is None else text_list(eval_texts, "eval_texts", 3)
    steps, batch_size, max_length, lr, eval_every, max_seconds, seed = _check_options(
        steps, batch_size, max_length, lr, eval_every, max_seconds, seed
    )
    _check_models(max_length, model)
    shape = students.student_shape(
        getattr(model, "config", None), num_layers=num_layers, hidden_size=hidden_size,
        intermediate_size=intermediate_size, num_attention_heads=num_attention_heads,
    )  # fmt: skip
    width = int(table.shape[1]) if shape is None else shape.hidden_size
    embedder = HashEmbedder.preset(DEFAULT_PRESET) if embedder is None else embedder
    if not isinstance(embedder, HashEmbedder):
        raise TypeError(f"embedder must be a HashEmbedder, not {type(embedder).__name__}")
    if out_dim is None and embedder.dim != width:
        out_dim = width
    if out_dim is not None and out_dim != width:
        raise ValueError(f"out_dim must be the student's hidden size, {width}, not {out_dim!r}")
    tokens = vocab_tokens(tokenizer)
    _check_vocab(tokens, int(table.shape[0]))

    torch.manual_seed(seed)
    encode = Encoder(tokenizer, max_length)
    status("shrink", f"tokenizing {len(texts):,} texts", progress)
    rows = encode.token_ids(texts)
    target = table.detach()[: len(tokens)]
    if shape is None:
        student = copy.deepcopy(model)
    else:
        basis = None
        if shape.hidden_size < target.shape[1]:
            starts = range(0, min(len(rows), _BASIS_ROWS), batch_size)
            sample = [encode.pad(rows[i : i + batch_size]) for i in starts]
            on_device = [(ids.to(table.device), mask.to(table.device)) for ids, mask in sample]
            basis = students.hidden_basis(model, on_device, width)
            target = (target.to(basis.dtype) @ basis.to(table.device)).to(table.dtype)
        student, _ = students.build_student(model, shape, basis)
    replace_input_embeddings(student, tokens, embedder, out_dim)
    layer: HashEmbedding = student.get_input_embeddings()
    r2 = None
    if layer.projection is not None and init_projection:
        status("shrink", "fitting the projection to the model's embedding table", progress)
        weights = token_weights(rows, len(tokens))
        r2 = layer.fit_projection(target, weights=weights)
    result = _distil_rows(
        model, student, tokenizer, encode, rows, eval_list, steps, batch_size, lr, seed,
        progress, eval_every, max_seconds, table,
    )  # fmt: skip
    result.projection_r2 = r2
    return result


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
    stderr.
    """
    table = _input_table(teacher)
    check_tokenizer(tokenizer)
    texts = text_list(texts, "texts", 1)
    eval_list = None if eval_texts is None else text_list(eval_texts, "eval_texts", 3)
    steps, batch_size, max_length, lr, eval_every, max_seconds, seed = _check_options(
        steps, batch_size, max_length, lr, eval_every, max_seconds, seed
    )
    if not isinstance(getattr(student, "get_input_embeddings", lambda: None)(), nn.Module):
        raise ValueError(f"student ({type(student).__name__}) has no input embeddings")
    _check_models(max_length, teacher, student)
    encode = Encoder(tokenizer, max_length)
    return _distil_rows(
        teacher, student, tokenizer, encode, encode.token_ids(texts), eval_list, steps, batch_size, lr,
        seed, progress, eval_every, max_seconds, table,
    )  # fmt: skip


def token_weights(rows: Sequence[Sequence[int]], vocab_size: int) -> torch.Tensor:
    """(vocab_size,) float64: one plus how often each id occurs in `rows`, the weights of the
    projection's ridge fit (rare tokens barely count, unseen ones still do)."""
    counts = Counter(i for r in rows for i in r)
    weights = torch.ones(vocab_size, dtype=torch.float64)
    weights[list(counts)] += torch.tensor(list(counts.values()), dtype=torch.float64)
    return weights


def _distil_rows(teacher: Any, student: Any, *args: Any) -> ShrinkResult:
    """`_train` with the teacher in eval mode, its own mode restored afterwards."""
    teacher_training = teacher.training
    teacher.eval()
    try:
        return _train(teacher, student, *args)
    finally:
        teacher.train(teacher_training)


def _train(
    teacher: Any,
    student: Any,
    tokenizer: Any,
    encode: Encoder,
    rows: list[list[int]],
    eval_texts: list[str] | None,
    steps: int,
    batch_size: int,
    lr: float,
    seed: int,
    progress: bool,
    eval_every: int | None,
    max_seconds: float | None,
    table: torch.Tensor,
) -> ShrinkResult:
    from ..cli.progress import Progress, status

    layer = student.get_input_embeddings()
    matched = students.hidden_state_map(teacher, student)
    projection = students.output_projection(student)
    device = table.device
    student.to(device)
    student.eval()  # dropout off; gradients flow all the same
    fresh = {id(p) for p in layer.parameters()}
    body = [p for p in student.parameters() if id(p) not in fresh]
    optimizer = torch.optim.AdamW(
        [{"params": body}, {"params": list(layer.parameters()), "lr": lr * INPUT_LR_SCALE}], lr=lr
    )
    base_lrs = [group["lr"] for group in optimizer.param_groups]
    clock = _Clock()
    schedule = _Schedule(steps, max_seconds, clock)

    targets = None
    initial: dict[str, float] = {}
    if eval_texts is not None:
        what = f"evaluating the teacher and the untrained student on {len(eval_texts):,} texts"
        status("shrink", what, progress)
        targets = sentence_embeddings(teacher, tokenizer, eval_texts, max_length=encode.max_length)
        initial = agreement(
            sentence_embeddings(student, tokenizer, eval_texts, max_length=encode.max_length), targets
        )

    def evaluate() -> dict[str, float]:
        if targets is None:
            return {}
        with clock.paused():
            vectors = sentence_embeddings(student, tokenizer, eval_texts or [], max_length=encode.max_length)
            return agreement(vectors, targets)

    order = list(range(len(rows)))
    shuffle = random.Random(seed)
    shuffle.shuffle(order)
    cursor = 0
    history: list[dict[str, float]] = []
    log_every = max(1, steps // 100)
    clock.start()
    done = sentences = 0
    bar = Progress(steps * batch_size, label="shrink", unit="sentences", enabled=progress, min_interval=1.0)
    with bar:
        for step in range(steps):
            if cursor + batch_size > len(order) and cursor > 0:
                shuffle.shuffle(order)
                cursor = 0
            picked = order[cursor : cursor + batch_size]
            cursor += batch_size
            ids, mask = encode.pad([rows[i] for i in picked])
            ids, mask = ids.to(device), mask.to(device)
            with torch.no_grad():
                want = teacher(input_ids=ids, attention_mask=mask, output_hidden_states=True)
            got = student(input_ids=ids, attention_mask=mask, output_hidden_states=True)
            loss = distillation_loss(got, want, mask, matched, projection)
            value = loss.detach().item()
            if not math.isfinite(value):
                raise FloatingPointError(f"the loss became {value} at step {step}: try a lower lr than {lr}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(student.parameters(), 1.0)
            factor = schedule(step)
            for group, base in zip(optimizer.param_groups, base_lrs):
                group["lr"] = base * factor
            optimizer.step()
            done, sentences = step + 1, sentences + len(picked)
            bar.note = f"loss {value:.4f}"
            if max_seconds is not None:
                bar.time_left = max_seconds - clock.read()[0]
            bar.update(len(picked))
            entry: dict[str, float] = {}
            if done % log_every == 0 or done == steps:
                entry = {"step": done, "loss": value}
            if eval_every is not None and done % eval_every == 0 and done < steps:
                entry = {"step": done, "loss": value, **evaluate()}
            if entry:
                entry["seconds"], entry["cpu_seconds"] = clock.read()
                history.append(entry)
            if schedule.progress(done) >= 1.0:
                break
    seconds, cpu_seconds = clock.read()
    if eval_texts is not None:
        status("shrink", f"evaluating the student on {len(eval_texts):,} texts", progress)
    metrics = evaluate()
    if metrics and eval_every is not None:
        history.append(
            {"step": done, "loss": value, **metrics, "seconds": seconds, "cpu_seconds": cpu_seconds}
        )
    for p in student.parameters():
        p.grad = None
    return ShrinkResult(
        model=student,
        metrics=metrics,
        initial_metrics=initial,
        parameters_before=parameter_count(teacher),
        parameters_after=parameter_count(student),
        input_parameters_before=int(table.numel()),
        input_parameters_after=parameter_count(layer),
        steps=done,
        sentences=sentences,
        seconds=seconds,
        cpu_seconds=cpu_seconds,
        projection_r2=None,
        history=history,
    )
