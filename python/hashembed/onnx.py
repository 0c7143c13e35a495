"""ONNX export: the hash embedding as a graph of standard operators, bit-identical to the core.

    from hashembed.onnx import export_embedder
    export_embedder(HashEmbedder(256), "embedder.onnx")
    # onnxruntime: {"codepoints": int64 (N, L), "lengths": int64 (N,)} -> "embeddings" (N, 256)

The graph is docs/spec.md written with int64 Mul, Add and Mod (every intermediate is below
2^62, so nothing wraps), one double Div and one Cast to float32; docs/onnx.md describes it
node by node. It needs the `onnx` package to build (`pip install hashembed[onnx]`), and any
ONNX runtime to run: no custom operator, no onnxruntime-extensions, no hashembed.
`with_encoder` joins the graph to an encoder exported by a framework (a whole model:
`hashembed.torch.export_model`), and `codepoint_inputs` makes its inputs from token strings;
`hashembed.int8` stores such a model's weights in int8.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ._embedder import HashEmbedder
from .errors import ParameterError, ParameterTypeError, parameter_error
from .reference import END_MARKER, MAX_CODE_POINT, SPEC_VERSION, START_MARKER

__all__ = [
    "CHECK_MASK",
    "CHECK_POSITIONS",
    "CHECK_ROWS",
    "CHECK_VALUES",
    "ENCODER_INPUTS",
    "MIN_OPSET",
    "QUANTIZE",
    "SENTENCE_OUTPUT",
    "check_opset",
    "check_quantize",
    "codepoint_inputs",
    "embedder_model",
    "export_embedder",
    "with_encoder",
]

MIN_OPSET = 14
"""The first opset whose Reshape can make a dimension 0 (`allowzero`), as an empty batch,
an empty text or a token of no code points needs; ReduceSum takes its axes as an input
from 13."""

QUANTIZE = (None, "int8")
"""What `hashembed.torch.export_model`'s `quantize` may be."""

# The nodes that fail on bad input, each an out-of-range Gather (which the ONNX spec makes an
# error), so that a runtime's message names the node, and so the rule broken.
CHECK_ROWS = "input_check__lengths_must_have_one_entry_per_row_of_codepoints"
CHECK_VALUES = "input_check__lengths_must_be_in_0_to_L__codepoints_in_0_to_0x10FFFF"
CHECK_MASK = "input_check__attention_mask_must_be_B_by_S_as_lengths__of_0_or_1"
CHECK_POSITIONS = "input_check__S_must_be_at_most_the_models_positions__"
"""The start of the name of the node that fails when a batch has more positions than the
model's position table; the rest is the number, as in `..._positions__512`."""


SENTENCE_OUTPUT = "sentence_embedding"
"""The output of `with_encoder`'s graph (`hashembed.torch.export_model`'s)."""


@dataclass
class _Graph:
    """Nodes and constants being assembled; names are unique through `prefix` and a counter."""

    prefix: str
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    constants: list[onnx.TensorProto] = field(default_factory=list)
    _count: int = 0

    def name(self, what: str) -> str:
        self._count += 1
        return f"{self.prefix}{what}_{self._count}"

    def const(self, value: Any, dtype: Any = np.int64) -> str:
        name = self.name("c")
        self.constants.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type: str, *inputs: str, node_name: str | None = None, **attrs: Any) -> str:
        out = self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=node_name or out, **attrs))
        return out

    def unique_rows(self, x: str) -> tuple[str, str]:
        """The distinct rows of `x` and, for each row of `x`, the index of its distinct row."""
        unique, inverse = self.name("unique"), self.name("inverse")
        # the unused outputs (first indices, counts) are left unnamed, as ONNX allows
        node = helper.make_node("Unique", [x], [unique, "", inverse], name=unique, axis=0, sorted=0)
        self.nodes.append(node)
        return unique, inverse

    def cast(self, x: str, to: int) -> str:
        return self.op("Cast", x, to=to)

    def where(self, cond: str, a: str, b: str) -> str:
        return self.op("Where", cond, a, b)

    def sum_axis(self, x: str, axis: int) -> str:
        return self.op("ReduceSum", x, self.const([axis]), keepdims=0)

    def sum_all(self, x: str) -> str:
        return self.op("ReduceSum", self.cast(x, TensorProto.INT64), keepdims=0)


