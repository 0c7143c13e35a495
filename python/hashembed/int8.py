"""int8 ONNX files that keep their float model's output on every CPU.

    from hashembed.int8 import quantize_int8, read_report
    report = quantize_int8("model.onnx", "model-int8.onnx", samples=[feeds, ...])
    report.mean_cosine, report.kept_float       # also read_report("model-int8.onnx")

Matrix weights are stored in int8 by onnxruntime's dynamic quantisation, with one scale per
output column and 7 bits (`reduce_range`); the tables Gathers read, in uint8 with one scale.
The 7 bits are what make the file hold everywhere: activations are uint8, and x86 CPUs
without VNNI (AVX2 alone: many laptops, older servers and AMD before Zen 4) multiply uint8
by int8 with an instruction that adds each pair of products in 16 bits, saturating at
32,767. 255 x 127 x 2 overflows it, so outlier activations came out wrong there (mean cosine
0.339 to the float file for a 2-layer student); 255 x 64 x 2 = 32,640 cannot.
docs/compression.md compares the candidates on such a CPU and on one with VNNI.

The file written is then checked against the float graph on sample inputs: where the mean
cosine of the first output falls below `min_cosine`, the nodes whose quantisation costs
most (each node's error estimated from one float run) are kept in float, as few as reach
it. What was kept and the figures are in the file's metadata (`read_report`); where even a
quarter of the weights kept in float does not reach it, an `Int8Warning` says so with the
figure.
"""

from __future__ import annotations

import json
import logging
import numbers
import os
import re
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from ._files import check_file_target, replacing
from ._optional import optional
from .errors import ParameterError, ParameterTypeError, parameter_error

__all__ = [
    "MAX_FLOAT_SHARE",
    "METADATA_KEY",
    "MIN_COSINE",
    "Int8Report",
    "Int8Warning",
    "quantize_int8",
    "read_report",
    "sample_texts",
]

MIN_COSINE = 0.99
"""The mean cosine to the float graph an int8 file must keep on its sample inputs."""

MAX_FLOAT_SHARE = 0.25
"""The most of the quantisable weights (by count) that may be kept in float to reach
MIN_COSINE: past that the file is no longer an int8 file, and the shortfall is reported."""

METADATA_KEY = "hashembed.int8"
"""The key of the int8 file's metadata that holds its `Int8Report` as JSON."""

_QUANTISED_OPS = ("MatMul", "Gemm", "Gather")
_KEEP = ("hashembed/", "input_check__")


class Int8Warning(UserWarning):
    """An int8 file that keeps less than `min_cosine` of its float model on the sample."""


@dataclass(frozen=True)
class Int8Report:
    """How an int8 file compares with its float graph on the sample inputs: the mean and
    the lowest cosine of the first output's rows, the target, the nodes kept in float (in
    the order their quantisation cost most) and the share of the quantisable weights they
    hold, the rows compared, and whether the target was met."""

    mean_cosine: float
    min_cosine: float
    target: float
    kept_float: tuple[str, ...]
    float_share: float
    samples: int
    met: bool

    def summary(self) -> str:
        kept = f", {len(self.kept_float)} nodes kept in float" if self.kept_float else ""
        verdict = "" if self.met else f", below the target {self.target}"
        # enough digits that a figure short of its target does not print as the target
        digits = 4 if self.met or round(self.mean_cosine, 4) < self.target else 7
        return (
            f"int8: mean cosine {self.mean_cosine:.{digits}f} to the float model (lowest "
            f"{self.min_cosine:.{digits}f}) on {self.samples} sample rows{kept}{verdict}"
        )


