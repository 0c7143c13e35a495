"""`shrink`: distil a transformers encoder into a copy whose input embeddings are hash
embeddings; the training itself is `distillation`'s."""

from __future__ import annotations

import copy
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import torch

from .._embedder import HashEmbedder
from ..errors import ParameterError, ParameterTypeError, parameter_error
from ..progress import status
from ..vocab import vocab_tokens
from . import students
from .distillation import DEFAULT_LR, ShrinkResult, course, input_table, train
from .distillation.config import boolean
from .distillation.corpus import first
from .embedding import HashEmbedding, replace_input_embeddings

DEFAULT_PRESET = "robust"
"""The embedder `shrink` uses when given none (docs/compression.md compares the presets)."""

# How many training texts the principal directions of a narrower student are taken from: a
# few thousand token vectors of every layer pin down a few hundred directions.
_BASIS_ROWS = 256

# How many texts of a corpus read lazily (not a list) the token frequencies that weight the
# projection's fit are counted in: its first ones.
_WEIGHT_ROWS = 10_000

# Models pad their embedding matrix to a multiple of 8, 64 or 128 rows for speed; a tokenizer
# with more ids, or with fewer than the rows minus that padding, belongs to another model.
_MAX_PADDING_ROWS = 128


def _check_vocab(tokenizer: Any, tokens: list[str], rows: int) -> None:
    if not (rows - _MAX_PADDING_ROWS < len(tokens) <= rows):
        message = (
            f"the tokenizer's vocabulary ({len(tokens):,} tokens) does not match the model's "
            f"input embeddings ({rows:,} rows): pass the tokenizer the model was trained with"
        )
        raise parameter_error(ParameterError, message, "tokenizer", tokenizer)


