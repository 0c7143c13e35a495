"""`save` and `load`: a hash-embedded transformers model on disk, without its table.

A saved directory holds `model.safetensors` (every weight the model trains, its projection
included, and no V x dim table), `config.json` (the transformers configuration), the
tokenizer's own files, and `hashembed.json`: the embedder's configuration and the spec
version of the function, without which the weights mean nothing. Loading recomputes the hash
table from the tokenizer's vocabulary, so a loaded model's outputs are bit-identical to the
saved one's.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .. import __version__
from .._embedder import HashEmbedder
from .._files import check_writable, directory_beside, followed, held_signals, nearest_existing
from ..errors import ParameterError, parameter_error
from ..reference import SPEC_VERSION
from . import manifest
from .batches import check_tokenizer, is_transformers_tokenizer
from .distillation.checkpoints import RUN_FILE
from .embedding import HashEmbedding, hash_layer
from .manifest import MANIFEST, WEIGHTS
from .students import attach_output_projection, output_projection

CHECKPOINTS = "checkpoints"
"""The subdirectory of a save where `hashembed shrink --save-steps` writes its checkpoints;
a save keeps it (`save` carries it into the new save)."""

if sys.platform != "win32":
    import fcntl

# How long a save waits for another one in the same directory before it gives up
LOCK_WAIT_SECONDS = 300.0


def check_target(directory: str | os.PathLike[str]) -> Path:
    """The directory `save` would write, checked that a save can go there: call it before
    hours of training, not after. Refused: a symbolic link to nothing, a path under a file, a
    directory that cannot be written, an existing path that is neither an empty directory nor
    an earlier save, and a directory holding any file that is not provably the earlier save's
    (see `_check`), which replacing the save would delete. A symbolic link to a directory is
    followed. Waits for a save writing in the same directory to end (`_locked`)."""
    target = followed(directory)
    with _locked(target.parent, target):
        _check(target)
    return target


def _not_a_save(given: Path, why: str, entries: set[str]) -> FileExistsError:
    return FileExistsError(
        f"{given}: is not an earlier hashembed save ({why}), and saving there would delete its files "
        f"({manifest.listing(entries)}): move them out, or save to another directory"
    )


def _check(given: Path) -> frozenset[str]:
    """`check_target`'s checks of `given` (a path no symbolic link leads from), made with the
    lock held; returns the names in it that a save replaces. A file there is replaced only if
    it is provably the earlier save's: listed by its manifest and as it was saved, or, in a
    save from before the checksums, of a name a save writes (`manifest.saved_files`). Anything
    else (a foreign or broken hashembed.json, a file changed since the save, a subdirectory) is
    refused by name."""
    if not given.exists():
        check_writable(nearest_existing(given), given)
        return frozenset()
    if not given.is_dir():
        raise FileExistsError(f"{given}: exists and is not a directory; not overwriting it")
    # a training's checkpoints (`hashembed shrink --save-steps`) stay, carried into the new save
    entries = {p.name for p in given.iterdir()} - ({CHECKPOINTS} if _checkpoints(given) else set())
    if entries and MANIFEST not in entries:
        raise _not_a_save(given, f"it has no {MANIFEST}", entries)
    if entries:
        try:
            kept, changed = manifest.saved_files(given)
        except ValueError as e:
            raise _not_a_save(given, str(e), entries) from None
        others = entries - kept - changed
        if changed or others:
            held = [f"files changed since the earlier save ({manifest.listing(changed)})"] if changed else []
            if others:
                held.append(f"files that are not part of the earlier save ({manifest.listing(others)})")
            raise FileExistsError(
                f"{given}: holds {' and '.join(held)}, which replacing the save would delete: move "
                "them out, or save to another directory"
            )
    check_writable(given.parent, given)
    if entries:
        check_writable(given, given)  # deleting the earlier save's files
    return frozenset(entries)


def _checkpoints(directory: Path) -> bool:
    """Whether `directory` holds a training's checkpoints (CHECKPOINTS, with the run's file)."""
    return (directory / CHECKPOINTS / RUN_FILE).is_file() and not (directory / CHECKPOINTS).is_symlink()


@contextlib.contextmanager
def _locked(directory: Path, target: Path) -> Iterator[None]:
    """Holds an advisory lock on `directory`, `target`'s parent, so that saves there and their
    checks run one at a time: no other save can replace `target`, move it aside or delete it
    between a check and the renames. The lock is taken on the directory itself (`flock`),
    which leaves nothing behind, and a killed process's lock goes with it."""
    fd = _lock(directory, target)
    try:
        yield
    finally:
        if fd is not None:
            os.close(fd)


