"""`hashembed shrink`: distil a transformers model into one without an embedding table."""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import math
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .._files import check_file_target
from .._optional import missing
from ..errors import ParameterError
from ..progress import status
from .config import add_config_flags, check_positive, embedder_from
from .errors import CLIError, os_message

# hashembed.torch.shrink.DEFAULT_PRESET and hashembed.torch.manifest.MANIFEST, which need
# torch to import: the embedder and MODEL_DIR are checked before it is.
_PRESET = "robust"
_SAVE_MANIFEST = "hashembed.json"

# shrink's student sizes, each a flag of its name
_SIZES = {
    "num_layers": "transformer layers",
    "hidden_size": "hidden width",
    "intermediate_size": "feed-forward width",
    "num_attention_heads": "attention heads",
}
# shrink's parameters whose flag is not their name (--seed is the hash seed)
_RENAMED = {
    "seed": "--training-seed", "max_seconds": "--max-minutes", "checkpoint_dir": "-o OUT_DIR/checkpoints"
}  # fmt: skip


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


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
    p.add_argument(
        "--device",
        metavar="DEVICE",
        help="cpu, cuda, cuda:N or mps (default: CUDA if there is one, else MPS, else CPU)",
    )
    p.add_argument(
        "--save-steps", type=int, metavar="N",
        help="write a checkpoint every N steps into OUT_DIR/checkpoints (the save keeps them)",
    )  # fmt: skip
    p.add_argument(
        "--resume", action="store_true", help="continue from the latest checkpoint in OUT_DIR/checkpoints"
    )
    p.add_argument(
        "--logging-steps", type=int, metavar="N", help="log the loss and learning rate every N steps (1%%)"
    )
    p.add_argument(
        "--report-to", nargs="+", metavar="NAME",
        help="the Trainer's integrations to log to (tensorboard, wandb, ...), into OUT_DIR/checkpoints",
    )  # fmt: skip
    precision = p.add_mutually_exclusive_group()
    precision.add_argument(
        "--bf16", action="store_true", help="mixed precision in bfloat16 (CPU or a GPU that has it)"
    )
    precision.add_argument("--fp16", action="store_true", help="mixed precision in float16 (a GPU)")
    student = p.add_argument_group(
        "student size",
        "a smaller encoder of the teacher's family, initialised from it (default: the teacher's sizes; "
        "a narrower width keeps the teacher's head size and feed-forward ratio)",
    )
    for name, what in _SIZES.items():
        student.add_argument(_flag(name), type=int, metavar="N", help=what)
    p.add_argument(
        "--training-seed",
        type=int,
        default=0,
        metavar="N",
        help="seed of the text order and initialisation (0)",
    )
    export = p.add_argument_group(
        "export", "the shrunk model as one ONNX file (hashembed.torch.export_model)"
    )
    export.add_argument("--onnx", metavar="FILE", help="also write the model as ONNX: token code points in")
    export.add_argument(
        "--int8", action="store_true",
        help="with --onnx: weights in int8, checked against the float model on the training texts",
    )  # fmt: skip
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_config_flags(p, _PRESET)
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
    """The flags that need no model, checked before torch is imported and named as flags."""
    check_positive(args, "--steps", "--batch-size", "--out-dim", "--save-steps", "--logging-steps")
    check_positive(args, *map(_flag, _SIZES))
    if args.int8 and args.onnx is None:
        raise CLIError("--int8 quantises the --onnx file: give --onnx FILE too")
    if args.onnx is not None:
        onnx_file, out = Path(args.onnx).resolve(), Path(args.output).resolve()
        if onnx_file == out or out in onnx_file.parents:
            # a save replaces its directory whole, and refuses to delete files it did not write
            where = f"--onnx {args.onnx}: is inside -o {args.output}"
            raise CLIError(f"{where}, which a save replaces whole: write it beside")
        try:
            check_file_target(args.onnx)
        except OSError as e:
            raise CLIError(f"--onnx {os_message(e)}") from None
        # found now, not after hours of training
        for module, extra in (("onnx", "onnx"), ("onnxruntime", "int8"))[: 1 + bool(args.int8)]:
            if importlib.util.find_spec(module) is None:
                raise CLIError(f"--onnx needs the {module!r} package: pip install 'hashembed[{extra}]'")
    if args.max_length < 2:
        raise CLIError(f"--max-length must be at least 2, got {args.max_length}")
    for flag in ("--lr", "--max-minutes"):
        value = getattr(args, flag[2:].replace("-", "_"))
        if value is not None and not (math.isfinite(value) and value > 0):
            raise CLIError(f"{flag} must be a finite number > 0, got {value:g}")


