"""docs/compression.md and its plots, from the results of the runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

METRICS = (("mean_cosine", "mean cosine"), ("spearman", "Spearman"), ("nn_agreement", "NN agreement"))
TARGET_COSINE, TARGET_SPEARMAN, TARGET_SHARE = 0.90, 0.85, 0.03


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9, "axes.grid": True, "grid.alpha": 0.3, "savefig.dpi": 110})
    return plt


def plot_budget(runs: list[dict[str, Any]], path: Path) -> None:
    """Mean cosine and Spearman on the held-out sentences against minutes of training."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharex=True)
    for run in runs:
        points = [h for h in run["history"] if "mean_cosine" in h]
        start = [{"seconds": 0.0, **run["initial_metrics"]}]
        for ax, (key, title) in zip(axes, METRICS[:2]):
            xs = [p["seconds"] / 60 for p in start + points]
            ax.plot(xs, [p[key] for p in start + points], marker="o", ms=3, label=run["label"])
            ax.set_title(f"{title} to the teacher, held-out sentences")
            ax.set_xlabel("minutes of training (2 cores)")
    for ax, target in zip(axes, (TARGET_COSINE, TARGET_SPEARMAN)):
        ax.axhline(target, color="gray", ls=":", lw=1)
    axes[1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _row(cells: list[Any]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _metric_cells(m: dict[str, float]) -> list[str]:
    return [f"{m[k]:.3f}" for k, _ in METRICS]


def table_a(untrained: list[dict[str, Any]], trained: list[dict[str, Any]], table_params: int) -> list[str]:
    lines = [
        _row(["student", "input-layer parameters", "share of the table", *[t for _, t in METRICS],
              "training (min, CPU s)", "sentences"]),
        _row(["---", *["--:"] * 7]),
    ]  # fmt: skip
    for r in [*untrained, *trained]:
        share = r["input_params"] / table_params
        training = f"{r['seconds'] / 60:.1f}, {r['cpu_seconds']:,.0f}" if r["trained"] else "none"
        sentences = f"{r['sentences']:,}" if r["trained"] else "0"
        cells = [r["description"], f"{r['input_params']:,}", f"{share:.1%}", *_metric_cells(r["metrics"])]
        lines.append(_row([*cells, training, sentences]))
    return lines


def table_b(results: dict[str, dict[str, Any]], descriptions: dict[str, str]) -> list[str]:
    full = results["table"]["params"]
    lines = [
        _row(["model", "parameters", "share of the table model", "bytes", "accuracy", "with typos",
              "unseen words", "training CPU s"]),
        _row(["---", *["--:"] * 7]),
    ]  # fmt: skip
    for name, r in results.items():
        accuracy = [f"{r[f'accuracy_{k}']:.1%}" for k in ("clean", "typos", "unseen")]
        share = f"{r['params'] / full:.1%}"
        lines.append(_row([descriptions[name], f"{r['params']:,}", share, f"{r['bytes']:,}", *accuracy,
                           f"{r['cpu_seconds']:.0f}"]))  # fmt: skip
    return lines
