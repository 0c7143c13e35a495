"""Section 1 of the report: typo robustness per language, per kind of edit and on the token
lists."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from ..markdown import md_table, pct
from ..results import Results
from ..typos import EDITS


def by_edit_kind(r: Results, label: str) -> dict[str, float]:
    """recall@1 of a method by kind of edit, all languages pooled."""
    hits: dict[str, list[bool]] = defaultdict(list)
    for lang, data in r.res["data"].items():
        for kind, hit in zip(data.kinds, r.main[label][lang]["hits@1"].tolist()):
            hits[kind].append(hit)
    return {k: float(np.mean(hits[k])) for k in EDITS if hits[k]}


def section(r: Results) -> list[str]:
    main, extra, langs = r.main, r.extra, r.langs
    s: list[str] = []
    w = s.append
    w("## 1. Typo robustness\n")
    w("![Typo AUC, recall@1 and recall@10 per language](img/typo_by_language.png)\n")
    for metric, title, fmt in (
        ("recall@1", "Recall@1 (%)", pct),
        ("recall@10", "Recall@10 (%)", pct),
        ("auc", "Typo AUC", lambda x: f"{x:.3f}"),
    ):
        w(f"**{title}**\n")
        rows = [
            [label, *(fmt(main[label][x][metric]) for x in langs), fmt(r.avg(label, metric))]
            for label in r.labels
        ]
        w(md_table(["method", *r.names, "mean"], rows) + "\n")
    w("**Recall@1 (%) by kind of edit, all languages pooled**\n")
    kinds = {label: by_edit_kind(r, label) for label in r.labels}
    w(
        md_table(
            ["method", *EDITS],
            [[label, *(pct(kinds[label].get(k, float("nan"))) for k in EDITS)] for label in r.labels],
        )
    )
    w("")
    w("**The token lists** (same metric, every method)\n")
    rows = []
    for label in r.labels:
        rows.append(
            [
                label,
                *(
                    f"{pct(extra[label][d]['recall@1'])} / {pct(extra[label][d]['recall@10'])}"
                    for d in ("bert", "stdlib")
                ),
            ]
        )
    w(
        md_table(["method", "BERT vocab sample: R@1 / R@10 %", "stdlib identifiers: R@1 / R@10 %"], rows)
        + "\n"
    )
    zh_note = ""
    if "zh" in langs:
        zh_note = (
            f" Chinese is the hard case for every method: "
            f"{pct(np.mean([len(t) <= 2 for t in r.res['data']['zh'].words]))}% of its words "
            "have one or two characters, so one substitution leaves at most one character in common, "
            "and hashembed's 3-gram part (half the vector by default) is zero for all of them."
        )
    w(
        "Reading: the typo AUC is high for every method — a typo is almost always closer to its word "
        f"than a random word is — so the harder test is recall among {r.cfg.n_words:,} candidates. There, "
        "markers and layout matter far more than the base." + zh_note + "\n"
    )
    return s
