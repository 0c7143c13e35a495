"""Part (c)'s deployment table and its plots: quality against file size and against speed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .peers import TEACHER
from .report import _pyplot, _row

MB = 1e6
ORIGINAL = f"{TEACHER}, fp32"
X_AXES = {
    "bytes": ("file size, MB (log scale)", 1 / MB),
    "sps_32": ("sentences/s at batch 32, text in, vectors out (log scale)", 1.0),
}


def _cell(value: Any, form: str) -> str:
    return "n/a" if value is None else format(value, form)


def table_rows(rows: list[dict[str, Any]]) -> list[str]:
    """The markdown table of `peer_rows`'s rows: speed-up against the original in fp32."""
    base = next((r["sps_32"] for r in rows if r["name"] == ORIGINAL), None)
    lines = [
        _row(["model", "file MB", "parameters", "mean cosine", "Spearman", "NN agreement",
              "sentences/s, batch 1", "batch 32", "speed-up vs the original fp32, batch 32",
              "peak RSS MB"]),
        _row(["---", *["--:"] * 9]),
    ]  # fmt: skip
    for r in rows:
        speedup = "n/a" if base is None else f"{r['sps_32'] / base:.1f}x"
        lines.append(_row([
            r["name"], f"{r['bytes'] / MB:.1f}", f"{r['params']:,}", _cell(r["mean_cosine"], ".3f"),
            _cell(r["spearman"], ".3f"), _cell(r["nn_agreement"], ".3f"), f"{r['sps_1']:,.0f}",
            f"{r['sps_32']:,.0f}", speedup, f"{r['peak_rss'] / MB:.0f}",
        ]))  # fmt: skip
    return lines


def plot_quality(rows: list[dict[str, Any]], x_key: str, path: Path) -> None:
    """Spearman (and mean cosine, where there is one) of every row against `x_key`, "bytes"
    or "sps_32", on a log axis: the sizes and speeds span two orders of magnitude."""
    label, scale = X_AXES[x_key]
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 5.5))
    xs = [r[x_key] * scale for r in rows]
    ax.scatter(xs, [r["spearman"] for r in rows], marker="o", label="Spearman")
    cosine = [(x, r["mean_cosine"]) for x, r in zip(xs, rows) if r["mean_cosine"] is not None]
    ax.scatter([x for x, _ in cosine], [c for _, c in cosine], marker="^", label="mean cosine")
    # rows come in pairs (fp32 and int8, raw and mapped) that often sit close together: the
    # first of each pair is labelled above its point, the second below
    for i, (x, r) in enumerate(zip(xs, rows)):
        offset = (4, 3) if i % 2 == 0 else (4, -9)
        ax.annotate(r["name"], (x, r["spearman"]), xytext=offset, textcoords="offset points", fontsize=6)
    ax.set_xscale("log")
    ax.margins(x=0.2)  # room for the labels, which run to the right of their points
    ax.set_xlabel(label)
    ax.set_ylabel("agreement with the original on held-out sentences")
    ax.set_title(f"Deployed models against {TEACHER}")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