def _gate(g: _Graph, x: str, bad: str, node_name: str) -> str:
    """`x` plus 0, where the 0 comes from a Gather that is out of range when `bad` (a bool
    scalar) is true: so nothing that reads the result runs on bad input."""
    zero = g.op("Gather", g.const([0]), g.cast(bad, TensorProto.INT64), node_name=node_name)
    return g.op("Add", x, zero)


def _checked(g: _Graph, cp: str, lengths: str, width: str) -> tuple[str, str]:
    """`cp` (N, L) gated by the value checks of it and `lengths` (N,), and the (N, L) mask of
    the positions inside the texts."""
    cols = g.op("Range", g.const(0), width, g.const(1))
    inside = g.op("Less", g.op("Unsqueeze", cols, g.const([0])), g.op("Unsqueeze", lengths, g.const([1])))
    bad_length = g.op("Or", g.op("Less", lengths, g.const(0)), g.op("Greater", lengths, width))
    bad_point = g.op("Or", g.op("Less", cp, g.const(0)), g.op("Greater", cp, g.const(MAX_CODE_POINT)))
    count = g.op("Add", g.sum_all(bad_length), g.sum_all(g.op("And", inside, bad_point)))
    cp = _gate(g, cp, g.op("Greater", count, g.const(0)), CHECK_VALUES)
    return cp, inside


def _embedding(g: _Graph, embedder: HashEmbedder, cp: str, lengths: str, deduplicate: bool) -> str:
    """The (..., dim) float32 embeddings of code points `cp` (..., L) int64 and `lengths` (...)."""
    shape = g.op("Shape", cp)
    lead = g.op("Slice", shape, g.const([0]), g.const([-1]))
    # before anything broadcasts lengths against codepoints, which a single length would do
    differ = g.sum_all(g.op("Not", g.op("Equal", g.op("Shape", lengths), lead)))
    lengths = g.op(
        "Reshape", _gate(g, lengths, g.op("Greater", differ, g.const(0)), CHECK_ROWS), g.const([-1])
    )
    width = g.op("Slice", shape, g.const([-1]), g.const([np.iinfo(np.int64).max]))
    # the row count from lengths, not -1: a -1 beside a width of 0 would be ambiguous; and
    # allowzero, else a 0 in the new shape copies the old dimension instead of being 0
    cp = g.op("Reshape", cp, g.op("Concat", g.op("Shape", lengths), width, axis=0), allowzero=1)
    vectors = _vectors(g, embedder, cp, lengths, g.op("Squeeze", width, g.const([0])), deduplicate)
    return g.op("Reshape", vectors, g.op("Concat", lead, g.const([embedder.dim]), axis=0), allowzero=1)


def _window_sums(g: _Graph, hashes: str, real: str, windows: str, seeds: np.ndarray, b: int) -> str:
    """Each row's sum over its real windows of the centred products (s * h mod B, less B when
    twice that exceeds B), (N, positions) int64, for window hashes `hashes` (N, W), `real`
    (N, W) marking the windows inside the text and `windows` (N,) counting them.

    The real windows are packed in row order (`Compress`), so the work and the memory go with
    the code points, not with rows x the longest text; a row's sum is the difference of a
    running sum (`CumSum`) at its two ends. Centring is ((s * h + k) mod B) - k with
    k = B - floor(B / 2) - 1, which is r when r <= floor(B / 2) and r - B above: a pass fewer
    than comparing and counting. Every value stays below 2^62, so all of it is exact in int64.
    """
    k = b - b // 2 - 1
    packed = g.op(
        "Compress", g.op("Reshape", hashes, g.const([-1])), g.op("Reshape", real, g.const([-1])), axis=0
    )
    # a first window of its own, never inside a row: the running sum then has an entry
    # before every row's first window, even when there are no windows at all
    packed = g.op("Pad", packed, g.const([1, 0]))
    products = g.op("Mul", g.op("Unsqueeze", packed, g.const([1])), g.const(seeds.reshape(1, -1)))
    running = g.op("CumSum", g.op("Mod", g.op("Add", products, g.const(k)), g.const(b)), g.const(0))
    n = g.op("Max", windows, g.const(0))
    ends = g.op("CumSum", n, g.const(0))
    sums = g.op(
        "Sub", g.op("Gather", running, ends, axis=0), g.op("Gather", running, g.op("Sub", ends, n), axis=0)
    )
    return g.op("Sub", sums, g.op("Mul", g.op("Unsqueeze", n, g.const([1])), g.const(k)))


