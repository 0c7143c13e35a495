"""Section 4 of the report: the sweeps over dim, layout and max_ngram, and the layout x max_ngram
grid the presets were chosen from."""

from __future__ import annotations

from typing import Any

from ..data import LANG_NAMES
from ..markdown import md_table, pct
from ..methods import WIDE, WIDE_BASE
from ..results import Results, mean_of
from ..sweeps import SWEEP_DEFAULT, decreasing_layout


def section(r: Results) -> list[str]:
    langs = r.cfg.sweep_langs
    s: list[str] = []
    w = s.append
    w("## 4. Sweeps\n")
    w(
        f"Each axis is varied alone around the default (dim 768, `max_ngram=3`, proportional); "
        f"second draw of typos; {', '.join(LANG_NAMES[x] for x in langs)}. Colour: "
        "configuration; line style: language.\n"
    )
    for axis in r.res["sweeps"]:
        w(f"### {axis}\n")
        w(f"![Sweep over {axis}](img/sweep_{axis}.png)\n")
        w(axis_table(r, axis) + "\n")
    w(f"### layout and max_ngram together (base {WIDE_BASE:,})\n")
    w(grid_table(r))
    w(reading(r))
    return s


def axis_table(r: Results, axis: str) -> str:
    langs = r.cfg.sweep_langs
    sweep = r.res["sweeps"][axis]
    fams = list(dict.fromkeys(f for v in sweep for f in sweep[v]))
    rows = []
    for v in sweep:
        for fam in fams:
            if fam not in sweep[v]:
                continue
            cell = sweep[v][fam]
            rows.append(
                [
                    f"decreasing {decreasing_layout(768, 3)}" if v == "decreasing" else str(v),
                    fam,
                    *(pct(cell[x]["recall@1"]) for x in langs),
                    f"{mean_of(cell, 'auc', langs):.3f}",
                    f"{mean_of(cell, 'sep_affix_auc', langs):.3f}",
                    f"{mean_of(cell, 'sep_disjoint_mean', langs):+.3f} ± "
                    f"{mean_of(cell, 'sep_disjoint_std', langs):.3f}",
                ]
            )
    header = [
        axis,
        "configuration",
        *(f"R@1 {LANG_NAMES[x]} %" for x in langs),
        "typo AUC",
        "affix AUC",
        "cos, no shared char",
    ]
    return md_table(header, rows)


def grid_table(r: Results) -> str:
    langs = r.cfg.sweep_langs
    rows = [
        [
            layout,
            n,
            "yes" if markers else "no",
            *(pct(cell[x]["recall@1"]) for x in langs),
            pct(mean_of(cell, "recall@1", langs)),
            f"{mean_of(cell, 'sep_affix_auc', langs):.3f}",
            f"{mean_of(cell, 'sep_random_mean', langs):+.3f}",
        ]
        for (layout, n, markers), cell in r.res["combos"].items()
    ]
    header = [
        "layout",
        "max_ngram",
        "markers",
        *(f"R@1 {LANG_NAMES[x]} %" for x in langs),
        "mean R@1 %",
        "affix AUC",
        "cos, random pairs",
    ]
    return md_table(header, rows)


def reading(r: Results) -> str:
    cfg, sweeps = r.cfg, r.res["sweeps"]
    langs = cfg.sweep_langs
    (layout, max_ngram, markers), best = max(
        r.res["combos"].items(), key=lambda kv: mean_of(kv[1], "recall@1", langs)
    )

    def sweep_r1(axis: str, value: Any) -> str:
        return pct(mean_of(sweeps[axis][value][SWEEP_DEFAULT], "recall@1", langs)) + "%"

    base_diffs = [
        abs(mean_of(fams[SWEEP_DEFAULT], "recall@1", langs) - mean_of(fams[WIDE], "recall@1", langs))
        for axis in sweeps.values()
        for fams in axis.values()
    ]
    return (
        "\nReading, for the default configuration (mean recall@1 over the sweep languages): dim "
        + ", ".join(f"{d} gives {sweep_r1('dim', d)}" for d in cfg.dims)
        + "; the spread of cosines between strings without a common character falls as 1/√dim. "
        "Layout: "
        + ", ".join(f"{name} {sweep_r1('layout', name)}" for name in sweeps["layout"])
        + "; max_ngram: "
        + ", ".join(f"{n} gives {sweep_r1('max_ngram', n)}" for n in cfg.ngrams)
        + ". Moving positions towards short n-grams helps typo recall, and long n-grams cost it. "
        f"The base never moves the mean recall@1 by more than {100 * max(base_diffs):.1f} points. "
        f"The best cell of the grid is {layout}, `max_ngram={max_ngram}`, markers "
        f"{'on' if markers else 'off'} ({pct(mean_of(best, 'recall@1', langs))}% mean "
        "recall@1); the price of short n-grams is a higher cosine between unrelated words and a "
        "lower affix AUC, because short n-grams are shared by more words.\n"
    )
