"""Word lists prepared for metrics 1 and 3, and the cached runs of those metrics on them."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .methods import Method
from .metrics import sample_pairs, separation, typo_robustness
from .typos import make_typos


@dataclass
class Dataset:
    """A word list with its seeded typos, unrelated partners and separation pairs."""

    name: str
    words: list[str]
    seed: int
    n_pairs: int
    typos: list[str] = field(init=False)
    kinds: list[str] = field(init=False)
    negatives: np.ndarray = field(init=False)
    pairs: dict[str, np.ndarray] = field(init=False)

    def __post_init__(self) -> None:
        seed = self.seed ^ zlib.crc32(self.name.encode())
        self.typos, self.kinds = make_typos(self.words, seed)
        rng = np.random.default_rng(seed)
        n = len(self.words)
        self.negatives = (np.arange(n) + rng.integers(1, n, size=n)) % n
        self.pairs = sample_pairs(self.words, self.n_pairs, seed + 1)


class Evaluator:
    """Runs metrics 1 and 3 of a method on a dataset, once: results are cached by key."""

    def __init__(self, log: Callable[[str], None] | None = None) -> None:
        self.cache: dict[tuple[str, str, int], dict[str, Any]] = {}
        self.log = log

    def __call__(self, method: Method, data: Dataset) -> dict[str, Any]:
        key = (method.key, data.name, data.seed)
        if key not in self.cache:
            typo = typo_robustness(method, data.words, data.typos, data.negatives)
            sep = separation(method, data.words, data.pairs)
            self.cache[key] = {**typo, **{f"sep_{k}": v for k, v in sep.items()}}
            if self.log and len(self.cache) % 25 == 0:
                self.log(f"  {len(self.cache)} evaluations")
        return self.cache[key]

    def table(
        self, methods: list[Method], datasets: dict[str, Dataset]
    ) -> dict[str, dict[str, dict[str, Any]]]:
        """Results by method label, then by dataset name."""
        return {m.label: {name: self(m, d) for name, d in datasets.items()} for m in methods}
