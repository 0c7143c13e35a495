"""PyTorch integration: a drop-in, parameter-free replacement for `nn.Embedding`.

    from hashembed.torch import HashEmbedding, replace_input_embeddings

    emb = HashEmbedding("vocab.txt")            # or a tokenizer, a token list, a token -> id dict
    vectors = emb(torch.tensor([[101, 7592]]))  # (1, 2, 768) float32, like nn.Embedding

    removed = replace_input_embeddings(model, tokenizer)  # a transformers model

Row i of a `HashEmbedding` is the hash embedding of token i's string, so the module holds no
trainable parameter. With `cache=True` (the default) the whole (V, dim) table is computed
once and kept as a non-persistent buffer (it is not saved in the state dict: it is a pure
function of the vocabulary and the embedder's configuration); with `cache=False` only the
distinct tokens of each batch are embedded, on every forward call, so nothing of size V * dim
is ever held.

This module imports `torch` at import time; `import hashembed` does not.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ._embedder import HashEmbedder

__all__ = ["HashEmbedding", "replace_input_embeddings"]


def _token_list(vocab: Any) -> list[str]:
    """The tokens of `vocab` in id order (token i has id i), for embedding on demand."""
    from . import vocab as vocab_module

    if isinstance(vocab, (str, os.PathLike)):
        p = Path(os.fspath(vocab))
        if p.is_file() and p.suffix.lower() != ".json":
            return vocab_module.read_vocab(p)  # vocab.txt: line i is token i
        vocab = vocab_module.load_tokenizer(p)
    if not isinstance(vocab, Mapping):
        get_vocab = getattr(vocab, "get_vocab", None)
        if callable(get_vocab):
            try:
                vocab = get_vocab(with_added_tokens=True)
            except TypeError:
                vocab = get_vocab()
    if isinstance(vocab, Mapping):
        tokens: list[Any] = [None] * len(vocab)
        for token, i in vocab.items():
            if not (0 <= int(i) < len(tokens)) or tokens[int(i)] is not None:
                raise ValueError(f"vocab ids must be exactly 0..{len(tokens) - 1}: {token!r} has id {i}")
            tokens[int(i)] = token
        return tokens
    return list(vocab)


class HashEmbedding(nn.Module):
    """`nn.Embedding` without parameters: row i is `embedder`'s embedding of token i.

    `vocab_or_tokenizer` is anything `HashEmbedder.embed_vocab` reads: a list of tokens
    (token i has id i), a token -> id dict, a path to a vocab.txt or tokenizer.json, a
    `tokenizers.Tokenizer` or a transformers tokenizer. `embedder` defaults to
    `HashEmbedder()` (dim 768).

    `forward(ids)` takes integer ids of any shape and returns float32 embeddings of shape
    `(*ids.shape, embedding_dim)` on the ids' device; an id outside [0, num_embeddings)
    raises IndexError naming it.
    """

    weight: torch.Tensor

    def __init__(self, vocab_or_tokenizer: Any, embedder: HashEmbedder | None = None, cache: bool = True):
        super().__init__()
        self.embedder = HashEmbedder() if embedder is None else embedder
        if not isinstance(self.embedder, HashEmbedder):
            raise TypeError(f"embedder must be a HashEmbedder, not {type(self.embedder).__name__}")
        self.embedding_dim = int(self.embedder.dim)
        self.padding_idx = None  # nn.Embedding's attributes, for code that reads them
        self.max_norm = None
        self.cache = bool(cache)
        if self.cache:
            table = self.embedder.embed_vocab(vocab_or_tokenizer)
            self.num_embeddings = int(table.shape[0])
            self.register_buffer("weight", torch.from_numpy(table), persistent=False)
            self._tokens: list[str] | None = None
        else:
            self._tokens = _token_list(vocab_or_tokenizer)
            self.num_embeddings = len(self._tokens)

    def _check_ids(self, ids: torch.Tensor) -> None:
        if not isinstance(ids, torch.Tensor):
            raise TypeError(f"ids must be a torch.Tensor of integer ids, not {type(ids).__name__}")
        if ids.dtype not in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
            raise TypeError(f"ids must be an integer tensor (torch.long), not {ids.dtype}")
        if ids.numel() == 0:
            return
        bad = (ids < 0) | (ids >= self.num_embeddings)
        if bool(bad.any()):
            first = int(ids[bad].flatten()[0])
            raise IndexError(
                f"token id {first} is out of range: this HashEmbedding has {self.num_embeddings} "
                f"embeddings (ids 0 to {self.num_embeddings - 1})"
            )

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        self._check_ids(ids)
        if self.cache:
            weight = self.weight if self.weight.device == ids.device else self.weight.to(ids.device)
            return nn.functional.embedding(ids.long(), weight)
        assert self._tokens is not None
        flat = ids.detach().reshape(-1).to("cpu", torch.int64)
        unique, inverse = torch.unique(flat, return_inverse=True)
        rows = self.embedder.embed_batch([self._tokens[i] for i in unique.tolist()])
        out = torch.from_numpy(rows)[inverse].reshape(*ids.shape, self.embedding_dim)
        return out.to(ids.device)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}, cache={self.cache}, embedder={self.embedder!r}"


def _parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())  # parameters() lists a shared one once


def replace_input_embeddings(model: Any, tokenizer: Any, embedder: HashEmbedder | None = None) -> int:
    """Replaces a transformers model's word embeddings with a `HashEmbedding` of the same
    dimension over `tokenizer`'s vocabulary; returns how many parameters the model lost.

    `embedder` defaults to `HashEmbedder(dim=...)` with the replaced embedding's dimension
    (the model's hidden size for BERT-like models). The new module is put on the device of
    the old one. A weight tied to an output layer stays with that layer, so it is not counted
    as removed.
    """
    old = model.get_input_embeddings()
    if old is None:
        raise ValueError(f"{type(model).__name__} has no input embeddings to replace")
    dim = getattr(old, "embedding_dim", None)
    if dim is None:
        dim = model.config.hidden_size
    dim = int(dim)
    if embedder is None:
        embedder = HashEmbedder(dim=dim)
    elif embedder.dim != dim:
        raise ValueError(f"the embedder has dim={embedder.dim}, but the model's input embeddings have {dim}")
    before = _parameter_count(model)
    new = HashEmbedding(tokenizer, embedder)
    weight = getattr(old, "weight", None)
    if isinstance(weight, torch.Tensor):
        new = new.to(weight.device)
    model.set_input_embeddings(new)
    return before - _parameter_count(model)
