"""How close a student's sentence embeddings are to its teacher's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import ParameterError, parameter_error
from .batches import Encoder
from .students import output_projection


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor, projection: nn.Module | None = None) -> torch.Tensor:
    """The mean of the unmasked token vectors, L2-normalised: the sentence embedding of
    sentence-transformers models such as all-MiniLM-L6-v2. A narrower student's
    `projection` (`hashembed.torch.students.output_projection`) maps the mean to the
    teacher's width first."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
    if projection is not None:
        pooled = projection(pooled)
    return nn.functional.normalize(pooled, dim=-1)


@torch.no_grad()
def sentence_embeddings(
    model: nn.Module, tokenizer: Any, texts: Sequence[str], *, batch_size: int = 64, max_length: int = 128
) -> np.ndarray:
    """(len(texts), hidden) float32 mean-pooled, normalised embeddings of `texts`.

    `tokenizer` is a transformers tokenizer, a `tokenizers.Tokenizer`, or an `Encoder` of
    either (which has its own `max_length`, and is not made anew for each call). Texts are
    batched in order of length, so little of each batch is padding."""
    encode = tokenizer if isinstance(tokenizer, Encoder) else Encoder(tokenizer, max_length)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out: np.ndarray | None = None
    try:
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            ids, mask = encode([texts[i] for i in chunk])
            ids, mask = ids.to(device), mask.to(device)
            hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
            vectors = mean_pool(hidden, mask, output_projection(model))
            if out is None:
                out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
            out[chunk] = vectors.float().cpu().numpy()
    finally:
        model.train(was_training)
    return np.zeros((0, 0), dtype=np.float32) if out is None else out


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks of `x` (0-based), ties given their mean rank as Spearman's coefficient wants."""
    order = np.argsort(x, kind="stable")
    sorted_x = x[order]
    starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])
    ends = np.r_[starts[1:], len(x)]
    mean_rank = (starts + ends - 1) / 2.0
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of two equally long vectors."""
    ra, rb = _ranks(np.asarray(a, dtype=np.float64)), _ranks(np.asarray(b, dtype=np.float64))
    ra -= ra.mean()
    rb -= rb.mean()
    denom = float(np.sqrt((ra * ra).sum() * (rb * rb).sum()))
    return float((ra * rb).sum() / denom) if denom > 0 else 0.0


def agreement(student: np.ndarray, teacher: np.ndarray) -> dict[str, float]:
    """Three figures for two (N, d) arrays of normalised sentence embeddings of the same texts:

    - `mean_cosine`: the mean cosine between each text's student and teacher vector;
    - `spearman`: Spearman's correlation of the N(N-1)/2 pairwise similarities, student
      against teacher (does the student rank pairs of sentences as the teacher does);
    - `nn_agreement`: how often a text's nearest other text is the same for both.
    """
    given = {"student": student, "teacher": teacher}
    student = np.asarray(student, dtype=np.float64)
    teacher = np.asarray(teacher, dtype=np.float64)
    if student.shape[0] != teacher.shape[0] or student.shape[0] < 3:
        name = "student" if student.shape[0] < 3 else "teacher"
        raise parameter_error(
            ParameterError,
            f"need the same >= 3 texts on both sides, got {student.shape[0]} and {teacher.shape[0]}",
            name,
            given[name],
        )
    cosine = float(np.mean(np.sum(student * teacher, axis=1)))
    sim_s, sim_t = student @ student.T, teacher @ teacher.T
    upper = np.triu_indices(len(student), k=1)
    rho = spearman(sim_s[upper], sim_t[upper])
    np.fill_diagonal(sim_s, -np.inf)
    np.fill_diagonal(sim_t, -np.inf)
    nn_same = float(np.mean(sim_s.argmax(1) == sim_t.argmax(1)))
    return {"mean_cosine": cosine, "spearman": rho, "nn_agreement": nn_same}
