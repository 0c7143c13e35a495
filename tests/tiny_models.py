"""The models the torch and ONNX tests share: a tiny BERT teacher with the real MiniLM WordPiece
vocabulary, a few steps of `shrink` of it, and the inputs its exported graph takes."""

from __future__ import annotations

import hashembed
import numpy as np
import pytest
import torch
import transformers
from _data import minilm_dir, stdlib_lines
from hashembed.torch import ShrinkResult, codepoints, shrink

TEXTS = [line for line in stdlib_lines(200_000) if len(line) > 20][:400]
EVAL = TEXTS[-40:]
TRAIN = TEXTS[:-40]
SMALL = hashembed.HashEmbedder.preset("robust", dim=64)


@pytest.fixture(scope="module")
def tokenizer():
    return transformers.AutoTokenizer.from_pretrained(str(minilm_dir()), local_files_only=True)


@pytest.fixture(scope="module")
def teacher():
    """A two-layer BERT of hidden size 32 over MiniLM's 30,522-token vocabulary, seeded."""
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=128,
    )  # fmt: skip
    return transformers.BertModel(config).eval()


def tiny(teacher, tokenizer, **kwargs) -> ShrinkResult:
    options = {"embedder": SMALL, "steps": 6, "batch_size": 8, "max_length": 32, "progress": False}
    return shrink(teacher, tokenizer, TRAIN, **{**options, **kwargs})


def onnx_inputs(tokenizer, sentences: list[str], max_length: int) -> dict[str, np.ndarray]:
    enc = tokenizer(sentences, padding=True, truncation=True, max_length=max_length)
    ids = np.array(enc["input_ids"])
    cp, lengths = codepoints([t for row in ids for t in tokenizer.convert_ids_to_tokens(row.tolist())])
    return {
        "codepoints": cp.numpy().reshape(*ids.shape, -1),
        "lengths": lengths.numpy().reshape(ids.shape),
        "attention_mask": np.array(enc["attention_mask"], dtype=np.int64),
    }


def padded(rows: list[list[int]], fill: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Code points padded with `fill`, which the function must ignore."""
    width = max((len(r) for r in rows), default=0)
    cp = torch.full((len(rows), width), fill, dtype=torch.int64)
    for i, r in enumerate(rows):
        cp[i, : len(r)] = torch.tensor(r, dtype=torch.int64)
    return cp, torch.tensor([len(r) for r in rows], dtype=torch.int64)
