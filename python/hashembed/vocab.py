"""Whole vocabularies: the embedding table a model with a fixed vocabulary would have stored.

`embed_vocab` turns a vocabulary (a list, a token -> id dict, a vocab.txt or tokenizer.json
file, or a `tokenizers.Tokenizer`) into a `(V, dim)` table whose row i is the embedding of
token i, ready to load into an `nn.Embedding`; `save_table` writes it as .npy or
.safetensors, and `load_tokenizer` loads a tokenizer from the same files.

`tokenizers` is imported only to read a tokenizer.json or build a tokenizer; a .safetensors
table is written without the `safetensors` package.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from . import _checks, _core, _safetensors
from ._files import preallocate, replacing
from ._optional import optional
from .errors import ItemTypeError, ParameterError, ParameterTypeError, item_error, parameter_error

if TYPE_CHECKING:
    from tokenizers import Tokenizer

__all__ = ["load_tokenizer", "read_vocab", "save_table", "vocab_tokens"]  # embed_vocab: the method's body

PathLike = Union[str, "os.PathLike[str]"]

# More than any .npy header: numpy pads it to a multiple of 64 bytes, 128 for a 2-D table.
_NPY_HEADER_ROOM = 4096

TABLE_KEY = "embeddings"
"""The tensor name `save_table` uses in a .safetensors file."""


def _existing(path: PathLike) -> Path:
    p = Path(os.fspath(path))
    if not p.exists():
        raise FileNotFoundError(f"{os.fspath(path)}: no such file or directory")
    return p


def _resolve(path: PathLike) -> Path:
    """A tokenizer file: `path` itself, or the tokenizer.json (else vocab.txt) in a directory."""
    p = _existing(path)
    if p.is_dir():
        for name in ("tokenizer.json", "vocab.txt"):
            if (p / name).is_file():
                return p / name
        raise FileNotFoundError(f"{p}: the directory has neither a tokenizer.json nor a vocab.txt")
    return p


def _is_json(p: Path) -> bool:
    return p.suffix.lower() == ".json"


def read_vocab(path: PathLike) -> list[str]:
    """The tokens of a BERT-style vocab.txt: one per line, line i is token id i.

    Lines are split as `transformers` reads them (universal newlines, only the line break
    removed), so a token may contain spaces and an empty line is the empty token.
    """
    return _read_lines(path, "path")


def _read_lines(path: PathLike, parameter: str) -> list[str]:
    """`read_vocab`, its errors naming the caller's `parameter`."""
    p = _existing(path)
    if p.is_dir():
        raise IsADirectoryError(f"{p}: is a directory, not a vocab.txt")
    try:
        with open(p, encoding="utf-8") as f:
            return [line[:-1] if line.endswith("\n") else line for line in f]
    except UnicodeDecodeError as e:
        message = f"{p}: is not a UTF-8 text file ({e})"
        raise parameter_error(ParameterError, message, parameter, path) from None
    except OSError as e:
        message = f"{p}: cannot be read ({e.strerror or e})"
        raise parameter_error(ParameterError, message, parameter, path) from None


def _lowercase_for(vocab_txt: Path) -> bool:
    """`do_lower_case` from a tokenizer_config.json next to vocab.txt; BERT's default, True, else."""
    config = vocab_txt.with_name("tokenizer_config.json")
    try:
        value = json.loads(config.read_text(encoding="utf-8")).get("do_lower_case", True)
    except (OSError, ValueError, AttributeError):
        return True
    return bool(value)


def load_tokenizer(path: PathLike, *, lowercase: bool | None = None) -> Tokenizer:
    """A `tokenizers.Tokenizer` from a tokenizer.json, a BERT vocab.txt, or a directory
    holding either (tokenizer.json preferred).

    A tokenizer.json is loaded as it is, except that its padding and truncation are turned
    off, so every text keeps all its tokens and no [PAD] is added. A vocab.txt becomes a BERT
    WordPiece tokenizer ([CLS] ... [SEP], BERT normalisation and pre-tokenisation);
    `lowercase` defaults to the `do_lower_case` of a tokenizer_config.json beside the file,
    else True (uncased BERT).

    Raises FileNotFoundError for a missing file and ValueError for one that cannot be read
    as a tokenizer; the messages name the file.
    """
    return _load_tokenizer(path, lowercase, "path")


