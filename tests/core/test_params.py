"""Contract 1: the parameters are defined once (hashembed._params, defaults from the core),
and what cannot be generated from that table is checked against it here."""

from __future__ import annotations

import inspect

import numpy as np
from hashembed import HashEmbedder, _core, reference
from hashembed._params import DEFAULTS, PARAMETERS
from hashembed.cli import build_parser

NAMES = [p.name for p in PARAMETERS]


def test_the_signature_of_hashembedder_is_the_table():
    params = list(inspect.signature(HashEmbedder.__init__).parameters.values())[1:]
    assert [p.name for p in params] == NAMES
    assert {p.name: p.default for p in params} == DEFAULTS


def test_the_properties_and_the_config_are_made_from_the_table():
    e = HashEmbedder(48, layout=(16, 16, 16), hash_seeds=list(range(1, 49)), boundary_markers=True)
    assert list(HashEmbedder.__annotations__) == NAMES  # what type checkers see, in table order
    for p in PARAMETERS:
        prop = getattr(HashEmbedder, p.name)
        assert isinstance(prop, property) and prop.fset is None and prop.__doc__ == p.docstring
    assert HashEmbedder.dim.__doc__ == "Output dimension."
    assert HashEmbedder.boundary_markers.__doc__.startswith("Whether texts are wrapped")
    values = {name: getattr(e, name) for name in NAMES if name != "hash_seeds"}
    assert values == {
        "dim": 48, "max_ngram": 3, "layout": (16, 16, 16), "seed": 42, "base": 31,
        "hash_modulus": 1_000_000_007, "buckets": 1_000_000_007, "boundary_markers": True,
    }  # fmt: skip
    assert e.hash_seeds.dtype == np.uint32 and e.hash_seeds.tolist() == list(range(1, 49))
    assert e.config() == {**values, "layout": (16, 16, 16), "hash_seeds": list(range(1, 49))}
    assert list(e.config()) == NAMES
    assert HashEmbedder(**e.config()) == e
    assert HashEmbedder(8, layout="equal").config()["layout"] == "equal"


def test_the_native_constructor_takes_the_table():
    text = _core.Embedder.__text_signature__
    assert text is not None
    assert [name.strip(" *") for name in text.strip("()").split(",") if name.strip(" *$")] == NAMES


def test_the_reference_defaults_are_the_table():
    assert reference.DEFAULTS == DEFAULTS
    assert HashEmbedder().config() == DEFAULTS


def test_every_cli_parameter_is_a_flag_of_every_embedding_command():
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    for command in ("embed", "vocab", "similarity"):
        flags = {s for action in commands[command]._actions for s in action.option_strings}
        for p in PARAMETERS:
            if p.cli is not None:
                assert p.flag in flags, (command, p.flag)
