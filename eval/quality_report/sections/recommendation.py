"""The report's Recommendation: hashembed's presets against the default, per language, and the
boundary markers on their own."""

from __future__ import annotations

from ..data import LANG_NAMES
from ..markdown import better, md_table, pct, signed_pts
from ..methods import (
    DEFAULT,
    HV_SMALL,
    MARKERS,
    PRESETS,
    ROBUST_PLAIN,
    WIDE_BASE,
    preset_arguments,
    preset_label,
)
from ..results import COMPACT, ROBUST, Results


def section(r: Results) -> list[str]:
    return ["## Recommendation\n", *presets(r), *markers(r)]


def presets(r: Results) -> list[str]:
    s: list[str] = []
    w = s.append
    w(
        "The defaults stay those of the specification. For new uses, hashembed has these named "
        "configurations: `HashEmbedder.preset(name)`, whose keyword arguments override the preset's; "
        "`boundary_markers=True` wraps the text's code points in U+0002 … U+0003 before hashing.\n"
    )
    rows = []
    for name in PRESETS:
        label = preset_label(name)
        g1, c1 = r.gain(label)
        g10, c10 = r.gain(label, k=10)
        arguments = ", ".join(f"{k}={v!r}" for k, v in preset_arguments(name).items())
        rows.append(
            [
                f"`{name}`",
                f"`{arguments or '(spec defaults)'}`",
                pct(r.avg(label, "recall@1")),
                "—" if label == DEFAULT else signed_pts(g1, c1),
                pct(r.avg(label, "recall@10")),
                "—" if label == DEFAULT else signed_pts(g10, c10),
                f"{r.avg(label, 'auc'):.3f}",
                f"{r.avg(label, 'sep_affix_auc'):.3f}",
                f"{r.main[label]['en']['sep_random_mean']:+.3f}",
            ]
        )
    header = ["preset", "arguments", "R@1 %", "Δ R@1 pts", "R@10 %", "Δ R@10 pts", "typo AUC", "affix AUC"]
    w(md_table([*header, "cos random pairs (en)"], rows))
    w("\nPer language, recall@1 gain over the default in points (95% CI):\n")
    w(gain_table(r, k=1))
    w("\nThe same for recall@10:\n")
    w(gain_table(r, k=10))
    compact_hv = r.gain(COMPACT, HV_SMALL, only=r.alphabetic)
    compact_down = [LANG_NAMES[x] for x in r.langs if r.gain(COMPACT, only=[x])[0] <= 0]
    compact_up = [LANG_NAMES[x] for x in r.langs if LANG_NAMES[x] not in compact_down]
    compact_vs_default = (
        "is ahead on every language"
        if not compact_down
        else f"is ahead on {', '.join(compact_up) or 'no language'} and not on {', '.join(compact_down)}"
    )
    w(
        f"\n- `unicode`: the default's shape with base {WIDE_BASE:,}; the same quality on these lists, "
        "and no systematic n-gram merges: 1- and 2-grams hash exactly, longer n-grams collide only "
        "by chance. A safe change for anyone who does not need the default's exact vectors.\n"
        f"- `robust`: base {WIDE_BASE:,}, equal layout, boundary markers; keeps 1- to 3-grams. The "
        "recommended general-purpose configuration.\n"
        "- `fuzzy`: like `robust` with `max_ngram=2`; the best typo recall measured, but words are "
        "described only by their characters and bigrams (with the markers, also their first and "
        "last characters), so unrelated words are more alike and affix grouping is a little weaker.\n"
        f"- `compact`: `fuzzy` at dim 256, a third of the memory per token; against the default at "
        f"dim 768 it {compact_vs_default}, and it {better(compact_hv[0])} HashingVectorizer at dim 256 "
        f"by {signed_pts(*compact_hv)} points on the alphabetic languages."
    )
    return s


def gain_table(r: Results, k: int) -> str:
    """recall@k gain of each preset over the default, per language."""
    rows = [
        [f"`{name}`", *(signed_pts(*r.gain(preset_label(name), k=k, only=[x])) for x in r.langs)]
        for name in PRESETS
        if name != "default"
    ]
    return md_table(["preset", *r.names], rows)


def markers(r: Results) -> list[str]:
    s: list[str] = []
    w = s.append
    w(
        f"\n**Boundary markers on their own**: {signed_pts(*r.gain(MARKERS))} points of recall@1 at the "
        f"default configuration and {signed_pts(*r.gain(ROBUST, ROBUST_PLAIN))} within `robust` (recall@10: "
        f"{signed_pts(*r.gain(MARKERS, k=10))} and "
        f"{signed_pts(*r.gain(ROBUST, ROBUST_PLAIN, k=10))}), averaged over all languages. "
        "They cost two extra code points per string. Per language, in points (95% CI):\n"
    )
    rows = [
        [
            LANG_NAMES[x],
            signed_pts(*r.gain(MARKERS, only=[x])),
            signed_pts(*r.gain(MARKERS, k=10, only=[x])),
            signed_pts(*r.gain(ROBUST, ROBUST_PLAIN, only=[x])),
            signed_pts(*r.gain(ROBUST, ROBUST_PLAIN, k=10, only=[x])),
        ]
        for x in r.langs
    ]
    w(md_table(["language", "Δ R@1, default", "Δ R@10, default", "Δ R@1, robust", "Δ R@10, robust"], rows))
    hurt = [
        LANG_NAMES[x]
        for x in r.langs
        if r.gain(MARKERS, k=10, only=[x])[0] < 0 or r.gain(ROBUST, ROBUST_PLAIN, k=10, only=[x])[0] < 0
    ]
    if not hurt:
        w("")
        return s
    r1_up = all(r.gain(MARKERS, only=[x])[0] > 0 for x in r.langs if LANG_NAMES[x] in hurt)
    w(
        f"\nWhere recall@10 drops ({', '.join(hurt)}), most words are one or two characters long: "
        "the markers then make up half of each word's 1-grams and most of its 2-grams, so every "
        "short word resembles every other a little more and the neighbours of a typo crowd "
        "together"
        + (
            ". The nearest neighbour is right more often, but the right word drops out of "
            "the top ten more often.\n"
            if r1_up
            else ".\n"
        )
    )
    return s
