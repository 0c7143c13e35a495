"""Section 3 of the report: cosines of unrelated tokens and of tokens sharing an affix."""

from __future__ import annotations

import numpy as np

from ..data import LANG_NAMES
from ..markdown import md_table
from ..methods import DEFAULT, HV, MARKERS
from ..metrics import GROUP_LABELS, GROUPS
from ..results import FUZZY, ROBUST, Results

# The methods the histograms and the per-language affix table show.
FEATURED = (DEFAULT, MARKERS, HV, ROBUST, FUZZY)


def section(r: Results) -> list[str]:
    main, extra, langs, default = r.main, r.extra, r.langs, r.default
    s: list[str] = []
    w = s.append
    w("## 3. Separation\n")
    w("English words:\n\n![Cosine histograms, English](img/separation_en.png)\n")
    w("Standard-library identifiers:\n\n![Cosine histograms, standard library](img/separation_stdlib.png)\n")
    for title, source in (
        ("English words", "en"),
        ("BERT vocabulary sample", "bert"),
        ("standard-library identifiers", "stdlib"),
    ):
        table = main if source in langs else extra
        w(f"**{title}**: cosine, mean ± std\n")
        rows = []
        for label in r.labels:
            res = table[label][source]
            rows.append(
                [
                    label,
                    *(f"{res[f'sep_{g}_mean']:+.3f} ± {res[f'sep_{g}_std']:.3f}" for g in GROUPS),
                    f"{res['sep_affix_auc']:.3f}",
                ]
            )
        w(md_table(["method", *(GROUP_LABELS[g] for g in GROUPS), "affix AUC"], rows) + "\n")
    rows = [
        [
            LANG_NAMES[x],
            *(f"{main[label][x]['sep_affix_auc']:.3f}" for label in FEATURED),
        ]
        for x in langs
    ]
    w("**Affix AUC by language**\n")
    w(md_table(["language", *FEATURED], rows) + "\n")
    w(
        f"Reading: strings that share no character are at cosine "
        f"{default['en']['sep_disjoint_mean']:+.3f} on average for the default, with a spread of "
        f"{default['en']['sep_disjoint_std']:.3f} (1/√768 = {1 / np.sqrt(768):.3f}), the noise of a random "
        "projection. HashingVectorizer's zero is exact when no two n-grams meet in a bucket, but "
        f"its spread is wider ({main[HV]['en']['sep_disjoint_std']:.3f}) and its random pairs sit "
        f"higher ({main[HV]['en']['sep_random_mean']:+.3f}), because it sums counts and the shared "
        "single letters weigh as much as everything else. Markers, the equal layout and a smaller "
        "`max_ngram` raise the similarity of unrelated words (random English pairs: "
        f"{main[MARKERS]['en']['sep_random_mean']:+.3f} with markers, "
        f"{main[ROBUST]['en']['sep_random_mean']:+.3f} for `robust`, "
        f"{main[FUZZY]['en']['sep_random_mean']:+.3f} for `fuzzy`): every word shares the two "
        "markers, and 1-grams get more weight. Much of that is a common offset, which a model's "
        "first layer can remove, and the affix groups stay apart from random pairs (affix AUC "
        f"{main[ROBUST]['en']['sep_affix_auc']:.3f} for `robust`, {main[FUZZY]['en']['sep_affix_auc']:.3f} "
        f"for `fuzzy`, {default['en']['sep_affix_auc']:.3f} for the default).\n"
    )
    return s
