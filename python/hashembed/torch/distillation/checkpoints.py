"""Checkpoints of a distillation: the Trainer writes `checkpoint-N/` (student, optimiser,
scheduler, data position, RNG states) into a directory; hashembed adds what the run is (the
teacher, the student's configuration, the embedder) so that a resume with another of any of
them is refused, naming what differs, instead of training a mixture."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch

from ...errors import ParameterError, parameter_error

RUN_FILE = "hashembed-run.json"
"""The file of a checkpoint directory that says which run its checkpoints belong to."""

_VOLATILE = ("_name_or_path", "transformers_version", "dtype", "torch_dtype", "architectures")


def _config(model: Any) -> dict[str, Any]:
    config = model.config.to_dict()
    return {k: v for k, v in sorted(config.items()) if k not in _VOLATILE}


def fingerprint(teacher: Any, student: Any, layer: Any, table: torch.Tensor) -> dict[str, Any]:
    """What a run's checkpoints are of: the teacher (its configuration and a digest of its
    input table, so another checkpoint of one architecture is told apart), the student's
    configuration (its sizes) and its input layer (a hash layer's embedder configuration;
    another layer, `distil`'s baselines, by its class and shape)."""
    digest = hashlib.sha256(table.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    embedder = getattr(layer, "embedder", None)
    if embedder is not None and callable(getattr(embedder, "config", None)):
        described = embedder.config()
    else:
        described = {"layer": type(layer).__name__, "shape": [list(p.shape) for p in layer.parameters()]}
    return {
        "teacher": {**_config(teacher), "input_table_sha256": digest.hexdigest()},
        "student": _config(student),
        "embedder": described,
    }


def latest(directory: Path) -> Path | None:
    """The checkpoint of the most steps in `directory`, or None."""
    found = [p for p in directory.glob("checkpoint-*") if p.is_dir() and p.name[11:].isdigit()]
    return max(found, key=lambda p: int(p.name[11:]), default=None)


def _differences(saved: dict[str, Any], now: dict[str, Any]) -> list[str]:
    out = []
    for part in ("teacher", "student", "embedder"):
        a, b = saved.get(part, {}), now[part]
        keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
        out += [f"{part} {k}: {a.get(k)!r} in the checkpoints, {b.get(k)!r} now" for k in keys[:3]]
    return out


def prepare(directory: Path, run: dict[str, Any], resume: bool) -> Path | None:
    """The checkpoint to resume from (None: a fresh run), `directory` checked: a resume
    needs a checkpoint there of this very run; a fresh run must not mix its checkpoints with
    another's. Writes RUN_FILE for a fresh run."""
    run_file = directory / RUN_FILE
    saved = None
    if run_file.is_file():
        try:
            saved = json.loads(run_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            message = f"{run_file}: cannot be read ({e}): is this a hashembed checkpoint directory?"
            raise parameter_error(ParameterError, message, "checkpoint_dir", str(directory)) from None
    checkpoint = latest(directory) if directory.is_dir() else None
    if resume:
        if checkpoint is None or saved is None:
            message = f"resume=True: {directory} holds no checkpoint of a hashembed run to resume from"
            raise parameter_error(ParameterError, message, "resume", resume)
        differ = _differences(saved, json.loads(json.dumps(run)))
        if differ:
            message = f"{directory}: its checkpoints are of another run ({'; '.join(differ)})"
            raise parameter_error(ParameterError, message, "checkpoint_dir", str(directory))
        _check_whole(checkpoint)
        return checkpoint
    if checkpoint is not None:
        message = (
            f"{directory} holds checkpoints of an earlier run ({checkpoint.name}): pass resume=True "
            "(--resume) to continue it, or another directory"
        )
        raise parameter_error(ParameterError, message, "checkpoint_dir", str(directory))
    directory.mkdir(parents=True, exist_ok=True)
    run_file.write_text(json.dumps(run, indent=1, sort_keys=True), encoding="utf-8")
    return None


def _check_whole(checkpoint: Path) -> None:
    """A ParameterError naming `checkpoint` if a file the resume reads is missing or cut
    short, rather than the failure deep inside the Trainer."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    needed = ["model.safetensors", "optimizer.pt", "scheduler.pt", "trainer_state.json"]
    missing = [name for name in needed if not (checkpoint / name).is_file()]
    why = f"lacks {', '.join(missing)}" if missing else ""
    if not why:
        try:
            load_file(str(checkpoint / "model.safetensors"))
            json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
            for name in ("optimizer.pt", "scheduler.pt"):
                torch.load(checkpoint / name, map_location="cpu", weights_only=True)
        except (SafetensorError, ValueError, RuntimeError, EOFError, OSError) as e:
            why = f"is damaged ({str(e).splitlines()[0] if str(e) else type(e).__name__})"
    if why:
        message = f"{checkpoint}: {why}: delete it to resume from the one before"
        raise parameter_error(ParameterError, message, "checkpoint_dir", os.fspath(checkpoint.parent))
