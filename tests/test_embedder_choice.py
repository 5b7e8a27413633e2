"""Choosing an embedder through each door: the CLI (ingest, search, reindex, ask, memory), the
server (/v1/embeddings names it) and memory (facts another embedder wrote are re-embedded).

The second embedder is a real sentence-transformers folder, the bundled MiniLM cut to 2 layers
(`minilm_2l`); answers come from EchoBackend, since the model is not what is tested here.
"""

from __future__ import annotations

import openai

from outweigh.embed import EMBEDDER_NAME, SentenceTransformerEmbedder
from outweigh.engine import AskOptions, Engine
from outweigh.serve import BackgroundServer, ServeSettings, create_app, ready
from outweigh.testing import EchoBackend


def test_cli_ingest_search_reindex_with_a_chosen_embedder(cli, minilm_2l, suite_docs, paths):
    other = str(minilm_2l)
    assert cli("ingest", str(suite_docs), "-c", "hr", "--embedder", other).code == 0
    ok = cli("search", "Heron-7 depth", "-c", "hr", "--embedder", other, "--json")
    assert ok.code == 0 and "equipment.md" in ok.out
    refused = cli("search", "Heron-7 depth", "-c", "hr")  # the bundled embedder
    assert refused.code == 2
    assert refused.err.strip().count("\n") == 0
    assert f"outweigh reindex --collection hr --embedder {EMBEDDER_NAME}" in refused.err
    # ingesting into it with the bundled embedder is refused the same way, writing nothing
    before = Engine(paths).count_chunks("hr")
    mixed = cli("ingest", str(suite_docs), "-c", "hr", "--prune")
    assert mixed.code == 2 and "outweigh reindex --collection hr" in mixed.err
    assert Engine(paths).count_chunks("hr") == before
    assert cli("reindex", "-c", "hr").code == 0
    assert cli("search", "Heron-7 depth", "-c", "hr", "--json").code == 0
    assert cli("reindex", "-c", "nope").code == 2  # unknown collection: one line


def test_ask_refuses_a_mismatch_before_the_model_loads(paths, minilm_2l, suite_docs):
    Engine(paths, embedder=str(minilm_2l)).ingest([suite_docs], "hr")
    backend = EchoBackend()
    engine = Engine(paths, backend=backend)
    try:
        engine.ask("What is the Heron-7 rated to?", AskOptions(collection="hr"))
    except Exception as e:
        assert "outweigh reindex --collection hr" in str(e)
    else:
        raise AssertionError("a mismatched collection was searched")
    assert backend.requests == []
    answer = Engine(paths, embedder=str(minilm_2l), backend=backend).ask(
        "What is the Heron-7 rated to?", AskOptions(collection="hr")
    )
    assert answer.context


def test_memory_reembeds_facts_another_embedder_wrote(paths, embedder, minilm_2l):
    first = Engine(paths, embedder=embedder)
    first.memory.remember("ann", "My cat is called Pixel.")
    first.close()
    second = Engine(paths, embedder=str(minilm_2l))
    found = second.memory.search("ann", "what is my cat called", 1)
    assert [m.text for m in found] == ["My cat is called Pixel."]
    row = second.memory.conn.execute("SELECT embedder FROM memories").fetchone()
    assert row[0] == str(minilm_2l.resolve())  # re-embedded on the way, once


def test_the_server_embeds_with_the_chosen_model(paths, minilm_2l):
    settings = ServeSettings(embedder=str(minilm_2l))
    engine = Engine(paths, backend=EchoBackend(), embedder=settings.embedder)
    ready(settings, engine)
    with BackgroundServer(create_app(engine, settings)) as server:
        client = openai.OpenAI(base_url=server.url, api_key="none", max_retries=0)
        out = client.embeddings.create(model="any", input=["tidal robots"])
    want = SentenceTransformerEmbedder(str(minilm_2l)).embed_batch(["tidal robots"])[0]
    assert out.model == str(minilm_2l.resolve())
    assert max(abs(a - b) for a, b in zip(out.data[0].embedding, want, strict=True)) < 1e-5
    engine.close()
