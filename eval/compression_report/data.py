"""English sentences from the running Python, nothing downloaded.

Training text: the docstrings and comments of the standard library's modules. Held-out text:
the language reference and library topics of `pydoc_data.topics` (prose written for the
documentation, not for the code), with every sentence that also occurs in the training text
removed.
"""

from __future__ import annotations

import ast
import io
import random
import re
import sysconfig
import tokenize
from pathlib import Path

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])|\n\s*\n")
_WORD = re.compile(r"[A-Za-z]{2,}")


def _sentences(text: str) -> list[str]:
    """Prose sentences of 4 to 60 words, mostly letters, whitespace collapsed."""
    out = []
    for part in _SENTENCE_END.split(text):
        s = " ".join(part.split())
        words = len(_WORD.findall(s))
        if (
            4 <= words <= 60
            and 20 <= len(s) <= 400
            and sum(c.isalpha() or c == " " for c in s) >= 0.8 * len(s)
        ):
            out.append(s)
    return out


def _docstrings_and_comments(source: str) -> list[str]:
    parts = []
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return parts
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node)
            if doc:
                parts.append(doc)
    comments = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                comments.append(tok.string.lstrip("#").strip())
            elif comments and tok.type != tokenize.NL:
                parts.append(" ".join(comments))  # a comment block is one paragraph
                comments = []
    except (tokenize.TokenError, SyntaxError):
        pass
    return parts


def stdlib_sentences() -> list[str]:
    """Distinct sentences of the standard library's docstrings and comments, in file order."""
    root = Path(sysconfig.get_paths()["stdlib"])
    seen: dict[str, None] = {}
    for path in sorted(root.rglob("*.py")):
        if "site-packages" in path.parts:
            continue
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        for part in _docstrings_and_comments(source):
            for s in _sentences(part):
                seen.setdefault(s)
    return list(seen)


def topic_sentences() -> list[str]:
    """Distinct sentences of `pydoc_data.topics`, in topic order."""
    from pydoc_data.topics import topics

    seen: dict[str, None] = {}
    for name in sorted(topics):
        for s in _sentences(topics[name]):
            seen.setdefault(s)
    return list(seen)


def split(n_train: int, n_eval: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """(training sentences, held-out sentences), each a seeded sample of its source."""
    train = stdlib_sentences()
    known = set(train)
    held_out = [s for s in topic_sentences() if s not in known]
    rng = random.Random(seed)
    rng.shuffle(train)
    rng.shuffle(held_out)
    if len(train) < n_train or len(held_out) < n_eval:
        raise ValueError(f"asked for {n_train}/{n_eval} sentences, have {len(train)}/{len(held_out)}")
    return train[:n_train], held_out[:n_eval]
