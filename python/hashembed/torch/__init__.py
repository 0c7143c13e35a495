"""PyTorch integration: hash-embedding layers, and shrinking a transformers model by
distilling it into a copy without an embedding table.

    from hashembed.torch import HashEmbedding, TokenHashEmbedding, shrink, save, load

    emb = HashEmbedding("vocab.txt")            # or a tokenizer, a token list, a token -> id dict
    vectors = emb(torch.tensor([[101, 7592]]))  # (1, 2, 768) float32, like nn.Embedding

    result = shrink(model, tokenizer, texts, eval_texts=held_out)   # a transformers encoder
    save(result.model, tokenizer, "small-model")
    model, tokenizer = load("small-model")

    export_model(result.model, "model.onnx")                  # token code points in (needs onnx)
    cp, lengths = codepoints(["hello", "world"])               # tensors, for graph mode and ONNX
    vectors = functional.embed_codepoints(cp, lengths, embedder)   # bit-identical to the core

This package imports `torch` (and, for shrink/save/load, `transformers`); `import hashembed`
does not.
"""

from __future__ import annotations

from .batches import Encoder
from .distillation import DistilConfig, ShrinkResult, distil, distillation_loss
from .embedding import HashEmbedding, TokenHashEmbedding, parameter_count, replace_input_embeddings
from .export import export_model, trace_onnx
from .functional import codepoints
from .metrics import agreement, mean_pool, sentence_embeddings
from .saving import load, save
from .shrink import shrink, token_weights

__all__ = [
    "DistilConfig",
    "Encoder",
    "HashEmbedding",
    "ShrinkResult",
    "TokenHashEmbedding",
    "agreement",
    "codepoints",
    "distil",
    "distillation_loss",
    "export_model",
    "load",
    "mean_pool",
    "parameter_count",
    "replace_input_embeddings",
    "save",
    "sentence_embeddings",
    "shrink",
    "token_weights",
    "trace_onnx",
]
