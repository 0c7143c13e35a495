"""Training texts of any size. A list (or tuple) of str is held in memory, checked up front
and sampled in a seeded random order, reshuffled once all are used, as before. Anything else
is read lazily, with `datasets`: a `datasets.Dataset` row by row (its blank rows set aside up
front, in one pass over its Arrow data), and a stream (a `datasets.IterableDataset`, a file
`read_corpus` opens, any other iterable of str) through a seeded shuffle buffer, pass after
pass for as many steps as training takes. Only the batch being tokenised and the buffer are
in memory, whatever the size of the corpus."""

from __future__ import annotations

import contextlib
import inspect
import itertools
import json
import os
import weakref
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Union

import torch

from ..._optional import optional
from ...errors import ParameterError, ParameterTypeError, parameter_error
from ..batches import text_list

SHUFFLE_BUFFER = 10_000
"""How many texts of a stream the seeded shuffle buffer holds."""

# How `read_corpus` reads lines with `datasets`: 1 MB at a time.
_LINES = {"streaming": True, "split": "train", "encoding": "utf-8-sig", "chunksize": 1 << 20}

_TYPES = "a list of str, an iterable of str or a datasets Dataset or IterableDataset"


def _datasets(purpose: str) -> Any:
    return optional("datasets", "torch", purpose)


class Rows(torch.utils.data.Dataset):
    """The texts of a `datasets.Dataset`'s `column`, row by row, less its blank rows."""

    def __init__(self, dataset: Any, column: str, kept: Any) -> None:
        self.dataset, self.column, self.kept = dataset.select_columns([column]), column, kept

    def __len__(self) -> int:
        return len(self.dataset) if self.kept is None else len(self.kept)

    def __getitem__(self, i: int) -> str:
        row = i if self.kept is None else int(self.kept[i])
        text: str = self.dataset[row][self.column]
        return text


class _Source:
    """A Python iterable of texts, read anew on each pass. A one-shot iterator (a generator)
    gives a single pass: what is read of it before training (`Stream.head`) is kept and given
    again, first, on the training's pass."""

    def __init__(self, texts: Any) -> None:
        self.texts = texts
        self.once = isinstance(texts, Iterator)
        self.head: list[Any] = []
        self.training = False

    def items(self) -> Iterator[Any]:
        if not self.once:
            yield from self.texts
        elif self.training:
            head, self.head = self.head, []
            yield from head
            yield from self.texts
        else:
            yield from list(self.head)
            for t in self.texts:
                self.head.append(t)
                yield t


# `datasets` hashes what makes a generator's dataset: the source travels as a key to it.
_SOURCES: weakref.WeakValueDictionary[int, _Source] = weakref.WeakValueDictionary()


def _source_rows(key: int) -> Iterator[dict[str, Any]]:
    for t in _SOURCES[key].items():
        yield {"text": t}


def _checked(row: dict[str, Any], index: int, column: str, name: str) -> dict[str, Any]:
    """The row's text, a ParameterError naming `name` and the index where it is no valid str."""
    text = row.get(column)
    if not isinstance(text, str):
        message = f"{name}[{index}] must be a str, not {type(text).__name__}"
        raise parameter_error(ParameterTypeError, message, name, text, index=index)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        message = (
            f"{name}[{index}] is not valid Unicode: it holds the lone surrogate "
            f"{text[e.start]!r} at character {e.start}"
        )
        raise parameter_error(ParameterError, message, name, text, index=index) from None
    return {"text": text}


def _non_blank(row: dict[str, Any]) -> bool:
    return bool(row["text"].strip())


