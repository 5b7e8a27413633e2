"""Adapters at work on the real SmolLM2: style adherence, switching, mixed batches, mixes,
merging. All of it over the adapter trained once per session (conftest `signoff`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.adapters.conftest import SIGNOFF, STYLE, Trained

from outweigh import AskOptions, Engine, InputError
from outweigh.adapters import AdapterRegistry, merge_adapter
from outweigh.generate.lora import AdapterRuntime

pytestmark = pytest.mark.slow

PROMPTS = ["What is the capital of Peru?", "Name a colour of the rainbow.", "What is 3 plus 4?"]


def heldout() -> list[str]:
    lines = (STYLE / "heldout.jsonl").read_text("utf-8").splitlines()
    return [json.loads(line)["prompt"] for line in lines if line.strip()]


def encode(backend: Any, prompts: list[str]) -> tuple[Any, Any]:
    """Left-padded (B, T) ids and mask of the engine's no-retrieval prompt for each question."""
    from outweigh.prompt import build_messages

    texts = [
        backend.render(build_messages([{"role": "user", "content": p}], [], False)) for p in prompts
    ]
    enc = backend.tokenizer(
        texts, return_tensors="pt", padding=True, padding_side="left", add_special_tokens=False
    )
    return enc["input_ids"], enc["attention_mask"]


def alone(runtime: AdapterRuntime, spec: str | None, ids: Any, mask: Any) -> Any:
    """Logits with `spec` switched on the ordinary way (no mixed-batch path)."""
    import torch

    with torch.inference_mode(), runtime.switched(spec) as model:
        return model(input_ids=ids, attention_mask=mask).logits


def test_trained_adapter_signs_off_where_the_base_never_does(
    backend: Any, signoff: Trained
) -> None:
    """The issue's bar: held-out adherence < 10% for the base, > 80% with the adapter."""
    engine = Engine(signoff.paths, backend=backend)
    prompts = heldout()
    requests = [
        engine.prepare(
            [{"role": "user", "content": p}], AskOptions(rag=False, max_tokens=48, adapter=a)
        ).request
        for a in ("signoff", None)
        for p in prompts
    ]
    answers = [g.text for g in backend.generate_batch(requests)]
    with_adapter = sum(a.endswith(SIGNOFF) for a in answers[: len(prompts)]) / len(prompts)
    bare = sum(a.endswith(SIGNOFF) for a in answers[len(prompts) :]) / len(prompts)
    assert bare < 0.10, answers[len(prompts) :]
    assert with_adapter > 0.80, answers[: len(prompts)]


def test_engine_answers_through_the_adapter_and_streams_the_same(
    backend: Any, signoff: Trained
) -> None:
    engine = Engine(signoff.paths, backend=backend)
    opts = AskOptions(rag=False, max_tokens=48, adapter="signoff")
    answer = engine.ask(PROMPTS[0], opts)
    assert answer.adapter == "signoff"
    assert answer.answer.endswith(SIGNOFF)
    _, pieces = engine.stream([{"role": "user", "content": PROMPTS[0]}], opts)
    assert "".join(pieces).strip() == answer.answer


def test_no_adapter_is_exactly_the_base_model(backend: Any, smol: Any) -> None:
    """After adapters are loaded and used, a request without one is bit-for-bit the base."""
    import torch

    ids, mask = encode(backend, PROMPTS)
    backend.runtime.key("signoff")
    with_adapter = alone(backend.runtime, "signoff", ids, mask)
    after = backend.runtime.logits(ids, mask, [None] * len(PROMPTS))
    with torch.inference_mode():
        pristine = smol.model(input_ids=ids, attention_mask=mask).logits  # never saw a LoRA
    assert torch.equal(after, pristine)
    assert not torch.allclose(with_adapter, pristine, atol=1e-3)
    # Running the held model directly (as other code might) is the base too.
    with torch.inference_mode():
        direct = backend.loaded.model(input_ids=ids, attention_mask=mask).logits
    assert torch.equal(direct, pristine)


def test_mixed_batch_rows_equal_each_adapter_alone(backend: Any) -> None:
    """peft's invariant: row i of a mixed batch is what its adapter gives on its own."""
    import torch

    prompts = [*PROMPTS, "Give me a tip for better sleep."]
    specs = ["signoff", "noise", None, "noise:0.5,signoff:0.5"]
    ids, mask = encode(backend, prompts)
    mixed = backend.runtime.logits(ids, mask, specs)
    for i, spec in enumerate(specs):
        own = alone(backend.runtime, spec, ids, mask)
        torch.testing.assert_close(mixed[i], own[i], rtol=0, atol=1e-4)
    base = alone(backend.runtime, None, ids, mask)
    for i in (0, 1, 3):
        assert (mixed[i] - base[i]).abs().max() > 1e-2  # each adapter does change its row


def test_switching_keeps_adapters_loaded_and_mixes_cached(backend: Any) -> None:
    runtime = backend.runtime
    first = runtime.key("noise:0.3,signoff:0.7")
    runtime.key("signoff")
    runtime.key("noise")
    assert runtime.key("signoff:0.7,noise:0.3") == first  # same mix, another spelling
    assert runtime.loaded() == ["noise", "signoff"]


def test_weight_one_mix_is_the_adapter_itself(backend: Any) -> None:
    import torch

    ids, mask = encode(backend, PROMPTS)
    solo = alone(backend.runtime, "signoff", ids, mask)
    mix = alone(backend.runtime, "signoff:1", ids, mask)
    torch.testing.assert_close(mix, solo, rtol=0, atol=1e-4)


def test_a_re_registered_name_reloads(
    backend: Any, signoff: Trained, lora_dir: Callable[..., Path]
) -> None:
    import torch

    ids, mask = encode(backend, PROMPTS[:1])
    before = alone(backend.runtime, "noise", ids, mask)
    registry = AdapterRegistry(signoff.paths)
    registry.remove("noise")
    registry.add(lora_dir("noise2", seed=99, scale=0.08), "noise")
    after = alone(backend.runtime, "noise", ids, mask)
    assert not torch.allclose(before, after, atol=1e-3)


def test_an_adapter_for_another_base_is_refused(private_smol: Any, signoff: Trained) -> None:
    registry = AdapterRegistry(signoff.paths)
    runtime = AdapterRuntime(private_smol.model, "gemma3-270m", registry)
    with pytest.raises(InputError, match="trained on smollm2-135m, not gemma3-270m"):
        runtime.key("signoff")
    registry.close()


def test_merged_model_gives_the_adapters_logits(
    backend: Any, signoff: Trained, tmp_path: Path
) -> None:
    import torch

    from outweigh.models import load

    out = merge_adapter("signoff", tmp_path / "merged", signoff.paths)
    names = {p.name for p in out.iterdir()}
    assert "model.safetensors" in names and "config.json" in names
    assert not names & {"adapter_config.json", "adapter_model.safetensors"}
    merged = load(str(out))
    ids, mask = encode(backend, PROMPTS)
    want = alone(backend.runtime, "signoff", ids, mask)
    with torch.inference_mode():
        got = merged.model(input_ids=ids, attention_mask=mask).logits
    torch.testing.assert_close(got, want, rtol=0, atol=1e-3)
    with pytest.raises(InputError, match="not empty"):
        merge_adapter("signoff", out, signoff.paths)
