"""`hashembed.json`, the manifest of a saved model: what it holds, and how it is checked.

Besides the embedder's configuration it records the SHA-256 of every other file of the save
(`files`) and of its own content (`sha256`), so that a file edited, replaced, truncated or
deleted after the save is named at load instead of giving other output. The checksums find
accidents (a copy cut short, a flipped bit, a hand edit), not forgery: whoever can write the
files can write the checksums.

A save made before the checksums were recorded (hashembed 0.1.0) has neither key. It still
loads, with a warning: refusing it would strand every model trained before, and its other keys
are checked all the same. Its files are taken to be those a save writes (`tokenizer_files`),
never the others beside it, which a save over it would delete.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Iterable
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
# The files transformers reads for any tokenizer, besides those its class names in
# `vocab_files_names` (`PreTrainedTokenizerBase.from_pretrained`)
_TOKENIZER_FILES = (
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "tokenizer.json",
    "chat_template.jinja",
    "chat_template.json",
)


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


def listing(names: Iterable[str], limit: int = 8) -> str:
    """`names` sorted and joined for a message, the first `limit` of them."""
    names = sorted(names)
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def tokenizer_files(directory: Path, kind: str) -> set[str]:
    """The names the files of the tokenizer of a save in `directory` may have: tokenizer.json
    for a tokenizers.Tokenizer; for a transformers tokenizer, those transformers reads for any
    tokenizer and those of the class its tokenizer_config.json names."""
    if kind == "tokenizers":
        return {"tokenizer.json"}
    names = set(_TOKENIZER_FILES)
    try:
        config = json.loads((directory / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = None
    name = config.get("tokenizer_class") if isinstance(config, dict) else None
    if not isinstance(name, str):  # no class named, so no vocabulary files known
        return names
    import transformers

    # the configuration names the slow class where there is one; the fast one is loaded
    for class_name in {name, name + "Fast"}:
        try:
            cls = getattr(transformers, class_name, None)
        except Exception:  # transformers imports lazily; a class whose backend is missing raises
            cls = None
        files = getattr(cls, "vocab_files_names", None)
        if isinstance(files, dict):
            names.update(v for v in files.values() if isinstance(v, str))
    return names


def saved_files(directory: Path) -> tuple[set[str], set[str]]:
    """The files in `directory` that are provably those of the earlier save there, and the
    files that save wrote which have changed since: with the checksums, the files its
    manifest lists (the manifest included) as they were saved, and those that differ; before
    them, those of the names a save writes (the manifest, the weights, config.json and the
    tokenizer's files), and none. Raises a ParameterError (a ValueError) saying why if its
    hashembed.json is not a save's manifest."""
    manifest = _parse(directory)
    _check_format(directory / MANIFEST, manifest)
    _check_layout(directory / MANIFEST, manifest)
    if not any(key in manifest for key in _CHECKSUM_KEYS):
        names = {MANIFEST, WEIGHTS, "config.json", *tokenizer_files(directory, manifest["tokenizer"])}
        return {name for name in names if (directory / name).is_file()}, set()
    kept: set[str] = set()
    changed: set[str] = set()
    (kept if _digest(manifest) == manifest["sha256"] else changed).add(MANIFEST)
    for name, digest in manifest["files"].items():
        path = directory / name
        if path.is_file():
            (kept if sha256_of(path) == digest else changed).add(name)
    return kept, changed


def _check_keys(where: Path, manifest: dict[str, Any], keys: dict[str, tuple[type, ...]]) -> None:
    for key, types in keys.items():
        if key not in manifest:
            message = f"{where}: lacks the key {key!r}; it was not written by hashembed.torch.save"
            raise _bad_save(message, where.parent)
        value = manifest[key]
        if isinstance(value, bool) or not isinstance(value, types):
            wanted = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            raise _bad_save(f"{where}: {key} must be {wanted}, not {value!r}", where.parent)


def _check_format(where: Path, manifest: Any) -> None:
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _bad_save(f"{where}: is not a hashembed model manifest", where.parent)


def _check_layout(where: Path, manifest: dict[str, Any]) -> None:
    """Every key of a save's manifest is there with a value of its type, and the files it
    lists are in its directory."""
    _check_keys(where, manifest, _KEYS)
    _check_keys(where, manifest, {k: t for k, t in _LATER_KEYS.items() if k in manifest})
    if manifest["tokenizer"] not in TOKENIZER_KINDS:
        raise _bad_save(
            f"{where}: tokenizer must be one of {TOKENIZER_KINDS}, not {manifest['tokenizer']!r}",
            where.parent,
        )
    if not any(key in manifest for key in _CHECKSUM_KEYS):
        return
    _check_keys(where, manifest, _CHECKSUM_KEYS)
    for name in manifest["files"]:
        if Path(name).name != name or name in ("", ".", "..", MANIFEST):
            raise _bad_save(f"{where}: lists {name!r}, which is not a file of the save", where.parent)


def read(directory: Path) -> dict[str, Any]:
    """The manifest of the save in `directory`, after checking that it is one this hashembed
    can load, that it lists every file of the save that loading reads, and that each of them
    is as it was saved."""
    if directory.exists() and not directory.is_dir():
        raise NotADirectoryError(f"{directory}: is a file, not the directory of a saved model")
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: no such directory")
    missing = [name for name in (MANIFEST, WEIGHTS, "config.json") if not (directory / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{directory}: not a saved hashembed model, it lacks {', '.join(missing)}")
    where = directory / MANIFEST
    manifest = _parse(directory)
    _check_format(where, manifest)
    if manifest.get("spec_version") != SPEC_VERSION:
        raise _bad_save(
            f"{directory}: was saved with version {manifest.get('spec_version')!r} of the hashembed "
            f"function; this hashembed computes version {SPEC_VERSION}, so its embeddings would differ",
            directory,
        )
    _check_layout(where, manifest)
    if not any(key in manifest for key in _CHECKSUM_KEYS):
        warnings.warn(
            f"{directory}: saved without checksums (hashembed {manifest['hashembed_version']}), so its "
            "files cannot be verified; save it again to record them",
            UserWarning,
            stacklevel=3,
        )
        return manifest
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
    # Last, so that the tokenizer's files are named after a verified tokenizer_config.json. A
    # tokenizers.Tokenizer's tokenizer.json is wanted even when absent: it is the tokenizer.
    kind = manifest["tokenizer"]
    read_by_load = {WEIGHTS, "config.json", *(["tokenizer.json"] if kind == "tokenizers" else [])}
    read_by_load.update(name for name in tokenizer_files(directory, kind) if (directory / name).is_file())
    unlisted = read_by_load - set(manifest["files"])
    if unlisted:
        raise _bad_save(
            f"{where}: does not list {listing(unlisted, len(unlisted))}, files of the save, so they "
            "cannot be verified",
            directory,
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
