"""The `hashembed` command line: embed files, build vocabulary tables, compare two strings.

    hashembed embed INPUT [-o OUT.npy] [--tokenizer PATH] [--column NAME] [config flags] ...
    hashembed vocab TOKENIZER -o TABLE.npy|TABLE.safetensors [config flags]
    hashembed similarity A B [config flags]
    hashembed info

`embed` works in bounded memory whatever the size of its input: it counts the rows in a first
streamed pass, creates the output .npy at its final size, then fills it a chunk of rows at a
time through a memory map of just that chunk, so neither the input nor the output is ever held
whole. Errors the user can fix (a missing file, a bad flag value, an unreadable tokenizer)
print one line, `hashembed: error: ...`, and exit with status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

PROG = "hashembed"
TABLE_SUFFIXES = (".parquet", ".arrow", ".feather", ".ipc")
CHUNK_BYTES = 1 << 22  # output bytes per chunk when --batch-size is not given
READ_BLOCK = 1 << 20  # bytes read from a text input at a time


class CLIError(Exception):
    """An error reported as one line and exit status 2."""


# -- progress ---------------------------------------------------------------------------------


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


class Progress:
    """A one-line progress bar with throughput, redrawn in place with `\\r`.

    Shown only when `enabled` (by default: when `stream` is a terminal); otherwise every method
    is a no-op, so callers need no conditionals.
    """

    def __init__(
        self,
        total: int,
        *,
        label: str = "embedding",
        unit: str = "rows",
        stream: IO[str] | None = None,
        enabled: bool | None = None,
        min_interval: float = 0.1,
        clock: Any = time.monotonic,
    ) -> None:
        self.total = int(total)
        self.label = label
        self.unit = unit
        self.stream = sys.stderr if stream is None else stream
        self.enabled = _isatty(self.stream) if enabled is None else bool(enabled)
        self.min_interval = min_interval
        self.clock = clock
        self.done = 0
        self.start = clock()
        self._last_draw = float("-inf")
        self._width = 0
        self._closed = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(final=exc[0] is None)

    def update(self, n: int) -> None:
        self.done += int(n)
        if not self.enabled:
            return
        now = self.clock()
        if now - self._last_draw >= self.min_interval:
            self._draw(now)

    def render(self, now: float | None = None) -> str:
        """The text of the bar at time `now`."""
        now = self.clock() if now is None else now
        elapsed = max(now - self.start, 1e-9)
        rate = self.done / elapsed
        fraction = min(self.done / self.total, 1.0) if self.total > 0 else 1.0
        filled = int(fraction * 24)
        bar = "#" * filled + "." * (24 - filled)
        text = (
            f"{self.label} [{bar}] {100 * fraction:5.1f}% {self.done:,}/{self.total:,} {self.unit} "
            f"{rate:,.0f} {self.unit}/s"
        )
        if self.done >= self.total:
            text += f" in {_duration(elapsed)}"
        elif rate > 0:
            text += f" ETA {_duration((self.total - self.done) / rate)}"
        return text

    def _draw(self, now: float) -> None:
        self._last_draw = now
        text = self.render(now)
        pad = " " * max(self._width - len(text), 0)
        self._width = len(text)
        self.stream.write("\r" + text + pad)
        self.stream.flush()

    def close(self, final: bool = True) -> None:
        if self._closed:
            return
        self._closed = True
        if not self.enabled:
            return
        if final:
            self._draw(self.clock())
        self.stream.write("\n")
        self.stream.flush()


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


# -- output -----------------------------------------------------------------------------------


class NpyWriter:
    """A .npy file of a fixed shape, filled a window of rows at a time.

    `np.lib.format.open_memmap` creates the file (header plus the full, sparse, data size);
    each `window(a, b)` then maps only rows [a, b), and unmapping it when the caller is done
    drops those pages from this process, so resident memory stays at about one window however
    large the file.
    """

    def __init__(self, path: Path, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.path = path
        self.shape = shape
        self.dtype = np.dtype(dtype)
        mm = np.lib.format.open_memmap(path, mode="w+", dtype=self.dtype, shape=shape)
        self.offset = int(mm.offset)
        del mm
        self.row_shape = shape[1:]
        self.row_bytes = int(np.prod(self.row_shape, dtype=np.int64)) * self.dtype.itemsize

    @contextlib.contextmanager
    def window(self, start: int, stop: int) -> Iterator[np.ndarray]:
        shape = (stop - start, *self.row_shape)
        if stop <= start or self.row_bytes == 0:
            yield np.empty(shape, dtype=self.dtype)
            return
        mm = np.memmap(
            self.path, dtype=self.dtype, mode="r+", offset=self.offset + start * self.row_bytes, shape=shape
        )
        try:
            yield mm.view(np.ndarray)
        finally:
            # Unmapping (not msync) is what bounds memory: the dirty pages stay in the page
            # cache, which writes them back on its own schedule.
            del mm


class _Outputs:
    """Output files written under temporary names and moved into place only on success."""

    def __init__(self) -> None:
        self.pending: list[tuple[Path, Path]] = []

    def temp_for(self, final: Path) -> Path:
        temp = final.with_name(f".{final.name}.partial-{os.getpid()}")
        self.pending.append((temp, final))
        return temp

    def commit(self) -> None:
        for temp, final in self.pending:
            os.replace(temp, final)
        self.pending = []

    def discard(self) -> None:
        for temp, _ in self.pending:
            with contextlib.suppress(OSError):
                temp.unlink()
        self.pending = []


# -- inputs -----------------------------------------------------------------------------------


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
    `embed_utf8_into` reads)."""
    lo, hi = int(starts[0]), int(ends[-1])
    segment = arr[lo:hi]
    lengths = ends - starts
    offsets = np.zeros(len(starts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if offsets[-1] == hi - lo:
        return np.ascontiguousarray(segment), offsets
    # drop the separator (b"\n" or b"\r\n") between each line's end and the next line's start
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

    def count(self) -> int:
        lines = 0
        last = b"\n"
        with open(self.path, "rb") as f:
            while block := f.read(READ_BLOCK):
                lines += block.count(b"\n")
                last = block[-1:]
        return lines + (last != b"\n")

    def _line_blocks(self) -> Iterator[tuple[bytes, np.ndarray, np.ndarray, np.ndarray]]:
        parts: list[bytes] = []
        with open(self.path, "rb") as f:
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

    def explain_utf8_error(self, data: np.ndarray, offsets: np.ndarray, first_line: int) -> str | None:
        raw = data.tobytes()
        for i in range(len(offsets) - 1):
            try:
                raw[offsets[i] : offsets[i + 1]].decode("utf-8")
            except UnicodeDecodeError as e:
                return f"{self.name}: line {first_line + i + 1} is not valid UTF-8 (at byte {e.start})"
        return None


class ArrowSource:
    """One string column of a Parquet or Arrow IPC (Feather v2) file, read a record batch at
    a time."""

    def __init__(self, path: Path, name: str, column: str | None) -> None:
        try:
            import pyarrow as pa  # noqa: F401
        except ImportError:
            raise CLIError(f"{name}: reading {path.suffix} needs pyarrow (pip install pyarrow)") from None
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

    def _schema_names(self) -> list[str]:
        import pyarrow as pa

        try:
            if self.parquet:
                import pyarrow.parquet as pq

                return list(pq.ParquetFile(self.path).schema_arrow.names)
            with self._ipc_reader() as reader:
                return list(reader.schema.names)
        except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as e:
            raise CLIError(f"{self.name}: cannot read it as {self.path.suffix[1:]}: {e}") from None

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
            if array.null_count:
                if nulls == "error":
                    first = texts.index(None)
                    raise CLIError(f"{self.name}: column {self.column!r}: row {row + first} is null")
                texts = ["" if s is None else s for s in texts]
            if texts and not isinstance(texts[0], str):  # a binary column: UTF-8 bytes
                try:
                    texts = [t.decode("utf-8") for t in texts]
                except UnicodeDecodeError as e:
                    raise CLIError(f"{self.name}: column {self.column!r}: not valid UTF-8 ({e})") from None
            row += len(texts)
            yield texts


# -- embedder from flags ----------------------------------------------------------------------


def _layout(value: str) -> str | tuple[int, ...]:
    if value in ("proportional", "equal"):
        return value
    try:
        sizes = tuple(int(x) for x in value.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected proportional, equal or comma-separated integers, got {value!r}"
        ) from None
    return sizes


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("embedding configuration (defaults: the library's)")
    g.add_argument("--dim", type=int, help="output dimension (768)")
    g.add_argument("--max-ngram", type=int, help="largest n-gram size (3)")
    g.add_argument(
        "--layout", type=_layout, help="proportional, equal or comma-separated sizes (proportional)"
    )
    g.add_argument("--seed", type=int, help="seed of the position multipliers (42)")
    g.add_argument("--base", type=int, help="polynomial hash base (31)")
    g.add_argument("--hash-modulus", type=int, help="polynomial hash modulus (1000000007)")
    g.add_argument("--buckets", type=int, help="projection modulus (1000000007)")


def _embedder(args: argparse.Namespace) -> Any:
    from . import HashEmbedder

    config = {
        key: getattr(args, key)
        for key in ("dim", "max_ngram", "layout", "seed", "base", "hash_modulus", "buckets")
        if getattr(args, key) is not None
    }
    return HashEmbedder(**config)


def _existing(path: str, what: str = "") -> Path:
    p = Path(path)
    label = f"{what} {path}" if what else path
    if not p.exists():
        raise CLIError(f"{label}: no such file")
    if p.is_dir():
        raise CLIError(f"{label}: is a directory, expected a file")
    return p


def _check_parent(out: Path) -> None:
    parent = out.parent
    if not parent.is_dir():
        raise CLIError(f"cannot write {out}: the directory {parent} does not exist")


def _load_tokenizer(path: str) -> Any:
    from . import vocab

    _existing(path, "tokenizer")
    return vocab.load_tokenizer(path)


# -- commands ---------------------------------------------------------------------------------


def _cmd_embed(args: argparse.Namespace) -> int:
    embedder = _embedder(args)
    dtype = np.dtype(args.dtype)
    if args.batch_size is None:
        # about CHUNK_BYTES of output per chunk; a line has many tokens, so fewer lines then
        rows = min(max(CHUNK_BYTES // (embedder.dim * dtype.itemsize), 1024), 65536)
        args.batch_size = max(rows // 8, 256) if args.tokenizer else rows
    elif args.batch_size < 1:
        raise CLIError(f"--batch-size must be at least 1, got {args.batch_size}")
    embedder.embed_batch([], num_threads=args.threads)  # validates --threads up front
    tokenizer = _load_tokenizer(args.tokenizer) if args.tokenizer else None

    with contextlib.ExitStack() as stack:
        if args.input == "-":
            if args.output is None:
                raise CLIError("reading stdin needs an output file: pass -o OUT.npy")
            path, name = _buffer_stdin(stack), "<stdin>"
        else:
            path, name = _existing(args.input), args.input
        table = path.suffix.lower() in TABLE_SUFFIXES and args.input != "-"
        if args.column is not None and not table:
            raise CLIError(f"--column applies to {', '.join(TABLE_SUFFIXES)} input, not {name}")
        source: TextSource | ArrowSource
        source = ArrowSource(path, name, args.column) if table else TextSource(path, name)

        out = Path(args.output) if args.output is not None else path.with_suffix(".npy")
        if out.suffix != ".npy":
            raise CLIError(f"the output {out} must end in .npy")
        _check_parent(out)
        if out.exists() and args.input != "-" and os.path.samefile(out, path):
            raise CLIError(f"the output {out} would overwrite the input: pass -o")
        offsets_out = out.with_name(out.name[: -len(".npy")] + ".offsets.npy")

        outputs = _Outputs()
        try:
            if tokenizer is None:
                rows = _embed_rows(source, embedder, out, outputs, dtype, args)
            else:
                rows = _embed_tokens(source, embedder, tokenizer, out, offsets_out, outputs, dtype, args)
            outputs.commit()
        except BaseException:
            outputs.discard()
            raise
    if not args.quiet:
        extra = f" and {offsets_out}" if tokenizer is not None else ""
        print(f"{PROG}: wrote {out}{extra}: {rows} x {embedder.dim} {dtype.name}", file=sys.stderr)
    return 0


def _buffer_stdin(stack: contextlib.ExitStack) -> Path:
    """stdin copied to a temporary file, since `embed` reads its input twice."""
    directory = stack.enter_context(tempfile.TemporaryDirectory(prefix="hashembed-"))
    path = Path(directory) / "stdin.txt"
    with open(path, "wb") as f:
        shutil.copyfileobj(sys.stdin.buffer, f, READ_BLOCK)
    return path


def _progress(total: int, args: argparse.Namespace, label: str = "embedding", unit: str = "rows") -> Progress:
    return Progress(total, label=label, unit=unit, enabled=not args.quiet and _isatty(sys.stderr))


def _changed(name: str) -> CLIError:
    return CLIError(f"{name} changed while it was being read")


def _embed_rows(
    source: TextSource | ArrowSource,
    embedder: Any,
    out: Path,
    outputs: _Outputs,
    dtype: np.dtype,
    args: argparse.Namespace,
) -> int:
    total = source.count()
    writer = NpyWriter(outputs.temp_for(out), (total, embedder.dim), dtype)
    row = 0
    with _progress(total, args) as progress:
        if isinstance(source, TextSource):
            for data, offsets, first_line in source.utf8_batches(args.batch_size):
                n = len(offsets) - 1
                if row + n > total:
                    raise _changed(source.name)
                with writer.window(row, row + n) as view:
                    try:
                        embedder.embed_utf8_into(data, offsets, view, args.threads)
                    except ValueError:
                        message = source.explain_utf8_error(data, offsets, first_line)
                        if message is None:
                            raise
                        raise CLIError(message) from None
                row += n
                progress.update(n)
        else:
            for array in source.arrays(args.batch_size):
                n = len(array)
                if row + n > total:
                    raise _changed(source.name)
                with writer.window(row, row + n) as view:
                    try:
                        embedder.embed_arrow(
                            array, nulls=args.nulls, out=view, dtype=dtype, num_threads=args.threads
                        )
                    except ValueError as e:
                        m = re.match(r"row (\d+)", str(e))
                        if m is None:
                            raise
                        raise CLIError(
                            f"{source.name}: column {source.column!r}: row {row + int(m.group(1))}"
                            f"{str(e)[m.end(1) :]}"
                        ) from None
                row += n
                progress.update(n)
    if row != total:
        raise _changed(source.name)
    return total


def _embed_tokens(
    source: TextSource | ArrowSource,
    embedder: Any,
    tokenizer: Any,
    out: Path,
    offsets_out: Path,
    outputs: _Outputs,
    dtype: np.dtype,
    args: argparse.Namespace,
) -> int:
    lines = source.count()
    offsets = NpyWriter(outputs.temp_for(offsets_out), (lines + 1,), np.dtype(np.int64))
    with offsets.window(0, 1) as view:
        view[0] = 0
    # pass 1: token counts per line, into the offsets file
    total = line = 0
    with _progress(lines, args, label="tokenizing", unit="lines") as progress:
        for texts in source.str_batches(args.batch_size, args.nulls):
            n = len(texts)
            if line + n > lines:
                raise _changed(source.name)
            encodings = tokenizer.encode_batch(texts, add_special_tokens=False)
            counts = np.fromiter((len(e) for e in encodings), dtype=np.int64, count=n)
            with offsets.window(line + 1, line + 1 + n) as view:
                np.cumsum(counts, out=view)
                view += total
            total += int(counts.sum())
            line += n
            progress.update(n)
    if line != lines:
        raise _changed(source.name)
    # pass 2: embed the tokens
    writer = NpyWriter(outputs.temp_for(out), (total, embedder.dim), dtype)
    row = 0
    with _progress(total, args) as progress:
        for texts in source.str_batches(args.batch_size, args.nulls):
            encodings = tokenizer.encode_batch(texts, add_special_tokens=False)
            tokens = [t for e in encodings for t in e.tokens]
            n = len(tokens)
            if row + n > total:
                raise _changed(source.name)
            with writer.window(row, row + n) as view:
                embedder.embed_batch(tokens, out=view, dtype=dtype, num_threads=args.threads)
            row += n
            progress.update(n)
    if row != total:
        raise _changed(source.name)
    return total


def _cmd_vocab(args: argparse.Namespace) -> int:
    from . import save_table

    embedder = _embedder(args)
    if Path(args.output).suffix not in (".npy", ".safetensors"):
        raise CLIError(f"the output {args.output} must end in .npy or .safetensors")
    _check_parent(Path(args.output))
    tokenizer = _load_tokenizer(args.tokenizer)
    table = embedder.embed_vocab(tokenizer)
    save_table(args.output, table)
    if not args.quiet:
        rows, dim = table.shape
        print(f"{PROG}: wrote {args.output}: {rows} x {dim} {table.dtype}", file=sys.stderr)
    return 0


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """The cosine of two vectors, in float64; 0.0 when either is all zeros."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    norm = float(np.linalg.norm(a)) * float(np.linalg.norm(b))
    return float(a @ b) / norm if norm > 0 else 0.0


def _cmd_similarity(args: argparse.Namespace) -> int:
    embedder = _embedder(args)
    a, b = embedder.embed_batch([args.a, args.b])
    print(f"{cosine(a, b):.6f}")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    import hashembed

    config = hashembed.HashEmbedder().config()
    lines = [f"hashembed {hashembed.__version__}", "default config:"]
    lines += [f"  {key}: {value}" for key, value in config.items()]
    lines += [
        f"kernel: {hashembed.get_kernel()}",
        f"available kernels: {', '.join(hashembed.available_kernels())}",
        f"threads: {hashembed.default_threads()}",
    ]
    print("\n".join(lines))
    return 0


# -- parser and entry point -------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Dynamic hash embeddings: deterministic, table-free string embeddings."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser(
        "embed",
        help="embed every line of a text file (or a column of a Parquet/Arrow file) into a .npy",
        description=(
            "Embed INPUT into an .npy of shape (rows, dim). A text INPUT (or - for stdin) has one "
            "item per line; a .parquet, .arrow or .feather INPUT is read a record batch at a time "
            "from --column. With --tokenizer every item is tokenized and each token is a row; "
            "OUT.offsets.npy (int64, items + 1) then says which rows belong to which item."
        ),
    )
    p.add_argument("input", metavar="INPUT", help="text file, .parquet/.arrow/.feather, or - for stdin")
    p.add_argument("-o", "--output", metavar="OUT.npy", help="output file (default: INPUT with .npy)")
    p.add_argument("--tokenizer", metavar="PATH", help="tokenizer.json or vocab.txt: embed tokens, not lines")
    p.add_argument("--column", metavar="NAME", help="the string column of a table INPUT")
    p.add_argument(
        "--nulls",
        choices=("zero", "error"),
        default="zero",
        help="a null in a table column: a zero row (no tokens with --tokenizer), or an error",
    )
    p.add_argument("--dtype", choices=("float32", "float64", "float16"), default="float32")
    p.add_argument("--threads", type=int, metavar="N", help="worker threads (default: all cores)")
    p.add_argument(
        "--batch-size",
        type=int,
        metavar="N",
        help="items per chunk (default: about 4 MB of output)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    _add_config_flags(p)
    p.set_defaults(func=_cmd_embed)

    p = sub.add_parser("vocab", help="embed a tokenizer's vocabulary into a (V, dim) table")
    p.add_argument("tokenizer", metavar="TOKENIZER", help="tokenizer.json or vocab.txt")
    p.add_argument("-o", "--output", required=True, metavar="TABLE", help="a .npy or .safetensors file")
    p.add_argument("-q", "--quiet", action="store_true", help="no summary line")
    _add_config_flags(p)
    p.set_defaults(func=_cmd_vocab)

    p = sub.add_parser("similarity", help="print the cosine similarity of the embeddings of A and B")
    p.add_argument("a", metavar="A")
    p.add_argument("b", metavar="B")
    _add_config_flags(p)
    p.set_defaults(func=_cmd_similarity)

    p = sub.add_parser("info", help="version, default config, SIMD kernel and thread count")
    p.set_defaults(func=_cmd_info)
    return parser


def _one_line(message: str) -> str:
    return " ".join(str(message).split()) or "unknown error"


def _os_message(e: OSError) -> str:
    if e.filename is not None and e.strerror:
        return f"{e.filename}: {e.strerror}"
    return str(e)


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit status (argparse's own errors exit 2)."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CLIError as e:
        message = str(e)
    except OSError as e:
        if isinstance(e, BrokenPipeError):
            return 1
        message = _os_message(e)
    except (ValueError, TypeError, OverflowError, MemoryError, ImportError) as e:
        message = str(e)
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted", file=sys.stderr)
        return 130
    print(f"{PROG}: error: {_one_line(message)}", file=sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