def check_min_cosine(min_cosine: Any) -> float:
    """`min_cosine` as a float in [0, 1], else a ParameterError or ParameterTypeError."""
    if isinstance(min_cosine, bool) or not isinstance(min_cosine, numbers.Real):
        message = f"min_cosine must be a number, not {type(min_cosine).__name__}"
        raise parameter_error(ParameterTypeError, message, "min_cosine", min_cosine)
    value = float(min_cosine)
    if not 0.0 <= value <= 1.0:
        message = f"min_cosine must be in [0, 1], not {min_cosine!r}"
        raise parameter_error(ParameterError, message, "min_cosine", min_cosine)
    return value


def _check_samples(samples: Any, graph: onnx.GraphProto) -> list[dict[str, np.ndarray]]:
    names = sorted(i.name for i in graph.input)
    what = f"a list of input batches (dicts of {', '.join(names)})"
    if isinstance(samples, dict) or not isinstance(samples, Sequence):
        message = f"samples must be {what}, not {type(samples).__name__}"
        raise parameter_error(ParameterTypeError, message, "samples", samples)
    if not samples:
        raise parameter_error(ParameterError, f"samples must be {what}, not empty", "samples", samples)
    for i, feeds in enumerate(samples):
        if not isinstance(feeds, dict) or sorted(feeds) != names:
            got = sorted(feeds) if isinstance(feeds, dict) else type(feeds).__name__
            message = f"samples[{i}] must be a dict of the graph's inputs {names}, not {got}"
            raise parameter_error(ParameterError, message, "samples", feeds, index=i)
        if any(np.ndim(v) == 0 or len(v) == 0 for v in feeds.values()):
            message = f"samples[{i}] has no rows: each batch must hold at least one"
            raise parameter_error(ParameterError, message, "samples", feeds, index=i)
    return list(samples)


class _Runner:
    """Runs graphs on the sample and compares their first output with the float graph's."""

    def __init__(self, float_model: onnx.ModelProto, samples: list[dict[str, np.ndarray]]):
        self._ort = optional("onnxruntime", "int8", "quantize_int8")
        self.samples = samples
        first = float_model.graph.output[0]
        if first.type.tensor_type.elem_type not in (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE):
            message = f"the model's first output, {first.name}, is not a float tensor: no cosine compares it"
            raise parameter_error(ParameterError, message, "model", first.name)
        state = self._ort.capi.onnxruntime_pybind11_state
        try:
            self.reference = self.outputs(float_model.SerializeToString())
        except (state.InvalidArgument, state.Fail, state.RuntimeException) as e:
            message = f"samples cannot be run by the float model: {e}"
            raise parameter_error(ParameterError, message, "samples", samples) from None
        if self.reference.shape[1] < 2:
            message = f"the model's first output, {first.name}, has one value a row: no cosine compares it"
            raise parameter_error(ParameterError, message, "model", first.name)

    def outputs(self, model: bytes) -> np.ndarray:
        options = self._ort.SessionOptions()
        options.log_severity_level = 3
        session = self._ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        rows = [np.asarray(session.run(None, feeds)[0], dtype=np.float64) for feeds in self.samples]
        return np.concatenate([r.reshape(r.shape[0], -1) for r in rows])

    def cosines(self, model: bytes) -> np.ndarray:
        got, want = self.outputs(model), self.reference
        a, b = np.linalg.norm(got, axis=1), np.linalg.norm(want, axis=1)
        # two zero rows (an empty text) agree; a zero row against another does not
        both_zero, norms = (a == 0) & (b == 0), a * b
        cos = (got * want).sum(1) / np.where(norms == 0, 1.0, norms)
        return np.where(both_zero, 1.0, cos)


class _NoPreprocessingAdvice(logging.Filter):
    # onnxruntime's advice is for models whose shapes a pre-pass can fix; these are dynamic
    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing" not in record.getMessage()


