"""The commands: `embed`, `vocab`, `similarity` and `info`."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .. import (
    HashEmbedder,
    __version__,
    available_kernels,
    default_threads,
    get_kernel,
    load_tokenizer,
    save_table,
)
from ..errors import ItemError
from ..progress import Progress
from .config import check_positive, embedder_from
from .errors import PROG, CLIError
from .output import NpyWriter, Outputs
from .sources import TABLE_SUFFIXES, ArrowSource, TextSource, rereadable

CHUNK_BYTES = 1 << 22  # output bytes per chunk when --batch-size is not given


def _existing(path: str, what: str = "") -> Path:
    p = Path(path)
    label = f"{what} {path}" if what else path
    if not p.exists():
        raise CLIError(f"{label}: no such file")
    if p.is_dir():
        raise CLIError(f"{label}: is a directory, expected a file")
    return p


def _check_output(out: Path) -> None:
    parent = out.parent
    if not parent.is_dir():
        raise CLIError(f"cannot write {out}: the directory {parent} does not exist")
    if out.is_dir():
        raise CLIError(f"cannot write {out}: it is a directory")


def _load_tokenizer(path: str) -> Any:
    _existing(path, "tokenizer")
    return load_tokenizer(path)


def cmd_embed(args: argparse.Namespace) -> int:
    """Embeds a file in bounded memory whatever its size: a first streamed pass counts the
    rows, the output .npy is created at its final size, then it is filled a chunk of rows at a
    time through a memory map of just that chunk, so neither the input nor the output is ever
    held whole."""
    embedder = embedder_from(args)
    check_positive(args, "--batch-size")
    dtype = np.dtype(args.dtype)
    if args.batch_size is None:
        # about CHUNK_BYTES of output per chunk; a line has many tokens, so fewer lines then
        rows = min(max(CHUNK_BYTES // (embedder.dim * dtype.itemsize), 1024), 65536)
        args.batch_size = max(rows // 8, 256) if args.tokenizer else rows
    tokenizer = _load_tokenizer(args.tokenizer) if args.tokenizer else None

    with contextlib.ExitStack() as stack:
        if args.input == "-":
            if args.output is None:
                raise CLIError("reading stdin needs an output file: pass -o OUT.npy")
            given, name = None, "<stdin>"
        else:
            given, name = _existing(args.input), args.input
        out = Path(args.output) if args.output is not None else Path(args.input).with_suffix(".npy")
        if out.suffix != ".npy":
            raise CLIError(f"the output {out} must end in .npy")
        _check_output(out)
        if given is not None and out.exists() and os.path.samefile(out, given):
            raise CLIError(f"the output {out} would overwrite the input: pass -o")
        path = rereadable(stack, given)
        table = given is not None and given.suffix.lower() in TABLE_SUFFIXES
        if args.column is not None and not table:
            raise CLIError(f"--column applies to {', '.join(TABLE_SUFFIXES)} input, not {name}")
        source: TextSource | ArrowSource
        source = ArrowSource(path, name, args.column) if table else TextSource(path, name)
        offsets_out = out.with_name(out.name[: -len(".npy")] + ".offsets.npy")

        outputs = Outputs()
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


def _progress(total: int, args: argparse.Namespace, label: str = "embedding", unit: str = "rows") -> Progress:
    # enabled=None: shown when stderr (where it draws) is a terminal
    return Progress(total, label=label, unit=unit, enabled=False if args.quiet else None)


def _count(source: TextSource | ArrowSource, args: argparse.Namespace) -> int:
    """The items of `source`; reading a large text file for it shows a progress bar too."""
    if isinstance(source, ArrowSource):
        return source.count()  # from the file's metadata
    with _progress(source.path.stat().st_size, args, label="counting", unit="bytes") as progress:
        return source.count(progress.update)


def _changed(name: str) -> CLIError:
    return CLIError(f"{name} changed while it was being read")


def _embed_rows(
    source: TextSource | ArrowSource,
    embedder: HashEmbedder,
    out: Path,
    outputs: Outputs,
    dtype: np.dtype,
    args: argparse.Namespace,
) -> int:
    total = _count(source, args)
    writer = NpyWriter(outputs.temp_for(out), (total, embedder.dim), dtype, out)
    row = 0
    with _progress(total, args) as progress:
        if isinstance(source, TextSource):
            for data, offsets, first_line in source.utf8_batches(args.batch_size):
                n = len(offsets) - 1
                if row + n > total:
                    raise _changed(source.name)
                with writer.window(row, row + n) as view:
                    try:
                        embedder.embed_utf8(data, offsets, out=view, dtype=dtype, num_threads=args.threads)
                    except ItemError as e:
                        raise CLIError(f"{source.name}: line {first_line + e.index + 1} {e.reason}") from None
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
                    except ItemError as e:
                        raise CLIError(
                            f"{source.name}: column {source.column!r}: row {row + e.index} {e.reason}"
                        ) from None
                row += n
                progress.update(n)
    if row != total:
        raise _changed(source.name)
    return total


def _spool_tokens(spool: Any, tokens: list[str]) -> None:
    """Appends a chunk of tokens to `spool` as UTF-8 plus offsets (what `embed_utf8` reads)."""
    encoded = [t.encode("utf-8") for t in tokens]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)), out=offsets[1:])
    spool.write(np.int64(len(encoded)).tobytes())
    spool.write(offsets.tobytes())
    spool.write(b"".join(encoded))


def _unspool_tokens(spool: Any) -> Any:
    """The chunks `_spool_tokens` wrote, as (UTF-8 bytes, offsets), in order."""
    spool.seek(0)
    while head := spool.read(8):
        n = int(np.frombuffer(head, dtype=np.int64)[0])
        offsets = np.frombuffer(spool.read(8 * (n + 1)), dtype=np.int64)
        yield np.frombuffer(spool.read(int(offsets[-1])), dtype=np.uint8), offsets


def _embed_tokens(
    source: TextSource | ArrowSource,
    embedder: HashEmbedder,
    tokenizer: Any,
    out: Path,
    offsets_out: Path,
    outputs: Outputs,
    dtype: np.dtype,
    args: argparse.Namespace,
) -> int:
    lines = _count(source, args)
    offsets = NpyWriter(outputs.temp_for(offsets_out), (lines + 1,), np.dtype(np.int64), offsets_out)
    with offsets.window(0, 1) as view:
        view[0] = 0
    # One tokenizing pass counts each line's tokens, which sizes the output and fills the
    # offsets, and spools the tokens to a temporary file, which the embedding pass reads
    # back: the tokenizer, the slow part, runs once, and memory holds one chunk.
    total = line = 0
    with tempfile.TemporaryFile(prefix="hashembed-tokens-") as spool:
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
                _spool_tokens(spool, [t for e in encodings for t in e.tokens])
                total += int(counts.sum())
                line += n
                progress.update(n)
        if line != lines:
            raise _changed(source.name)
        writer = NpyWriter(outputs.temp_for(out), (total, embedder.dim), dtype, out)
        row = 0
        with _progress(total, args) as progress:
            for data, token_offsets in _unspool_tokens(spool):
                n = len(token_offsets) - 1
                with writer.window(row, row + n) as view:
                    embedder.embed_utf8(data, token_offsets, out=view, dtype=dtype, num_threads=args.threads)
                row += n
                progress.update(n)
    return total


def cmd_vocab(args: argparse.Namespace) -> int:
    embedder = embedder_from(args)
    if Path(args.output).suffix not in (".npy", ".safetensors"):
        raise CLIError(f"the output {args.output} must end in .npy or .safetensors")
    _check_output(Path(args.output))
    # The file itself, as embed_vocab reads it: a vocab.txt need not be BERT's (it is not a
    # tokenizer here), and a repeated line is a row of its own.
    table = embedder.embed_vocab(
        _existing(args.tokenizer, "tokenizer"), dtype=args.dtype, num_threads=args.threads
    )
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


def cmd_similarity(args: argparse.Namespace) -> int:
    embedder = embedder_from(args)
    a, b = embedder.embed_batch([args.a, args.b])
    print(f"{cosine(a, b):.6f}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    config = HashEmbedder().config()
    lines = [f"hashembed {__version__}", "default config:"]
    lines += [f"  {key}: {value}" for key, value in config.items()]
    lines += [
        f"kernel: {get_kernel()} (HASHEMBED_KERNEL: {os.environ.get('HASHEMBED_KERNEL', 'unset')})",
        f"available kernels: {', '.join(available_kernels())}",
        f"threads: {default_threads()}",
    ]
    print("\n".join(lines))
    return 0
