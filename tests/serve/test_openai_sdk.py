"""The real openai SDK against a real uvicorn server running the real SmolLM2."""

from __future__ import annotations

import openai
import pytest

from outweigh.adapters import AdapterRegistry
from outweigh.engine import AskOptions, Engine
from outweigh.generate.local import LocalBackend
from outweigh.testing import FakeEmbedder
from tests.serve.conftest import Live, register_adapter, start

QUESTION = "Who is the director of the Vellmark Tidal Robotics Cooperative?"


def test_models_list_names_the_base_model(smol_live: Live) -> None:
    ids = [m.id for m in smol_live.client.models.list()]
    assert ids[0] == "smollm2-135m"
    assert smol_live.client.models.retrieve("smollm2-135m").id == "smollm2-135m"


def test_chat_matches_a_direct_library_call(smol_live: Live) -> None:
    """Same prompt, same greedy decoding: the server adds transport, not a different answer."""
    reply = smol_live.client.chat.completions.create(
        model="smollm2-135m",
        messages=[{"role": "user", "content": QUESTION}],
        max_tokens=16,
        extra_body={"rag": True, "collection": "docs", "k": 2},
    )
    direct = smol_live.engine.ask(QUESTION, AskOptions(collection="docs", k=2, max_tokens=16))
    choice = reply.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == direct.answer
    assert choice.finish_reason in ("stop", "length")
    assert reply.usage.completion_tokens <= 16
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    cites = reply.model_extra["citations"]
    assert [c["chunk_id"] for c in cites] == [c.chunk_id for c in direct.citations]
    assert all({"source", "chunk_id", "text"} <= set(c) for c in cites)


def test_stream_sends_the_same_answer_and_citations_last(smol_live: Live) -> None:
    kwargs = {
        "model": "smollm2-135m",
        "messages": [{"role": "user", "content": QUESTION}],
        "max_tokens": 16,
        "extra_body": {"collection": "docs", "k": 2},
    }
    whole = smol_live.client.chat.completions.create(**kwargs)
    chunks = list(
        smol_live.client.chat.completions.create(
            stream=True, stream_options={"include_usage": True}, **kwargs
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip() == whole.choices[0].message.content
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) > 1
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] in ("stop", "length") and not any(finishes[:-1])
    last = chunks[-1]
    assert last.usage is not None and last.usage.completion_tokens > 0
    assert [c["chunk_id"] for c in last.model_extra["citations"]] == [
        c["chunk_id"] for c in whole.model_extra["citations"]
    ]
    assert all("citations" not in (c.model_extra or {}) for c in chunks[:-1])


def test_rag_defaults_on_with_documents_and_off_on_request(smol_live: Live) -> None:
    ask = smol_live.client.chat.completions.create
    messages = [{"role": "user", "content": QUESTION}]
    # Long enough to name the director ("Odalys Brenne", cut at the cap), so the answer rests
    # on a passage it can cite.
    grounded = ask(
        model="smollm2-135m", messages=messages, max_tokens=16, extra_body={"collection": "docs"}
    )
    bare = ask(
        model="smollm2-135m",
        messages=messages,
        max_tokens=4,
        extra_body={"collection": "docs", "rag": False},
    )
    empty = ask(model="smollm2-135m", messages=messages, max_tokens=4)  # `default` has no docs
    assert "Odalys" in grounded.choices[0].message.content
    assert any(c["source"].endswith("overview.md") for c in grounded.model_extra["citations"])
    assert bare.model_extra["citations"] == []
    assert empty.model_extra["citations"] == []


def test_sampling_parameters_are_honoured(smol_live: Live) -> None:
    ask = smol_live.client.chat.completions.create
    base = {
        "model": "smollm2-135m",
        "messages": [{"role": "user", "content": "Write one sentence about the sea."}],
        "extra_body": {"rag": False},
    }
    a = ask(temperature=1.5, top_p=0.95, seed=7, max_tokens=12, **base)
    b = ask(temperature=1.5, top_p=0.95, seed=7, max_tokens=12, **base)
    assert a.choices[0].message.content == b.choices[0].message.content
    short = ask(max_tokens=3, **base)
    assert short.choices[0].finish_reason == "length"
    assert short.usage.completion_tokens == 3
    two = ask(n=2, seed=1, temperature=1.0, max_tokens=4, **base)
    assert [c.index for c in two.choices] == [0, 1]
    assert 2 <= two.usage.completion_tokens <= 8  # both choices counted, 4 tokens each at most


def test_unknown_model_is_a_not_found_error(smol_live: Live) -> None:
    with pytest.raises(openai.NotFoundError, match="choose one of: smollm2-135m"):
        smol_live.client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}], max_tokens=4
        )


def test_max_tokens_over_the_context_is_rejected(smol_live: Live) -> None:
    with pytest.raises(openai.BadRequestError, match="max_tokens 100000") as e:
        smol_live.client.chat.completions.create(
            model="smollm2-135m",
            messages=[{"role": "user", "content": "hi"}],
            max_tokens=100_000,
        )
    assert e.value.body["param"] == "max_tokens"


def test_embeddings_come_from_the_servers_embedder(smol_live: Live) -> None:
    out = smol_live.client.embeddings.create(model="any", input=["tidal robots", "leave policy"])
    direct = smol_live.engine.embedder.embed_batch(["tidal robots", "leave policy"])
    assert [d.index for d in out.data] == [0, 1]
    assert out.model == smol_live.engine.embedder.name
    for got, want in zip(out.data, direct, strict=True):
        assert got.embedding == pytest.approx(want.tolist(), abs=1e-6)
    as_floats = smol_live.client.embeddings.create(
        model="any", input="tidal robots", encoding_format="float"
    )
    assert as_floats.data[0].embedding == pytest.approx(direct[0].tolist(), abs=1e-6)


def test_an_adapter_is_chosen_by_model_name(paths, smol) -> None:
    """`model` = an adapter's name runs that adapter on its base, exactly as the library does."""
    register_adapter(paths, "style")
    registry = AdapterRegistry(paths)
    engine = Engine(paths=paths, backend=LocalBackend(smol, registry), embedder=FakeEmbedder())
    server, live = start(engine)
    try:
        cards = {m.id: m for m in live.client.models.list()}
        assert set(cards) == {"smollm2-135m", "style"}
        assert cards["style"].model_extra["parent"] == "smollm2-135m"
        question = "Name three colours."
        ask = live.client.chat.completions.create
        kwargs = {"messages": [{"role": "user", "content": question}], "max_tokens": 12}
        styled = ask(model="style", **kwargs)
        bare = ask(model="smollm2-135m", **kwargs)
        direct = engine.ask(question, AskOptions(rag=False, max_tokens=12, adapter="style"))
        assert styled.model == "style"
        assert styled.choices[0].message.content == direct.answer
        assert styled.choices[0].message.content != bare.choices[0].message.content
    finally:
        server.__exit__()
        engine.close()
        registry.close()
