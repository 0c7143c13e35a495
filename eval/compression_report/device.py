"""Part (c) of docs/compression.md: smaller students for a device, deployed side by side with
the original and the static peer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import students as c
from .peers import peer_rows
from .report import _row
from .tradeoff import plot_quality, table_rows

TARGET_BYTES, TARGET_COSINE, TARGET_SPEARMAN, TARGET_SPEEDUP = 5e6, 0.80, 0.75, 5.0
TARGET_SAME_BYTES, TARGET_SAME_COSINE, TARGET_MAIN_COSINE = 12e6, 0.88, 0.90
MB = 1e6
TEACHER = "all-MiniLM-L6-v2"
PEER = "model2vec"


def deployed_rows(
    setup: Any, results: Path, runs: dict[str, dict[str, Any]], rounds: int
) -> list[dict[str, Any]]:
    """The table's rows: every trained student read back from its save, exported and measured."""
    models = {f"hash {name}": c.load_student(results, name)[0] for name in runs}
    return peer_rows(setup, results / "onnx", students=models, rounds=rounds)


def _training_table(runs: dict[str, dict[str, Any]]) -> list[str]:
    lines = [
        _row(["student", "parameters", "steps", "training (min)", "torch threads", "mean cosine", "Spearman",
              "NN agreement", "mean cosine, untrained"]),
        _row(["---", *["--:"] * 8]),
    ]  # fmt: skip
    for name, r in runs.items():
        m = r["metrics"]
        lines.append(_row([
            f"{name}: {r['description']}", f"{r['params']:,}", f"{r['steps']:,}", f"{r['seconds'] / 60:.1f}",
            f"{r['threads']}", f"{m['mean_cosine']:.3f}", f"{m['spearman']:.3f}", f"{m['nn_agreement']:.3f}",
            f"{r['initial_metrics']['mean_cosine']:.3f}",
        ]))  # fmt: skip
    return lines


def _by(rows: list[dict[str, Any]], start: str) -> list[dict[str, Any]]:
    return [r for r in rows if r["name"].startswith(start)]


def _verdict(ok: bool) -> str:
    return "**meets**" if ok else "**misses**"


def _targets(runs: dict[str, dict[str, Any]], rows: list[dict[str, Any]]) -> list[str]:
    teacher = {r["name"].rsplit(", ", 1)[1]: r for r in _by(rows, TEACHER)}["fp32"]
    peer = _by(rows, PEER)[-1]  # with its map
    students = [r for r in rows if r["name"].startswith("hash ")]
    int8 = [r for r in students if r["name"].endswith("int8")]
    lines = []
    small = [r for r in int8 if r["bytes"] <= TARGET_BYTES]
    best = max(small, key=lambda r: r["mean_cosine"] or 0, default=None)
    if best is not None:
        speed = (best["sps_1"] / teacher["sps_1"], best["sps_32"] / teacher["sps_32"])
        ok = (
            best["mean_cosine"] >= TARGET_COSINE
            and best["spearman"] >= TARGET_SPEARMAN
            and min(speed) >= TARGET_SPEEDUP
        )
        lines.append(
            f"- A student with an int8 file of at most {TARGET_BYTES / MB:g} MB, mean cosine >= "
            f"{TARGET_COSINE}, Spearman >= {TARGET_SPEARMAN} and {TARGET_SPEEDUP:g}x the original's "
            f"sentences/s: the best of them, {best['name']} ({best['bytes'] / MB:.1f} MB), has "
            f"{best['mean_cosine']:.3f} and {best['spearman']:.3f} at {speed[0]:.1f}x (batch 1) and "
            f"{speed[1]:.1f}x (batch 32): {_verdict(ok)}."
        )
    same = next((r for r in int8 if r["name"].startswith(f"hash {c.MAIN},")), None)
    if same is not None:
        ok = same["bytes"] <= TARGET_SAME_BYTES and same["mean_cosine"] >= TARGET_SAME_COSINE
        lines.append(
            f"- The same-size student in int8 at most {TARGET_SAME_BYTES / MB:g} MB with mean cosine >= "
            f"{TARGET_SAME_COSINE}: {same['bytes'] / MB:.1f} MB and {same['mean_cosine']:.3f}: "
            f"{_verdict(ok)}."
        )
    main = runs.get(c.MAIN)
    if main is not None:
        cosine = main["metrics"]["mean_cosine"]
        lines.append(
            f"- The main {main['max_seconds'] / 60:g}-minute run of the same-size student at mean cosine >= "
            f"{TARGET_MAIN_COSINE}: {cosine:.3f} after {main['steps']:,} steps: "
            f"{_verdict(cosine >= TARGET_MAIN_COSINE)}."
        )
    behind = [
        r["name"] for r in students if not (r["bytes"] < peer["bytes"] and r["spearman"] > peer["spearman"])
    ]
    lines.append(
        f"- Every student ahead of {peer['name']} ({peer['bytes'] / MB:.1f} MB, Spearman "
        f"{peer['spearman']:.3f}) on Spearman at fewer bytes: "
        + (f"{_verdict(False)}: not {', '.join(behind)}." if behind else f"{_verdict(True)}.")
    )
    return lines


