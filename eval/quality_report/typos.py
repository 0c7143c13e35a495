"""Seeded single-character edits of the words of a list: the typos of metric 1."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence

EDITS = ("insertion", "deletion", "substitution", "transposition")


def char_distribution(words: Sequence[str]) -> tuple[list[str], list[int]]:
    """The alphabet seen in a word list and the cumulative counts to draw from it by frequency."""
    counts = Counter("".join(words))
    chars = sorted(counts)
    cumulative, total = [], 0
    for c in chars:
        total += counts[c]
        cumulative.append(total)
    return chars, cumulative


def make_typo(word: str, rng: random.Random, chars: list[str], cumulative: list[int]) -> tuple[str, str]:
    """One random edit of `word`: insertion, deletion, substitution or transposition, with new
    characters drawn from the list's alphabet by frequency. Never returns `word` itself."""
    kinds = [k for k in EDITS if len(word) >= 2 or k in ("insertion", "substitution")]
    while True:
        kind = rng.choice(kinds)
        draw = rng.choices(chars, cum_weights=cumulative)[0]
        if kind == "insertion":
            i = rng.randrange(len(word) + 1)
            typo = word[:i] + draw + word[i:]
        elif kind == "deletion":
            i = rng.randrange(len(word))
            typo = word[:i] + word[i + 1 :]
        elif kind == "substitution":
            i = rng.randrange(len(word))
            typo = word[:i] + draw + word[i + 1 :]
        else:
            i = rng.randrange(len(word) - 1)
            typo = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        if typo != word:
            return typo, kind


def make_typos(words: Sequence[str], seed: int) -> tuple[list[str], list[str]]:
    """One seeded typo per word. A typo that is itself a word of the list is drawn again (up to 50
    times), so that recall measures the embedding rather than the ambiguity of the edit."""
    rng = random.Random(seed)
    chars, cumulative = char_distribution(words)
    vocabulary = set(words)
    typos, kinds = [], []
    for word in words:
        for _ in range(50):
            typo, kind = make_typo(word, rng, chars, cumulative)
            if typo not in vocabulary:
                break
        typos.append(typo)
        kinds.append(kind)
    return typos, kinds
