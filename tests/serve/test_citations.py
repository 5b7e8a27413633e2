"""One answer, one list of citations, through every door: `outweigh ask --json`, the server
(the real openai SDK, whole and streamed) and the eval's per-question `cited`, on the real
SmolLM2 and embedder."""

from __future__ import annotations

import dataclasses
import json
from pathlib import PurePath

import pytest

from outweigh.engine import Engine
from outweigh.eval import EvalOptions, load_suite, run_eval
from outweigh.settings import Paths
from tests.conftest import SUITE
from tests.serve.conftest import start

QUESTION = "What is the maximum depth the Heron-7 submersible is rated to?"
K, MAX_TOKENS = 3, 32


def _names(citations: list[dict]) -> list[str]:
    return [PurePath(c["source"]).name for c in citations]


@pytest.mark.slow
def test_every_door_reports_the_same_true_citations(
    paths: Paths, embedder, smol_backend, cli
) -> None:
    engine = Engine(paths, embedder=embedder, backend=smol_backend)
    engine.ingest([SUITE / "docs"], "docs")
    server, live = start(engine)
    try:
        request = {
            "model": "smollm2-135m",
            "messages": [{"role": "user", "content": QUESTION}],
            "max_tokens": MAX_TOKENS,
            "extra_body": {"collection": "docs", "k": K},
        }
        whole = live.client.chat.completions.create(**request)
        chunks = list(live.client.chat.completions.create(stream=True, **request))
    finally:
        server.__exit__()
        engine.close()
    served = whole.model_extra["citations"]
    assert "412" in whole.choices[0].message.content
    # True citations: the passage holding the answer, not every passage of the three.
    assert _names(served) == ["equipment.md"] and "412" in served[0]["text"]
    assert chunks[-1].model_extra["citations"] == served

    # The served backend takes no adapters, so the CLI reads without the bundled reader too.
    asked = cli(
        "ask", QUESTION, "--json", "-c", "docs", "-k", str(K),
        "--max-tokens", str(MAX_TOKENS), "--no-memory", "--no-reader",
    )  # fmt: skip
    assert asked.code == 0, asked.err
    out = json.loads(asked.out)
    assert out["answer"] == whole.choices[0].message.content
    assert [(c["n"], c["chunk_id"], c["text"]) for c in out["citations"]] == [
        (c["n"], c["chunk_id"], c["text"]) for c in served
    ]

    suite = load_suite(SUITE)
    one = [q for q in suite.questions if q.question == QUESTION]
    result = run_eval(
        dataclasses.replace(suite, questions=tuple(one), style=(), memory=()),
        ["smollm2-135m+rag"],
        EvalOptions(k=K, max_tokens=MAX_TOKENS),
        paths,
        embedder=embedder,
        backend_factory=lambda model: smol_backend,
    )
    (record,) = [r for r in result.records if r.part == "facts"]
    assert record.answer == out["answer"]
    assert record.cited == _names(served)
    assert 1 <= len(record.context) <= K and record.diagnosis == "right"
