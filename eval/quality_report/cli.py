"""The command line: `python eval/quality.py [--quick] [--out DIR] [--seed N]`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .report import write_report
from .run import make_config, run


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="How well hashembed groups and separates real strings, measured against alternatives."
    )
    parser.add_argument("--out", type=Path, default=Path("docs"), help="folder for quality.md and img/")
    parser.add_argument("--quick", action="store_true", help="small inputs: a smoke run well under a minute")
    parser.add_argument("--seed", type=int, default=20_240_601, help="seed of the typos and pairs")
    args = parser.parse_args(argv)
    cfg = make_config(args.quick, args.seed)
    res = run(cfg, log=lambda msg: print(msg, file=sys.stderr, flush=True))
    t = res["timings"]
    runtime = (
        f"{t['total'] / 60:.1f} min wall clock, {t['cpu'] / 60:.1f} min CPU, {res['evaluations']} evaluations"
    )
    if args.quick:
        runtime = f"{t['total']:.0f} s wall clock, {res['evaluations']} evaluations"
    path = write_report(res, args.out, runtime)
    print(f"wrote {path} ({runtime})", file=sys.stderr)
    return 0
