"""Progress on stderr for long work: the bar of `hashembed embed` and of training
(`hashembed.torch.shrink`, `distil`), and the status lines of steps that draw no bar."""

from __future__ import annotations

import math
import sys
import time
from typing import IO, Any

__all__ = ["Progress", "status"]


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


LOG_INTERVAL = 30.0
"""Seconds between the lines of a bar drawn into something that is not a terminal."""


class Progress:
    """A one-line progress bar with throughput, redrawn in place with `\\r`.

    Shown only when `enabled` (by default: when `stream` is a terminal); otherwise every method
    is a no-op, so callers need no conditionals.
    """

    def __init__(
        self,
        total: int,
        *,
        label: str = "embedding",
        unit: str = "rows",
        stream: IO[str] | None = None,
        enabled: bool | None = None,
        min_interval: float = 0.1,
        clock: Any = time.monotonic,
    ) -> None:
        self.total = int(total)
        self.label = label
        self.unit = unit
        self.stream = sys.stderr if stream is None else stream
        self._tty = _isatty(self.stream)
        self.enabled = self._tty if enabled is None else bool(enabled)
        # A log file gets a line now and then instead of a bar redrawn in place.
        self.min_interval = min_interval if self._tty else max(min_interval, LOG_INTERVAL)
        self.clock = clock
        self.done = 0
        self.start = clock()
        self._last_draw = float("-inf")
        self._width = 0
        self._closed = False
        self._drawn = -1
        self.note = ""
        """Text shown after the throughput (a loss, say); set it before `update`."""
        self.time_left: float | None = None
        """Seconds left at most (of a time budget): the ETA shown is never longer."""

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(final=exc[0] is None)

    def update(self, n: int) -> None:
        self.done += int(n)
        if not self.enabled:
            return
        now = self.clock()
        if now - self._last_draw >= self.min_interval:
            self._draw(now)

    def render(self, now: float | None = None) -> str:
        """The text of the bar at time `now`."""
        now = self.clock() if now is None else now
        elapsed = max(now - self.start, 1e-9)
        rate = self.done / elapsed
        fraction = min(self.done / self.total, 1.0) if self.total > 0 else 1.0
        filled = int(fraction * 24)
        bar = "#" * filled + "." * (24 - filled)
        text = (
            f"{self.label} [{bar}] {100 * fraction:5.1f}% {self.done:,}/{self.total:,} {self.unit} "
            f"{rate:,.0f} {self.unit}/s"
        )
        if self.done >= self.total:
            text += f" in {_duration(elapsed)}"
        else:
            eta = (self.total - self.done) / rate if rate > 0 else math.inf
            if self.time_left is not None and self.time_left < eta:
                text += f" ETA {_duration(max(self.time_left, 0.0))} (time budget)"
            elif rate > 0:
                text += f" ETA {_duration(eta)}"
        return f"{text} {self.note}" if self.note else text

    def _draw(self, now: float) -> None:
        self._last_draw = now
        self._drawn = self.done
        text = self.render(now)
        if not self._tty:
            self.stream.write(text + "\n")
            self.stream.flush()
            return
        pad = " " * max(self._width - len(text), 0)
        self._width = len(text)
        self.stream.write("\r" + text + pad)
        self.stream.flush()

    def close(self, final: bool = True) -> None:
        if self._closed:
            return
        self._closed = True
        if not self.enabled:
            return
        if final and (self._tty or self._drawn != self.done):  # a log has its last line already
            self._draw(self.clock())
        if self._tty:
            self.stream.write("\n")
            self.stream.flush()


def status(label: str, text: str, enabled: bool = True, stream: IO[str] | None = None) -> None:
    """A line "`label`: `text`" on stderr (or `stream`) when `enabled`: what a step that
    takes a while and draws no bar is doing."""
    if enabled:
        out = sys.stderr if stream is None else stream
        out.write(f"{label}: {text}\n")
        out.flush()


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
