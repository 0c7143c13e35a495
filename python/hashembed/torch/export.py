"""A hash-embedding model as one ONNX file: the torch side of the export. The transformer is
traced by torch's exporter from the hash vectors on (so no table is read), and
`hashembed.onnx.with_encoder` puts the hash sub-graph in front of it. Needs `onnx`."""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .._files import check_file_target, replacing
from .._optional import optional
from ..errors import ParameterError, ParameterTypeError, parameter_error
from ..int8 import MIN_COSINE, Int8Warning, check_min_cosine, quantize_int8, sample_texts
from ..vocab import vocab_tokens
from .batches import Encoder, text_list
from .embedding import HashEmbedding, hash_layer, token_limit
from .metrics import mean_pool
from .students import output_projection

_POOLED = "pooled"

# What the int8 file is checked on: the texts' first 256, in batches of 32, of at most 128
# tokens (shrink's default max_length).
_SAMPLE_TEXTS, _SAMPLE_BATCH, _SAMPLE_MAX_LENGTH = 256, 32, 128


def trace_onnx(
    module: nn.Module,
    example: tuple[torch.Tensor, ...],
    *,
    input_names: Sequence[str],
    output_names: Sequence[str],
    dynamic_axes: dict[str, dict[int, str]],
    opset: int = 17,
) -> Any:
    """`module` traced on `example` by torch's TorchScript exporter into an `onnx.ModelProto`,
    in eval mode (the mode of each of its modules restored after). Give a padded example, so
    that nothing traced assumes an all-ones mask."""
    onnx = optional("onnx", "onnx", "trace_onnx")
    buffer = io.BytesIO()
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        with warnings.catch_warnings():
            # TorchScript's exporter is deprecated (the dynamo one needs onnxscript, which the
            # onnx extra does not bring) and warns of every traced shape; tests check the result.
            warnings.simplefilter("ignore")
            # typed for paths, the TorchScript exporter writes to a file object too
            torch.onnx.export(
                module, example, buffer,  # type: ignore[arg-type]
                dynamo=False, opset_version=opset, input_names=list(input_names),
                output_names=list(output_names), dynamic_axes=dynamic_axes,
            )  # fmt: skip
    finally:
        for m, training in modes:
            m.train(training)
    return onnx.load_from_string(buffer.getvalue())


