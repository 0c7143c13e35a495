"""Streaming to disk in chunks keeps memory flat: benches/streaming.py (50M tokens; see
docs/reliability.md for its figures) run on 2M tokens, in a process of its own so its peak
RSS is its own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benches" / "streaming.py"


def test_two_million_tokens_to_a_memmap_in_chunks(tmp_path):
    out = tmp_path / "stream.f32"
    args = ["--tokens", "2000000", "--dim", "64", "--chunk", "200000", "--path", str(out), "--json"]
    result = subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats["output_gb"] > 0.5  # 512 MB written
    # One chunk of input and output is ~60 MB; growth stays far below the 512 MB output.
    assert stats["peak_rss_growth_mb"] < 200, stats
    assert stats["max_sampled_rss_mb"] < stats["rss_at_start_mb"] + 200, stats
    assert out.stat().st_size == 2_000_000 * 64 * 4
