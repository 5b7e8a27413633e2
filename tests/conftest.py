"""Shared fixtures: a fresh state dir per test, real models loaded once per session.

Converted model weights live in `.cache/models` (override with OUTWEIGH_MODELS_DIR), so each
bundled GGUF is dequantized once per checkout, not once per test.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from outweigh.settings import Paths

ROOT = Path(__file__).resolve().parents[1]
MODELS_DIR = Path(os.environ.get("OUTWEIGH_MODELS_DIR", ROOT / ".cache" / "models"))
os.environ["OUTWEIGH_MODELS_DIR"] = str(MODELS_DIR)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
SUITE = ROOT / "examples" / "suite"


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own OUTWEIGH_HOME."""
    h = tmp_path / "home"
    monkeypatch.setenv("OUTWEIGH_HOME", str(h))
    return h


@pytest.fixture
def paths(home: Path) -> Paths:
    return Paths(home)


@pytest.fixture(scope="session")
def embedder():
    """The real all-MiniLM-L6-v2, loaded once."""
    from outweigh.embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def smol():
    """The real SmolLM2-135M-Instruct, converted once and loaded once."""
    from outweigh.models import load

    return load("smollm2-135m")


@pytest.fixture(scope="session")
def smol_backend(smol):
    from outweigh.generate.local import LocalBackend

    return LocalBackend(smol)


@pytest.fixture(scope="session")
def gemma():
    """The real Gemma-3-270M base, converted once and loaded once."""
    from outweigh.models import load

    return load("gemma3-270m")


@pytest.fixture
def suite_docs() -> Path:
    return SUITE / "docs"
