"""Fixtures for the server: real uvicorn servers on free loopback ports, spoken to with the
real openai SDK. Generation uses the real SmolLM2 where the test is about answers, and
EchoBackend where it is about the HTTP surface (fast, and it records each prompt it saw).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from fastapi import FastAPI

from outweigh.engine import Engine
from outweigh.generate.base import GenerationRequest
from outweigh.serve import BackgroundServer, ServeSettings, create_app
from outweigh.settings import Paths
from outweigh.testing import EchoBackend, FakeEmbedder

KEY = "test-key-1234"
SUITE_DOCS = Path(__file__).resolve().parents[2] / "examples" / "suite" / "docs"


class Live:
    """A running server: its engine, its base URL and an SDK client for it."""

    def __init__(
        self, server: BackgroundServer, app: FastAPI, engine: Engine, api_key: str = "none"
    ) -> None:
        self.server = server
        self.app = app
        self.engine = engine
        self.url = server.url
        # A stalled answer fails the test in minutes, not after the SDK's default 10.
        self.client = openai.OpenAI(
            base_url=server.url, api_key=api_key, max_retries=0, timeout=180
        )


def start(
    engine: Engine, settings: ServeSettings | None = None, api_key: str = "none"
) -> tuple[BackgroundServer, Live]:
    app = create_app(engine, settings)
    server = BackgroundServer(app)
    server.__enter__()
    return server, Live(server, app, engine, api_key)


@pytest.fixture(scope="module")
def smol_live(tmp_path_factory, smol_backend) -> Iterator[Live]:
    """The real SmolLM2 behind a server whose `docs` collection holds the example suite."""
    paths = Paths(tmp_path_factory.mktemp("smol-home"))
    engine = Engine(paths=paths, backend=smol_backend, embedder=FakeEmbedder())
    engine.ingest([SUITE_DOCS], "docs")
    server, live = start(engine)
    yield live
    server.__exit__()
    engine.close()


@pytest.fixture(scope="module")
def echo_live(tmp_path_factory) -> Iterator[Live]:
    """An EchoBackend server (named like the bundled model) with the example suite ingested."""
    paths = Paths(tmp_path_factory.mktemp("echo-home"))
    engine = Engine(paths=paths, backend=EchoBackend("smollm2-135m"), embedder=FakeEmbedder())
    engine.ingest([SUITE_DOCS], "docs")
    server, live = start(engine)
    yield live
    server.__exit__()
    engine.close()


@pytest.fixture
def live_factory(paths: Paths) -> Iterator:
    """Start servers with chosen settings and backend; all are stopped after the test."""
    running: list[tuple[BackgroundServer, Engine]] = []

    def make(
        settings: ServeSettings | None = None,
        backend: EchoBackend | None = None,
        api_key: str = "none",
    ) -> Live:
        engine = Engine(paths=paths, backend=backend or EchoBackend(), embedder=FakeEmbedder())
        server, live = start(engine, settings, api_key)
        running.append((server, engine))
        return live

    yield make
    for server, engine in running:
        server.__exit__()
        engine.close()


class BlockingBackend(EchoBackend):
    """Holds every generation until `go` is set, so tests can fill the server's slots."""

    def __init__(self) -> None:
        super().__init__(name="blocking")
        self.entered = threading.Semaphore(0)
        self.go = threading.Event()

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        self.entered.release()
        self.go.wait(30)
        yield from super().stream(request)


def register_adapter(paths: Paths, name: str, seed: int = 0, scale: float = 0.1) -> None:
    """Register a random LoRA on SmolLM2's q_proj under `name`, written the way PEFT saves one.

    Random (not zero) B matrices, so the adapter visibly changes greedy answers.
    """
    import json

    import numpy as np
    from safetensors.numpy import save_file

    from outweigh.adapters import AdapterRegistry
    from outweigh.models import pull

    cfg = json.loads((Path(pull("smollm2-135m", paths)) / "config.json").read_text())
    hidden, rank = cfg["hidden_size"], 4
    out = cfg["num_attention_heads"] * cfg.get("head_dim", hidden // cfg["num_attention_heads"])
    rng = np.random.default_rng(seed)
    tensors = {}
    for layer in range(cfg["num_hidden_layers"]):
        key = f"base_model.model.model.layers.{layer}.self_attn.q_proj"
        tensors[f"{key}.lora_A.weight"] = rng.normal(0, scale, (rank, hidden)).astype("float32")
        tensors[f"{key}.lora_B.weight"] = rng.normal(0, scale, (out, rank)).astype("float32")
    src = paths.root / "adapter-src" / name
    src.mkdir(parents=True)
    save_file(tensors, str(src / "adapter_model.safetensors"))
    config = {
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "r": rank,
        "lora_alpha": 2 * rank,
        "lora_dropout": 0.0,
        "target_modules": ["q_proj"],
        "bias": "none",
        "base_model_name_or_path": "HuggingFaceTB/SmolLM2-135M-Instruct",
        "inference_mode": True,
    }
    (src / "adapter_config.json").write_text(json.dumps(config))
    registry = AdapterRegistry(paths)
    try:
        registry.add(src, name)
    finally:
        registry.close()
