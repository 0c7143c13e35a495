"""Deployed models as a device runs them, text in and vectors out: the ONNX files in onnxruntime
and the static peer in model2vec, each with its own tokenizer, timed side by side, and each
one's peak memory in a process of its own.

Nothing here imports torch: the timing and the memory are measured in processes of their own
that load only the runtime, the tokenizer and the model, as a device would.

    python -m compression_report.inference < task.json   # prints the result as JSON
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable

import numpy as np
from hashembed.onnx import codepoint_inputs

THREADS = 2
MIN_SECONDS = 0.5
Embed = Callable[[list[str]], np.ndarray]
EVAL_DIR = Path(__file__).resolve().parent.parent


def tokenizer_from(path: str, max_length: int) -> Any:
    """A `tokenizers` tokenizer from its JSON file, truncating to `max_length` and padding."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(path)
    tokenizer.enable_truncation(max_length)
    pad_id = tokenizer.token_to_id("[PAD]")
    # padded positions are masked out, so any id serves where the vocabulary has no [PAD]
    tokenizer.enable_padding(pad_id=0 if pad_id is None else pad_id, pad_token="[PAD]")
    return tokenizer


def _session(path: str) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = THREADS
    options.inter_op_num_threads = 1
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def model_inputs(encodings: Sequence[Any], by_codepoints: bool) -> dict[str, np.ndarray]:
    """The inputs of an exported model for a padded batch of `tokenizers` encodings: the
    tokens' code points (`hashembed.torch.export_model`'s graph) or their ids (the original's)."""
    mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
    if by_codepoints:
        cp, lengths = codepoint_inputs([e.tokens for e in encodings])
        return {"codepoints": cp, "lengths": lengths, "attention_mask": mask}
    return {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64), "attention_mask": mask}


def _onnx(spec: dict[str, Any]) -> Embed:
    session = _session(spec["path"])
    tokenizer = tokenizer_from(spec["tokenizer"], spec["max_length"])
    by_codepoints = spec["kind"] == "codepoints"

    def embed(texts: list[str]) -> np.ndarray:
        return session.run(None, model_inputs(tokenizer.encode_batch(texts), by_codepoints))[0]

    return embed


def load_map(path: str) -> tuple[np.ndarray, np.ndarray]:
    from safetensors.numpy import load_file

    tensors = load_file(path)
    return tensors["weight"], tensors["bias"]


def apply_map(vectors: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """The linear map into the teacher's space, then the L2 normalisation its embeddings have."""
    out = vectors.astype(np.float32) @ weight + bias
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def _static(spec: dict[str, Any]) -> Embed:
    from model2vec import StaticModel

    model = StaticModel.from_pretrained(spec["path"])
    # model2vec's max_length counts tokens without [CLS] and [SEP]; the teacher's counts them
    max_length = spec["max_length"] - 2
    mapping = load_map(spec["map"]) if spec.get("map") else None

    def embed(texts: list[str]) -> np.ndarray:
        vectors = model.encode(texts, max_length=max_length, use_multiprocessing=False)
        return vectors.astype(np.float32) if mapping is None else apply_map(vectors, *mapping)

    return embed


def load(spec: dict[str, Any]) -> Embed:
    """The text-to-vectors function of `spec`: {"kind": "ids" (an ONNX file taking token ids),
    "codepoints" (one taking token code points) or "static" (a model2vec directory, with
    "map", a map file, or none), "path", "tokenizer" (a tokenizer.json, for the ONNX kinds),
    "max_length"}."""
    return _static(spec) if spec["kind"] == "static" else _onnx(spec)


def embed_all(embed: Embed, texts: Sequence[str], batch: int = 32) -> np.ndarray:
    """Vectors of every text, in batches of similar lengths (so little is padding), in order."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    parts = [embed([texts[i] for i in order[s : s + batch]]) for s in range(0, len(order), batch)]
    out = np.empty((len(texts), parts[0].shape[1]), dtype=np.float32)
    out[order] = np.concatenate(parts)
    return out


def _rate(embed: Embed, texts: list[str], batch: int, min_seconds: float) -> float:
    """Sentences/s over passes through `texts` in batches of `batch`, as many passes as fill
    `min_seconds`: one pass of a static model is too short to time on a busy machine."""
    start, done = time.perf_counter(), 0
    while True:
        for s in range(0, len(texts), batch):
            embed(texts[s : s + batch])
        done += len(texts)
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return done / elapsed


def _throughput(task: dict[str, Any]) -> dict[str, dict[str, list[float]]]:
    embeds = {name: load(spec) for name, spec in task["specs"].items()}
    texts, batches = sorted(task["texts"], key=len), task["batches"]
    for embed in embeds.values():
        embed(texts[: max(batches)])  # a first run allocates and plans: it is not timed
    rates: dict[str, dict[str, list[float]]] = {name: {str(b): [] for b in batches} for name in embeds}
    for _ in range(task["rounds"]):
        for name, embed in embeds.items():
            for batch in batches:
                rates[name][str(batch)].append(_rate(embed, texts, batch, task["min_seconds"]))
    return rates


def _peak_rss() -> int:
    """This process's peak resident set, in bytes: VmHWM. Not ru_maxrss, which Linux carries
    across execve, so that a child of a large process reports its parent's peak."""
    with open("/proc/self/status", encoding="ascii") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024  # in kB


def _rss(task: dict[str, Any]) -> int:
    load(task["spec"])(task["texts"])
    return _peak_rss()


def _in_child(task: dict[str, Any]) -> Any:
    """The result of `task`, run by a fresh interpreter that imports no torch."""
    path = [str(EVAL_DIR), *filter(None, [os.environ.get("PYTHONPATH")])]
    # numpy on one thread: the static peer's map, (32, 256) @ (256, 384), is too small for a
    # second thread to pay, and where other work holds the other core, each call waits for
    # it (0.08 against 12 to 16 ms measured so); onnxruntime has its own threads (THREADS)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path), "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "compression_report.inference"], input=json.dumps(task), capture_output=True,
        text=True, env=env,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{task['task']} failed in its own process:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def throughput(
    specs: dict[str, dict[str, Any]], texts: list[str], batches: Sequence[int], rounds: int
) -> dict[str, dict[str, list[float]]]:
    """Sentences/s of each model (name -> spec) on `texts` at each batch size (as a string),
    tokenisation included, once per round, in a process of their own. Each round runs every
    model in turn, so a change in the machine's load falls on all of them alike. Batches hold
    texts of similar length, as a bulk encoder makes them (`embed_all`), so the ONNX models
    pad little; model2vec groups a batch by length itself."""
    task = {"task": "throughput", "specs": specs, "texts": texts, "batches": list(batches), "rounds": rounds}
    return _in_child({**task, "min_seconds": MIN_SECONDS})


def peak_rss(spec: dict[str, Any], texts: list[str]) -> int:
    """The peak resident set, in bytes, of a fresh process that loads `spec` and embeds `texts`
    as one batch: the interpreter, numpy, the runtime, the tokenizer and the model, nothing
    subtracted."""
    return _in_child({"task": "rss", "spec": spec, "texts": texts})


if __name__ == "__main__":
    task = json.load(sys.stdin)
    print(json.dumps({"rss": _rss, "throughput": _throughput}[task["task"]](task)))
