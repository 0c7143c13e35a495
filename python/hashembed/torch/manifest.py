"""`hashembed.json`, the manifest of a saved model: what it holds, and how it is checked.

Besides the embedder's configuration it records the SHA-256 of every other file of the save
(`files`) and of its own content (`sha256`), so that a file edited, replaced, truncated or
deleted after the save is named at load instead of giving other output. The checksums find
accidents (a copy cut short, a flipped bit, a hand edit), not forgery: whoever can write the
files can write the checksums.

A save made before the checksums were recorded has neither key. It still loads, with a
warning: refusing it would strand every model trained before, and its other keys are checked
all the same. Its files are taken to be all the files in its directory.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path
from typing import Any

from .._files import sha256_of
from ..errors import ParameterError, parameter_error
from ..reference import SPEC_VERSION

MANIFEST = "hashembed.json"
WEIGHTS = "model.safetensors"
FORMAT = "hashembed-model"

# Every key and the types its value may have (bool is refused where an int is wanted).
_KEYS: dict[str, tuple[type, ...]] = {
    "format": (str,),
    "spec_version": (int,),
    "hashembed_version": (str,),
    "embedder": (dict,),
    "out_dim": (int, type(None)),
    "vocab_size": (int,),
    "model_class": (str,),
    "tokenizer": (str,),
}
_CHECKSUM_KEYS: dict[str, tuple[type, ...]] = {"files": (dict,), "sha256": (str,)}
# Keys that saves before them lack: a narrower student's output width.
_LATER_KEYS: dict[str, tuple[type, ...]] = {"output_projection": (int, type(None))}
TOKENIZER_KINDS = ("transformers", "tokenizers")


def _bad_save(message: str, directory: Path) -> Any:
    """A ParameterError about `directory`, the saved model's directory given to `load` (or
    to `save`, whose earlier save it would replace)."""
    return parameter_error(ParameterError, message, "directory", directory)


def _digest(manifest: dict[str, Any]) -> str:
    rest = {k: v for k, v in manifest.items() if k != "sha256"}
    return hashlib.sha256(json.dumps(rest, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def write(directory: Path, manifest: dict[str, Any]) -> None:
    """Writes `manifest` into `directory` with the checksums of every file already there."""
    files = {p.name: sha256_of(p) for p in sorted(directory.iterdir()) if p.is_file()}
    sealed = {**manifest, "files": files}
    sealed["sha256"] = _digest(sealed)
    (directory / MANIFEST).write_text(json.dumps(sealed, indent=2) + "\n", encoding="utf-8")


def _parse(directory: Path) -> Any:
    try:
        return json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise _bad_save(f"{directory / MANIFEST}: cannot be read ({e})", directory) from None


def saved_files(directory: Path) -> set[str]:
    """The names of the files of the earlier save in `directory`, its manifest included: those
    its manifest lists, else (a save from before the checksums, or a broken manifest) every
    file there."""
    try:
        parsed = _parse(directory)
    except ValueError:  # a broken save: replacing it is the way to mend it
        parsed = None
    files = parsed.get("files") if isinstance(parsed, dict) else None
    if isinstance(files, dict):
        return {MANIFEST, *map(str, files)}
    return {p.name for p in directory.iterdir() if p.is_file()}


def _check_keys(where: Path, manifest: dict[str, Any], keys: dict[str, tuple[type, ...]]) -> None:
    for key, types in keys.items():
        if key not in manifest:
            message = f"{where}: lacks the key {key!r}; it was not written by hashembed.torch.save"
            raise _bad_save(message, where.parent)
        value = manifest[key]
        if isinstance(value, bool) or not isinstance(value, types):
            wanted = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            raise _bad_save(f"{where}: {key} must be {wanted}, not {value!r}", where.parent)


def read(directory: Path) -> dict[str, Any]:
    """The manifest of the save in `directory`, after checking that it is one this hashembed
    can load and that every file the save holds is as it was saved."""
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: no such directory")
    missing = [name for name in (MANIFEST, WEIGHTS, "config.json") if not (directory / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{directory}: not a saved hashembed model, it lacks {', '.join(missing)}")
    where = directory / MANIFEST
    manifest = _parse(directory)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _bad_save(f"{where}: is not a hashembed model manifest", directory)
    if manifest.get("spec_version") != SPEC_VERSION:
        raise _bad_save(
            f"{directory}: was saved with version {manifest.get('spec_version')!r} of the hashembed "
            f"function; this hashembed computes version {SPEC_VERSION}, so its embeddings would differ",
            directory,
        )
    _check_keys(where, manifest, _KEYS)
    _check_keys(where, manifest, {k: t for k, t in _LATER_KEYS.items() if k in manifest})
    if manifest["tokenizer"] not in TOKENIZER_KINDS:
        raise _bad_save(
            f"{where}: tokenizer must be one of {TOKENIZER_KINDS}, not {manifest['tokenizer']!r}", directory
        )
    if not any(key in manifest for key in _CHECKSUM_KEYS):
        warnings.warn(
            f"{directory}: saved without checksums (hashembed {manifest['hashembed_version']}), so its "
            "files cannot be verified; save it again to record them",
            UserWarning,
            stacklevel=3,
        )
        return manifest
    _check_keys(where, manifest, _CHECKSUM_KEYS)
    for name in manifest["files"]:
        if Path(name).name != name or name in ("", ".", "..", MANIFEST):
            raise _bad_save(f"{where}: lists {name!r}, which is not a file of the save", directory)
    if _digest(manifest) != manifest["sha256"]:
        raise _bad_save(f"{where}: was changed after the save (its checksum differs)", directory)
    for name, digest in manifest["files"].items():
        path = directory / name
        if not path.is_file():
            raise FileNotFoundError(f"{directory}: lacks {name}, a file of the save")
        if sha256_of(path) != digest:
            raise _bad_save(
                f"{path}: was changed after the save (its SHA-256 differs from the one recorded)", directory
            )
    return manifest


def model_class(transformers: Any, name: str, config: Any, where: Path) -> Any:
    """The transformers model class `name`, refused unless it is a model class for `config`'s
    type (a manifest naming `pipeline`, or `RobertaModel` for a BERT configuration, is not)."""
    try:
        cls = getattr(transformers, name, None)
    except Exception:  # transformers imports lazily; a class whose backend is missing raises
        cls = None
    config_class = getattr(cls, "config_class", None)
    if (
        isinstance(cls, type)
        and issubclass(cls, transformers.PreTrainedModel)
        and isinstance(config_class, type)
        and isinstance(config, config_class)
    ):
        return cls
    try:
        usual = f" such as {transformers.MODEL_MAPPING[type(config)].__name__}"
    except Exception:  # a configuration AutoModel does not know
        usual = ""
    raise _bad_save(
        f"{where}: model_class {name!r} is not a transformers model class for the saved "
        f"configuration ({type(config).__name__}); expected one{usual}",
        where.parent,
    )
