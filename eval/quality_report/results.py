"""A run's results as the report's sections read them, with the comparisons several make."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .data import LANG_NAMES
from .methods import DEFAULT, preset_label
from .metrics import paired_gain

ROBUST, FUZZY, COMPACT = (preset_label(name) for name in ("robust", "fuzzy", "compact"))


def mean_of(results: dict[str, dict[str, Any]], metric: str, names: Sequence[str]) -> float:
    return float(np.mean([results[n][metric] for n in names]))


class Results:
    """`res` as `run` returned it, and views of it: `main` and `extra` hold metrics 1 and 3 by
    method label, then by language or token list."""

    def __init__(self, res: dict[str, Any]) -> None:
        self.res = res
        self.cfg = res["cfg"]
        self.main = res["main"]
        self.extra = res["extra_res"]
        self.langs: tuple[str, ...] = self.cfg.langs
        self.names = [LANG_NAMES[x] for x in self.langs]
        self.labels = list(self.main)
        self.default = self.main[DEFAULT]
        self.alphabetic = [x for x in self.langs if x != "zh"]

    def gain(
        self, label: str, versus: str = DEFAULT, k: int = 1, only: Sequence[str] | None = None
    ) -> tuple[float, float]:
        """recall@k of `label` minus that of `versus`, paired, over `only` (all languages)."""
        only = self.langs if only is None else only
        return paired_gain([self.main[label][x] for x in only], [self.main[versus][x] for x in only], k)

    def avg(self, label: str, metric: str) -> float:
        """A metric of `label` averaged over the languages."""
        return mean_of(self.main[label], metric, self.langs)