class Stream(torch.utils.data.IterableDataset):
    """Texts read lazily (`texts`: a `datasets.IterableDataset` of checked, non-blank texts
    in their source's order) and given through a shuffle buffer seeded by `seed` (reseeded
    each pass, `set_epoch`), pass after pass without end: training takes the steps it needs,
    each batch full. A one-shot source ends after its one pass."""

    def __init__(self, texts: Any, name: str, source: _Source | None = None) -> None:
        self.texts, self.name, self.source = texts, name, source
        self.seed = 0
        self._given = False

    def head(self, n: int) -> list[str]:
        """The first `n` texts (fewer if there are fewer), in the source's order."""
        with _readable(self.name):
            texts = [row["text"] for row in itertools.islice(self.texts, n)]
        return texts

    def __iter__(self) -> Iterator[str]:
        if self.source is not None:
            self.source.training = True
        options: dict[str, Any] = {"seed": self.seed % 2**64, "buffer_size": SHUFFLE_BUFFER}
        if "max_buffer_input_shards" in inspect.signature(self.texts.shuffle).parameters:
            # one shard at a time: interleaving several waits 5 s at the end of each pass of a
            # Parquet file (datasets' workaround for apache/arrow#45214), a long time for a
            # small corpus read many times
            options["max_buffer_input_shards"] = 1
        shuffled = self.texts.shuffle(**options)
        for epoch in itertools.count():
            shuffled.set_epoch(epoch)
            given = False
            with _readable(self.name):
                for row in shuffled:
                    given = self._given = True
                    yield row["text"]
            if not given:
                if not self._given:
                    raise _empty(self.name, self.texts)
                return


@contextlib.contextmanager
def _readable(name: str, what: str | None = None) -> Iterator[None]:
    """Turns a `UnicodeDecodeError` of a file read lazily into a ParameterError naming `name`
    (`what`: how the message calls it)."""
    try:
        yield
    except UnicodeDecodeError as e:
        message = f"{name if what is None else what} is not UTF-8 text ({e.reason})"
        raise parameter_error(ParameterError, message, name, None) from None


Corpus = Union[list[str], Rows, Stream]
"""Training texts, checked: a list, a `datasets.Dataset`'s rows, or a stream."""


def _empty(name: str, texts: Any) -> Any:
    message = f"{name} must hold at least 1 non-blank text(s), it holds 0"
    return parameter_error(ParameterError, message, name, texts)


def _column(name: str, texts: Any, features: Mapping[str, Any] | None, first: Any) -> str:
    """The text column of a `datasets` dataset: "text", or its only column of str."""
    if features is not None:
        names = list(features)
        strings = [c for c, f in features.items() if getattr(f, "dtype", None) in ("string", "large_string")]
    else:
        names = list(first) if isinstance(first, Mapping) else []
        strings = [c for c in names if isinstance(first[c], str)]
    if "text" in names:
        if features is None or "text" in strings:
            return "text"
        kind = getattr(features["text"], "dtype", type(features["text"]).__name__)
        message = f"{name}'s column 'text' holds {kind}, not str"
        raise parameter_error(ParameterTypeError, message, name, texts)
    if len(strings) == 1:
        return strings[0]
    message = (
        f"{name} ({type(texts).__name__}) has no column 'text' and {len(strings)} columns of str "
        f"(its columns: {', '.join(names) or 'none'}): name one 'text' (rename_column) or keep only it"
    )
    raise parameter_error(ParameterError, message, name, texts)


def _rows(name: str, dataset: Any) -> Rows:
    """A `datasets.Dataset` as `Rows`: its nulls refused with their index, its blank rows set
    aside, in one pass over its Arrow data."""
    import numpy as np

    pc = optional("pyarrow.compute", "arrow", "reading a datasets Dataset")
    column = _column(name, dataset, dataset.features, None)
    blank: list[Any] = []
    start = 0
    for table in dataset.select_columns([column]).with_format("arrow").iter(batch_size=65_536):
        values = table.column(0)
        if values.null_count:
            i = start + int(pc.index(pc.is_null(values), True).as_py())
            message = f"{name}[{i}] must be a str, not NoneType"
            raise parameter_error(ParameterTypeError, message, name, None, index=i)
        empty = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(values)), 0)
        blank.append(np.asarray(empty.to_numpy(zero_copy_only=False), dtype=bool))
        start += len(table)
    flags = np.concatenate(blank) if blank else np.zeros(0, dtype=bool)
    if flags.all():
        raise _empty(name, dataset)
    if not flags.any():
        return Rows(dataset, column, None)
    kept = np.flatnonzero(~flags)  # 4 bytes a row where they fit
    return Rows(dataset, column, kept.astype(np.int32) if len(flags) < 2**31 else kept)


