"""`ShrinkResult`: what `distil` and `shrink` return."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ShrinkResult:
    """What `shrink` returns: the student and what it keeps of the teacher.

    `metrics` (empty without eval_texts) compares the student's mean-pooled sentence
    embeddings of eval_texts with the teacher's (see `hashembed.torch.metrics.agreement`);
    `initial_metrics` does the same for the student before training. Parameter counts are of
    the whole model and of its input embedding layer, before (teacher) and after (student).
    `history` has one entry per logged step: step, loss, seconds, and metrics where
    `eval_every` asked for them.
    """

    model: Any
    metrics: dict[str, float]
    initial_metrics: dict[str, float]
    parameters_before: int
    parameters_after: int
    input_parameters_before: int
    input_parameters_after: int
    steps: int
    sentences: int
    seconds: float
    cpu_seconds: float
    projection_r2: float | None
    history: list[dict[str, float]] = field(default_factory=list)

    def summary(self) -> str:
        """A small plain-text table of the sizes and metrics."""
        share = self.input_parameters_after / max(self.input_parameters_before, 1)
        before, after = self.input_parameters_before, self.input_parameters_after
        rows = [
            ("", "teacher", "student"),
            ("parameters", f"{self.parameters_before:,}", f"{self.parameters_after:,}"),
            ("input layer parameters", f"{before:,}", f"{after:,}"),
            ("input layer / table", "100.0%", f"{share:.1%}"),
        ]
        for name, value in self.metrics.items():
            if name in self.initial_metrics:
                rows.append((f"{name}, untrained", "", f"{self.initial_metrics[name]:.3f}"))
            rows.append((name, "1.000", f"{value:.3f}"))
        lines = [f"{a:28}{b:>14}{c:>14}" for a, b, c in rows]
        lines.append(
            f"trained {self.steps:,} steps, {self.sentences:,} sentences in {self.seconds:.0f} s "
            f"({self.cpu_seconds:.0f} s CPU)"
        )
        return "\n".join(lines)
