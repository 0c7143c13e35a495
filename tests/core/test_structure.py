"""The package's import graph (tests/structure.py): no circle, no import from a lower layer
into a higher one, no underscore name taken across modules, and the project's scripts use
only what a module lists in `__all__`."""

from __future__ import annotations

import pytest
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
    pytest.importorskip("tokenizers", reason="the walk embeds tokenizers.Encoding objects")
    rooms = structure.walk_of_embed_encodings()
    assert rooms[0] == "hashembed._embedder" and "hashembed.tokens" in rooms
    assert len(set(rooms)) <= 3, rooms


def test_relative_imports_resolve_to_the_modules_they_name(tmp_path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        "from .. import errors\nfrom ..errors import ParameterError\nfrom . import functional\n"
        "from .._checks import _DTYPES\nimport hashembed.vocab\nimport numpy\n",
        encoding="utf-8",
    )
    known = structure._modules()
    found = structure.imports("hashembed.torch.m", source, known)
    assert found == [
        ("hashembed.errors", ""),
        ("hashembed.errors", "ParameterError"),
        ("hashembed.torch.functional", ""),
        ("hashembed._checks", "_DTYPES"),
        ("hashembed.vocab", ""),
    ]


def test_a_script_taking_an_unlisted_name_is_found(tmp_path) -> None:
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "ok.py").write_text(
        "from hashembed.torch import parameter_count\n", encoding="utf-8"
    )
    (tmp_path / "eval" / "bad.py").write_text(
        "from hashembed.torch.embedding import parameter_count\nimport hashembed._checks\n", encoding="utf-8"
    )
    assert structure.script_imports(tmp_path) == [
        ("eval/bad.py", "hashembed.torch.embedding.parameter_count"),
        ("eval/bad.py", "hashembed._checks"),
    ]