def _int8_loss(rows: list[dict[str, Any]]) -> list[str]:
    lines = [_row(["model", "fp32 -> int8 MB", "mean cosine", "Spearman", "NN agreement"]),
             _row(["---", *["--:"] * 4])]  # fmt: skip
    pairs: dict[str, dict[str, dict[str, Any]]] = {}
    for r in rows:
        base, _, precision = r["name"].rpartition(", ")
        if precision in ("fp32", "int8"):
            pairs.setdefault(base, {})[precision] = r
    for base, p in pairs.items():
        if len(p) != 2:
            continue
        a, b = p["fp32"], p["int8"]
        cells = [f"{a[k]:.3f} -> {b[k]:.3f}" for k in ("mean_cosine", "spearman", "nn_agreement")]
        lines.append(_row([base, f"{a['bytes'] / MB:.1f} -> {b['bytes'] / MB:.1f}", *cells]))
    return lines


def part_c(
    runs: dict[str, dict[str, Any]], rows: list[dict[str, Any]], ctx: dict[str, Any], img: Path
) -> list[str]:
    plot_quality(rows, "bytes", img / "compression_bytes.png")
    plot_quality(rows, "sps_32", img / "compression_speed.png")
    return [
        "## (c) Smaller students for a device",
        "",
        "The students of (a) keep the teacher's 11M-parameter body. Here the body shrinks too: "
        "`shrink(..., num_layers=, hidden_size=)` builds a smaller encoder of the teacher's class, starts "
        "each of its layers from every k-th teacher layer and, for a narrower width, reads the teacher's "
        "weights through the principal directions of its hidden states on the training text, with an output "
        "projection back to 384 that the loss and the sentence embedding go through "
        "(`hashembed.torch.students`). Every student uses the spec's default configuration (dim 768), the "
        "same training and held-out text as (a), 32 sentences a step, and a fixed number of steps (the main "
        f"one: {ctx['minutes']:g} minutes), each at a learning rate above `shrink`'s default (5e-5), which "
        "suits runs this short (an earlier run of this report: 4x256 at 800 steps, mean cosine 0.697 at "
        "5e-5, 0.742 at 2e-4). The smaller students trained two at a time, one torch thread each, with other "
        "work on the machine, and the main one alone on both threads; the steps, not the minutes, are what "
        "compare.",
        "",
        "### Training",
        "",
        *_training_table(runs),
        "",
        "### Deployed: ONNX files and the static peer, side by side",
        "",
        'Each student is exported by `hashembed.torch.export_model` (fp32) and with `quantize="int8"`; the '
        f"original is exported from torch the same way (token ids in) and quantised alike; {PEER} is "
        "distilled from the same teacher (PCA 256), raw and with a least-squares map to the teacher's space "
        "fitted on training sentences (the raw one's mean cosine is n/a: its space is its own). Quality is "
        "on the held-out sentences; sentences/s include tokenisation (text in, vectors out), onnxruntime "
        "on 2 threads, every model in each round so that the machine's load falls on all alike; peak RSS is "
        "each model loaded and run in a process of its own.",
        "",
        *table_rows(rows),
        "",
        "![quality against file size](img/compression_bytes.png)",
        "",
        "![quality against speed](img/compression_speed.png)",
        "",
        "What int8 costs (dynamic quantisation of the body's weights and tables; the hash sub-graph stays "
        "exact):",
        "",
        *_int8_loss(rows),
        "",
        "### Against the targets",
        "",
        *_targets(runs, rows),
        "",
    ]
