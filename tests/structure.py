"""The import graph of python/hashembed: circles, back arrows and private cross-imports.

Every `import` counts, at any depth (a function's lazy import, an `if TYPE_CHECKING:` block),
since each is a dependency a reader has to follow. A back arrow is an import from a lower
layer into a higher one (the core into an integration, a library module into the CLI); a
private cross-import takes an underscore name from another module. The project's own
scripts (eval/, benches/, examples/) should import only what a module lists in `__all__`.
`python tests/structure.py` prints all of them; tests/core/test_structure.py asserts there
are none. `python tests/structure.py --walk` also follows one call of
`HashEmbedder.embed_encodings` through the package's modules (its rooms): each stay is a run
of calls into one module, a return is a stay in a module the call has already left.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "python" / "hashembed"
SCRIPTS = ("eval", "benches", "examples")

# Lower layers first: the core's leaves, the embedders, the integrations, the front ends.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("_core", "errors", "_checks", "_optional", "_params", "_files", "_safetensors", "reference", "progress"),
    ("tokens", "vocab", "arrow", "_bound", "_embedder", "hashembed"),
    ("torch", "onnx", "int8", "dask"),
    ("cli", "demo", "__main__"),
)


def _module_name(path: Path) -> str:
    parts = ("hashembed", *path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    found = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    found["hashembed._core"] = PACKAGE / "_core.pyi"
    return found


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    parts = module.split(".")
    base = parts if is_package else parts[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports(module: str, path: Path, known: dict[str, Path]) -> list[tuple[str, str]]:
    """(imported module, name) for every import of hashembed's in `module`; name is the
    imported name where it is not a module itself, else ""."""
    found: list[tuple[str, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(a.name, "") for a in node.names if a.name.split(".")[0] == "hashembed"]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, node, path.name == "__init__.py")
            if target.split(".")[0] != "hashembed":
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.append((sub, "") if sub in known else (target, alias.name))
    return found


def graph() -> dict[str, dict[str, set[str]]]:
    """module -> {imported module -> names taken from it}."""
    known = _modules()
    edges: dict[str, dict[str, set[str]]] = {m: {} for m in known}
    for module, path in known.items():
        for target, name in imports(module, path, known):
            if target != module:
                edges[module].setdefault(target, set()).update([name] if name else [])
    return edges


def circles(edges: dict[str, dict[str, set[str]]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def layer(module: str) -> int:
    parts = module.split(".")
    key = parts[1] if len(parts) > 1 else parts[0]
    for level, names in enumerate(LAYERS):
        if key in names:
            return level
    raise KeyError(f"{module} is in no layer of tests/structure.py")


def back_arrows(edges: dict[str, dict[str, set[str]]]) -> list[tuple[str, str]]:
    return sorted((a, b) for a, targets in edges.items() for b in targets if layer(b) > layer(a))


def private_imports(edges: dict[str, dict[str, set[str]]]) -> list[tuple[str, str, str]]:
    """(importer, module, name) where an underscore name is taken from another module;
    the core's private leaf modules are shared by design, their names are not."""
    return sorted(
        (a, b, name)
        for a, targets in edges.items()
        for b, names in targets.items()
        for name in names
        if name.startswith("_") and not name.startswith("__")
    )


def walk(call: Callable[[], object]) -> list[str]:
    """The modules of hashembed's Python functions that `call` enters, in the order it enters
    them, consecutive calls within one module counted once (the native code is not seen)."""
    rooms: list[str] = []

    def profile(frame: Any, event: str, arg: object) -> None:
        module = frame.f_globals.get("__name__", "")
        if event == "call" and module.startswith("hashembed") and (not rooms or rooms[-1] != module):
            rooms.append(module)

    sys.setprofile(profile)
    try:
        call()
    finally:
        sys.setprofile(None)
    return rooms


def walk_of_embed_encodings() -> list[str]:
    import hashembed
    import numpy as np
    import tokenizers
    from tokenizers import models

    tok = tokenizers.Tokenizer(models.WordLevel({"[UNK]": 0, "hash": 1, "embed": 2}, unk_token="[UNK]"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    encodings = tok.encode_batch(["hash embed", "embed"])
    embedder = hashembed.HashEmbedder(64)
    out = np.empty((2, 2, 64), np.float32)
    return walk(lambda: embedder.embed_encodings(encodings, max_length=8, out=out))


def _walk_summary(rooms: list[str]) -> str:
    returns = sum(1 for i, r in enumerate(rooms) if r in rooms[:i])
    path = " > ".join(r.removeprefix("hashembed.") for r in rooms)
    return f"{len(rooms)} stays in {len(set(rooms))} rooms with {returns} returns: {path}"


def public_names(path: Path) -> set[str] | None:
    """The names of a module's `__all__`, or None where it has none."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            return {ast.literal_eval(e) for e in node.value.elts}  # type: ignore[attr-defined]
    return None


def script_imports(root: Path = ROOT) -> list[tuple[str, str]]:
    """(script, what it imports) where a script of the project's (below `root`) takes a name
    its module does not list in `__all__`, or imports a module with an underscore in its path."""
    known = _modules()
    found = []
    for folder in SCRIPTS:
        for path in sorted((root / folder).rglob("*.py")):
            where = str(path.relative_to(root))
            for target, name in imports("", path, known):
                listed = public_names(known[target]) if target in known else None
                private = any(part.startswith("_") for part in target.split("."))
                if private or (name and (listed is None or name not in listed)):
                    found.append((where, f"{target}.{name}" if name else target))
    return found


def main() -> int:
    edges = graph()
    sections = {
        "circles": [" <-> ".join(c) for c in circles(edges)],
        "back arrows": [f"{a} -> {b}" for a, b in back_arrows(edges)],
        "private cross-imports": [f"{a} takes {b}.{n}" for a, b, n in private_imports(edges)],
        "scripts' imports of unlisted names": [f"{a} takes {b}" for a, b in script_imports()],
    }
    for title, lines in sections.items():
        print(f"{title}: {len(lines)}")
        for line in lines:
            print(f"  {line}")
    if "--walk" in sys.argv:
        print("walk of embed_encodings:", _walk_summary(walk_of_embed_encodings()))
    return 1 if any(sections.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
