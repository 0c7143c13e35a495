"""The embedding configuration flags shared by `embed`, `vocab` and `similarity`, and the
embedder they describe."""

from __future__ import annotations

import argparse

from .. import HashEmbedder


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


def add_config_flags(parser: argparse.ArgumentParser) -> None:
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


def embedder_from(args: argparse.Namespace) -> HashEmbedder:
    """The embedder of the flags given; the library's defaults for the others."""
    config = {
        key: getattr(args, key)
        for key in ("dim", "max_ngram", "layout", "seed", "base", "hash_modulus", "buckets")
        if getattr(args, key) is not None
    }
    return HashEmbedder(**config)
