"""The embedding methods compared: hashembed configurations (the default, its variants and its
presets) and scikit-learn's HashingVectorizer over character n-grams."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import hashembed
import numpy as np

DEFAULT_BASE = 31
WIDE_BASE = 1_114_129  # the first prime above 0x10FFFF: every code point is a distinct digit

# hashembed's presets (`HashEmbedder.preset`), in the order the report shows them.
PRESETS = ("default", "unicode", "robust", "fuzzy", "compact")

# The labels of the main methods, by which the report picks its rows.
DEFAULT = "default"
WIDE = f"base {WIDE_BASE}"
MARKERS = "markers"
WIDE_MARKERS = f"base {WIDE_BASE} + markers"
HV = "HashingVectorizer 768"
HV_SMALL = "HashingVectorizer 256"
ROBUST_PLAIN = "robust without markers"


class Method:
    """Something that maps a list of strings to an (n, dim) float32 array."""

    key: str
    label: str
    dim: int

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        raise NotImplementedError


class HashEmbed(Method):
    """hashembed with a given configuration: HashEmbedder's keyword arguments, applied to a
    named preset if one is given."""

    def __init__(self, label: str | None = None, *, preset: str | None = None, **config: Any):
        if preset is None:
            self.embedder = hashembed.HashEmbedder(**config)
        else:
            self.embedder = hashembed.HashEmbedder.preset(preset, **config)
        options = {k: v for k, v in self.embedder.config().items() if v is not None}
        self.dim = options["dim"]
        self.key = "hashembed" + repr(sorted(options.items()))
        self.label = label or self.key

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        return self.embedder.embed_batch(list(texts))


class CharHashing(Method):
    """scikit-learn's HashingVectorizer over character 1- to 3-grams (murmurhash3, signed)."""

    def __init__(self, dim: int, ngram_range: tuple[int, int] = (1, 3), label: str | None = None):
        from sklearn.feature_extraction.text import HashingVectorizer

        # lowercase=False keeps it a function of the exact string, as hashembed is; the word
        # lists are lowercase already, so this only matters for the standard-library tokens.
        self.vectorizer = HashingVectorizer(
            analyzer="char",
            ngram_range=ngram_range,
            n_features=dim,
            alternate_sign=True,
            norm=None,
            lowercase=False,
            dtype=np.float32,
        )
        self.dim = dim
        self.key = f"sklearn-hashing{ngram_range}-{dim}"
        self.label = label or f"HashingVectorizer char {ngram_range[0]}-{ngram_range[1]}"

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        return np.ascontiguousarray(self.vectorizer.transform(list(texts)).toarray(), dtype=np.float32)


def preset_label(name: str) -> str:
    return DEFAULT if name == "default" else f"preset {name!r}"


def preset_arguments(name: str) -> dict[str, Any]:
    """The arguments in which a preset differs from HashEmbedder's defaults."""
    default = hashembed.HashEmbedder().config()
    return {k: v for k, v in hashembed.HashEmbedder.preset(name).config().items() if v != default[k]}


def main_methods() -> list[Method]:
    """The default, its variants, the alternative and the presets, on every language."""
    return [
        HashEmbed(DEFAULT),
        HashEmbed(WIDE, base=WIDE_BASE),
        HashEmbed(MARKERS, boundary_markers=True),
        HashEmbed(WIDE_MARKERS, base=WIDE_BASE, boundary_markers=True),
        CharHashing(768, label=HV),
        CharHashing(256, label=HV_SMALL),
        HashEmbed(ROBUST_PLAIN, preset="robust", boundary_markers=False),
        *(HashEmbed(preset_label(name), preset=name) for name in PRESETS if name != "default"),
    ]