def _stream(name: str, texts: Any) -> Stream:
    """A `datasets.IterableDataset` or another iterable of texts as a checked `Stream`."""
    datasets = _datasets("texts that are not a list")
    source = None
    if isinstance(texts, datasets.IterableDataset):
        stream, first = texts, None
        if texts.features is None:
            with _readable(name):
                first = next(iter(texts), None)
            if first is None:
                raise _empty(name, texts)
        column = _column(name, texts, texts.features, first)
        stream = stream.select_columns([column])
    else:
        source, column = _Source(texts), "text"
        _SOURCES[id(source)] = source
        stream = datasets.IterableDataset.from_generator(_source_rows, gen_kwargs={"key": id(source)})
    options = {"column": column, "name": name}
    gone = [column] if column != "text" else None
    checked = stream.map(_checked, with_indices=True, fn_kwargs=options, remove_columns=gone)
    corpus = Stream(checked.filter(_non_blank), name, source)
    if not corpus.head(1):
        raise _empty(name, texts)
    return corpus


def as_corpus(texts: Any, name: str) -> tuple[Corpus, bool]:
    """`texts` checked, and whether it is a list, which training holds in memory and
    samples in a seeded random order (the other kinds: `Rows`, a `Stream`). The errors
    name `name`, and the index of a bad text: a list's are all checked up front, a
    `datasets.Dataset`'s too, a stream's where they are read."""
    if isinstance(texts, Sequence) and not isinstance(texts, (str, bytes)):
        return text_list(texts, name, 1), True
    datasets = None if isinstance(texts, (str, bytes, Mapping)) else _loaded_datasets()
    if datasets is not None and isinstance(texts, datasets.Dataset):
        return _rows(name, texts), False
    if isinstance(texts, (str, bytes, Mapping)) or not hasattr(texts, "__iter__"):
        hint = ": pass one of its splits" if type(texts).__name__.endswith("DatasetDict") else ""
        message = f"{name} must be {_TYPES}, not {type(texts).__name__}{hint}"
        raise parameter_error(ParameterTypeError, message, name, texts)
    return _stream(name, texts), False


def _loaded_datasets() -> Any:
    """`datasets` where it is imported already (else nothing given can be one of its datasets)."""
    import sys

    return sys.modules.get("datasets")


def first(corpus: Corpus, n: int) -> list[str]:
    """The first `n` texts of `corpus` (all of them if fewer), in its own order."""
    if isinstance(corpus, list):
        return corpus[:n]
    if isinstance(corpus, Rows):
        return [corpus[i] for i in range(min(n, len(corpus)))]
    return corpus.head(n)


def training_set(corpus: Corpus, seed: int) -> Any:
    """What the Trainer reads: a list or `Rows` as a map-style dataset (the Trainer samples
    them in a seeded order), a `Stream` shuffled by `seed`."""
    if isinstance(corpus, list):
        return _Texts(corpus)
    if isinstance(corpus, Stream):
        corpus.seed = seed
    return corpus


class _Texts(torch.utils.data.Dataset):
    def __init__(self, texts: list[str]) -> None:
        self.texts = texts

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, i: int) -> str:
        return self.texts[i]


# --- files ---------------------------------------------------------------------------------


def _file_error(parameter: str, message: str, value: Any) -> Any:
    return parameter_error(ParameterError, message, parameter, value)


def _json_text(row: dict[str, Any], index: int, path: str, field: str, array: bool) -> dict[str, Any]:
    """The `field` of a JSON Lines line (`row["text"]`, line `index` + 1; blank: an empty
    text), or of an item of a JSON array (`row` itself, item `index`)."""
    where = f"item {index} of {path}" if array else f"line {index + 1} of {path}"
    if array:
        record: Any = row
    else:
        line = row["text"]
        if not line.strip():
            return {"text": ""}
        try:
            record = json.loads(line)
        except ValueError as e:
            raise _file_error("texts", f"{where} is not JSON ({e})", path) from None
    if not isinstance(record, dict):
        raise _file_error("texts", f"{where} is a JSON {type(record).__name__}, not an object", path)
    text = record.get(field)
    if text is None:
        fields = ", ".join(repr(k) for k, v in record.items() if v is not None) or "none"
        message = f"{where} has no text field {field!r} (its fields: {fields})"
        raise _file_error("text_field", message, field)
    if not isinstance(text, str):
        message = f"{where}: its {field!r} is a {type(text).__name__}, not a str"
        raise _file_error("text_field", message, field)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        message = f"{where}: its {field!r} holds the lone surrogate {text[e.start]!r}"
        raise _file_error("texts", message, path) from None
    return {"text": text}


def _stripped(row: dict[str, Any]) -> dict[str, Any]:
    return {"text": row["text"].strip()}


