"""`save` and `load`: a hash-embedded transformers model on disk, without its table.

A saved directory holds `model.safetensors` (every weight the model trains, its projection
included, and no V x dim table), `config.json` (the transformers configuration), the
tokenizer's own files, and `hashembed.json`: the embedder's configuration and the spec
version of the function, without which the weights mean nothing. Loading recomputes the hash
table from the tokenizer's vocabulary, so a loaded model's outputs are bit-identical to the
saved one's.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

from .. import __version__
from .._embedder import HashEmbedder
from .._files import directory_beside, held_signals
from ..errors import ParameterError, parameter_error
from ..reference import SPEC_VERSION
from . import manifest
from .batches import check_tokenizer, is_transformers_tokenizer
from .embedding import HashEmbedding, hash_layer
from .manifest import MANIFEST, WEIGHTS
from .students import attach_output_projection, output_projection


def _writable(directory: Path, target: Path) -> None:
    if not os.access(directory, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot save to {target}: the directory {directory} is not writable")


def _nearest_existing(target: Path) -> Path:
    """The closest existing directory above `target`, where the save would make what is missing."""
    above = next(p for p in target.parents if os.path.lexists(p))  # the last is "." or the root
    if not above.exists():
        raise FileNotFoundError(f"cannot save to {target}: {above} is a symbolic link to nothing")
    if not above.is_dir():
        raise NotADirectoryError(f"cannot save to {target}: {above} is a file, not a directory")
    return above


def check_target(directory: str | os.PathLike[str]) -> Path:
    """The directory `save` would write, checked that a save can go there: call it before
    hours of training, not after. Refused: a symbolic link to nothing, a path under a file, a
    directory that cannot be written, an existing path that is neither an empty directory nor
    an earlier save, and an earlier save with other files beside it, which replacing the save
    would delete. A symbolic link to a directory is followed."""
    given = Path(os.fspath(directory))
    if given.is_symlink():
        if not given.exists():
            raise FileNotFoundError(
                f"{given}: is a symbolic link to {os.readlink(given)}, which does not exist"
            )
        given = Path(os.path.realpath(given))
    if not given.exists():
        _writable(_nearest_existing(given), given)
        return given
    if not given.is_dir():
        raise FileExistsError(f"{given}: exists and is not a directory; not overwriting it")
    entries = {p.name for p in given.iterdir()}
    if entries and MANIFEST not in entries:
        raise FileExistsError(f"{given}: exists and is not an earlier hashembed save; not overwriting it")
    others = sorted(entries - manifest.saved_files(given)) if entries else []
    if others:
        raise FileExistsError(
            f"{given}: holds files that are not part of the earlier save ({', '.join(others)}), which "
            "replacing the save would delete: move them out, or save to another directory"
        )
    _writable(given.parent, given)
    if entries:
        _writable(given, given)  # deleting the earlier save's files
    return given


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

    `directory` is checked by `check_target` first. Everything is written to a hidden
    directory beside it and renamed into place at the end, so a failure (a full disk, an
    interrupt) leaves no partial directory and an earlier save as it was: a KeyboardInterrupt
    from `save` means `directory` is unchanged, unless its message says the save completed
    (an interrupt while the earlier save was being deleted, the very last step).
    """
    layer = hash_layer(model)
    check_tokenizer(tokenizer)
    target = check_target(directory)
    target.parent.mkdir(parents=True, exist_ok=True)
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
        _commit(staging, target)
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


def _commit(staging: Path, target: Path) -> None:
    """Renames `staging` to `target`, an earlier save there moved aside first and deleted once
    the new one is in place. Interrupts are held meanwhile (`held_signals`): one that arrives
    during the renames undoes them, and is then raised."""
    with held_signals() as arrived:
        old = None
        if target.exists():
            old = directory_beside(target, "old")
            try:
                os.rename(target, old / "dir")
            except BaseException:
                old.rmdir()
                raise
        try:
            os.rename(staging, target)
            if arrived:
                os.rename(target, staging)
        except BaseException:
            if old is not None:
                os.rename(old / "dir", target)
                old.rmdir()
            raise
        if old is not None:
            if arrived:
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
    load_model(model, str(path / WEIGHTS), strict=True)
    return model.eval(), tokenizer
