"""Dependencies point down: no module imports one from a layer above it, lazy imports and
TYPE_CHECKING imports included (docs/architecture.md has the order)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "outweigh"

LAYERS: list[set[str]] = [
    {"errors"},
    {"settings", "names", "text", "db", "embed", "plan", "prompt", "attribution", "locks"},
    {"retrieval", "models", "users"},
    {"generate"},
    {"memory", "adapters"},
    {"engine", "doctor"},
    {"testing"},
    {"eval", "serve"},
    {"cli"},
    {"__init__", "__main__"},
]
"""Bottom first. A module may import its own layer's parts and any layer below. Memory sits
over generate because a model may extract facts (memory/extract.py); `testing` (shipped
fakes) sits under the shells that tests drive through it."""


def _room(module: str) -> str:
    """outweigh.retrieval.vectors.faiss -> retrieval; outweigh -> __init__."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _level(room: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if room in layer)


def _imports(path: Path) -> set[str]:
    """outweigh modules that `path` imports, wherever the import statement stands."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("outweigh")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("outweigh"):
            found.add(str(node.module))
    return found


def test_every_room_has_a_layer() -> None:
    rooms = {p.stem if p.parent == SRC else p.relative_to(SRC).parts[0] for p in SRC.rglob("*.py")}
    assert rooms <= set().union(*LAYERS), rooms - set().union(*LAYERS)


def test_no_module_imports_from_a_layer_above() -> None:
    upward = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        here = rel.stem if len(rel.parts) == 1 else rel.parts[0]
        for module in _imports(path):
            there = _room(module)
            if there != here and _level(there) > _level(here):
                upward.append(f"{rel} imports {module}")
    assert upward == []


def test_rich_is_imported_only_by_the_cli() -> None:
    outside = []
    for path in SRC.rglob("*.py"):
        if path.relative_to(SRC).parts[0] == "cli":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n.split(".")[0] == "rich" for n in names):
                outside.append(str(path.relative_to(SRC)))
    assert outside == []


SHELLS = ("cli", "serve", "eval")
PARTS = (
    "outweigh.adapters.registry",
    "outweigh.memory.store",
    "outweigh.retrieval.store",
    "outweigh.retrieval.vectors",
)
"""Modules that open the state directory's parts; only the engine may import them."""
PART_NAMES = {"AdapterRegistry", "MemoryStore", "Store"}
ENGINE_PARTS = {"memory", "adapters", "store", "vectors"}


def _is_part(module: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in PARTS)


def _is_engine(node: ast.expr) -> bool:
    """`engine`, anything's `.engine` (`self.engine`, `state.engine`), or `Engine(...)`."""
    if isinstance(node, ast.Call):
        return isinstance(node.func, ast.Name) and node.func.id == "Engine"
    return (isinstance(node, ast.Name) and node.id == "engine") or (
        isinstance(node, ast.Attribute) and node.attr == "engine"
    )


def _reaches_past_the_engine(path: Path) -> list[str]:
    """Where `path` imports a part of the state directory or reaches into an engine's parts."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        where = f"{path.relative_to(SRC)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            found += [f"{where} imports {a.name}" for a in node.names if _is_part(a.name)]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("outweigh"):
            for a in node.names:
                if _is_part(f"{node.module}.{a.name}") or _is_part(str(node.module)):
                    found.append(f"{where} imports {node.module}.{a.name}")
                elif a.name in PART_NAMES:
                    found.append(f"{where} imports {a.name}")
        elif (
            isinstance(node, ast.Attribute) and node.attr in ENGINE_PARTS and _is_engine(node.value)
        ):
            found.append(f"{where} reaches into {ast.unparse(node)}")
    return found


def test_the_shells_go_through_the_engine() -> None:
    """The CLI, the server and the eval parse, call the engine and print: none opens the store,
    the vector index, the memory store or the adapter registry, or reaches into an engine's."""
    found = []
    for shell in SHELLS:
        for path in sorted((SRC / shell).rglob("*.py")):
            found += _reaches_past_the_engine(path)
    assert found == []
