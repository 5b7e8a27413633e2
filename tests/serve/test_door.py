"""The engine is the one door: the same request through the CLI and through the server runs
the same preflight, and a document is removed the same way from either side."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from outweigh.engine import AskOptions, Engine
from outweigh.testing import EchoBackend
from tests.serve.conftest import Live, start

FACT = b"# Lighthouse\n\nThe Brindle lighthouse keeper is named Ottoline Farrow.\n"


@pytest.fixture
def preflights(monkeypatch: pytest.MonkeyPatch) -> list[tuple[AskOptions, str | None]]:
    """Every `Engine.preflight` call in this process: (options, question), and what it raised."""
    seen: list[tuple[AskOptions, str | None]] = []
    real = Engine.preflight

    def spy(self, options, model=None, question=None, on_sync=None):  # type: ignore[no-untyped-def]
        seen.append((options, question))
        return real(self, options, model, question, on_sync)

    monkeypatch.setattr(Engine, "preflight", spy)
    return seen


@pytest.mark.parametrize(
    ("cli_args", "body", "message"),
    [
        (["-c", "nope", "--no-memory"], {"collection": "nope", "rag": True}, "collection 'nope'"),
        (["--no-rag", "--user", "ann"], {"user": "ann"}, "over the memory cap of 40"),
    ],
)
def test_cli_and_server_refuse_a_request_in_the_same_preflight(
    cli, live_factory, preflights, monkeypatch, cli_args, body, message
) -> None:
    monkeypatch.setenv("OUTWEIGH_MAX_MESSAGE_CHARS", "40")
    question = "Who keeps the Brindle lighthouse, and since which year exactly?"
    live = live_factory()
    said = cli("ask", *cli_args, question)
    assert said.code == 2 and message in said.err and "Traceback" not in said.err
    with pytest.raises(openai.APIStatusError) as refused:
        live.client.chat.completions.create(
            model="echo", messages=[{"role": "user", "content": question}], extra_body=body
        )
    assert message in refused.value.message
    # Both refusals came from the engine's preflight, for the same question and options.
    (by_cli, q1), (by_server, q2) = preflights
    assert q1 == q2 == question
    same = ("collection", "rag", "memory", "adapter", "k")
    assert [getattr(by_cli, f) for f in same] == [getattr(by_server, f) for f in same]


def _upload(url: str, name: str) -> dict:
    response = httpx.post(f"{url}/collections/notes/documents", files={"file": (name, FACT)})
    assert response.status_code == 201, response.text
    return response.json()["document"]


@pytest.fixture
def real_live(paths, embedder) -> Iterator[Live]:
    """A server over the test's state dir with the real embedder, as the CLI has."""
    engine = Engine(paths=paths, backend=EchoBackend(), embedder=embedder)
    server, live = start(engine)
    yield live
    server.__exit__()
    engine.close()


def test_a_document_is_removed_the_same_way_by_the_cli_and_the_server(
    cli, real_live: Live, tmp_path: Path
) -> None:
    live = real_live
    # An upload removed by the CLI, by id: its row and the file the server stored both go.
    uploaded = _upload(live.url, "lighthouse.md")
    assert uploaded["source"] == "lighthouse.md"  # the server shows no absolute path
    stored = live.engine.paths.uploads_dir / "notes" / "lighthouse.md"
    assert stored.is_file()
    assert cli("docs", "rm", str(uploaded["id"]), "-c", "notes").code == 0
    assert not stored.exists()
    assert httpx.get(f"{live.url}/collections/notes/documents").json()["data"] == []

    # A user's own file removed by the server: its row goes, the file on disk stays.
    mine = tmp_path / "mine.md"
    mine.write_bytes(FACT)
    assert cli("ingest", str(mine), "-c", "notes").code == 0
    (row,) = httpx.get(f"{live.url}/collections/notes/documents").json()["data"]
    gone = httpx.delete(f"{live.url}/collections/notes/documents/{row['id']}")
    assert gone.status_code == 200 and mine.is_file()
    assert "no document" in cli("docs", "rm", str(mine), "-c", "notes").err