def _quantised(source: onnx.ModelProto, excluded: Sequence[str], workdir: Path) -> bytes:
    """`source` with the weights of every node but `excluded` in int8, as serialised bytes.
    By exclusion, not by a list of the nodes to quantise: the quantiser turns a Gemm into a
    MatMul of another name first, which such a list would then leave in float."""
    quantization = optional("onnxruntime.quantization", "int8", "quantize_int8")
    out = workdir / "int8.onnx"
    advice = _NoPreprocessingAdvice()
    logging.getLogger().addFilter(advice)
    try:
        quantization.quantize_dynamic(
            source, out, weight_type=quantization.QuantType.QInt8, op_types_to_quantize=list(_QUANTISED_OPS),
            per_channel=True, reduce_range=True, nodes_to_exclude=list(excluded),
        )  # fmt: skip
    finally:
        logging.getLogger().removeFilter(advice)
    return out.read_bytes()


# The input of each op that dynamic quantisation stores in int8: a MatMul's or Gemm's B (it
# quantises no constant A), a Gather's table.
_WEIGHT_INPUT = {"MatMul": 1, "Gemm": 1, "Gather": 0}


def _weights(source: onnx.ModelProto, keep: tuple[str, ...]) -> dict[str, int]:
    """The nodes dynamic quantisation would store in int8 and this search may keep in float,
    each with its weight count, in graph order: named MatMul, Gemm and Gather nodes whose
    weight input is a 2-D float initializer (an unnamed one is quantised, never kept)."""
    floats = {
        t.name: int(np.prod(t.dims, dtype=np.int64))
        for t in source.graph.initializer
        if t.data_type == onnx.TensorProto.FLOAT and len(t.dims) == 2
    }
    found = {}
    for node in source.graph.node:
        at = _WEIGHT_INPUT.get(node.op_type)
        if at is None or not node.name or node.name.startswith(keep) or len(node.input) <= at:
            continue
        if node.input[at] in floats:
            found[node.name] = floats[node.input[at]]
    return found


def _fake_quantised(x: np.ndarray, low: float, high: float, axis: int | None) -> np.ndarray:
    """`x` rounded onto the grid dynamic quantisation gives it: asymmetric uint8 over the
    whole tensor (activations) or symmetric [-64, 64] per `axis` (7-bit weights)."""
    if axis is None:
        lo, hi = min(0.0, float(x.min())), max(0.0, float(x.max()))
        scale = (hi - lo) / (high - low) or 1.0
        zero = np.round(-lo / scale)
        return (np.clip(np.round(x / scale) + zero, low, high) - zero) * scale
    scale = np.abs(x).max(axis=axis, keepdims=True) / high
    scale[scale == 0] = 1.0
    return np.clip(np.round(x / scale), low, high) * scale


def _local_errors(
    source: onnx.ModelProto, weights: dict[str, int], feeds: dict[str, np.ndarray]
) -> dict[str, float]:
    """Each node's relative output error, |y_int8 - y| / |y|, with its weights and its
    input rounded as dynamic quantisation rounds them, from float runs of one sample batch:
    a ranking of what int8 costs in one pass, where quantising each node alone in turn
    would take minutes for a model of six layers."""
    ort = optional("onnxruntime", "int8", "quantize_int8")
    tables = {t.name: numpy_helper.to_array(t) for t in source.graph.initializer if t.name}
    nodes = [n for n in source.graph.node if n.name in weights]
    # a Gather's other input is its indices: what it loses is its table's own rounding
    inputs: dict[str, str] = {}
    for n in nodes:
        found = next((i for i in n.input if i not in tables), None)
        if n.op_type != "Gather" and found is not None:
            inputs[n.name] = found
    probe = onnx.ModelProto()
    probe.CopyFrom(source)
    wanted = sorted(set(inputs.values()))
    probe.graph.output.extend(
        onnx.helper.make_tensor_value_info(i, onnx.TensorProto.FLOAT, None) for i in wanted
    )
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    errors = {}
    for start in range(0, len(nodes), 8):  # a few activations at a time bounds the memory
        chunk = nodes[start : start + 8]
        names = sorted({inputs[n.name] for n in chunk if n.name in inputs})
        values = dict(zip(names, session.run(names, feeds))) if names else {}
        for node in chunk:
            w = tables[node.input[_WEIGHT_INPUT[node.op_type]]]
            if node.op_type == "Gemm" and any(a.name == "transB" and a.i for a in node.attribute):
                w = w.T
            x = values[inputs[node.name]] if node.name in inputs else None
            if x is None:  # a table: the quantiser stores it in uint8 with one scale
                exact, rounded = w, _fake_quantised(w, 0, 255, None)
            else:
                x = x.reshape(-1, w.shape[0]).astype(np.float64)
                exact, rounded = x @ w, _fake_quantised(x, 0, 255, None) @ _fake_quantised(w, -64, 64, 0)
            errors[node.name] = float(np.linalg.norm(rounded - exact) / (np.linalg.norm(exact) or 1.0))
    return errors


