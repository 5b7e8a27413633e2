"""Dependencies point down: no module imports one from a layer above it, lazy imports and
TYPE_CHECKING imports included (docs/architecture.md has the order)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "outweigh"

LAYERS: list[set[str]] = [
    {"errors"},
    {"settings", "names", "text", "db", "embed", "plan", "prompt", "attribution", "locks"},
    {"retrieval", "models"},
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
