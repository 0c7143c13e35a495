"""`save` and `load`: a hash-embedded transformers model on disk, without its table.

A saved directory holds `model.safetensors` (every weight the model trains, its projections
included, and no V x dim table), `config.json` (the transformers configuration), the
tokenizer's own files, and `hashembed.json`: the embedder's configuration and the spec
version of the function, without which the weights mean nothing. Loading recomputes the hash
table from the tokenizer's vocabulary, so a loaded model's outputs are bit-identical to the
saved one's.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .. import __version__
from .._embedder import HashEmbedder
from ..reference import SPEC_VERSION
from .batches import check_tokenizer, is_transformers_tokenizer
from .embedding import HashEmbedding
from .students import attach_output_projection, output_projection

MANIFEST = "hashembed.json"
WEIGHTS = "model.safetensors"
FORMAT = "hashembed-model"


def _hash_layer(model: Any) -> HashEmbedding:
    get = getattr(model, "get_input_embeddings", None)
    layer = get() if callable(get) else None
    if not isinstance(layer, HashEmbedding):
        raise ValueError(
            f"model ({type(model).__name__}) has no HashEmbedding input layer: "
            "pass a model made by shrink() or replace_input_embeddings()"
        )
    return layer


def check_target(directory: str | os.PathLike[str]) -> Path:
    """The path `save` would write, refused (FileExistsError) if it exists and is neither an
    empty directory nor an earlier save: call it before hours of training, not after."""
    target = Path(os.fspath(directory))
    if target.exists() and not (
        target.is_dir() and (not any(target.iterdir()) or (target / MANIFEST).is_file())
    ):
        raise FileExistsError(f"{target}: exists and is not an earlier hashembed save; not overwriting it")
    return target


def save(model: Any, tokenizer: Any, directory: str | os.PathLike[str]) -> Path:
    """Writes `model` (a transformers model whose input embeddings are a `HashEmbedding`) and
    its tokenizer to `directory`; returns the directory's path.

    Everything is written to a temporary directory beside it and renamed into place at the
    end, so a failure (a full disk, an interrupt) leaves no partial directory. An existing
    `directory` is replaced only if it is empty or holds an earlier save.
    """
    from safetensors.torch import save_model

    layer = _hash_layer(model)
    lift = output_projection(model)
    check_tokenizer(tokenizer)
    target = check_target(directory)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        save_model(model, str(staging / WEIGHTS))
        model.config.save_pretrained(staging)
        if is_transformers_tokenizer(tokenizer):
            tokenizer.save_pretrained(staging)
        else:
            tokenizer.save(str(staging / "tokenizer.json"))
        manifest = {
            "format": FORMAT,
            "spec_version": SPEC_VERSION,
            "hashembed_version": __version__,
            "embedder": layer.embedder.config(),
            "out_dim": layer.embedding_dim if layer.projection is not None else None,
            "output_projection": None if lift is None else int(lift.out_features),
            "vocab_size": layer.num_embeddings,
            "model_class": type(model).__name__,
            "tokenizer": "transformers" if is_transformers_tokenizer(tokenizer) else "tokenizers",
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        _replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _replace(staging: Path, target: Path) -> None:
    """Renames `staging` to `target`, moving an old `target` aside first and deleting it last."""
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
        os.rename(target, old / "dir")
    try:
        os.rename(staging, target)
    except BaseException:
        if old is not None:
            os.rename(old / "dir", target)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def _manifest(directory: Path) -> dict[str, Any]:
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: no such directory")
    missing = [name for name in (MANIFEST, WEIGHTS, "config.json") if not (directory / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{directory}: not a saved hashembed model, it lacks {', '.join(missing)}")
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ValueError(f"{directory / MANIFEST}: cannot be read ({e})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValueError(f"{directory / MANIFEST}: is not a hashembed model manifest")
    if manifest.get("spec_version") != SPEC_VERSION:
        raise ValueError(
            f"{directory}: was saved with version {manifest.get('spec_version')!r} of the hashembed "
            f"function; this hashembed computes version {SPEC_VERSION}, so its embeddings would differ"
        )
    return manifest


def load(directory: str | os.PathLike[str]) -> tuple[Any, Any]:
    """(model, tokenizer) from a directory written by `save`; the model is in eval mode, on CPU."""
    import transformers
    from safetensors.torch import load_model

    path = Path(os.fspath(directory))
    manifest = _manifest(path)
    if manifest["tokenizer"] == "transformers":
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    else:
        import tokenizers

        tokenizer = tokenizers.Tokenizer.from_file(str(path / "tokenizer.json"))
    model_class = getattr(transformers, str(manifest["model_class"]), None)
    if model_class is None:
        raise ValueError(
            f"{path / MANIFEST}: names a model class transformers lacks: {manifest['model_class']!r}"
        )
    config = transformers.AutoConfig.from_pretrained(str(path), local_files_only=True)
    model = model_class(config)
    layer = HashEmbedding(tokenizer, HashEmbedder(**manifest["embedder"]), out_dim=manifest["out_dim"])
    if layer.num_embeddings != manifest["vocab_size"]:
        raise ValueError(
            f"{path}: the tokenizer has {layer.num_embeddings} tokens, the model was saved with "
            f"{manifest['vocab_size']}"
        )
    model.set_input_embeddings(layer)
    if manifest.get("output_projection") is not None:
        attach_output_projection(model, int(manifest["output_projection"]))
    load_model(model, str(path / WEIGHTS), strict=True)
    return model.eval(), tokenizer
