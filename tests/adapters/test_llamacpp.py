"""LoRA adapters on the llama.cpp backend: the trained sign-off appears through it as through
transformers, requests switch and mix adapters over one loaded base, and registering writes the
adapter's GGUF form with llama.cpp's own converter."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.adapters.conftest import SIGNOFF, STYLE, Trained

from outweigh.engine import AskOptions, Engine
from outweigh.generate.batcher import TURN_STEPS
from outweigh.generate.choose import llamacpp_installed

if not llamacpp_installed():
    pytest.skip("llama-cpp-python is not installed", allow_module_level=True)

N_PROMPTS = 6
"""Held-out prompts per backend and arm; enough that 80% is 5 of 6."""


@pytest.fixture(scope="module")
def llama(signoff: Trained) -> Iterator[Any]:
    """SmolLM2 through llama.cpp, resolving adapters in the session's registry (with `noise`)."""
    from tests.adapters.conftest import write_lora

    from outweigh.adapters import AdapterRegistry
    from outweigh.generate.choose import open_local
    from outweigh.models.options import LoadOptions

    registry = AdapterRegistry(signoff.paths)
    if "noise" not in registry.names():
        registry.add(write_lora(signoff.paths.root / "noise-src", seed=7, scale=0.08), "noise")
    options = LoadOptions(backend="llamacpp", slots=4)
    backend = open_local("smollm2-135m", signoff.paths, options, registry)
    yield backend
    backend.close()
    registry.close()


def heldout() -> list[str]:
    lines = (STYLE / "heldout.jsonl").read_text("utf-8").splitlines()
    return [json.loads(line)["prompt"] for line in lines if line.strip()][:N_PROMPTS]


def signed(backend: Any, paths: Any, adapter: str | None) -> tuple[float, list[str]]:
    """Share of held-out answers that end with the sign-off, and the answers."""
    engine = Engine(paths, backend=backend)
    opts = AskOptions(rag=False, max_tokens=48, adapter=adapter)
    answers = [engine.ask(p, opts).answer for p in heldout()]
    return sum(a.endswith(SIGNOFF) for a in answers) / len(answers), answers


def test_the_trained_signoff_appears_through_both_backends(
    llama: Any, backend: Any, signoff: Trained
) -> None:
    """The same adapter, trained once in PEFT: its effect through llama.cpp (the GGUF form)
    is the effect through transformers (the PEFT form), and the base never signs off."""
    for b in (llama, backend):
        rate, answers = signed(b, signoff.paths, "signoff")
        assert rate > 0.8, (type(b).__name__, answers)
    bare, answers = signed(llama, signoff.paths, None)
    assert bare < 0.1, answers


def test_requests_switch_and_mix_without_reloading_the_base(llama: Any, signoff: Trained) -> None:
    """Base, adapter, mix and base again over one loaded model: the base answer is the base's
    after an adapter ran (no adapter state or cached keys left over), a mix is the adapters'
    scales set for the request (`signoff:1` is the adapter itself), and the model and each
    adapter load once."""
    engine = Engine(signoff.paths, backend=llama)
    model = llama.llm

    def ask(adapter: str | None) -> str:
        question = "What is the capital of Peru?"
        return engine.ask(question, AskOptions(rag=False, max_tokens=32, adapter=adapter)).answer

    base = ask(None)
    with_signoff = ask("signoff")
    assert with_signoff != base
    assert ask("signoff:1") == with_signoff
    assert ask("noise") not in (base, with_signoff)
    assert ask("signoff:0.5,noise:0.5")
    assert ask(None) == base
    assert llama.llm is model
    assert llama.loaded_adapters() == ["noise", "signoff"]
    _, pieces = engine.stream(
        [{"role": "user", "content": "What is the capital of Peru?"}],
        AskOptions(rag=False, max_tokens=32, adapter="signoff"),
    )
    assert "".join(pieces).strip() == with_signoff


@pytest.mark.eager_gguf
def test_registering_writes_the_gguf_form(
    paths: Any, lora_dir: Callable[..., Path], smol_llama: Any
) -> None:
    """`adapter add` leaves the PEFT files and the GGUF that llama.cpp's converter wrote, which
    llama.cpp loads."""
    import llama_cpp

    from outweigh.adapters import AdapterRegistry
    from outweigh.adapters.gguf import GGUF_FILE

    registry = AdapterRegistry(paths)
    registry.add(lora_dir("noise", seed=3), "fresh")
    out = registry.path("fresh") / GGUF_FILE
    assert out.is_file()
    assert out.read_bytes()[:4] == b"GGUF"
    ptr = llama_cpp.llama_adapter_lora_init(smol_llama.llm.model, str(out).encode())
    assert ptr
    llama_cpp.llama_adapter_lora_free(ptr)
    registry.close()


def test_requests_under_different_adapters_at_once_answer_as_alone(llama: Any) -> None:
    """Base, adapter, mix and base requests sent together: a batch runs one adapter set, the
    sets take turns, and each answer is the one its request gets alone."""
    import threading

    from outweigh.generate.base import GenerationRequest

    specs = [None, "signoff", None, "noise", "signoff:0.5,noise:0.5", "signoff", None]
    questions = ["What is the capital of Peru?", "Name a large animal."]
    requests = [
        GenerationRequest(
            [{"role": "user", "content": questions[i % 2]}], max_tokens=24, adapter=spec
        )
        for i, spec in enumerate(specs)
    ]
    alone = [llama.generate(r).text for r in requests]
    switches = llama.batcher.counters.switches
    together: list[str] = [""] * len(requests)

    def run(i: int) -> None:
        together[i] = llama.generate(requests[i]).text

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert together == alone
    # A set runs its answers together, a turn of TURN_STEPS steps at a time: not a switch
    # per request or per token.
    steps = llama.batcher.counters.steps
    assert llama.batcher.counters.switches - switches <= steps // TURN_STEPS + len(set(specs))
    assert (
        llama.generate_batch(requests) and [g.text for g in llama.generate_batch(requests)] == alone
    )
