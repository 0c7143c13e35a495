"""The embedding modules: `HashEmbedding` (token ids of a fixed vocabulary) and
`TokenHashEmbedding` (token strings of any tokenizer, no vocabulary)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from .._embedder import HashEmbedder
from ..errors import ParameterError, ParameterTypeError, parameter_error
from ..vocab import vocab_tokens
from . import functional


def _embedder_or_default(embedder: HashEmbedder | None) -> HashEmbedder:
    embedder = HashEmbedder() if embedder is None else embedder
    if not isinstance(embedder, HashEmbedder):
        message = f"embedder must be a HashEmbedder, not {type(embedder).__name__}"
        raise parameter_error(ParameterTypeError, message, "embedder", embedder)
    return embedder


def _projection(in_dim: int, out_dim: Any) -> nn.Linear | None:
    if out_dim is None:
        return None
    if isinstance(out_dim, bool) or not isinstance(out_dim, int) or out_dim < 1:
        message = f"out_dim must be a positive int or None, not {out_dim!r}"
        raise parameter_error(ParameterError, message, "out_dim", out_dim)
    return nn.Linear(in_dim, out_dim)


class HashEmbedding(nn.Module):
    """An embedding layer over a fixed vocabulary whose rows are hash embeddings of the
    tokens' strings instead of stored parameters.

    `vocab_or_tokenizer` is anything `HashEmbedder.embed_vocab` reads: a list of tokens
    (token i has id i), a token -> id dict, a path to a vocab.txt or tokenizer.json, a
    `tokenizers.Tokenizer` or a transformers tokenizer. `embedder` defaults to
    `HashEmbedder()` (dim 768).

    Without `out_dim` the layer has no parameters: row i is `embedder`'s vector of token i.
    With `out_dim`, a trainable `nn.Linear` (`.projection`, with bias) maps those vectors to
    `out_dim` floats; it is the only part that trains and the only part in the state dict.

    With `cache=True` (the default) the (V, embedder.dim) hash table is computed once and kept
    as the non-persistent buffer `weight` (it is a pure function of the vocabulary and the
    configuration, so it is never saved); with `cache=False` only the distinct ids of each
    batch are embedded, on every call, so nothing of size V x dim is held.

    With `graph=True` (which replaces the cache) the layer holds the tokens' code points
    instead, as the non-persistent buffers `token_codepoints` (V, longest token) and
    `token_lengths` (V,), and computes the vectors inside `forward` with
    `functional.embed_codepoints`, bit-identical to the other modes: no V x dim buffer, and
    the layer can be traced (`torch.jit.trace`, the TorchScript ONNX exporter).

    `forward(ids)` takes integer ids of any shape and dtype and returns float embeddings of
    shape `(*ids.shape, embedding_dim)` on the ids' device; an id outside
    [0, num_embeddings) raises IndexError naming it. A trace cannot hold that check: its
    graph refuses such an id in its gather instead ("index num_embeddings is out of bounds").
    """

    # the buffers of graph mode, for type checkers (nn.Module's attributes are untyped)
    token_codepoints: torch.Tensor
    token_lengths: torch.Tensor

    weight: torch.Tensor

    def __init__(
        self,
        vocab_or_tokenizer: Any,
        embedder: HashEmbedder | None = None,
        cache: bool = True,
        out_dim: int | None = None,
        graph: bool = False,
    ):
        super().__init__()
        self.embedder = _embedder_or_default(embedder)
        self.hash_dim = int(self.embedder.dim)
        self.projection = _projection(self.hash_dim, out_dim)
        self.embedding_dim = self.hash_dim if out_dim is None else int(out_dim)
        self.padding_idx = None  # nn.Embedding's attributes, for code that reads them
        self.max_norm = None
        self.graph = bool(graph)
        self.cache = bool(cache) and not self.graph
        if self.graph:
            self._tokens = vocab_tokens(vocab_or_tokenizer)
            self.num_embeddings = len(self._tokens)
            cp, lengths = functional.codepoints(self._tokens)
            self.register_buffer("token_codepoints", cp.int(), persistent=False)
            self.register_buffer("token_lengths", lengths, persistent=False)
        elif self.cache:
            table = self.embedder.embed_vocab(vocab_or_tokenizer)
            self.num_embeddings = int(table.shape[0])
            self.register_buffer("weight", torch.from_numpy(table), persistent=False)
        else:
            # Bound once: each forward passes its ids to the native code, which reads them in
            # place and embeds only the distinct ids, with no list of strings in between.
            self._bound = self.embedder.bind(vocab_or_tokenizer, cache="none")
            self.num_embeddings = len(self._bound)

    def _checked_ids(self, ids: torch.Tensor) -> torch.Tensor:
        """`ids` as int64, checked against the vocabulary."""
        if not isinstance(ids, torch.Tensor):
            message = f"ids must be a torch.Tensor of integer ids, not {type(ids).__name__}"
            raise parameter_error(ParameterTypeError, message, "ids", ids)
        if ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
            message = f"ids must be an integer tensor (torch.long), not {ids.dtype}"
            raise parameter_error(ParameterTypeError, message, "ids", ids)
        # Widened first: comparing a uint8 or int16 tensor with the vocabulary size would wrap
        # the size into the tensor's own dtype.
        ids = ids.long()
        if functional.is_tracing() or ids.numel() == 0:
            return ids
        bad = (ids < 0) | (ids >= self.num_embeddings)
        if bool(bad.any()):
            first = int(ids[bad].flatten()[0])
            raise IndexError(
                f"token id {first} is out of range: this HashEmbedding has {self.num_embeddings} "
                f"embeddings (ids 0 to {self.num_embeddings - 1})"
            )
        return ids

    def hash_vectors(self, ids: torch.Tensor) -> torch.Tensor:
        """The hash vectors of `ids` (before the projection), shape (*ids.shape, embedder.dim)."""
        ids = self._checked_ids(ids)
        if self.graph:
            flat = ids.reshape(-1)
            if functional.is_tracing():
                # The check above is left out of a trace, and -1 would index from the end: an id
                # outside the vocabulary becomes num_embeddings, which the gather refuses.
                inside = (flat >= 0) & (flat < self.num_embeddings)
                flat = torch.where(inside, flat, self.num_embeddings)
            cp, lengths = self.token_codepoints[flat], self.token_lengths[flat]
            vectors = functional.embed_codepoints(cp, lengths, self.embedder)
            return vectors.reshape(*ids.shape, self.hash_dim)
        if self.cache:
            weight = self.weight if self.weight.device == ids.device else self.weight.to(ids.device)
            return nn.functional.embedding(ids, weight)
        rows = self._bound.embed_ids(ids.detach().cpu().numpy())
        return torch.from_numpy(rows).to(ids.device)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        vectors = self.hash_vectors(ids)
        if self.projection is None:
            return vectors
        return self.projection(vectors.to(self.projection.weight.dtype))

    def hash_table(self) -> torch.Tensor:
        """The (num_embeddings, embedder.dim) float32 hash vectors of the whole vocabulary."""
        if self.cache:
            return self.weight
        if self.graph:
            return torch.from_numpy(self.embedder.embed_vocab(self._tokens))
        return torch.from_numpy(self._bound.embed_ids(np.arange(self.num_embeddings)))

    @torch.no_grad()
    def fit_projection(self, table: Any, l2: float = 1e-3, weights: Any = None) -> float:
        """Sets the projection by ridge regression of `table` (V, out_dim), an existing
        embedding table of the same vocabulary, on the hash vectors; returns the R² of the fit.

        `l2` is the ridge penalty as a fraction of the mean variance of the hash features (so
        it does not depend on `dim` or V); `weights` (V,), e.g. token frequencies, weighs the
        rows. It is an initialisation for training: a linear map of hash features can only
        approximate an arbitrary table (docs/compression.md measures how far, and whether it
        helps training).
        """
        if self.projection is None:
            raise ValueError("fit_projection needs a projection: make the HashEmbedding with out_dim=...")
        y = torch.as_tensor(np.asarray(table) if not isinstance(table, torch.Tensor) else table.detach())
        want = (self.num_embeddings, self.embedding_dim)
        if y.dim() != 2 or tuple(y.shape) != want or not y.dtype.is_floating_point:
            message = f"table must be a float array of shape {want}, not {tuple(y.shape)} {y.dtype}"
            raise parameter_error(ParameterError, message, "table", table)
        if not (isinstance(l2, (int, float)) and l2 >= 0 and np.isfinite(l2)):
            raise parameter_error(ParameterError, f"l2 must be a finite number >= 0, not {l2!r}", "l2", l2)
        y = y.cpu().double()
        if not torch.isfinite(y).all():
            raise parameter_error(ParameterError, "table holds NaN or infinite values", "table", table)
        w = torch.ones(len(y), dtype=torch.float64) if weights is None else torch.as_tensor(weights).double()
        if tuple(w.shape) != (len(y),) or not torch.isfinite(w).all() or bool((w < 0).any()) or w.sum() <= 0:
            message = f"weights must be {len(y)} finite non-negative numbers, not all zero"
            raise parameter_error(ParameterError, message, "weights", weights)
        x = self.hash_table().cpu().double()
        w = w / w.sum()
        mean_x, mean_y = w @ x, w @ y
        xc, yc = x - mean_x, y - mean_y
        xw = xc * w[:, None]
        gram = xc.T @ xw
        ridge = float(l2) * float(gram.diagonal().mean()) + 1e-12
        coef = torch.linalg.solve(gram + ridge * torch.eye(self.hash_dim, dtype=torch.float64), xw.T @ yc)
        self.projection.weight.copy_(coef.T)
        self.projection.bias.copy_(mean_y - mean_x @ coef)
        residual = ((xc @ coef - yc).square().sum(1) * w).sum()
        total = (yc.square().sum(1) * w).sum()
        return float(1 - residual / total) if total > 0 else 1.0

    def extra_repr(self) -> str:
        out = f", out_dim={self.embedding_dim}" if self.projection is not None else ""
        mode = "graph=True" if self.graph else f"cache={self.cache}"
        return f"{self.num_embeddings}, {self.hash_dim}{out}, {mode}, embedder={self.embedder!r}"


class TokenHashEmbedding(nn.Module):
    """Embeddings of token strings from any tokenizer, with no vocabulary: any token, seen in
    training or not, gets a vector (the fastText / on-device classifier setting).

    `forward(tokens, device=None)` takes a batch of token sequences (lists of str) and returns
    `(embeddings, mask)`: float32 (B, S, dim) and bool (B, S), S the longest sequence (or
    `max_length`); padding rows are zeros. `dim` is `embedder.dim`, or `out_dim` with the
    trainable projection (`.projection`, an `nn.Linear` with bias).

    With `graph=True` the tokens come as tensors and are embedded inside `forward` with
    `functional.embed_codepoints`, so the layer can be traced and exported:
    `forward(codepoints, lengths)` takes code points (..., L) and lengths (...)
    (`hashembed.torch.codepoints` makes them) and returns the embeddings (..., dim) alone:
    padding tokens get the projection's bias, for the attention mask to exclude.
    """

    def __init__(self, embedder: HashEmbedder | None = None, out_dim: int | None = None, graph: bool = False):
        super().__init__()
        self.embedder = _embedder_or_default(embedder)
        self.hash_dim = int(self.embedder.dim)
        self.projection = _projection(self.hash_dim, out_dim)
        self.embedding_dim = self.hash_dim if out_dim is None else int(out_dim)
        self.graph = bool(graph)

    def forward(
        self,
        tokens: Sequence[Sequence[str]],
        device: torch.device | str | None = None,
        *,
        max_length: int | None = None,
    ) -> Any:
        if self.graph:
            if max_length is not None:
                raise parameter_error(
                    ParameterTypeError,
                    "max_length is for token strings; a graph-mode TokenHashEmbedding takes tensors",
                    "max_length",
                    max_length,
                )
            return self._from_codepoints(tokens, device)
        vectors, mask = self.embedder.embed_tokens(tokens, max_length=max_length)
        if device is None:
            device = self.projection.weight.device if self.projection is not None else "cpu"
        x = torch.from_numpy(vectors).to(device)
        m = torch.from_numpy(mask).to(device)
        if self.projection is not None:
            # the bias would make padding rows non-zero
            x = self.projection(x.to(self.projection.weight.dtype)) * m.unsqueeze(-1)
        return x, m

    def _from_codepoints(self, codepoints: Any, lengths: Any) -> torch.Tensor:
        if not isinstance(codepoints, torch.Tensor) or not isinstance(lengths, torch.Tensor):
            name, value = (
                ("lengths", lengths) if isinstance(codepoints, torch.Tensor) else ("codepoints", codepoints)
            )
            message = "a graph-mode TokenHashEmbedding takes (codepoints, lengths) tensors"
            raise parameter_error(ParameterTypeError, message, name, value)
        # traced, the shapes are tensors, and a check of them would be frozen into the trace
        traced = functional.is_tracing()
        if codepoints.dim() < 1 or (not traced and tuple(lengths.shape) != tuple(codepoints.shape[:-1])):
            name, value = ("codepoints", codepoints) if codepoints.dim() < 1 else ("lengths", lengths)
            raise parameter_error(
                ParameterError,
                f"lengths has shape {tuple(lengths.shape)}: codepoints of shape {tuple(codepoints.shape)} "
                "needs one length per token, the shape without its last axis",
                name,
                value,
            )
        # Not reshape(-1, L): with L = 0 the -1 could be anything.
        flat = codepoints.unsqueeze(0).flatten(0, -2)
        x = functional.embed_codepoints(flat, lengths.reshape(-1), self.embedder)
        x = x.reshape(*lengths.shape, self.hash_dim)
        if self.projection is not None:
            x = self.projection(x.to(self.projection.weight.dtype))
        return x

    def extra_repr(self) -> str:
        out = f", out_dim={self.embedding_dim}" if self.projection is not None else ""
        mode = ", graph=True" if self.graph else ""
        return f"{self.hash_dim}{out}{mode}, embedder={self.embedder!r}"


def parameter_count(model: nn.Module) -> int:
    """Parameters of `model`, a shared (tied) one counted once."""
    return sum(p.numel() for p in model.parameters())


def input_layer(model: Any) -> Any:
    """`model.get_input_embeddings()`, or None where `model` has no such method (it is not
    a transformers model)."""
    get = getattr(model, "get_input_embeddings", None)
    return get() if callable(get) else None


def token_limit(model: Any) -> int | None:
    """The most tokens a text `model` reads: its max_position_embeddings, less the rows
    before its first position where it numbers positions after its padding row (RoBERTa and
    XLM-R number them from padding_idx + 1, so roberta-base's 514 positions read 512
    tokens); None where its configuration names no limit."""
    positions = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    if not isinstance(positions, int):
        return None
    embeddings = getattr(getattr(model, "base_model", model), "embeddings", None)
    padding = getattr(embeddings, "padding_idx", None)
    numbered_after_padding = hasattr(embeddings, "create_position_ids_from_input_ids")
    return positions - (padding + 1 if numbered_after_padding and isinstance(padding, int) else 0)


def hash_layer(model: Any) -> HashEmbedding:
    """`model`'s input layer, a `HashEmbedding`; a ParameterError about `model` if it has none."""
    layer = input_layer(model)
    if not isinstance(layer, HashEmbedding):
        raise parameter_error(
            ParameterError,
            f"model ({type(model).__name__}) has no HashEmbedding input layer: "
            "pass a model made by shrink() or replace_input_embeddings()",
            "model",
            model,
        )
    return layer