class _Encoder(nn.Module):
    """`model` from its input layer's hash vectors to the mean-pooled sentence embedding."""

    def __init__(self, model: Any, layer: HashEmbedding) -> None:
        super().__init__()
        self.model, self.projection = model, layer.projection
        self.output_projection = output_projection(model)

    def forward(self, hash_vectors: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        x = hash_vectors if self.projection is None else self.projection(hash_vectors)
        hidden = self.model(inputs_embeds=x, attention_mask=attention_mask).last_hidden_state
        return mean_pool(hidden, attention_mask, self.output_projection)


def export_model(
    model: Any,
    path: str | os.PathLike[str],
    *,
    opset: int = 17,
    deduplicate: bool = True,
    quantize: str | None = None,
    tokenizer: Any = None,
    texts: Sequence[str] | None = None,
    min_cosine: float = MIN_COSINE,
) -> Path:
    """Writes `model`, a transformers encoder whose input layer is a `HashEmbedding` (what
    `shrink` makes), as one ONNX model from token code points to sentence embeddings;
    returns the path.

    Inputs: `codepoints` int64 (B, S, L), the Unicode code points of each token's string as
    the vocabulary spells it (`tokenizer.convert_ids_to_tokens`, or a `tokenizers` encoding's
    `.tokens`: "##ing", "[CLS]"), in its first `lengths[b, s]` places; `lengths` int64
    (B, S); `attention_mask` int64 (B, S) of 0 and 1 (`hashembed.onnx.codepoint_inputs`
    makes the first two from token strings). Output: `sentence_embedding` float32
    (B, hidden), the L2-normalised mean of the last hidden states over the mask
    (`sentence_embeddings`), through a narrower student's output projection (so `hidden` is
    the teacher's width). B, S or L may be 0. The file holds the embedder's seeds, the
    projection and the transformer, and no V x dim table. `deduplicate` is
    `hashembed.onnx.export_embedder`'s; bad `codepoints` or `lengths` fail as there, an
    `attention_mask` of another shape than `lengths` or with a value other than 0 and 1 in
    the node named `hashembed.onnx.CHECK_MASK`, and more positions than the model's
    position table in the node whose name starts with `hashembed.onnx.CHECK_POSITIONS`.

    `quantize="int8"` stores the transformer's weights in int8 (`hashembed.int8`): about a
    quarter of the bytes and faster on CPUs. The int8 file is checked against the float
    graph on `texts` (give the training texts, of which the first 256 are used; default 256
    sentences of English prose that ship with Python), tokenised by `tokenizer` (the
    model's: required for int8; at most 128 tokens a text):
    nodes are kept in float until the mean cosine is at least `min_cosine`, and an
    `hashembed.int8.Int8Warning` says so where that cannot be reached.
    `hashembed.int8.read_report(path)` reads what was kept and the figures from the file.
    The hash sub-graph stays exact either way. `path` is checked before any work: a
    symbolic link is followed, and a directory, a missing or unwritable parent directory or
    a link to nothing are refused. The model's weights must be float32 (`model.float()`).
    """
    onnx = optional("onnx", "onnx", "export_model")
    from .. import onnx as graphs

    layer = hash_layer(model)
    dtypes = {p.dtype for p in model.parameters()}
    if dtypes != {torch.float32}:
        held = ", ".join(sorted(str(d).rpartition(".")[2] for d in dtypes))
        message = f"model has {held} weights: export_model exports float32 models (model.float())"
        raise parameter_error(ParameterTypeError, message, "model", model)
    opset = graphs.check_opset(opset)
    quantize = graphs.check_quantize(quantize)
    check_min_cosine(min_cosine)
    samples = None
    if quantize == "int8":
        optional("onnxruntime.quantization", "int8", "export_model(quantize='int8')")
        samples = _samples(model, layer, tokenizer, texts)
    target = check_file_target(path)
    device = next(model.parameters()).device
    # a padded example, so nothing traced assumes an all-ones mask
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]], device=device)
    vectors = torch.zeros(2, 3, layer.hash_dim, device=device)
    names = graphs.ENCODER_INPUTS
    axes = {names[0]: {0: "B", 1: "S"}, names[1]: {0: "B", 1: "S"}, _POOLED: {0: "B"}}
    encoder = trace_onnx(
        _Encoder(model, layer), (vectors, mask), input_names=names, output_names=[_POOLED],
        dynamic_axes=axes, opset=opset,
    )  # fmt: skip
    merged = graphs.with_encoder(
        layer.embedder, encoder, opset=opset, deduplicate=bool(deduplicate), max_positions=token_limit(model)
    )
    if samples is not None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", Int8Warning)
            quantize_int8(merged, path, samples=samples, min_cosine=min_cosine)
        for w in caught:  # said again from here, so that it points at the caller's line
            warnings.warn(w.message, w.category, stacklevel=2)
    else:
        with replacing(target, Path(os.fspath(path))) as temp:
            onnx.save(merged, str(temp))
    return Path(os.fspath(path))


def _samples(model: Any, layer: HashEmbedding, tokenizer: Any, texts: Any) -> list[dict[str, Any]]:
    """The inputs the int8 file is checked on: `texts` (or the built-in sample) in batches."""
    from ..onnx import codepoint_inputs

    if tokenizer is None:
        message = (
            "quantize='int8' checks the int8 file against the float one on sample texts, which "
            "needs the model's tokenizer: pass tokenizer="
        )
        raise parameter_error(ParameterError, message, "tokenizer", tokenizer)
    encoder = Encoder(tokenizer, min(_SAMPLE_MAX_LENGTH, token_limit(model) or _SAMPLE_MAX_LENGTH))
    tokens = vocab_tokens(tokenizer)
    if len(tokens) != layer.num_embeddings:
        message = (
            f"tokenizer has {len(tokens):,} tokens, the model's input layer {layer.num_embeddings:,}: "
            "pass the model's own tokenizer"
        )
        raise parameter_error(ParameterError, message, "tokenizer", tokenizer)
    sample = sample_texts() if texts is None else text_list(texts, "texts", 1)[:_SAMPLE_TEXTS]
    batches = []
    for start in range(0, len(sample), _SAMPLE_BATCH):
        ids, mask = encoder(sample[start : start + _SAMPLE_BATCH])
        cp, lengths = codepoint_inputs([[tokens[i] for i in row] for row in ids.tolist()])
        batches.append({"codepoints": cp, "lengths": lengths, "attention_mask": mask.numpy()})
    return batches