def _vectors(g: _Graph, embedder: HashEmbedder, cp: str, lengths: str, width: str, deduplicate: bool) -> str:
    """The (N, dim) float32 embeddings of code points `cp` (N, L) and `lengths` (N,), L being
    `width`; each distinct text computed once if `deduplicate`."""
    cp, inside = _checked(g, cp, lengths, width)
    text = g.where(inside, cp, g.const(0))
    if embedder.boundary_markers:
        text = g.op("Pad", text, g.const([0, 1, 0, 1]))
        cols = g.op("Range", g.const(0), g.op("Add", width, g.const(2)), g.const(1))
        text = g.where(g.op("Equal", cols, g.const(0)), g.const(START_MARKER), text)
        end = g.op("Unsqueeze", g.op("Add", lengths, g.const(1)), g.const([1]))
        text = g.where(g.op("Equal", g.op("Unsqueeze", cols, g.const([0])), end), g.const(END_MARKER), text)
        lengths = g.op("Add", lengths, g.const(2))
    big = g.const([np.iinfo(np.int64).max])
    axis1 = g.const([1])
    inverse = None
    if deduplicate:
        # as the core does: rows of (length, code points), zero past each length, are equal
        # exactly when the texts are
        unique, inverse = g.unique_rows(g.op("Concat", g.op("Unsqueeze", lengths, axis1), text, axis=1))
        lengths = g.op("Squeeze", g.op("Slice", unique, g.const([0]), g.const([1]), axis1), axis1)
        text = g.op("Slice", unique, g.const([1]), big, axis1)
    text_width = g.op("Squeeze", g.op("Slice", g.op("Shape", text), axis1, g.const([2])), g.const([0]))
    cols = g.op("Range", g.const(0), text_width, g.const(1))
    inside = g.op("Less", g.op("Unsqueeze", cols, g.const([0])), g.op("Unsqueeze", lengths, axis1))
    p, m, b = embedder.base, embedder.hash_modulus, embedder.buckets
    seeds = embedder.hash_seeds.astype(np.int64)
    parts, start, hashes = [], 0, ""
    for size, count in enumerate(embedder.layout, start=1):
        # Horner's rule, one code point further per size: H_i[j] = (H_{i-1}[j] * p + c[j+i-1]) mod m
        tail = g.op("Slice", text, g.const([size - 1]), big, axis1)
        if size == 1:
            hashes = g.op("Mod", tail, g.const(m))
        else:
            head = g.op("Slice", hashes, g.const([0]), g.const([-1]), axis1)
            hashes = g.op("Mod", g.op("Add", g.op("Mul", head, g.const(p)), tail), g.const(m))
        # window j is real when its last code point, j + size - 1, is inside the text
        real = g.op("Slice", inside, g.const([size - 1]), big, axis1)
        windows = g.op("Sub", lengths, g.const(size - 1))
        sums = _window_sums(g, hashes, real, windows, seeds[start : start + count], b)
        # spec step 6, in its order: double(A) / (double(n) * (double(B) / 2.0)); +0.0 when n <= 0
        some = g.op("Greater", windows, g.const(0))
        denominator = g.op("Mul", g.cast(windows, TensorProto.DOUBLE), g.const(float(b) / 2.0, np.float64))
        safe = g.op("Unsqueeze", g.where(some, denominator, g.const(1.0, np.float64)), g.const([1]))
        value = g.op("Div", g.cast(sums, TensorProto.DOUBLE), safe)
        some = g.op("Unsqueeze", some, g.const([1]))
        parts.append(g.where(some, value, g.const(0.0, np.float64)))
        start += count
    joined = g.op("Concat", *parts, axis=1) if len(parts) > 1 else parts[0]
    out = g.cast(joined, TensorProto.FLOAT)
    return out if inverse is None else g.op("Gather", out, inverse, axis=0)