def replace_input_embeddings(
    model: Any, tokenizer: Any, embedder: HashEmbedder | None = None, out_dim: int | None = None
) -> int:
    """Replaces a transformers model's word embeddings with a `HashEmbedding` over
    `tokenizer`'s vocabulary; returns how many parameters the model lost.

    Without `out_dim`, `embedder` defaults to `HashEmbedder(dim=...)` with the replaced
    embedding's dimension, and must have that dimension. With `out_dim` (which must be that
    dimension), the embedder's vectors go through a trainable projection, so any `dim` works.
    The new module is put on the device of the old one. A weight tied to an output layer
    stays with that layer, so it is not counted as removed.
    """
    old = input_layer(model)
    if old is None:
        message = f"{type(model).__name__} has no input embeddings to replace"
        raise parameter_error(ParameterError, message, "model", model)
    dim = int(getattr(old, "embedding_dim", None) or model.config.hidden_size)
    if out_dim is not None and out_dim != dim:
        message = f"out_dim={out_dim}, but the model's input embeddings have {dim}"
        raise parameter_error(ParameterError, message, "out_dim", out_dim)
    if embedder is None:
        embedder = HashEmbedder(dim=dim)
    elif out_dim is None and embedder.dim != dim:
        raise parameter_error(
            ParameterError,
            f"the embedder has dim={embedder.dim}, but the model's input embeddings have {dim}: "
            "pass out_dim to project it",
            "embedder",
            embedder,
        )
    before = parameter_count(model)
    new = HashEmbedding(tokenizer, embedder, out_dim=out_dim)
    weight = getattr(old, "weight", None)
    if isinstance(weight, torch.Tensor):
        new = new.to(weight.device)
    model.set_input_embeddings(new)
    return before - parameter_count(model)
