"""The report: its figures into out/img and its markdown into out/quality.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .methods import DEFAULT, HV, MARKERS, WIDE
from .plots import plot_collisions, plot_separation, plot_sweep, plot_typo_by_language
from .results import FUZZY, ROBUST, Results
from .sections import collisions, limits, method, recommendation, separation, summary, sweeps, typos


def write_report(res: dict[str, Any], out: Path, runtime: str) -> Path:
    """Plots into out/img and the markdown report out/quality.md; returns the report's path."""
    img = out / "img"
    img.mkdir(parents=True, exist_ok=True)
    plot_typo_by_language(res, [DEFAULT, WIDE, MARKERS, HV, ROBUST, FUZZY], img / "typo_by_language.png")
    plot_collisions(res, img / "collisions.png")
    plot_separation(res, list(separation.FEATURED), "en", img / "separation_en.png")
    plot_separation(res, list(separation.FEATURED), "stdlib", img / "separation_stdlib.png")
    for axis in res["sweeps"]:
        plot_sweep(res, axis, img / f"sweep_{axis}.png")

    r = Results(res)
    lines = [
        *summary.header(r, runtime),
        *summary.section(r),
        *method.data_section(r),
        *method.method_section(r),
        *typos.section(r),
        *collisions.section(r),
        *separation.section(r),
        *sweeps.section(r),
        *recommendation.section(r),
        *limits.section(r),
    ]
    path = out / "quality.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
