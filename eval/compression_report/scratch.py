"""Part (b): a small text classifier trained from scratch (EELBERT's setting, and the
on-device classifier's): which language is a three-word phrase in?

Data: wordfreq's frequency lists of eight European languages, several of them close (Dutch
and German, Swedish, and the four Romance languages). A phrase is three words drawn by their
frequency from a language's 20,000 most frequent words. The test sets: new phrases drawn the
same way (clean), the same phrases with one seeded typo in every word of three or more
letters (typos), and phrases of words ranked 20,001 to 30,000, which no training phrase holds
(unseen words).

Every model is the same fastText-like classifier (the mean of the token vectors, then a
64-unit hidden layer and 8 outputs) over a different input layer: a learned table of every
training word, a hash embedding (`TokenHashEmbedding` with a trainable 64-wide projection),
or a hashed table with as many parameters as that projection (each word hashed into K rows).
"""

from __future__ import annotations

import random
import time
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from hashembed import HashEmbedder
from hashembed.torch import TokenHashEmbedding, parameter_count
from quality_report.typos import char_distribution, make_typo
from torch import nn

LANGS = ("en", "de", "nl", "sv", "fr", "es", "pt", "it")
TOP, RARE = 20_000, 30_000
WORDS_PER_PHRASE = 3
WIDTH = 64


def _word_lists() -> dict[str, tuple[list[str], np.ndarray, list[str]]]:
    """lang -> (top words, their frequencies normalised, rare words)."""
    import wordfreq

    out = {}
    for lang in LANGS:
        freq = wordfreq.get_frequency_dict(lang)
        words = [w for w in freq if w.isalpha()][:RARE]
        top = words[:TOP]
        p = np.array([freq[w] for w in top], dtype=np.float64)
        out[lang] = (top, p / p.sum(), words[TOP:])
    return out


def make_data(n_train: int, n_test: int, seed: int = 0) -> dict[str, Any]:
    """Phrases (lists of words) and labels for training and the three test sets."""
    rng = np.random.default_rng(seed)
    lists = _word_lists()

    def phrases(n: int, rare: bool) -> tuple[list[list[str]], list[int]]:
        xs, ys = [], []
        for label, lang in enumerate(LANGS):
            top, p, rare_words = lists[lang]
            shape = (n, WORDS_PER_PHRASE)
            if rare:
                picked = rng.integers(0, len(rare_words), shape)
                xs += [[rare_words[i] for i in row] for row in picked]
            else:
                picked = rng.choice(len(top), shape, p=p)
                xs += [[top[i] for i in row] for row in picked]
            ys += [label] * n
        return xs, ys

    train = phrases(n_train, False)
    clean = phrases(n_test, False)
    chars, cumulative = char_distribution([w for lang in LANGS for w in lists[lang][0][:2000]])
    typo_rng = random.Random(seed)
    typos = (
        [[make_typo(w, typo_rng, chars, cumulative)[0] if len(w) >= 3 else w for w in x] for x in clean[0]],
        clean[1],
    )
    return {"train": train, "clean": clean, "typos": typos, "unseen": phrases(n_test, True)}


class _Head(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(WIDTH, WIDTH), nn.ReLU(), nn.Linear(WIDTH, len(LANGS)))

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.net(pooled)


def _masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.unsqueeze(-1).to(x.dtype)
    return (x * m).sum(1) / m.sum(1).clamp(min=1)


class TableModel(nn.Module):
    """A learned vector for every training word; any other word is the one unknown row."""

    def __init__(self, vocab: Sequence[str]):
        super().__init__()
        self.ids = {w: i + 1 for i, w in enumerate(vocab)}  # 0: unknown
        self.table = nn.Embedding(len(vocab) + 1, WIDTH)
        self.head = _Head()

    def input_layer(self) -> nn.Module:
        return self.table

    def forward(self, phrases: Sequence[Sequence[str]]) -> torch.Tensor:
        ids = torch.tensor([[self.ids.get(w, 0) for w in p] for p in phrases])
        return self.head(self.table(ids).mean(1))


class BucketModel(nn.Module):
    """The hashing trick: word w reads row crc32(w) mod K of a learned K x 64 table."""

    def __init__(self, buckets: int):
        super().__init__()
        self.buckets = buckets
        self.table = nn.Embedding(buckets, WIDTH)
        self.head = _Head()

    def input_layer(self) -> nn.Module:
        return self.table

    def forward(self, phrases: Sequence[Sequence[str]]) -> torch.Tensor:
        ids = torch.tensor([[zlib.crc32(w.encode()) % self.buckets for w in p] for p in phrases])
        return self.head(self.table(ids).mean(1))


class HashModel(nn.Module):
    def __init__(self, embedder: HashEmbedder):
        super().__init__()
        self.embed = TokenHashEmbedding(embedder, out_dim=WIDTH)
        self.head = _Head()

    def input_layer(self) -> nn.Module:
        return self.embed

    def forward(self, phrases: Sequence[Sequence[str]]) -> torch.Tensor:
        x, mask = self.embed(phrases)
        return self.head(_masked_mean(x, mask))


def _accuracy(model: nn.Module, data: tuple[list[list[str]], list[int]]) -> float:
    model.eval()
    with torch.no_grad():
        right = 0
        for start in range(0, len(data[0]), 1024):
            logits = model(data[0][start : start + 1024])
            right += int((logits.argmax(1) == torch.tensor(data[1][start : start + 1024])).sum())
    model.train()
    return right / len(data[0])


def train_and_test(model: nn.Module, data: dict[str, Any], epochs: int, seed: int = 0) -> dict[str, Any]:
    torch.manual_seed(seed)
    xs, ys = data["train"]
    order = np.random.default_rng(seed).permutation(len(xs))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    start = time.process_time()
    for _ in range(epochs):
        for b in range(0, len(order), 128):
            picked = order[b : b + 128]
            loss = nn.functional.cross_entropy(
                model([xs[i] for i in picked]), torch.tensor([ys[i] for i in picked])
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return {
        "params": parameter_count(model),
        "input_params": parameter_count(model.input_layer()),
        "bytes": 4 * parameter_count(model),
        "cpu_seconds": time.process_time() - start,
        **{f"accuracy_{k}": _accuracy(model, data[k]) for k in ("clean", "typos", "unseen")},
    }


def models(data: dict[str, Any]) -> dict[str, tuple[str, Any]]:
    """name -> (description, a function making the model, fresh)."""
    vocab = sorted({w for p in data["train"][0] for w in p})
    embedders = {
        "hash-robust-256": HashEmbedder.preset("robust", dim=256),
        "hash-fuzzy-256": HashEmbedder.preset("fuzzy", dim=256),
        "hash-default-256": HashEmbedder(256),
        "hash-robust-1024": HashEmbedder.preset("robust", dim=1024),
    }
    out: dict[str, tuple[str, Any]] = {
        "table": (f"learned table of all {len(vocab):,} training words", lambda: TableModel(vocab)),
    }
    for name, e in embedders.items():
        preset = name.split("-")[1]
        out[name] = (f"TokenHashEmbedding, {preset}, dim {e.dim} -> {WIDTH}", lambda e=e: HashModel(e))
    # As many parameters as a hash model's projection (dim x 64 + 64): dim + 1 rows of 64.
    for buckets in (257, 1025):
        out[f"hashed-table-{buckets}"] = (
            f"hashed table, {buckets} buckets (as many parameters as dim {buckets - 1})",
            lambda buckets=buckets: BucketModel(buckets),
        )
    return out
