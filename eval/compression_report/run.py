"""Runs the three parts (or those asked for) and writes docs/compression.md."""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path
from typing import Any

import torch

from . import markdown
from . import pretrained as a
from . import scratch as b
from . import students as c
from .markdown import write_report
from .pretrained import cached


def _part_c(setup: a.Setup, results: Path, args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Trains (or reads back) every student of part (c); the main one has `--minutes`."""
    done = {}
    for name, (_, _, steps) in c.STUDENTS.items():
        if args.train_only and name not in args.train_only:
            continue
        if steps is None:
            seconds = args.minutes * 60
            key, bound = f"c-{name}-{args.minutes:g}min", max(10, int(2 * seconds / setup.step_seconds))
        else:
            seconds, bound = None, max(2, int(steps * (0.01 if args.quick else 1)))
            key = f"c-{name}-{bound}steps"
        done[name] = cached(
            results, key, lambda n=name, b=bound, s=seconds: c.run_student(setup, results, n, b, s, 6)
        )
    return done


def _part_a(
    setup: a.Setup, results: Path, args: argparse.Namespace, ctx: dict[str, Any], img: Path
) -> list[str]:
    untrained = [cached(results, f"a-{n}", lambda n=n: a.run_untrained(setup, n)) for n in a.UNTRAINED]
    main_key = f"a-robust-768-{args.minutes:g}min"
    main_run = cached(results, main_key, lambda: a.run_trained(setup, "robust-768", args.minutes * 60, 12))
    grid_seconds = args.grid_minutes * 60
    grid = [
        cached(
            results, f"a-{n}-{args.grid_minutes:g}min", lambda n=n: a.run_trained(setup, n, grid_seconds, 5)
        )
        for n in a.TRAINED
    ]
    return markdown.part_a(untrained, main_run, grid, ctx, img)


def _part_b(results: Path, args: argparse.Namespace, ctx: dict[str, Any]) -> list[str]:
    data = b.make_data(args.phrases, max(200, args.phrases // 6))
    descriptions = {}
    scratch: dict[str, Any] = {}
    for name, (description, make) in b.models(data).items():
        descriptions[name] = description
        scratch[name] = cached(
            results, f"b-{name}", lambda make=make: b.train_and_test(make(), data, args.epochs)
        )
    return markdown.part_b(scratch, descriptions, ctx)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs"), help="where compression.md and img/ go")
    parser.add_argument("--results", type=Path, default=Path("target/compression"), help="one JSON per run")
    parser.add_argument("--minutes", type=float, default=30.0, help="training budget of the main student")
    parser.add_argument("--grid-minutes", type=float, default=5.0, help="budget of every compared student")
    parser.add_argument("--train-sentences", type=int, default=50_000)
    parser.add_argument("--eval-sentences", type=int, default=1_000)
    parser.add_argument("--phrases", type=int, default=6_000, help="(b): training phrases per language")
    parser.add_argument("--epochs", type=int, default=4, help="(b): passes over the training phrases")
    parser.add_argument("--quick", action="store_true", help="a smoke run: tiny budgets and data")
    parser.add_argument(
        "--parts", default="abc", help="the parts to run (default abc); the report keeps the others' sections"
    )
    parser.add_argument("--threads", type=int, help="torch's threads (default: torch's own choice)")
    parser.add_argument(
        "--train-only", action="append", metavar="STUDENT", choices=list(c.STUDENTS),
        help="(c): train only this student and write no report; for runs side by side, one a process",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.quick:
        args.minutes, args.grid_minutes = 0.2, 0.1
        args.train_sentences, args.eval_sentences, args.phrases, args.epochs = 2_000, 50, 300, 1
    results = args.results / ("quick" if args.quick else "full")
    results.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()

    setup = a.load_setup(args.train_sentences, args.eval_sentences)
    parts = set(args.parts)
    runs_c = _part_c(setup, results, args) if "c" in parts or args.train_only else {}
    if args.train_only:
        return 0
    context = {
        "machine": f"{platform.machine()}, torch {torch.__version__} with {torch.get_num_threads()} threads",
        "minutes": args.minutes,
        "grid_minutes": args.grid_minutes,
        "train_sentences": len(setup.train),
        "eval_sentences": len(setup.held_out),
        "step_seconds": setup.step_seconds,
        "phrases": args.phrases,
        "epochs": args.epochs,
    }
    img = args.out / "img"
    img.mkdir(parents=True, exist_ok=True)
    sections = {}
    if "a" in parts:
        sections["a"] = _part_a(setup, results, args, context, img)
    if "b" in parts:
        sections["b"] = _part_b(results, args, context)
    if "c" in parts:
        # the deployment side (onnxruntime, model2vec) only where its section is written
        from . import device

        rows = cached(
            results, "c-deployed", lambda: {"rows": device.deployed_rows(setup, results, runs_c, 3)}
        )
        sections["c"] = device.part_c(runs_c, rows["rows"], context, img)
    context["wall_minutes"] = (time.monotonic() - started) / 60
    write_report(args.out, sections, context)
    print(f"wrote {args.out / 'compression.md'}")
    return 0
