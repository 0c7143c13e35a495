"""The top of the report: its title and purpose, the summary table and the main findings."""

from __future__ import annotations

import numpy as np

from ..collisions import POOLED
from ..markdown import better, md_table, pct, signed_pts
from ..methods import DEFAULT, DEFAULT_BASE, HV, MARKERS, ROBUST_PLAIN, WIDE, WIDE_BASE
from ..results import ROBUST, Results


def header(r: Results, runtime: str) -> list[str]:
    langs = r.langs
    s: list[str] = []
    w = s.append
    w("# Embedding quality\n")
    w(
        "How well does a hashembed vector group strings that belong together and keep apart strings "
        "that do not? This report measures it on real strings — the most frequent words of "
        f"{len(langs)} languages, the BERT WordPiece vocabulary and the tokens of the Python standard "
        "library — and compares the default configuration with its variants and with a standard "
        "alternative, scikit-learn's `HashingVectorizer` over character n-grams. It ends with a "
        "small set of recommended configurations (presets). The defaults themselves are those of the "
        "[specification](spec.md) and do not change.\n"
    )
    if r.cfg.quick:
        w("> **Smoke run** (`--quick`): small inputs, numbers not representative.\n")
    w(f"Every number below was computed by `eval/quality.py` in the run that wrote this page ({runtime}).\n")

    return s


def section(r: Results) -> list[str]:
    main, langs, default = r.main, r.langs, r.default
    pooled = r.res["collisions"][POOLED]
    s: list[str] = []
    w = s.append
    w("## Summary\n")
    rows = []
    for label in r.labels:
        g, ci = r.gain(label)
        rows.append(
            [
                label,
                f"{r.avg(label, 'auc'):.3f}",
                pct(r.avg(label, "recall@1")),
                pct(r.avg(label, "recall@10")),
                "—" if label == DEFAULT else signed_pts(g, ci),
                f"{main[label]['en']['sep_random_mean']:.3f} ± {main[label]['en']['sep_random_std']:.3f}",
                f"{main[label]['en']['sep_affix_auc']:.3f}",
            ]
        )
    w(
        md_table(
            [
                "method",
                "typo AUC",
                "recall@1 %",
                "recall@10 %",
                "Δ recall@1 vs default, pts (95% CI)",
                "cos of random English pairs",
                "affix AUC (English)",
            ],
            rows,
        )
    )
    w(
        f"\nTypo columns: means over the {len(langs)} languages ({', '.join(r.names)}), "
        f"{r.res['sizes'][langs[0]]:,} words each; the Δ column pairs each word's outcome with the "
        "default's on the same typo. Separation columns: English word list. All hashembed rows use "
        "dim 768 except the `compact` preset (256); methods are defined under *Method* below.\n"
    )
    w("Main findings:\n")
    w(
        "- **Boundary markers are the largest single gain.** Wrapping each word in U+0002 … U+0003 "
        "before hashing (`boundary_markers=True`) raises recall@1 by "
        f"{signed_pts(*r.gain(MARKERS))} points on average over the languages at the default "
        f"configuration, and by {signed_pts(*r.gain(ROBUST, ROBUST_PLAIN))} points within the "
        "`robust` preset. The markers let the 2- and 3-gram parts record which "
        "characters start and end a word, which a single edit rarely destroys on both sides."
    )
    if "zh" in langs and r.gain(MARKERS, k=10, only=["zh"])[0] < 0:
        w(
            "- **Markers are not free on very short words.** On Chinese, whose words are mostly one "
            "or two characters, they change recall@1 by "
            f"{signed_pts(*r.gain(MARKERS, only=['zh']))} but recall@10 by "
            f"{signed_pts(*r.gain(MARKERS, k=10, only=['zh']))} points, and the typo AUC from "
            f"{default['zh']['auc']:.3f} to {main[MARKERS]['zh']['auc']:.3f} (details under "
            "*Recommendation*)."
        )
    w(
        "- **The default gives most weight to the n-grams a typo destroys.** With the proportional "
        "layout, 3-grams own half of the positions, and one edit changes up to three of a word's "
        "3-grams but only one or two 1-grams. The equal layout and a lower `max_ngram` both move "
        "weight down to short n-grams (see the sweeps)."
    )
    w(
        f"- **Base 31 collides often but costs little here.** Of the {pooled[2][DEFAULT_BASE]['distinct']:,} "
        f"distinct bigrams in all the data pooled, {pct(pooled[2][DEFAULT_BASE]['share'])}% share their "
        f"hash with another one, and {pct(pooled[3][DEFAULT_BASE]['share'])}% of the "
        f"{pooled[3][DEFAULT_BASE]['distinct']:,} trigrams; with base {WIDE_BASE:,} the shares are "
        f"{pct(pooled[2][WIDE_BASE]['share'])}% and {pct(pooled[3][WIDE_BASE]['share'])}%. Yet switching "
        f"to base {WIDE_BASE:,} changes typo recall@1 by only {signed_pts(*r.gain(WIDE))} points on average"
        + (
            f" (on Arabic, the most collision-prone word list, {signed_pts(*r.gain(WIDE, only=['ar']))})."
            if "ar" in langs
            else "."
        )
    )
    hv_gain, hv_robust = r.gain(HV), r.gain(ROBUST, HV, only=r.alphabetic)
    zh_hv = ""
    if "zh" in langs:
        ahead = main[HV]["zh"]["recall@1"] > main[ROBUST]["zh"]["recall@1"]
        zh_hv = (
            f"; on Chinese, whose words are mostly one or two characters, "
            f"{'HashingVectorizer stays ahead' if ahead else '`robust` is ahead too'} "
            f"({pct(main[HV]['zh']['recall@1'])}% against {pct(main[ROBUST]['zh']['recall@1'])}%)"
        )
    w(
        f"- **HashingVectorizer {better(hv_gain[0])} the default** by {signed_pts(*hv_gain)} points of "
        f"recall@1 at the same dimension; the `robust` preset {better(hv_robust[0])} HashingVectorizer by "
        f"{signed_pts(*hv_robust)} points on the alphabetic languages{zh_hv}."
    )
    w(
        f"- **Unrelated strings centre on zero.** Pairs of English words with no character in common "
        f"have cosine {default['en']['sep_disjoint_mean']:+.3f} ± {default['en']['sep_disjoint_std']:.3f} "
        f"under the default (1/√768 = {1 / np.sqrt(768):.3f}); random pairs, which usually share a few "
        f"letters, {default['en']['sep_random_mean']:+.3f} ± {default['en']['sep_random_std']:.3f}. "
        "Markers add two n-grams every word shares and lift the baseline a little "
        f"({main[MARKERS]['en']['sep_disjoint_mean']:+.3f} for disjoint pairs).\n"
    )
    return s