def shrink(
    model: Any,
    tokenizer: Any,
    texts: Iterable[str],
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
    device: str | None = None,
    bf16: bool = False,
    fp16: bool = False,
    save_steps: int | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    logging_steps: int | None = None,
    report_to: str | list[str] = "none",
    num_layers: int | None = None,
    hidden_size: int | None = None,
    intermediate_size: int | None = None,
    num_attention_heads: int | None = None,
) -> ShrinkResult:
    """Distils a copy of `model` whose input embeddings are a `HashEmbedding`; returns a
    `ShrinkResult` with the student.

    `model` is a transformers encoder (BERT, MiniLM, ...), the teacher; it is left unchanged.
    `tokenizer` is its tokenizer (transformers or `tokenizers.Tokenizer`); `texts` are the
    training sentences: a list of str, or a corpus of any size read lazily (a
    `datasets.Dataset` or `IterableDataset`, `read_corpus` of a file, any iterable of str:
    `distil` says how each is read).

    The student is a copy of the teacher with its word-embedding table replaced by
    `HashEmbedding(tokenizer, embedder, out_dim=...)`: `embedder` defaults to the "robust"
    preset (dim 768), and when its dim differs from the width of the model's input embeddings
    (its hidden size; an ELECTRA's embedding_size) a trainable projection maps it there
    (`out_dim` defaults to that width). The projection starts as a ridge fit to the teacher's
    table, weighted by how often each token occurs in `texts` (`init_projection=False`:
    PyTorch's random initialisation). Training is `distil`'s; its arguments are passed on, as
    a `DistilConfig`. `num_layers`, `hidden_size`, `intermediate_size` and
    `num_attention_heads` make the student smaller than the teacher (`students`: encoders of
    BERT's layout, which RoBERTa, XLM-R, ELECTRA and MiniLM share, and DistilBERTs); a
    narrower one works in the principal directions of the teacher's hidden states on the first
    256 texts.

    Where `texts` is not a list, the token frequencies come from a sample, its first 10,000
    texts (in its own order, before any shuffling), which are tokenised up front; a list's
    are counted over all of it.
    """
    options = {
        "steps": steps, "batch_size": batch_size, "max_length": max_length, "lr": lr,
        "eval_every": eval_every, "max_seconds": max_seconds, "seed": seed, "progress": progress,
        "device": device, "bf16": bf16, "fp16": fp16, "save_steps": save_steps,
        "checkpoint_dir": checkpoint_dir, "resume": resume, "logging_steps": logging_steps,
        "report_to": report_to,
    }  # fmt: skip
    lesson, config = course(model, tokenizer, texts, eval_texts, options)
    init_projection = boolean("init_projection", init_projection)
    table = lesson.table
    shape = students.student_shape(
        model, num_layers=num_layers, hidden_size=hidden_size, intermediate_size=intermediate_size,
        num_attention_heads=num_attention_heads,
    )  # fmt: skip
    embedder = HashEmbedder.preset(DEFAULT_PRESET) if embedder is None else embedder
    if not isinstance(embedder, HashEmbedder):
        message = f"embedder must be a HashEmbedder, not {type(embedder).__name__}"
        raise parameter_error(ParameterTypeError, message, "embedder", embedder)
    width = input_width(model, shape, out_dim)
    if out_dim is None and embedder.dim != width:
        out_dim = width
    tokens = vocab_tokens(tokenizer)
    _check_vocab(tokenizer, tokens, int(table.shape[0]))

    torch.manual_seed(config.seed)
    encode = lesson.encoder
    if isinstance(lesson.texts, list):
        counted, what = lesson.texts, f"{len(lesson.texts):,} texts"
    else:  # read lazily: its first texts stand for it
        counted = first(lesson.texts, _WEIGHT_ROWS)
        what = f"the first {len(counted):,} texts"
    status("shrink", f"tokenizing {what}", config.progress)
    rows = encode.token_ids(counted)
    if shape is None:
        student = copy.deepcopy(model)
    else:
        basis = None
        if shape.hidden_size < int(model.config.hidden_size):
            starts = range(0, min(len(rows), _BASIS_ROWS), config.batch_size)
            sample = [encode.pad(rows[i : i + config.batch_size]) for i in starts]
            on_device = [(ids.to(table.device), mask.to(table.device)) for ids, mask in sample]
            basis = students.hidden_basis(model, on_device, shape.hidden_size)
        student, _ = students.build_student(model, shape, basis)
    # the student's own table, the teacher's seen through the basis where it is narrower
    target = input_table(student).detach()[: len(tokens)]
    replace_input_embeddings(student, tokens, embedder, out_dim)
    layer: HashEmbedding = student.get_input_embeddings()
    r2 = None
    if layer.projection is not None and init_projection:
        status("shrink", "fitting the projection to the model's embedding table", config.progress)
        weights = token_weights(rows, len(tokens))
        r2 = layer.fit_projection(target, weights=weights)
    result = train(model, student, lesson, config)
    result.projection_r2 = r2
    return result


def input_width(model: Any, shape: students.StudentShape | None, out_dim: Any = None) -> int:
    """The width of the input embeddings of `model`'s student of `shape` (None: its copy),
    which the hash projection outputs; a ParameterError naming `out_dim` where it is given
    and another."""
    width = int(input_table(model).shape[1]) if shape is None else shape.embedding_size
    if out_dim is not None and out_dim != width:
        message = f"out_dim must be the width of the student's input embeddings, {width}, not {out_dim!r}"
        raise parameter_error(ParameterError, message, "out_dim", out_dim)
    return width


def token_weights(rows: Sequence[Sequence[int]], vocab_size: int) -> torch.Tensor:
    """(vocab_size,) float64: one plus how often each id occurs in `rows`, the weights of the
    projection's ridge fit (rare tokens barely count, unseen ones still do)."""
    counts = Counter(i for r in rows for i in r)
    weights = torch.ones(vocab_size, dtype=torch.float64)
    weights[list(counts)] += torch.tensor(list(counts.values()), dtype=torch.float64)
    return weights
