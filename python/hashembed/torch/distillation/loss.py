"""The distillation loss: a student's hidden states and sentence embeddings against its
teacher's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ..metrics import mean_pool


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