def _load_tokenizer(path: PathLike, lowercase: bool | None, parameter: str) -> Tokenizer:
    """`load_tokenizer`, its errors naming the caller's `parameter`."""
    tokenizers = optional("tokenizers", "hf", "reading a tokenizer")
    p = _resolve(path)
    if _is_json(p):
        try:
            tok = tokenizers.Tokenizer.from_file(str(p))
        except Exception as e:  # tokenizers raises a bare Exception for a malformed file
            message = f"{p}: is not a readable tokenizer.json ({e})"
            raise parameter_error(ParameterError, message, parameter, path) from None
        tok.no_padding()
        tok.no_truncation()
        return tok
    lower = _lowercase_for(p) if lowercase is None else bool(lowercase)
    return _wordpiece(tokenizers, p, lower, parameter)


def _wordpiece(tokenizers: Any, p: Path, lowercase: bool, parameter: str) -> Tokenizer:
    """The tokenizer `BertWordPieceTokenizer` builds, from the vocabulary as `read_vocab` reads it."""
    # A repeated token keeps its last line, as transformers' load_vocab and WordPiece.from_file do.
    ids = {token: i for i, token in enumerate(_read_lines(p, parameter))}
    missing = [t for t in ("[UNK]", "[CLS]", "[SEP]") if t not in ids]
    if missing:
        message = f"{p}: is not a BERT vocab.txt: it lacks the special token(s) {', '.join(missing)}"
        raise parameter_error(ParameterError, message, parameter, str(p))
    from tokenizers import decoders, models, normalizers, pre_tokenizers, processors

    tok = tokenizers.Tokenizer(models.WordPiece(ids, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=lowercase
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.BertProcessing(("[SEP]", ids["[SEP]"]), ("[CLS]", ids["[CLS]"]))
    tok.decoder = decoders.WordPiece(prefix="##")
    tok.add_special_tokens([t for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]") if t in ids])
    return tok


def _from_ids(vocab: Mapping[Any, Any]) -> tuple[list[Any], np.ndarray]:
    """The tokens of a token -> id mapping and their ids, checked to be exactly 0..V-1."""
    tokens = list(vocab.keys())
    try:
        ids = np.fromiter((int(_index(i, t)) for t, i in vocab.items()), dtype=np.int64, count=len(tokens))
    except OverflowError:
        message = "vocab ids must be 0..V-1; an id is out of the int64 range"
        raise parameter_error(ParameterError, message, "vocab", None) from None
    size = len(tokens)
    seen = np.zeros(size, dtype=np.int64)
    inside = (ids >= 0) & (ids < size)
    np.add.at(seen, ids[inside], 1)
    if inside.all() and (seen == 1).all():
        return tokens, ids
    missing = int(np.flatnonzero(seen == 0)[0])
    if (seen > 1).any():
        dup = int(np.flatnonzero(seen > 1)[0])
        holders = [tokens[k] for k in np.flatnonzero(ids == dup)[:2]]
        detail = f"id {dup} is given to both {holders[0]!r} and {holders[1]!r}"
    else:
        k = int(np.flatnonzero(~inside)[0])
        detail = f"{tokens[k]!r} has id {int(ids[k])}"
    message = f"vocab ids must be exactly 0..{size - 1} (one per token): id {missing} is missing ({detail})"
    raise parameter_error(ParameterError, message, "vocab", None, index=missing)


def _index(i: Any, token: Any) -> int:
    if isinstance(i, (bool, np.bool_)):
        raise parameter_error(ParameterTypeError, f"the id of {token!r} must be an int, not bool", "vocab", i)
    try:
        return i.__index__()
    except (AttributeError, TypeError):
        message = f"the id of {token!r} must be an int, not {type(i).__name__}"
        raise parameter_error(ParameterTypeError, message, "vocab", i) from None


def _vocab_of(vocab: Any) -> tuple[list[Any] | tuple[Any, ...], np.ndarray | None]:
    """(tokens, ids): ids None means token i has id i."""
    if isinstance(vocab, (str, os.PathLike)):
        p = _resolve(vocab)
        if _is_json(p):
            return _from_ids(_load_tokenizer(p, None, "vocab").get_vocab(with_added_tokens=True))
        return _read_lines(p, "vocab"), None
    if isinstance(vocab, Mapping):
        return _from_ids(vocab)
    get_vocab = getattr(vocab, "get_vocab", None)
    if callable(get_vocab):  # a tokenizers.Tokenizer, or a transformers tokenizer
        try:
            mapping = get_vocab(with_added_tokens=True)
        except TypeError:
            mapping = get_vocab()
        return _from_ids(mapping)
    if isinstance(vocab, (list, tuple)):
        return vocab, None
    if isinstance(vocab, (set, frozenset)):
        raise _checks.unordered("vocab", vocab)
    if isinstance(vocab, bytes):
        message = "vocab must be a list of str, a token -> id dict, a path or a Tokenizer, not bytes"
        raise parameter_error(ParameterTypeError, message, "vocab", vocab)
    if isinstance(vocab, np.ndarray):
        return vocab.tolist(), None
    if isinstance(vocab, Iterable):
        return list(vocab), None
    what = type(vocab).__name__
    message = f"vocab must be a list of str, a token -> id dict, a path or a Tokenizer, not {what}"
    raise parameter_error(ParameterTypeError, message, "vocab", vocab)


def _checked(vocab: Any) -> tuple[list[Any] | tuple[Any, ...], np.ndarray | None]:
    """`_vocab_of(vocab)`, with an ItemTypeError naming the first token that is not a str
    (its `.index` is the token's id)."""
    tokens, ids = _vocab_of(vocab)
    for k, token in enumerate(tokens):
        if not isinstance(token, str):
            index = k if ids is None else int(ids[k])  # the token's id either way
            name = f"vocab[{k}]" if ids is None else f"vocab token {token!r} (id {index})"
            raise item_error(ItemTypeError, name, index, f"must be str, not {type(token).__name__}")
    return tokens, ids


def vocab_tokens(vocab: Any) -> list[str]:
    """The tokens of a vocabulary in id order: element i is the token of id i.

    `vocab` is anything `embed_vocab` takes: a list of str, a token -> id dict (ids exactly
    0..V-1), a path to a vocab.txt or tokenizer.json (or a directory holding one), or a
    `tokenizers`/`transformers` tokenizer (its vocabulary with added tokens).
    """
    tokens, ids = _checked(vocab)
    if ids is None:
        return list(tokens)
    ordered = [""] * len(tokens)
    for token, i in zip(tokens, ids.tolist()):
        ordered[i] = token
    return ordered


def embed_vocab(
    native: _core.Embedder, dim: int, vocab: Any, *, dtype: Any = "float32", num_threads: int | None = None
) -> np.ndarray:
    """See `HashEmbedder.embed_vocab`."""
    dt = _checks.dtype_of(dtype)
    tokens, ids = _checked(vocab)
    out = _checks.allocate((len(tokens), dim), dt)
    if tokens:
        native.embed_batch_into(tokens, out, num_threads, ids)
    return out


def save_table(path: PathLike, table: Any) -> None:
    """Writes an embedding table: .npy (`numpy.save`) or .safetensors (one tensor named
    "embeddings", the bytes `safetensors.numpy.save_file` writes, though NumPy is all it
    needs), chosen by the extension."""
    p = Path(os.fspath(path))
    ext = p.suffix.lower()
    if ext not in (".npy", ".safetensors"):
        message = f"{p}: unknown table format {ext or '(no extension)'!r}: expected .npy or .safetensors"
        raise parameter_error(ParameterError, message, "path", path)
    array = np.asarray(table)
    if ext == ".npy":
        with replacing(p) as temp:
            # Reserved first: numpy reports a short write as "N requested and M written".
            preallocate(temp, array.nbytes + _NPY_HEADER_ROOM, p)
            with open(temp, "r+b") as f:  # a file object: numpy adds no ".npy"
                np.save(f, array, allow_pickle=False)
                f.truncate()
        return
    stored = _safetensors.little_endian(array, "table")
    head = _safetensors.header(TABLE_KEY, stored)
    with replacing(p) as temp:
        preallocate(temp, len(head) + stored.nbytes, p)
        with open(temp, "r+b") as f:
            f.write(head)
            f.write(_safetensors.payload(stored))
