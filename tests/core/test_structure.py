"""The package's import graph (tests/structure.py): no circle, no import from a lower layer
into a higher one, no underscore name taken across modules, and the project's scripts use
only what a module lists in `__all__`."""

from __future__ import annotations

import structure


def test_the_import_graph_has_no_circle_and_no_back_arrow() -> None:
    edges = structure.graph()
    assert edges.get("hashembed._embedder")  # the graph was read
    assert structure.circles(edges) == []
    assert structure.back_arrows(edges) == []
    assert structure.private_imports(edges) == []


def test_the_scripts_import_only_public_names() -> None:
    assert structure.script_imports() == []


def test_the_checks_find_what_they_look_for() -> None:
    edges = {"hashembed.a": {"hashembed.cli.b": set()}, "hashembed.cli.b": {"hashembed.a": {"_x"}}}
    assert structure.circles(edges) == [["hashembed.a", "hashembed.cli.b"]]
    assert structure.private_imports(edges) == [("hashembed.cli.b", "hashembed.a", "_x")]
    assert structure.back_arrows({"hashembed.errors": {"hashembed.cli": set()}}) == [
        ("hashembed.errors", "hashembed.cli")
    ]


def test_a_call_of_embed_encodings_stays_in_few_rooms() -> None:
    rooms = structure.walk_of_embed_encodings()
    assert rooms[0] == "hashembed._embedder" and "hashembed.tokens" in rooms
    assert len(set(rooms)) <= 3, rooms