def check_opset(opset: Any) -> int:
    """`opset` if this onnx package can write it and the graph needs no newer operator, else
    a ParameterError."""
    latest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= latest:
        message = f"opset={opset!r} is not supported: an int from {MIN_OPSET} to {latest}"
        raise parameter_error(ParameterError, message, "opset", opset)
    return opset


def _model(graph: onnx.GraphProto, opset: int, ir_version: int | None = None) -> onnx.ModelProto:
    ops = [helper.make_opsetid("", opset)]
    ir = helper.find_min_ir_version_for(ops) if ir_version is None else ir_version
    model = helper.make_model(graph, opset_imports=ops, ir_version=ir, producer_name="hashembed")
    onnx.checker.check_model(model, full_check=True)
    return model


def _describe(model: onnx.ModelProto, embedder: HashEmbedder) -> None:
    """Records the function the graph computes, for whoever reads the file later."""
    helper.set_model_props(
        model,
        {"hashembed.spec_version": str(SPEC_VERSION), "hashembed.embedder": json.dumps(embedder.config())},
    )


def embedder_model(embedder: HashEmbedder, *, opset: int = 17, deduplicate: bool = True) -> onnx.ModelProto:
    """The ONNX model `export_embedder` writes, in memory."""
    if not isinstance(embedder, HashEmbedder):
        message = f"embedder must be a HashEmbedder, not {type(embedder).__name__}"
        raise parameter_error(ParameterTypeError, message, "embedder", embedder)
    opset = check_opset(opset)
    g = _Graph("")
    out = _embedding(g, embedder, "codepoints", "lengths", bool(deduplicate))
    g.nodes.append(helper.make_node("Identity", [out], ["embeddings"], name="embeddings"))
    graph = helper.make_graph(
        g.nodes,
        "hashembed",
        [
            helper.make_tensor_value_info("codepoints", TensorProto.INT64, ["N", "L"]),
            helper.make_tensor_value_info("lengths", TensorProto.INT64, ["N"]),
        ],
        [helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, ["N", embedder.dim])],
        initializer=g.constants,
    )
    model = _model(graph, opset)
    _describe(model, embedder)
    return model


def export_embedder(
    embedder: HashEmbedder, path: str | os.PathLike[str], *, opset: int = 17, deduplicate: bool = True
) -> Path:
    """Writes `embedder` as an ONNX model to `path`; returns the path.

    Inputs: `codepoints`, int64 (N, L), row i holding text i's Unicode code points in its
    first `lengths[i]` columns (anything after them); `lengths`, int64 (N,). Output:
    `embeddings`, float32 (N, dim), bit-identical to `embedder.embed_batch`. N and L are
    dynamic. The graph applies the embedder's whole configuration, boundary markers included.
    `lengths` not of N entries makes the run fail in the node named CHECK_ROWS; a length
    outside [0, L] or a code point outside [0, 0x10FFFF] within a length, in CHECK_VALUES.

    With `deduplicate` (the default) equal texts are computed once, through a `Unique` node;
    `deduplicate=False` leaves it out, for a runtime that lacks `Unique` (the result is the same).
    """
    target = Path(os.fspath(path))
    onnx.save(embedder_model(embedder, opset=opset, deduplicate=deduplicate), str(target))
    return target


