"""The models the torch and ONNX tests share: a tiny BERT teacher with the real MiniLM WordPiece
vocabulary (and tiny teachers of the other families `shrink` takes), a few steps of `shrink`
of it, and the inputs its exported graph takes."""

from __future__ import annotations

from typing import Any

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


def seeded(model_class: type, config: transformers.PretrainedConfig) -> Any:
    """`model_class(config)` in eval mode, initialised from torch's seed 0."""
    torch.manual_seed(0)
    return model_class(config).eval()


def seeded_bert(layers: int, hidden: int, intermediate: int, positions: int) -> transformers.BertModel:
    """A BERT in eval mode over MiniLM's 30,522-token vocabulary, in 2 attention heads,
    initialised from torch's seed 0."""
    config = transformers.BertConfig(
        vocab_size=30522, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=2,
        intermediate_size=intermediate, max_position_embeddings=positions,
    )  # fmt: skip
    return seeded(transformers.BertModel, config)


def seeded_roberta(positions: int, xlm: bool = False) -> Any:
    """A RoBERTa (an XLM-R with `xlm`) over MiniLM's vocabulary, two layers of hidden size 32
    in 2 heads; it numbers positions from padding_idx + 1 = 2, so it reads `positions` - 2
    tokens."""
    kind = "XLMRoberta" if xlm else "Roberta"
    config = getattr(transformers, f"{kind}Config")(
        vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=positions,
    )  # fmt: skip
    return seeded(getattr(transformers, f"{kind}Model"), config)


def seeded_electra(embedding_size: int) -> transformers.ElectraModel:
    """An ELECTRA over MiniLM's vocabulary with input embeddings of `embedding_size`, two
    layers of hidden size 32 in 2 heads of 16, feed-forward 64 (an embeddings_project maps the
    one width to the other where they differ)."""
    config = transformers.ElectraConfig(
        vocab_size=30522, embedding_size=embedding_size, hidden_size=32, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=64, max_position_embeddings=64,
    )  # fmt: skip
    return seeded(transformers.ElectraModel, config)


def seeded_distilbert() -> transformers.DistilBertModel:
    """A DistilBERT over MiniLM's vocabulary: two layers of dim 32 in 2 heads of 16, hidden_dim 64."""
    config = transformers.DistilBertConfig(
        vocab_size=30522, dim=32, n_layers=2, n_heads=2, hidden_dim=64, max_position_embeddings=64
    )
    return seeded(transformers.DistilBertModel, config)


@pytest.fixture(scope="module")
def teacher():
    """Two layers of hidden size 32."""
    return seeded_bert(2, 32, 64, 128)


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
