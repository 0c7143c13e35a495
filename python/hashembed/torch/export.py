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

from .._files import replacing
from .._optional import optional
from .embedding import HashEmbedding, hash_layer
from .metrics import mean_pool
from .students import output_projection

_POOLED = "pooled"


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
) -> Path:
    """Writes `model`, a transformers encoder whose input layer is a `HashEmbedding` (what
    `shrink` makes), as one ONNX model from token code points to sentence embeddings;
    returns the path.

    Inputs: `codepoints` int64 (B, S, L), the Unicode code points of each token's string as
    the vocabulary spells it (`tokenizer.convert_ids_to_tokens`, or a `tokenizers` encoding's
    `.tokens`: "##ing", "[CLS]"), in its first `lengths[b, s]` places; `lengths` int64
    (B, S); `attention_mask` int64 (B, S) of 0 and 1. Output: `sentence_embedding` float32
    (B, hidden), the L2-normalised mean of the last hidden states over the mask
    (`sentence_embeddings`), through a narrower student's output projection (so `hidden` is
    the teacher's width). B, S or L may be 0. The file holds the embedder's seeds, the
    projection and the transformer, and no V x dim table. `deduplicate` is
    `hashembed.onnx.export_embedder`'s; bad `codepoints` or `lengths` fail as there, and an
    `attention_mask` of another shape than `lengths` or with a value other than 0 and 1 in
    the node named `hashembed.onnx.CHECK_MASK`.

    `quantize="int8"` stores the transformer's weights in int8 (`hashembed.onnx.quantize_int8`):
    about a quarter of the bytes and faster on CPUs, at some loss of agreement with the float
    model (docs/compression.md measures it); the hash sub-graph stays exact either way.
    """
    onnx = optional("onnx", "onnx", "export_model")
    from .. import onnx as graphs

    layer = hash_layer(model)
    opset = graphs.check_opset(opset)
    quantize = graphs.check_quantize(quantize)
    target = Path(os.fspath(path))
    if target.is_dir():
        raise IsADirectoryError(f"{target}: is a directory")
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
    merged = graphs.with_encoder(layer.embedder, encoder, opset=opset, deduplicate=bool(deduplicate))
    if quantize == "int8":
        return graphs.quantize_int8(merged, target)
    with replacing(target) as temp:
        onnx.save(merged, str(temp))
    return target