ENCODER_INPUTS = ("hash_vectors", "encoder_mask")
"""The inputs of the encoder `with_encoder` joins: hash vectors float32 (B, S, dim) and the
attention mask int64 (B, S); its one output is the pooled sentence embedding (B, hidden)."""

_VECTORS, _MASK = ENCODER_INPUTS
_ROWS = "hashembed/rows"


def _checked_mask(g: _Graph, mask: str, lengths: str) -> str:
    """`mask` gated by its checks: the shape of `lengths`, (B, S), and values 0 or 1."""
    differ = g.sum_all(g.op("Not", g.op("Equal", g.op("Shape", mask), g.op("Shape", lengths))))
    outside = g.sum_all(g.op("Or", g.op("Less", mask, g.const(0)), g.op("Greater", mask, g.const(1))))
    return _gate(g, mask, g.op("Greater", g.op("Add", differ, outside), g.const(0)), CHECK_MASK)


def _at_least_one(g: _Graph, vectors: str, mask: str, lengths: str) -> tuple[str, str]:
    """`vectors` (B, S, D) and `mask` (B, S) padded to at least one row and one position,
    the new ones masked out: the traced encoder's reshapes cannot take a 0 (they split a
    dimension with -1), and a sentence of no tokens pools to the same as one of masked tokens.
    `_ROWS` holds B, for the output to be cut back to."""
    shape = g.op("Shape", lengths)
    extra = g.op("Sub", g.op("Max", shape, g.const([1, 1])), shape)
    g.nodes.append(helper.make_node("Slice", [shape, g.const([0]), g.const([1])], [_ROWS], name=_ROWS))
    zeros = g.const([0, 0])
    mask = g.op("Pad", mask, g.op("Concat", zeros, extra, axis=0))
    extra = g.op("Concat", extra, g.const([0]), axis=0)
    vectors = g.op("Pad", vectors, g.op("Concat", g.const([0, 0, 0]), extra, axis=0))
    return vectors, mask


def check_quantize(quantize: Any) -> Any:
    """`quantize` if it is one of QUANTIZE, else a ParameterError."""
    if not (quantize is None or isinstance(quantize, str)) or quantize not in QUANTIZE:
        message = f"quantize={quantize!r} is not known: one of {', '.join(map(repr, QUANTIZE))}"
        raise parameter_error(ParameterError, message, "quantize", quantize)
    return quantize


