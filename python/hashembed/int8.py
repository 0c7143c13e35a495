"""int8 ONNX files that keep their float model's output on every CPU.

    from hashembed.int8 import quantize_int8, read_report
    report = quantize_int8("model.onnx", "model-int8.onnx", samples=[feeds, ...])
    report.mean_cosine, report.kept_float       # also read_report("model-int8.onnx")

Weights are stored in int8 by onnxruntime's dynamic quantisation, with one scale per output
column and 7-bit weights (`reduce_range`). The 7 bits are what make the file hold everywhere:
activations are uint8, and x86 CPUs without VNNI (AVX2 alone: many laptops, older servers and
AMD before Zen 4) multiply uint8 by int8 with an instruction that adds each pair of products
in 16 bits, saturating at 32,767. 255 x 127 x 2 overflows it, so outlier activations came out
wrong there (mean cosine 0.339 to the float file for a 2-layer student); 255 x 64 x 2 = 32,640
cannot. docs/compression.md compares the candidates on such a CPU and on one with VNNI.

The file written is then checked against the float graph on sample inputs: where the mean
cosine of the first output falls below `min_cosine`, the nodes whose quantisation costs most
(each measured alone) are kept in float, as few as reach it. What was kept and the figures
are in the file's metadata (`read_report`); where even a quarter of the weights kept in float
does not reach it, an `Int8Warning` says so with the figure.
"""

from __future__ import annotations

import json
import logging
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
        return (
            f"int8: mean cosine {self.mean_cosine:.4f} to the float model (lowest "
            f"{self.min_cosine:.4f}) on {self.samples} sample rows{kept}{verdict}"
        )


def _check_min_cosine(min_cosine: Any) -> float:
    if isinstance(min_cosine, bool) or not isinstance(min_cosine, (int, float)):
        message = f"min_cosine must be a number, not {type(min_cosine).__name__}"
        raise parameter_error(ParameterTypeError, message, "min_cosine", min_cosine)
    if not 0.0 <= min_cosine <= 1.0:
        message = f"min_cosine must be in [0, 1], not {min_cosine!r}"
        raise parameter_error(ParameterError, message, "min_cosine", min_cosine)
    return float(min_cosine)


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
    return list(samples)


class _Runner:
    """Runs graphs on the sample and compares their first output with the float graph's."""

    def __init__(self, float_model: bytes, samples: list[dict[str, np.ndarray]]):
        self._ort = optional("onnxruntime", "int8", "quantize_int8")
        self.samples = samples
        self.reference = self.outputs(float_model)

    def outputs(self, model: bytes) -> np.ndarray:
        options = self._ort.SessionOptions()
        options.log_severity_level = 3
        session = self._ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        rows = [np.asarray(session.run(None, feeds)[0], dtype=np.float64) for feeds in self.samples]
        return np.concatenate([r.reshape(r.shape[0], -1) for r in rows])

    def cosines(self, model: bytes) -> np.ndarray:
        got, want = self.outputs(model), self.reference
        norms = np.linalg.norm(got, axis=1) * np.linalg.norm(want, axis=1)
        # two zero rows (an empty text) agree; one zero row against another does not
        both_zero = norms == 0
        return np.where(both_zero, 1.0, (got * want).sum(1) / np.where(both_zero, 1.0, norms))


class _NoPreprocessingAdvice(logging.Filter):
    # onnxruntime's advice is for models whose shapes a pre-pass can fix; these are dynamic
    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing" not in record.getMessage()


def _quantised(source: onnx.ModelProto, nodes: Sequence[str], workdir: Path) -> bytes:
    """`source` with the weights of `nodes` in int8, as serialised bytes."""
    quantization = optional("onnxruntime.quantization", "int8", "quantize_int8")
    out = workdir / "int8.onnx"
    advice = _NoPreprocessingAdvice()
    logging.getLogger().addFilter(advice)
    try:
        quantization.quantize_dynamic(
            source, out, weight_type=quantization.QuantType.QInt8, op_types_to_quantize=list(_QUANTISED_OPS),
            per_channel=True, reduce_range=True, nodes_to_quantize=list(nodes),
        )  # fmt: skip
    finally:
        logging.getLogger().removeFilter(advice)
    return out.read_bytes()


def _weights(source: onnx.ModelProto, keep: tuple[str, ...]) -> dict[str, int]:
    """The nodes dynamic quantisation would store in int8, each with its weight count, in
    graph order: MatMul, Gemm and Gather nodes with a float initializer among their inputs."""
    floats = {
        t.name: int(np.prod(t.dims, dtype=np.int64))
        for t in source.graph.initializer
        if t.data_type == onnx.TensorProto.FLOAT and len(t.dims) == 2
    }
    found = {}
    for node in source.graph.node:
        if node.op_type in _QUANTISED_OPS and not node.name.startswith(keep):
            size = sum(floats.get(i, 0) for i in node.input)
            if size:
                found[node.name] = size
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
            w = next(tables[i] for i in node.input if i in tables and tables[i].ndim == 2)
            if node.op_type == "Gemm" and any(a.name == "transB" and a.i for a in node.attribute):
                w = w.T
            x = values[inputs[node.name]] if node.name in inputs else None
            if x is None:
                exact, rounded = w, _fake_quantised(w, -64, 64, axis=0)
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
    source: onnx.ModelProto
    workdir: Path
    target: float

    def attempt(self, kept: Sequence[str]) -> tuple[bytes, np.ndarray]:
        quantised = [n for n in self.weights if n not in set(kept)]
        model = _quantised(self.source, quantised, self.workdir)
        return model, self.runner.cosines(model)

    def costs(self) -> list[str]:
        """The nodes, costliest first (`_local_errors`)."""
        errors = _local_errors(self.source, self.weights, self.runner.samples[0])
        return sorted(self.weights, key=lambda n: -errors[n])

    def keep(self) -> tuple[bytes, np.ndarray, tuple[str, ...]]:
        model, cos = self.attempt(())
        if cos.mean() >= self.target:
            return model, cos, ()
        order = self.costs()
        budget = MAX_FLOAT_SHARE * sum(self.weights.values())
        most, total = 0, 0
        while most < len(order) and total + self.weights[order[most]] <= budget:
            total += self.weights[order[most]]
            most += 1
        best = self.attempt(order[:most]) if most else (model, cos)
        if most == 0 or best[1].mean() < self.target:
            return best[0], best[1], tuple(order[:most])
        low, high = 1, most  # the fewest of the costliest that reach the target: high reaches it
        results = {most: best}
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
    weights and the tables its Gathers read in int8, checked on `samples`; returns the
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
    target = _check_min_cosine(min_cosine)
    source = model if isinstance(model, onnx.ModelProto) else onnx.load(os.fspath(model))
    batches = _check_samples(samples, source.graph)
    out = check_file_target(path)
    runner = _Runner(source.SerializeToString(), batches)
    weights = _weights(source, keep)
    with tempfile.TemporaryDirectory(prefix="hashembed-int8-") as workdir:
        search = _Search(runner, weights, source, Path(workdir), target)
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
    """The `Int8Report` of an int8 file written by `quantize_int8`; None for another file."""
    model = onnx.load(os.fspath(path), load_external_data=False)
    found = next((p.value for p in model.metadata_props if p.key == METADATA_KEY), None)
    if found is None:
        return None
    fields = json.loads(found)
    return Int8Report(**{**fields, "kept_float": tuple(fields["kept_float"])})