def _lock(directory: Path, target: Path) -> int | None:
    """`directory` opened and locked, waiting up to LOCK_WAIT_SECONDS for another save; None
    where there are no such locks (Windows, some network file systems) or `directory` cannot
    be opened (the check then says why): the save then goes on unlocked, as before."""
    if sys.platform == "win32":
        return None
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return None
    start = time.monotonic()
    pause = 0.001
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() - start > LOCK_WAIT_SECONDS:
                    raise TimeoutError(
                        f"cannot save to {target}: another save in {directory} has not ended in "
                        f"{LOCK_WAIT_SECONDS:g} s; wait for it to end, or save to another directory"
                    ) from None
                time.sleep(pause)
                pause = min(2 * pause, 0.05)
            except OSError:  # a file system without flock (NFS, for a directory)
                os.close(fd)
                return None
    except BaseException:
        os.close(fd)
        raise


def _os_error(e: Exception, target: Path) -> OSError | None:
    """`e`, a failure to write a file of the save, as an OSError about `target`, not the
    hidden staging directory; None if `e` is no such failure. safetensors reports its I/O
    errors as a SafetensorError ending "(os error N)"."""
    code = e.errno if isinstance(e, OSError) else None
    if code is None:
        found = re.search(r"\(os error (\d+)\)", str(e))
        code = int(found.group(1)) if found else None
    if code is None:
        return OSError(f"{target}: {e}") if isinstance(e, OSError) else None
    return OSError(code, os.strerror(code), str(target))


def _write(model: Any, tokenizer: Any, layer: HashEmbedding, staging: Path) -> None:
    from safetensors.torch import save_model

    lift: Any = output_projection(model)  # an nn.Linear, whose attributes nn.Module does not type
    save_model(model, str(staging / WEIGHTS))
    model.config.save_pretrained(staging)
    if is_transformers_tokenizer(tokenizer):
        tokenizer.save_pretrained(staging)
    else:
        tokenizer.save(str(staging / "tokenizer.json"))
    # safetensors writes 0600; the directory's mode shows the umask's.
    mode = staging.stat().st_mode & 0o666
    for path in staging.iterdir():
        os.chmod(path, mode)
    manifest.write(
        staging,
        {
            "format": manifest.FORMAT,
            "spec_version": SPEC_VERSION,
            "hashembed_version": __version__,
            "embedder": layer.embedder.config(),
            "out_dim": layer.embedding_dim if layer.projection is not None else None,
            "output_projection": None if lift is None else int(lift.out_features),
            "vocab_size": layer.num_embeddings,
            "model_class": type(model).__name__,
            "tokenizer": "transformers" if is_transformers_tokenizer(tokenizer) else "tokenizers",
        },
    )


def save(model: Any, tokenizer: Any, directory: str | os.PathLike[str]) -> Path:
    """Writes `model` (a transformers model whose input embeddings are a `HashEmbedding`) and
    its tokenizer to `directory`; returns the directory's path.

    `directory` is checked as by `check_target` first. Everything is written to a hidden
    directory beside it and renamed into place at the end, so a failure (a full disk, an
    interrupt) leaves no partial directory and an earlier save as it was: a KeyboardInterrupt
    from `save` means `directory` is unchanged, unless its message says the save completed
    (an interrupt while the earlier save was being deleted, the very last step). Saves to the
    same directory from several threads or processes run one after the other, each checking
    what the one before left.
    """
    layer = hash_layer(model)
    check_tokenizer(tokenizer)
    target = followed(directory)
    if not target.parent.is_dir():
        check_target(target)  # before the missing directories are made
        target.parent.mkdir(parents=True, exist_ok=True)
    with _locked(target.parent, target):
        replaced = _check(target)
        staging: Path | None = None
        try:
            with held_signals():
                staging = directory_beside(target)
            try:
                _write(model, tokenizer, layer, staging)
            except Exception as e:
                error = _os_error(e, target)
                if error is None:
                    raise
                raise error from None
            _commit(staging, target, replaced)
        except KeyboardInterrupt:
            # `staging` is renamed back if the interrupt undid the renames
            committed = staging is not None and not staging.exists()
            _discard(staging)
            if committed:
                raise KeyboardInterrupt(f"{target}: saved; interrupted after the save completed") from None
            raise
        except BaseException:
            _discard(staging)
            raise
    return target