def codepoint_inputs(tokens: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
    """`codepoints` int64 (B, S, L) and `lengths` int64 (B, S) of a padded batch of token
    strings (`tokens`: B rows of S str each), as `with_encoder`'s graph takes them.

    One UTF-32 encoding of all the tokens and one scatter: several times faster than a loop
    over the tokens in Python, so that the conversion takes little of a model's time."""
    if isinstance(tokens, str) or not isinstance(tokens, Sequence):
        message = f"tokens must be a list of rows of token strings, not {type(tokens).__name__}"
        raise parameter_error(ParameterTypeError, message, "tokens", tokens)
    batch, seq = len(tokens), len(tokens[0]) if len(tokens) else 0
    for i, row in enumerate(tokens):
        if isinstance(row, str) or not isinstance(row, Sequence):
            message = f"tokens[{i}] must be a row of token strings, not {type(row).__name__}"
            raise parameter_error(ParameterTypeError, message, "tokens", row, index=i)
        if len(row) != seq:
            message = f"tokens[{i}] has {len(row)} tokens, tokens[0] {seq}: pad the rows to one length"
            raise parameter_error(ParameterError, message, "tokens", row, index=i)
        for j, token in enumerate(row):
            if not isinstance(token, str):
                message = f"tokens[{i}][{j}] must be a str, not {type(token).__name__}"
                raise parameter_error(ParameterTypeError, message, "tokens", token, index=(i, j))
    flat = [t for row in tokens for t in row]
    lengths = np.fromiter(map(len, flat), dtype=np.int64, count=len(flat))
    points = np.frombuffer("".join(flat).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    width = int(lengths.max()) if len(flat) else 0
    cp = np.zeros((len(flat), width), dtype=np.int64)
    starts = np.cumsum(lengths) - lengths
    rows = np.repeat(np.arange(len(flat)), lengths)
    cp[rows, np.arange(len(points)) - np.repeat(starts, lengths)] = points
    return cp.reshape(batch, seq, width), lengths.reshape(batch, seq)


def with_encoder(
    embedder: HashEmbedder,
    encoder: onnx.ModelProto,
    *,
    opset: int = 17,
    deduplicate: bool = True,
    max_positions: int | None = None,
) -> onnx.ModelProto:
    """One ONNX model from token code points to sentence embeddings: `embedder`'s hash
    sub-graph feeding `encoder`, a model from ENCODER_INPUTS to a pooled (B, hidden) output
    (`hashembed.torch.export_model` traces one from a transformers model). Inputs
    `codepoints` int64 (B, S, L), `lengths` and `attention_mask` int64 (B, S); output
    SENTENCE_OUTPUT float32 (B, hidden). The mask is checked against `lengths` (CHECK_MASK)
    and, given `max_positions` (the encoder's position table), S against it (CHECK_POSITIONS,
    where a runtime would otherwise fail deep inside the encoder); B, S or L may be 0 though
    the encoder's reshapes cannot take one."""
    opset = check_opset(opset)
    g = _Graph("hashembed/")
    vectors = _embedding(g, embedder, "codepoints", "lengths", bool(deduplicate))
    mask = _checked_mask(g, "attention_mask", "lengths")
    if max_positions is not None:
        positions = g.op("Gather", g.op("Shape", mask), g.const(1))
        too_many = g.op("Greater", positions, g.const(int(max_positions)))
        mask = _gate(g, mask, too_many, f"{CHECK_POSITIONS}{int(max_positions)}")
    for value, name in zip(_at_least_one(g, vectors, mask, "lengths"), (_VECTORS, _MASK)):
        g.nodes.append(helper.make_node("Identity", [value], [name], name=name))
    graph = helper.make_graph(
        g.nodes,
        "hashembed",
        [
            helper.make_tensor_value_info("codepoints", TensorProto.INT64, ["B", "S", "L"]),
            helper.make_tensor_value_info("lengths", TensorProto.INT64, ["B", "S"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["B", "S"]),
        ],
        [
            helper.make_tensor_value_info(_VECTORS, TensorProto.FLOAT, [None, None, embedder.dim]),
            helper.make_tensor_value_info(_MASK, TensorProto.INT64, [None, None]),
        ],
        initializer=g.constants,
    )
    embedding = _model(graph, opset, encoder.ir_version)
    merged = onnx.compose.merge_models(embedding, encoder, io_map=[(_VECTORS, _VECTORS), (_MASK, _MASK)])
    # torch names the standard domain "", onnx's helper leaves it unset: merged, it is
    # imported twice, which onnxruntime's quantiser refuses
    imports = {("" if o.domain == "ai.onnx" else o.domain): o.version for o in merged.opset_import}
    del merged.opset_import[:]
    merged.opset_import.extend(helper.make_opsetid(domain, v) for domain, v in imports.items())
    # the rows `_at_least_one` added cut off again
    pooled = merged.graph.output.pop()
    zero = numpy_helper.from_array(np.zeros(1, np.int64), "hashembed/zero")
    merged.graph.initializer.append(zero)
    cut = [pooled.name, zero.name, _ROWS, zero.name]
    merged.graph.node.append(helper.make_node("Slice", cut, [SENTENCE_OUTPUT], name=SENTENCE_OUTPUT))
    hidden = pooled.type.tensor_type.shape.dim[1].dim_value or None
    output = helper.make_tensor_value_info(SENTENCE_OUTPUT, TensorProto.FLOAT, ["B", hidden])
    merged.graph.output.append(output)
    _describe(merged, embedder)
    onnx.checker.check_model(merged, full_check=True)
    return merged
