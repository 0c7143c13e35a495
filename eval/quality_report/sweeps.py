"""Metric 4: metrics 1 and 3 against dim, layout and max_ngram, one axis at a time around the
default, and the layout x max_ngram grid the presets were chosen from."""

from __future__ import annotations

from typing import Any

from hashembed import reference

from .evaluate import Dataset, Evaluator
from .methods import WIDE, WIDE_BASE, WIDE_MARKERS, CharHashing, HashEmbed, Method

SWEEP_DEFAULT = "base 31 (default)"


def decreasing_layout(dim: int, max_ngram: int) -> tuple[int, ...]:
    """The proportional layout reversed: the most positions for 1-grams, the fewest for N-grams."""
    bounds = reference.layout_bounds(dim, max_ngram, "proportional")
    return tuple(b - a for a, b in zip(bounds, bounds[1:]))[::-1]


def sweep_families(**axis: Any) -> list[Method]:
    return [
        HashEmbed(SWEEP_DEFAULT, **axis),
        HashEmbed(WIDE, base=WIDE_BASE, **axis),
        HashEmbed(WIDE_MARKERS, base=WIDE_BASE, boundary_markers=True, **axis),
    ]


def run_sweeps(
    evaluate: Evaluator, data: dict[str, Dataset], dims: tuple[int, ...], ngrams: tuple[int, ...]
) -> tuple[dict[str, dict[Any, dict[str, Any]]], dict[tuple[str, int, bool], dict[str, Any]]]:
    """`sweeps[axis][value]`: an `Evaluator.table` of the configurations; `grid[(layout,
    max_ngram, markers)]`: results by dataset, with base 1114129."""
    sweeps: dict[str, dict[Any, dict[str, Any]]] = {}
    sweeps["dim"] = {
        dim: evaluate.table([*sweep_families(dim=dim), CharHashing(dim, label="HashingVectorizer")], data)
        for dim in dims
    }
    layouts = {"proportional": "proportional", "equal": "equal", "decreasing": decreasing_layout(768, 3)}
    sweeps["layout"] = {
        name: evaluate.table(sweep_families(layout=lay), data) for name, lay in layouts.items()
    }
    sweeps["max_ngram"] = {n: evaluate.table(sweep_families(max_ngram=n), data) for n in ngrams}
    grid = {}
    for layout in ("proportional", "equal"):
        for n in ngrams:
            for markers in (False, True):
                m = HashEmbed(base=WIDE_BASE, max_ngram=n, layout=layout, boundary_markers=markers)
                grid[(layout, n, markers)] = {lang: evaluate(m, d) for lang, d in data.items()}
    return sweeps, grid
