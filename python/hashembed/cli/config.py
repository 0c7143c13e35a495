"""The embedding configuration flags shared by `embed`, `vocab` and `similarity`, and the
embedder they describe."""

from __future__ import annotations

import argparse

from .. import HashEmbedder
from .._embedder import PRESETS
from .._params import DEFAULTS, PARAMETERS
from .errors import CLIError


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


def add_output_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dtype", choices=("float32", "float64", "float16"), default="float32")
    parser.add_argument("--threads", type=int, metavar="N", help="worker threads (default: all cores)")


def add_config_flags(parser: argparse.ArgumentParser, preset: str = "default") -> None:
    """The configuration flags, each flag's help showing its value in `preset`, the
    configuration the command uses without --preset."""
    values = {**DEFAULTS, **PRESETS[preset]}
    whose = "the library's" if preset == "default" else f"the {preset} preset's"
    g = parser.add_argument_group(f"embedding configuration (defaults: {whose}, or the --preset's)")
    g.add_argument(
        "--preset",
        choices=list(PRESETS),
        help="a named configuration from docs/quality.md; the flags below override its values",
    )
    for p in PARAMETERS:
        default = values[p.name]
        if p.cli == "int":
            g.add_argument(p.flag, type=int, help=f"{p.help} ({default})")
        elif p.cli == "layout":
            g.add_argument(p.flag, type=_layout, help=f"{p.help} ({default})")
        elif p.cli == "flag":
            state = "on" if default else "off"
            g.add_argument(p.flag, action=argparse.BooleanOptionalAction, help=f"{p.help} ({state})")


def check_positive(args: argparse.Namespace, *flags: str) -> None:
    """CLIError naming the flag if one of `flags` (such as "--threads") was given below 1."""
    for flag in flags:
        value = getattr(args, flag[2:].replace("-", "_"), None)
        if value is not None and value < 1:
            raise CLIError(f"{flag} must be at least 1, got {value}")


def embedder_from(args: argparse.Namespace, default_preset: str = "default") -> HashEmbedder:
    """The embedder of the flags given (the preset's, else `default_preset`'s, for the
    others); also checks --threads, which every command using an embedder may take."""
    check_positive(args, "--threads")
    config = {
        p.name: getattr(args, p.name)
        for p in PARAMETERS
        if p.cli is not None and getattr(args, p.name) is not None
    }
    return HashEmbedder.preset(args.preset or default_preset, **config)