@dataclass
class _Search:
    """Which nodes to keep in float: the costliest first, as few as reach the target."""

    runner: _Runner
    weights: dict[str, int]
    excluded: list[str]
    source: onnx.ModelProto
    workdir: Path
    target: float

    def attempt(self, kept: Sequence[str]) -> tuple[bytes, np.ndarray]:
        names = [*self.excluded, *kept]
        # the quantiser rewrites a Gemm into a MatMul named after it before it reads the list
        model = _quantised(self.source, [*names, *(f"{n}_MatMul" for n in names)], self.workdir)
        return model, self.runner.cosines(model)

    def costs(self) -> list[str]:
        """The nodes, costliest first (`_local_errors`)."""
        errors = _local_errors(self.source, self.weights, self.runner.samples[0])
        return sorted(self.weights, key=lambda n: -errors[n])

    def keep(self) -> tuple[bytes, np.ndarray, tuple[str, ...]]:
        model, cos = self.attempt(())
        if cos.mean() >= self.target:
            return model, cos, ()
        # the costliest first, each that still fits the budget (a large one is passed over)
        budget, total, order = MAX_FLOAT_SHARE * sum(self.weights.values()), 0, []
        for name in self.costs():
            if total + self.weights[name] <= budget:
                order.append(name)
                total += self.weights[name]
        best = self.attempt(order) if order else (model, cos)
        if best[1].mean() < self.target:
            # short of the target even so: the better file of the two, and what it keeps
            return (*best, tuple(order)) if best[1].mean() > cos.mean() else (model, cos, ())
        low, high = 1, len(order)  # the fewest of the costliest that reach it: `high` does
        results = {high: best}
        while low < high:
            mid = (low + high) // 2
            results[mid] = self.attempt(order[:mid])
            if results[mid][1].mean() >= self.target:
                high = mid
            else:
                low = mid + 1
        model, cos = results[high]
        return model, cos, tuple(order[:high])


