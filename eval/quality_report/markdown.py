"""Formatting of numbers, strings and tables for the markdown report."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def pct(x: float) -> str:
    return f"{100 * x:.1f}"


def signed_pts(x: float, ci: float | None = None) -> str:
    text = f"{100 * x:+.1f}"
    return text + (f" ± {100 * ci:.1f}" if ci is not None else "")


def better(delta: float) -> str:
    return "beats" if delta > 0 else "trails"


def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]], right: bool = True) -> str:
    align = ["---"] + ["--:" if right else "---"] * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def code_repr(text: str) -> str:
    """A string shown in a markdown code span, control characters escaped."""
    shown = repr(text)[1:-1].replace("`", "\\`")
    return f"`{shown}`"
