"""The report's figures, drawn with matplotlib's Agg backend into PNG files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .collisions import POOLED
from .data import LANG_NAMES
from .methods import DEFAULT_BASE, WIDE_BASE
from .metrics import GROUP_LABELS, GROUPS

COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
LINESTYLES = ["-", "--", ":", "-."]
MARKER_SHAPES = ["o", "s", "^", "D"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9, "axes.grid": True, "grid.alpha": 0.3, "savefig.dpi": 110})
    return plt


def plot_typo_by_language(res: dict[str, Any], labels: list[str], path: Path) -> None:
    plt = _pyplot()
    langs = res["cfg"].langs
    metrics = (("auc", "typo AUC"), ("recall@1", "recall@1"), ("recall@10", "recall@10"))
    fig, axes = plt.subplots(len(metrics), 1, figsize=(10, 8.5), sharex=True)
    width = 0.8 / len(labels)
    x = np.arange(len(langs) + 1)
    for ax, (metric, title) in zip(axes, metrics):
        low = 1.0
        for i, label in enumerate(labels):
            values = [res["main"][label][lang][metric] for lang in langs]
            values.append(float(np.mean(values)))
            low = min(low, *values)
            ax.bar(x - 0.4 + (i + 0.5) * width, values, width, label=label, color=COLORS[i % len(COLORS)])
        ax.set_ylabel(title)
        ax.set_ylim(max(0.0, np.floor(low * 20) / 20 - 0.05) if metric == "auc" else 0, 1)
    axes[-1].set_xticks(x, [LANG_NAMES[lang] for lang in langs] + ["mean"])
    n_words = len(next(iter(res["data"].values())).words)
    fig.suptitle(f"Typo robustness: one random edit per word, {n_words:,} most frequent words per language")
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path)
    plt.close(fig)


def plot_collisions(res: dict[str, Any], path: Path) -> None:
    plt = _pyplot()
    coll = res["collisions"]
    sources = [s for s in coll if s != POOLED]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.0), gridspec_kw={"width_ratios": [2.4, 1]})
    x = np.arange(len(sources))
    for i, n in enumerate((2, 3, 4)):
        shares = [100 * coll[s][n][DEFAULT_BASE]["share"] for s in sources]
        ax1.bar(x - 0.3 + i * 0.3, shares, 0.28, label=f"{n}-grams", color=COLORS[i])
    ax1.set_xticks(x, sources, rotation=20)
    ax1.set_ylabel("% of distinct n-grams sharing a hash")
    wide_free = all(coll[s][n][WIDE_BASE]["colliding"] == 0 for s in sources for n in (2, 3, 4))
    ax1.set_title(
        f"Base 31, per source (base {WIDE_BASE}: {'none for 2- to 4-grams' if wide_free else 'see table'})"
    )
    ax1.legend(fontsize=8)
    ns = (1, 2, 3, 4, 5)
    pooled = coll[POOLED]
    for i, b in enumerate((DEFAULT_BASE, WIDE_BASE)):
        shares = [100 * pooled[n][b]["share"] for n in ns]
        bars = ax2.bar(
            np.arange(len(ns)) - 0.2 + 0.4 * i, shares, 0.38, label=f"base {b}", color=COLORS[3 + i]
        )
        ax2.bar_label(bars, [f"{v:.1f}" if v >= 0.05 or v == 0 else f"{v:.3f}" for v in shares], fontsize=7)
    ax2.set_xticks(np.arange(len(ns)), [f"n={n}" for n in ns])
    ax2.set_title("All sources pooled (%)")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_separation(res: dict[str, Any], labels: list[str], dataset: str, path: Path) -> None:
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(labels), figsize=(2.7 * len(labels), 3.1), sharey=True)
    bins = np.linspace(-0.3, 1.0, 66)
    top = 14.0
    for ax, label in zip(axes, labels):
        r = res["main"][label][dataset] if dataset in res["main"][label] else res["extra_res"][label][dataset]
        clipped = False
        for i, g in enumerate(GROUPS):
            c = r["sep_cos"][g]
            if len(c):
                density, _ = np.histogram(c, bins=bins, density=True)
                clipped |= bool(density.max() > top)
                ax.hist(
                    c,
                    bins=bins,
                    density=True,
                    histtype="step",
                    lw=1.4,
                    color=COLORS[i],
                    label=GROUP_LABELS[g],
                )
        ax.axvline(0, color="k", lw=0.6)
        ax.set_ylim(0, top)
        ax.set_title(label + (" (peak clipped)" if clipped else ""), fontsize=8)
        ax.set_xlabel("cosine")
    axes[0].set_ylabel("density")
    axes[-1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


SWEEP_METRICS = (
    ("recall@1", "typo recall@1"),
    ("auc", "typo AUC"),
    ("sep_affix_auc", "affix vs random AUC"),
    ("sep_disjoint_std", "std of cos, no shared char"),
)


def plot_sweep(res: dict[str, Any], axis: str, path: Path) -> None:
    plt = _pyplot()
    sweep = res["sweeps"][axis]
    values = list(sweep)
    langs = res["cfg"].sweep_langs
    families = list(sweep[values[0]])
    for v in values[1:]:
        families += [f for f in sweep[v] if f not in families]
    fig, axes = plt.subplots(1, len(SWEEP_METRICS), figsize=(13, 3.4))
    x = np.arange(len(values))
    for ax, (metric, title) in zip(axes, SWEEP_METRICS):
        for fi, fam in enumerate(families):
            for li, lang in enumerate(langs):
                ys = [sweep[v][fam][lang][metric] if fam in sweep[v] else np.nan for v in values]
                ax.plot(
                    x,
                    ys,
                    color=COLORS[fi],
                    ls=LINESTYLES[li],
                    marker=MARKER_SHAPES[li],
                    ms=3,
                    lw=1.2,
                    label=f"{fam}, {LANG_NAMES[lang]}",
                )
        if axis == "dim" and metric == "sep_disjoint_std":
            ax.plot(x, [1 / np.sqrt(v) for v in values], color="k", lw=0.8, ls=":", label="1/√dim")
        ax.set_xticks(x, [str(v) for v in values])
        ax.set_xlabel(axis)
        ax.set_title(title)
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=len(families), fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.04 * len(langs) + 0.02, 1, 1))
    fig.savefig(path)
    plt.close(fig)
