"""`embed`'s inputs, read in bounded memory: a text file of one item per line, or one string
column of a Parquet or Arrow IPC file."""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .._optional import missing
from ..arrow import check_type
from .errors import CLIError

TABLE_SUFFIXES = (".parquet", ".arrow", ".feather", ".ipc")
READ_BLOCK = 1 << 20  # bytes read from a text input at a time
BOM = b"\xef\xbb\xbf"
FEATHER_V1 = b"FEA1"


def _split_lines(buf: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The lines of `buf` (which ends with b"\\n"): the bytes as an array, and line start and
    end offsets, the end excluding the newline and a carriage return before it."""
    arr = np.frombuffer(buf, dtype=np.uint8)
    ends = np.flatnonzero(arr == 10)
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    cr = ends > starts
    cr[cr] = arr[ends[cr] - 1] == 13
    ends = ends - cr
    return arr, starts, ends


def _compact(arr: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The bytes of lines [starts, ends) back to back, with their offsets (the layout
    `HashEmbedder.embed_utf8` reads)."""
    lo, hi = int(starts[0]), int(ends[-1])
    segment = arr[lo:hi]
    lengths = ends - starts
    offsets = np.zeros(len(starts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if offsets[-1] == hi - lo:
        return np.ascontiguousarray(segment), offsets
    # separators lie between the lines: drop each b"\n" or b"\r\n" to put them back to back
    keep = np.ones(hi - lo, dtype=bool)
    gaps = ends[:-1] - lo
    keep[gaps] = False
    two = starts[1:] - ends[:-1] == 2
    keep[gaps[two] + 1] = False
    return segment[keep], offsets


class TextSource:
    """A text file of one item per line (the newline, and a CR before it, are not part of it)."""

    def __init__(self, path: Path, name: str) -> None:
        self.path = path
        self.name = name

    def _open(self) -> Any:
        """The file, past a UTF-8 byte order mark if it starts with one (editors on Windows
        write it; it is not part of the first line)."""
        f = open(self.path, "rb")
        if f.read(len(BOM)) != BOM:
            f.seek(0)
        return f

    def count(self, progress: Callable[[int], None] | None = None) -> int:
        """The lines, read in blocks; `progress` is told each block's bytes."""
        lines = 0
        last = b"\n"
        with self._open() as f:
            while block := f.read(READ_BLOCK):
                lines += block.count(b"\n")
                last = block[-1:]
                if progress is not None:
                    progress(len(block))
        return lines + (last != b"\n")

    def _line_blocks(self) -> Iterator[tuple[bytes, np.ndarray, np.ndarray, np.ndarray]]:
        parts: list[bytes] = []
        with self._open() as f:
            while block := f.read(READ_BLOCK):
                cut = block.rfind(b"\n") + 1
                if cut == 0:
                    parts.append(block)
                    continue
                head = b"".join([*parts, block[:cut]]) if parts else block[:cut]
                parts = [block[cut:]] if cut < len(block) else []
                yield (head, *_split_lines(head))
        if parts:
            tail = b"".join([*parts, b"\n"])
            yield (tail, *_split_lines(tail))

    def utf8_batches(self, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray, int]]:
        """(bytes, offsets, index of the first line) for runs of at most `batch_size` lines."""
        line = 0
        for _, arr, starts, ends in self._line_blocks():
            for i in range(0, len(starts), batch_size):
                data, offsets = _compact(arr, starts[i : i + batch_size], ends[i : i + batch_size])
                yield data, offsets, line
                line += len(offsets) - 1

    def str_batches(self, batch_size: int, nulls: str = "zero") -> Iterator[list[str]]:
        line = 0
        for raw, _, starts, ends in self._line_blocks():
            bounds = list(zip(starts.tolist(), ends.tolist()))
            for i in range(0, len(bounds), batch_size):
                texts = []
                for a, b in bounds[i : i + batch_size]:
                    try:
                        texts.append(raw[a:b].decode("utf-8"))
                    except UnicodeDecodeError as e:
                        raise CLIError(
                            f"{self.name}: line {line + 1} is not valid UTF-8 (at byte {e.start})"
                        ) from None
                    line += 1
                yield texts


class ArrowSource:
    """One string column of a Parquet or Arrow IPC (Feather v2) file, read a record batch at
    a time."""

    def __init__(self, path: Path, name: str, column: str | None) -> None:
        try:
            import pyarrow as pa
        except ImportError as e:
            raise CLIError(str(missing(e, "arrow", f"{name}: reading {path.suffix}"))) from None
        self.path = path
        self.name = name
        self.parquet = path.suffix.lower() == ".parquet"
        names = self._schema_names()
        if column is None:
            if len(names) != 1:
                raise CLIError(f"{name} has columns {names}: choose one with --column")
            column = names[0]
        elif column not in names:
            raise CLIError(f"{name} has no column {column!r}: its columns are {names}")
        self.column = column
        try:
            check_type(pa, self._schema().field(column).type)
        except TypeError as e:
            raise CLIError(f"{name}: column {column!r}: {e}") from None

    def _schema(self) -> Any:
        import pyarrow as pa

        try:
            if self.parquet:
                import pyarrow.parquet as pq

                return pq.ParquetFile(self.path).schema_arrow
            with self._ipc_reader() as reader:
                return reader.schema
        except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as e:
            raise CLIError(f"{self.name}: cannot read it as {self.path.suffix[1:]}: {e}") from None

    def _schema_names(self) -> list[str]:
        if not self.parquet:
            with open(self.path, "rb") as f:
                if f.read(len(FEATHER_V1)) == FEATHER_V1:
                    # pyarrow would try it as an IPC stream and report a meaningless byte count
                    raise CLIError(
                        f"{self.name}: is a Feather version 1 file, which is not read: rewrite it as "
                        "Feather version 2 (pyarrow.feather.write_feather) or Parquet"
                    )
        return list(self._schema().names)

    @contextlib.contextmanager
    def _ipc_reader(self) -> Iterator[Any]:
        import pyarrow as pa

        with pa.OSFile(str(self.path)) as f:
            try:
                reader = pa.ipc.open_file(f)
            except pa.ArrowInvalid:
                f.seek(0)
                reader = pa.ipc.open_stream(f)
            yield reader

    def _batches(self, batch_size: int = 65536) -> Iterator[Any]:
        if self.parquet:
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(self.path)
            for batch in pf.iter_batches(batch_size=batch_size, columns=[self.column]):
                yield batch.column(0)
            return
        with self._ipc_reader() as reader:
            if hasattr(reader, "num_record_batches"):
                for i in range(reader.num_record_batches):
                    yield reader.get_batch(i).column(self.column)
            else:
                for batch in reader:
                    yield batch.column(self.column)

    def count(self) -> int:
        if self.parquet:
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(self.path).metadata.num_rows)
        with self._ipc_reader() as reader:
            if hasattr(reader, "count_rows"):  # the file format, pyarrow >= 16: no data read
                return int(reader.count_rows())
        return sum(len(column) for column in self._batches())

    def arrays(self, batch_size: int) -> Iterator[Any]:
        for column in self._batches(batch_size):
            for i in range(0, len(column), batch_size):
                yield column.slice(i, batch_size)

    def str_batches(self, batch_size: int, nulls: str = "zero") -> Iterator[list[str]]:
        """The items as str; a null is the empty string (no tokens), or an error."""
        row = 0
        for array in self.arrays(batch_size):
            texts = array.to_pylist()
            if array.null_count and nulls == "error":
                first = texts.index(None)
                raise CLIError(f"{self.name}: column {self.column!r}: row {row + first} is null")
            for i, t in enumerate(texts):
                if t is None:
                    texts[i] = ""
                elif isinstance(t, bytes):  # a binary column: UTF-8 bytes
                    try:
                        texts[i] = t.decode("utf-8")
                    except UnicodeDecodeError as e:
                        raise CLIError(
                            f"{self.name}: column {self.column!r}: row {row + i} is not valid UTF-8 "
                            f"(at byte {e.start})"
                        ) from None
            row += len(texts)
            yield texts


def rereadable(stack: contextlib.ExitStack, path: Path | None) -> Path:
    """`path` if it is a regular file, else (stdin for None, a pipe, a FIFO, a device such as
    /dev/stdin, a process substitution) a temporary copy of it, with the same suffix: `embed`
    reads its input twice, and a stream can be read only once."""
    if path is not None and path.is_file():
        return path
    directory = stack.enter_context(tempfile.TemporaryDirectory(prefix="hashembed-"))
    copy = Path(directory) / ("stdin.txt" if path is None else f"input{path.suffix}")
    with open(copy, "wb") as f:
        if path is None:
            shutil.copyfileobj(sys.stdin.buffer, f, READ_BLOCK)
        else:
            with open(path, "rb") as stream:
                shutil.copyfileobj(stream, f, READ_BLOCK)
    return copy