def quantize_int8(
    model: str | os.PathLike[str] | onnx.ModelProto,
    path: str | os.PathLike[str],
    *,
    samples: Sequence[dict[str, np.ndarray]],
    min_cosine: float = MIN_COSINE,
    keep: tuple[str, ...] = _KEEP,
) -> Int8Report:
    """Writes `model` (a float ONNX file or ModelProto) to `path` with its MatMul and Gemm
    weights in int8 (7 bits, a scale per column) and the tables its Gathers read in uint8,
    checked on `samples`; returns the
    `Int8Report`, which the file's metadata also holds (METADATA_KEY).

    `samples` are input batches of the graph (dicts of its inputs' names to arrays); the
    rows of the first output are compared with the float graph's. Nodes whose names start
    with one of `keep` (`hashembed.onnx.with_encoder`'s hash sub-graph and its checks) stay
    as they are; of the others, the costliest are kept in float until the mean cosine is at
    least `min_cosine`, within MAX_FLOAT_SHARE of the weights, else an `Int8Warning` gives
    the figure reached. Needs onnxruntime, whose quantisation tools these are.

    Per column, because one scale for a whole matrix lets its largest column set the step of
    every other: on 200 held-out sentences all-MiniLM-L6-v2 kept mean cosine 0.993 to its
    float self so, 0.962 with one scale a matrix, at the same bytes."""
    target = check_min_cosine(min_cosine)
    source = model if isinstance(model, onnx.ModelProto) else _load(model, "model")
    batches = _check_samples(samples, source.graph)
    out = check_file_target(path)
    runner = _Runner(source, batches)
    weights = _weights(source, keep)
    with tempfile.TemporaryDirectory(prefix="hashembed-int8-") as workdir:
        excluded = [n.name for n in source.graph.node if n.name.startswith(keep)]
        search = _Search(runner, weights, excluded, source, Path(workdir), target)
        quantised, cos, kept = search.keep()
    share = sum(weights[n] for n in kept) / max(1, sum(weights.values()))
    report = Int8Report(
        mean_cosine=float(cos.mean()), min_cosine=float(cos.min()), target=target, kept_float=kept,
        float_share=share, samples=len(cos), met=bool(cos.mean() >= target),
    )  # fmt: skip
    written = onnx.load_from_string(quantised)
    props = {p.key: p.value for p in written.metadata_props}
    onnx.helper.set_model_props(written, {**props, METADATA_KEY: json.dumps(asdict(report))})
    with replacing(out, Path(os.fspath(path))) as temp:
        onnx.save(written, str(temp))
    if not report.met:
        warnings.warn(
            f"{os.fspath(path)}: {report.summary()}, even with {share:.0%} of the weights kept in float; "
            "export it without quantize, or train longer: outlier activations are what int8 loses",
            Int8Warning,
            stacklevel=2,
        )
    return report


def sample_texts(count: int = 256) -> list[str]:
    """`count` sentences of English prose that ship with Python (the language reference's
    topics in `pydoc_data`, else the docstrings of the built-ins): what an int8 file is
    checked on when no training texts are given."""
    if isinstance(count, bool) or not isinstance(count, numbers.Integral) or count < 1:
        raise parameter_error(ParameterError, f"count must be an int >= 1, not {count!r}", "count", count)
    try:
        from pydoc_data.topics import topics

        prose = " ".join(topics[k] for k in sorted(topics))
    except ImportError:  # some distributions leave pydoc_data out
        import builtins

        prose = " ".join(getattr(v, "__doc__", None) or "" for v in vars(builtins).values())
    sentences = [" ".join(s.split()) for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", prose)]
    found = [s for s in sentences if 20 <= len(s) <= 300 and sum(c.isalpha() for c in s) > 0.6 * len(s)]
    if not found:
        raise RuntimeError("this Python ships no prose to sample: pass texts")
    return found[:: max(1, len(found) // count)][:count]


def read_report(path: str | os.PathLike[str]) -> Int8Report | None:
    """The `Int8Report` of an int8 file written by `quantize_int8`; None for another ONNX
    file. A file that is not ONNX, or whose report does not read, is a ParameterError."""
    model = _load(path, "path")
    found = next((p.value for p in model.metadata_props if p.key == METADATA_KEY), None)
    if found is None:
        return None
    try:
        fields = json.loads(found)
        return Int8Report(**{**fields, "kept_float": tuple(fields["kept_float"])})
    except (ValueError, TypeError, KeyError) as e:
        message = f"{os.fspath(path)}: its {METADATA_KEY} metadata is not an int8 report ({e})"
        raise parameter_error(ParameterError, message, "path", path) from None


def _load(path: str | os.PathLike[str], name: str) -> onnx.ModelProto:
    """The ONNX model at `path` (the parameter `name`), without its external data."""
    from google.protobuf.message import DecodeError  # onnx's own dependency

    try:
        return onnx.load(os.fspath(path), load_external_data=False)
    except DecodeError:
        message = f"{os.fspath(path)}: is not an ONNX model"
        raise parameter_error(ParameterError, message, name, path) from None
