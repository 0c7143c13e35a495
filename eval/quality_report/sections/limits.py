"""The report's closing sections: Limitations and Reproducing."""

from __future__ import annotations

import platform

import hashembed
import numpy as np

from ..data import LANG_NAMES
from ..results import Results


def section(r: Results) -> list[str]:
    cfg = r.cfg
    return [
        "## Limitations\n",
        "- The typos are synthetic single edits with characters drawn by frequency, not a model of "
        "real keyboards or OCR; words with several errors are not tested.\n"
        f"- Recall is measured against the list itself ({cfg.n_words:,} candidates); a larger vocabulary "
        "lowers every method's recall, and the gaps between them may change.\n"
        "- Typo robustness and shared affixes are proxies. What matters for a model is how well it "
        "trains on these vectors, which this report does not measure.\n"
        f"- The presets were chosen on {', '.join(LANG_NAMES[x] for x in cfg.sweep_langs)} with one "
        "draw of typos, and "
        "measured on all languages with another; a different set of candidate configurations might "
        "do better still.\n",
        "## Reproducing\n",
        "```\npip install -r benches/requirements-quality.txt\npython eval/quality.py --out docs\n```\n\n"
        f"Versions in this run: hashembed {hashembed.__version__}, Python {platform.python_version()}, "
        f"NumPy {np.__version__}, {versions()}. `--quick` runs the same code on small inputs as a "
        "smoke test.\n",
    ]


def versions() -> str:
    """The versions of the optional packages the report uses, where installed."""
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for dist in ("wordfreq", "scikit-learn", "matplotlib"):
        try:
            parts.append(f"{dist} {version(dist)}")
        except PackageNotFoundError:
            pass
    return ", ".join(parts)