def _discard(staging: Path | None) -> None:
    if staging is not None:
        with held_signals():
            shutil.rmtree(staging, ignore_errors=True)


def _commit(staging: Path, target: Path, replaced: frozenset[str]) -> None:
    """Renames `staging` to `target`, an earlier save there moved aside first and deleted once
    the new one is in place. Interrupts are held meanwhile (`held_signals`): one that arrives
    during the renames undoes them, and is then raised. `replaced` is what the check found in
    `target`: a file added since (by another program; saves wait for each other) is not
    deleted but refused, the earlier save put back."""
    with held_signals() as arrived:
        old = None
        if target.exists():
            old = directory_beside(target, "old")
            try:
                os.rename(target, old / "dir")
            except BaseException:
                old.rmdir()
                raise
        carried = old is not None and _checkpoints(old / "dir")
        moved_from = (old / "dir" / CHECKPOINTS) if old is not None else None
        try:
            added = set(os.listdir(old / "dir")) - replaced - {CHECKPOINTS} if old is not None else set()
            if added:
                raise FileExistsError(
                    f"{target}: files were added to it while the save was written "
                    f"({manifest.listing(added)}); it is left as it was: move them out, or save to "
                    "another directory"
                )
            if carried and moved_from is not None:
                os.rename(moved_from, staging / CHECKPOINTS)
            os.rename(staging, target)
            if arrived:
                os.rename(target, staging)
        except BaseException:
            if moved_from is not None and carried and (staging / CHECKPOINTS).exists():
                os.rename(staging / CHECKPOINTS, moved_from)
            if old is not None:
                os.rename(old / "dir", target)
                old.rmdir()
            raise
        if old is not None:
            if arrived:
                if moved_from is not None and carried:
                    os.rename(staging / CHECKPOINTS, moved_from)
                os.rename(old / "dir", target)
                old.rmdir()
            else:
                shutil.rmtree(old, ignore_errors=True)


def load(directory: str | os.PathLike[str]) -> tuple[Any, Any]:
    """(model, tokenizer) from a directory written by `save`; the model is in eval mode, on CPU."""
    import transformers
    from safetensors.torch import load_model

    path = Path(os.fspath(directory))
    saved = manifest.read(path)
    tokenizer: Any
    if saved["tokenizer"] == "transformers":
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    else:
        import tokenizers

        tokenizer = tokenizers.Tokenizer.from_file(str(path / "tokenizer.json"))
    config = transformers.AutoConfig.from_pretrained(str(path), local_files_only=True)
    model = manifest.model_class(transformers, saved["model_class"], config, path / MANIFEST)(config)
    layer = HashEmbedding(tokenizer, HashEmbedder(**saved["embedder"]), out_dim=saved["out_dim"])
    if layer.num_embeddings != saved["vocab_size"]:
        raise parameter_error(
            ParameterError,
            f"{path}: the tokenizer has {layer.num_embeddings} tokens, the model was saved with "
            f"{saved['vocab_size']}",
            "directory",
            directory,
        )
    model.set_input_embeddings(layer)
    if saved.get("output_projection") is not None:
        attach_output_projection(model, saved["output_projection"])
    missing, unexpected = load_model(model, str(path / WEIGHTS), strict=False)
    if missing or unexpected:
        lacks = f"lacks {len(missing)} of its weights ({manifest.listing(missing, 3)})" if missing else ""
        holds = (
            f"holds {len(unexpected)} that it has not ({manifest.listing(unexpected, 3)})"
            if unexpected
            else ""
        )
        raise parameter_error(
            ParameterError,
            f"{path / MANIFEST}: model_class {saved['model_class']!r} does not fit the saved weights: "
            f"{WEIGHTS} {' and '.join(filter(None, [lacks, holds]))}",
            "directory",
            path,
        )
    return model.eval(), tokenizer