def _check_model_dir(model: str) -> None:
    path = Path(model)
    if not path.is_dir():
        raise CLIError(f"MODEL_DIR {model}: is not a directory")
    # transformers would load it with a random word-embedding table and only warn
    if (path / _SAVE_MANIFEST).exists():
        raise CLIError(
            f"MODEL_DIR {model}: is a model shrunk by hashembed (it holds {_SAVE_MANIFEST}), not a "
            "transformers teacher; to train it further, load it in Python with hashembed.torch.load and "
            "pass it as the student to hashembed.torch.distil(teacher, student, tokenizer, texts)"
        )


def _training(args: argparse.Namespace) -> dict[str, Any]:
    """shrink's training keywords (DistilConfig's fields) from the flags."""
    options: dict[str, Any] = {
        "steps": args.steps, "batch_size": args.batch_size, "max_length": args.max_length,
        "seed": args.training_seed, "progress": not args.quiet, "device": args.device, "bf16": args.bf16,
        "fp16": args.fp16, "save_steps": args.save_steps, "resume": args.resume,
        "logging_steps": args.logging_steps, "report_to": args.report_to or "none",
    }  # fmt: skip
    if args.save_steps is not None or args.resume or args.report_to:
        options["checkpoint_dir"] = str(Path(args.output) / "checkpoints")
    if args.lr is not None:
        options["lr"] = args.lr
    if args.max_minutes is not None:
        options["max_seconds"] = args.max_minutes * 60
    return options


def _where(parameter: Any, args: argparse.Namespace) -> str | None:
    """What the user typed that a ParameterError from shrink is about, or None."""
    if parameter in ("model", "tokenizer"):
        return f"MODEL_DIR {args.model}"
    if parameter in _SIZES and getattr(args, parameter) is None:
        # a size the student derives from those given (its heads from its width)
        return ", ".join(_flag(name) for name in _SIZES if getattr(args, name) is not None) or None
    if parameter in _RENAMED:
        return _RENAMED[parameter]
    return _flag(parameter) if isinstance(parameter, str) and hasattr(args, parameter) else None


@contextlib.contextmanager
def _named(args: argparse.Namespace) -> Iterator[None]:
    """Turns shrink's ParameterErrors into CLIErrors naming the flag (or MODEL_DIR)."""
    try:
        yield
    except ParameterError as e:
        where = _where(e.parameter, args)
        raise CLIError(str(e) if where is None else f"{where}: {e}") from None


def _check_against(
    skeleton: Any, training: dict[str, Any], sizes: dict[str, Any], out_dim: int | None
) -> None:
    """shrink's training options, the student's `sizes` and `out_dim`, checked by shrink's own
    rules on `skeleton`, the teacher without its weights (on the meta device), where shrink
    would check them only once the weights are loaded."""
    from ..torch import students
    from ..torch.distillation import DistilConfig, check_max_length
    from ..torch.shrink import input_width

    check_max_length(skeleton, "teacher", DistilConfig(**training).max_length)
    input_width(skeleton, students.student_shape(skeleton, **sizes), out_dim)


