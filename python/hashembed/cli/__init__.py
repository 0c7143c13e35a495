"""The `hashembed` command line: embed files, build vocabulary tables, compare two strings.

    hashembed embed INPUT [-o OUT.npy] [--tokenizer PATH] [--column NAME] [config flags] ...
    hashembed vocab TOKENIZER -o TABLE.npy|TABLE.safetensors [config flags]
    hashembed similarity A B [config flags]
    hashembed info
    hashembed shrink MODEL_DIR --texts FILE -o OUT_DIR [--eval-texts FILE] [--steps N] ...

`embed` works in bounded memory whatever the size of its input (see `commands.cmd_embed`).
Errors the user can fix (a missing file, a bad flag value, an unreadable tokenizer) print one
line, `hashembed: error: ...`, and exit with status 2.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from .. import __version__
from .commands import cmd_embed, cmd_info, cmd_similarity, cmd_vocab
from .config import add_config_flags, add_output_flags
from .errors import PROG, CLIError, os_message
from .shrink import add_parser as add_shrink_parser
from .sources import TABLE_SUFFIXES

_suffixes = "/".join(TABLE_SUFFIXES)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Dynamic hash embeddings: deterministic, table-free string embeddings."
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser(
        "embed",
        help="embed every line of a text file (or a column of a Parquet/Arrow file) into a .npy",
        description=(
            "Embed INPUT into an .npy of shape (rows, dim). A text INPUT (or - for stdin) has one "
            f"item per line; a {_suffixes} INPUT is read a record batch at a time from --column. "
            "A pipe or FIFO is copied to a temporary file first. With --tokenizer every item is "
            "tokenized and each token is a row; "
            "OUT.offsets.npy (int64, items + 1) then says which rows belong to which item."
        ),
    )
    p.add_argument("input", metavar="INPUT", help=f"text file, {_suffixes} file, or - for stdin")
    p.add_argument("-o", "--output", metavar="OUT.npy", help="output file (default: INPUT with .npy)")
    p.add_argument("--tokenizer", metavar="PATH", help="tokenizer.json or vocab.txt: embed tokens, not lines")
    p.add_argument("--column", metavar="NAME", help="the string column of a table INPUT")
    p.add_argument(
        "--nulls",
        choices=("zero", "error"),
        default="zero",
        help="a null in a table column: a zero row (no tokens with --tokenizer), or an error",
    )
    add_output_flags(p)
    p.add_argument(
        "--batch-size",
        type=int,
        metavar="N",
        help="items per chunk (default: about 4 MB of output)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    add_config_flags(p)
    p.set_defaults(func=cmd_embed)

    p = sub.add_parser("vocab", help="embed a tokenizer's vocabulary into a (V, dim) table")
    p.add_argument("tokenizer", metavar="TOKENIZER", help="tokenizer.json or vocab.txt (line i is token i)")
    p.add_argument("-o", "--output", required=True, metavar="TABLE", help="a .npy or .safetensors file")
    p.add_argument("-q", "--quiet", action="store_true", help="no summary line")
    add_output_flags(p)
    add_config_flags(p)
    p.set_defaults(func=cmd_vocab)

    p = sub.add_parser("similarity", help="print the cosine similarity of the embeddings of A and B")
    p.add_argument("a", metavar="A")
    p.add_argument("b", metavar="B")
    add_config_flags(p)
    p.set_defaults(func=cmd_similarity)

    p = sub.add_parser("info", help="version, default config, SIMD kernel and thread count")
    p.set_defaults(func=cmd_info)

    add_shrink_parser(sub)
    return parser


def _one_line(message: str) -> str:
    return " ".join(str(message).split()) or "unknown error"


def _terminated(signum: int, frame: object) -> None:
    # An exception, so that the commands' cleanup (removing partial outputs) runs.
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit status (argparse's own errors exit 2)."""
    args = build_parser().parse_args(argv)
    # Only the main thread may set handlers; the caller's is put back (main may be called
    # in-process, as the tests do).
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminated) if in_main else None
    try:
        return _run(args)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace) -> int:
    try:
        return int(args.func(args) or 0)
    except CLIError as e:
        message = str(e)
    except OSError as e:
        if isinstance(e, BrokenPipeError):
            return 1
        message = os_message(e)
    except (ValueError, TypeError, OverflowError, MemoryError, ImportError) as e:
        message = str(e)
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted", file=sys.stderr)
        return 130
    print(f"{PROG}: error: {_one_line(message)}", file=sys.stderr)
    return 2