def _starts_with(path: str, char: bytes) -> bool:
    """Whether the file's first non-blank byte (after a UTF-8 byte order mark) is `char`."""
    with open(path, "rb") as f:
        start = f.read(4096).lstrip(b"\xef\xbb\xbf").lstrip()
    return start[:1] == char


def read_corpus(
    path: str | os.PathLike[str], *, text_field: str | None = None, text_column: str | None = None
) -> Any:
    """The texts of a file, read lazily: a `datasets.IterableDataset` with a "text" column
    (streamed by `datasets`, never read whole but for a JSON array), which `shrink` and
    `distil` take as `texts`.

    The file's suffix says what it holds: `.jsonl` and `.json`, JSON Lines whose
    `text_field` is the text (one object a line; a `.json` file may also be one JSON array of
    objects); `.parquet`, a Parquet file whose `text_column` holds the texts; any other, text,
    one text a line (stripped). Blank texts are left out. The errors are ParameterErrors
    naming `texts`, `text_field` or `text_column`: no such file, a column the file lacks, a
    JSON line without the field (its line number), no text at all."""
    datasets = _datasets("read_corpus")
    if not isinstance(path, (str, os.PathLike)):
        message = f"texts must be the path of a file, not {type(path).__name__}"
        raise parameter_error(ParameterTypeError, message, "texts", path)
    file = Path(path)
    if not file.is_file():
        what = "no such file" if not file.exists() else "is not a file"
        raise _file_error("texts", f"texts {path}: {what}", str(path))
    name, suffix = str(file), file.suffix.lower()
    kind = {".jsonl": "json", ".json": "json", ".parquet": "parquet"}.get(suffix, "text")
    given = [("text_field", text_field, "json"), ("text_column", text_column, "parquet")]
    for option, value, wanted in given:
        if value is not None and not isinstance(value, str):
            message = f"{option} must be a str, not {type(value).__name__}"
            raise parameter_error(ParameterTypeError, message, option, value)
        if value is not None and kind != wanted:
            files = "JSON Lines (.jsonl, .json)" if wanted == "json" else "Parquet (.parquet)"
            message = f"{option} is for {files} files, not {file.name}"
            raise parameter_error(ParameterError, message, option, value)
    load = datasets.load_dataset
    if kind == "parquet":
        if text_column is None:
            message = f"texts {file.name} is Parquet: give the column of its texts (text_column)"
            raise parameter_error(ParameterError, message, "text_column", None)
        _check_parquet(name, text_column)
        stream = load(
            "parquet", data_files=name, streaming=True, split="train", columns=[text_column], batch_size=1024
        )
        stream = stream.rename_column(text_column, "text") if text_column != "text" else stream
    elif kind == "json":
        if text_field is None:
            message = f"texts {file.name} is JSON: give the field of its texts (text_field)"
            raise parameter_error(ParameterError, message, "text_field", None)
        array = _starts_with(name, b"[")
        if array:
            stream = load("json", data_files=name, streaming=True, split="train")
        else:
            stream = load("text", data_files=name, **_LINES)
        options = {"path": name, "field": text_field, "array": array}
        stream = stream.map(_json_text, with_indices=True, fn_kwargs=options)
        stream = stream.select_columns(["text"]) if array else stream
    else:
        stream = load("text", data_files=name, **_LINES)
        stream = stream.map(_stripped)
    stream = stream.filter(_non_blank)
    with _readable("texts", f"texts {path}"):
        empty = next(iter(stream), None) is None
    if empty:
        raise _file_error("texts", f"texts {path}: holds no non-blank text", str(path))
    return stream


def _check_parquet(path: str, column: str) -> None:
    pq = optional("pyarrow.parquet", "arrow", "read_corpus of a Parquet file")
    pa = optional("pyarrow", "arrow", "read_corpus of a Parquet file")
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException) as e:
        raise _file_error("texts", f"texts {path}: is not a Parquet file ({e})", path) from None
    if column not in schema.names:
        message = f"text_column {column!r} is not a column of {path} (its columns: {', '.join(schema.names)})"
        raise _file_error("text_column", message, column)
    kind = schema.field(column).type
    views = getattr(pa.types, "is_string_view", lambda kind: False)  # pyarrow >= 16
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind) or views(kind)):
        message = f"text_column {column!r} of {path} holds {kind}, not strings"
        raise parameter_error(ParameterTypeError, message, "text_column", column)