def cmd_shrink(args: argparse.Namespace) -> int:
    _check_flags(args)
    embedder = embedder_from(args, _PRESET)
    _check_model_dir(args.model)
    texts = _lines(args.texts, "--texts")
    eval_texts = _lines(args.eval_texts, "--eval-texts") if args.eval_texts else None
    status("shrink", f"loading torch, transformers and {args.model}", not args.quiet)
    try:
        import torch
        import transformers

        from ..torch import saving
        from ..torch.shrink import shrink
    except ImportError as e:
        raise CLIError(str(missing(e, "torch", "hashembed shrink"))) from None
    target = saving.check_target(args.output)
    if args.resume:
        from ..torch.distillation.checkpoints import latest

        if latest(target / saving.CHECKPOINTS) is None:
            raise CLIError(f"--resume: {target / saving.CHECKPOINTS} holds no checkpoint to resume from")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    transformers.utils.logging.disable_progress_bar()  # one bar, ours
    unloadable = f"MODEL_DIR {args.model}: cannot be loaded as a transformers model"
    # The flags that need the teacher are checked before its weights load: the configuration
    # takes a second to read, a skeleton (its modelling code) seconds, the weights more.
    try:
        config = transformers.AutoConfig.from_pretrained(args.model, local_files_only=True)
    except (OSError, ValueError, KeyError) as e:
        raise CLIError(f"{unloadable} ({e})") from None
    training = _training(args)
    sizes = {name: getattr(args, name) for name in _SIZES}
    try:
        with torch.device("meta"):
            skeleton = transformers.AutoModel.from_config(config)
    except (OSError, ValueError, KeyError) as e:
        raise CLIError(f"{unloadable} ({e})") from None
    with _named(args):
        _check_against(skeleton, training, sizes, args.out_dim)
    if config.dtype not in (None, torch.float32):
        # one precision whatever the checkpoint's: shrink cannot train float16 or bfloat16, and
        # float32 holds their values exactly
        held = str(config.dtype).rpartition(".")[2]
        status("shrink", f"{args.model} holds {held} weights; training in float32", not args.quiet)
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(args.model, local_files_only=True)
        model = transformers.AutoModel.from_pretrained(
            args.model, config=config, local_files_only=True, dtype=torch.float32
        )
    except (OSError, ValueError, KeyError) as e:
        raise CLIError(f"{unloadable} ({e})") from None
    try:
        with _named(args):
            result = shrink(
                model, tokenizer, texts, embedder=embedder, out_dim=args.out_dim, eval_texts=eval_texts,
                **training, **sizes,
            )  # fmt: skip
    except FloatingPointError as e:
        raise CLIError(str(e)) from None
    from ..torch.distillation import processes

    if processes()[0] != 0:
        return 0  # under torchrun or accelerate launch, the first process reports and saves
    print(result.summary())
    status("shrink", f"saving to {target}", not args.quiet)
    target = _save(saving, result.model, tokenizer, target)
    size = sum(f.stat().st_size for f in target.iterdir() if f.is_file())
    print(f"saved to {target} ({size / 1e6:.1f} MB)")
    if args.onnx is not None:
        _export(result.model, tokenizer, texts, args)
    return 0


def _export(model: Any, tokenizer: Any, texts: list[str], args: argparse.Namespace) -> None:
    """`--onnx`: the model exported, an int8 file checked on the training texts, with its
    figure on a line (and why, where it falls short of the target)."""
    try:
        from ..int8 import Int8Warning, read_report
        from ..torch import export_model
    except ImportError as e:
        raise CLIError(str(missing(e, "int8" if args.int8 else "onnx", "hashembed shrink --onnx"))) from None
    status("shrink", f"exporting to {args.onnx}", not args.quiet)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", Int8Warning)
        try:
            quantize = "int8" if args.int8 else None
            path = export_model(model, args.onnx, quantize=quantize, tokenizer=tokenizer, texts=texts)
        except OSError as e:
            raise CLIError(f"--onnx {os_message(e)}; the model is saved in {args.output}") from None
    print(f"exported to {path} ({path.stat().st_size / 1e6:.1f} MB)")
    report = read_report(path) if args.int8 else None
    if report is not None:
        print(report.summary())
    for w in caught:
        if issubclass(w.category, Int8Warning):
            print(f"warning: {w.message}")


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
