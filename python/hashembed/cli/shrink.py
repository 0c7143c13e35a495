"""`hashembed shrink`: distil a transformers model into one without an embedding table."""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from .._optional import missing
from ..errors import ParameterError
from ..progress import status
from .config import add_config_flags, check_positive, embedder_from
from .errors import CLIError, os_message


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "shrink",
        help="distil a transformers model into a copy whose input embeddings are hash embeddings",
        description=(
            "Distil MODEL_DIR (a transformers encoder and its tokenizer, loaded offline) into a "
            "copy whose word-embedding table is replaced by hash embeddings and a small "
            "projection, training on the lines of --texts; save it to OUT_DIR (hashembed.torch.load "
            "reads it). Needs torch and transformers: pip install 'hashembed[torch]'."
        ),
    )
    p.add_argument(
        "model", metavar="MODEL_DIR", help="a transformers model directory (config, weights, tokenizer)"
    )
    p.add_argument("--texts", required=True, metavar="FILE", help="training texts, one per line (UTF-8)")
    p.add_argument("--eval-texts", metavar="FILE", help="held-out texts, one per line: measure what is kept")
    p.add_argument("-o", "--output", required=True, metavar="OUT_DIR", help="where to save the shrunk model")
    p.add_argument("--steps", type=int, default=1000, metavar="N", help="training steps (1000)")
    p.add_argument("--batch-size", type=int, default=32, metavar="N", help="texts per step (32)")
    p.add_argument("--max-length", type=int, default=128, metavar="N", help="tokens per text at most (128)")
    p.add_argument("--lr", type=float, default=None, metavar="LR", help="learning rate (shrink's default)")
    p.add_argument("--max-minutes", type=float, metavar="M", help="stop training after M minutes")
    p.add_argument("--out-dim", type=int, metavar="N", help="projection output (the student's hidden size)")
    student = p.add_argument_group(
        "student size",
        "a smaller encoder of the teacher's family, initialised from it (default: the teacher's sizes; "
        "a narrower width keeps the teacher's head size and feed-forward ratio)",
    )
    student.add_argument("--num-layers", type=int, metavar="N", help="transformer layers")
    student.add_argument("--hidden-size", type=int, metavar="N", help="hidden width")
    student.add_argument("--intermediate-size", type=int, metavar="N", help="feed-forward width")
    student.add_argument("--num-attention-heads", type=int, metavar="N", help="attention heads")
    p.add_argument(
        "--training-seed",
        type=int,
        default=0,
        metavar="N",
        help="seed of the text order and initialisation (0)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_config_flags(p, "robust")  # shrink's DEFAULT_PRESET, which needs torch to import
    p.set_defaults(func=cmd_shrink)


def _lines(path: str, flag: str) -> list[str]:
    p = Path(path)
    if not p.is_file():
        raise CLIError(f"{flag} {path}: no such file" if not p.exists() else f"{flag} {path}: is not a file")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise CLIError(f"{flag} {path}: is not UTF-8 text ({e.reason} at byte {e.start})") from None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise CLIError(f"{flag} {path}: holds no non-blank line")
    return lines


def _check_flags(args: argparse.Namespace) -> None:
    """The training flags, checked before the model is loaded and named as flags."""
    check_positive(args, "--steps", "--batch-size", "--out-dim")
    if args.max_length < 2:
        raise CLIError(f"--max-length must be at least 2, got {args.max_length}")
    for flag in ("--lr", "--max-minutes"):
        value = getattr(args, flag[2:].replace("-", "_"))
        if value is not None and not (math.isfinite(value) and value > 0):
            raise CLIError(f"{flag} must be a finite number > 0, got {value:g}")


def cmd_shrink(args: argparse.Namespace) -> int:
    _check_flags(args)
    if not Path(args.model).is_dir():
        raise CLIError(f"MODEL_DIR {args.model}: is not a directory")
    texts = _lines(args.texts, "--texts")
    eval_texts = _lines(args.eval_texts, "--eval-texts") if args.eval_texts else None
    status("shrink", f"loading torch, transformers and {args.model}", not args.quiet)
    try:
        import transformers

        from ..torch import saving
        from ..torch.shrink import DEFAULT_PRESET, shrink
    except ImportError as e:
        raise CLIError(str(missing(e, "torch", "hashembed shrink"))) from None
    target = saving.check_target(args.output)
    embedder = embedder_from(args, DEFAULT_PRESET)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    transformers.utils.logging.disable_progress_bar()  # one bar, ours
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(args.model, local_files_only=True)
        model = transformers.AutoModel.from_pretrained(args.model, local_files_only=True)
    except (OSError, ValueError, KeyError) as e:
        raise CLIError(f"MODEL_DIR {args.model}: cannot be loaded as a transformers model ({e})") from None
    options: dict[str, Any] = {} if args.lr is None else {"lr": args.lr}
    if args.max_minutes is not None:
        options["max_seconds"] = args.max_minutes * 60
    try:
        result = shrink(
            model, tokenizer, texts,
            embedder=embedder, out_dim=args.out_dim, steps=args.steps, batch_size=args.batch_size,
            max_length=args.max_length, eval_texts=eval_texts, progress=not args.quiet,
            seed=args.training_seed, num_layers=args.num_layers, hidden_size=args.hidden_size,
            intermediate_size=args.intermediate_size, num_attention_heads=args.num_attention_heads,
            **options,
        )  # fmt: skip
    except FloatingPointError as e:
        raise CLIError(str(e)) from None
    except ParameterError as e:
        flag = f"--{e.parameter.replace('_', '-')}: " if isinstance(e.parameter, str) else ""
        raise CLIError(f"{flag}{e}") from None
    print(result.summary())
    status("shrink", f"saving to {target}", not args.quiet)
    target = _save(saving, result.model, tokenizer, target)
    size = sum(f.stat().st_size for f in target.iterdir() if f.is_file())
    print(f"saved to {target} ({size / 1e6:.1f} MB)")
    return 0


def _why(e: Exception) -> str:
    return os_message(e) if isinstance(e, OSError) else str(e)


def _save(saving: Any, model: Any, tokenizer: Any, target: Path) -> Path:
    """`saving.save` to `target`; where that still fails after `check_target` passed (a full
    disk, a directory changed during training), the trained model is saved to a new
    directory in the temporary directory instead, which the error names."""
    try:
        return saving.save(model, tokenizer, target)
    except Exception as e:
        reason = _why(e)
    spare = None
    try:
        spare = Path(tempfile.mkdtemp(prefix=f"hashembed-shrink-{target.name}-"))
        kept = saving.save(model, tokenizer, spare)
    except Exception as e:
        with contextlib.suppress(OSError):
            if spare is not None:
                spare.rmdir()
        raise CLIError(
            f"cannot save the trained model: {reason}; nor in the temporary directory: {_why(e)}"
        ) from None
    raise CLIError(f"cannot save the trained model: {reason}; it is saved in {kept} instead")
