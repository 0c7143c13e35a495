"""The original model as one ONNX file, token ids in and sentence embeddings out, exported the
way hashembed.torch.export_model exports a student, so the two compare as deployed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import onnx
import torch
from hashembed.onnx import SENTENCE_OUTPUT
from hashembed.torch import mean_pool, trace_onnx

OPSET = 17


class _Pooled(torch.nn.Module):
    """The model with the pooling of its sentence embeddings: the mean over the mask, normalised."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return mean_pool(hidden, attention_mask)


def export_original(model: Any, path: Path) -> Path:
    """Writes `model` (a transformers encoder with its token table) to `path`: inputs
    `input_ids` and `attention_mask`, int64 (B, S); output `sentence_embedding` (B, hidden)."""
    # a padded example, so nothing traced assumes an all-ones mask
    ids = torch.tensor([[1, 2, 3], [1, 3, 0]])
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    axes = {"input_ids": {0: "B", 1: "S"}, "attention_mask": {0: "B", 1: "S"}, SENTENCE_OUTPUT: {0: "B"}}
    graph = trace_onnx(
        _Pooled(model), (ids, mask), input_names=["input_ids", "attention_mask"],
        output_names=[SENTENCE_OUTPUT], dynamic_axes=axes, opset=OPSET,
    )  # fmt: skip
    onnx.save(graph, str(path))
    return path
