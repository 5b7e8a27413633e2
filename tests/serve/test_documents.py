"""Document management over HTTP: upload, list, delete; bad uploads leave nothing behind."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from outweigh.serve import ServeSettings
from tests.serve.conftest import SUITE_DOCS, Live

FACT = b"# Lighthouse\n\nThe Brindle lighthouse keeper is named Ottoline Farrow.\n"


def _upload(live: Live, name: str, data: bytes, collection: str = "notes") -> httpx.Response:
    return httpx.post(
        f"{live.url}/collections/{collection}/documents", files={"file": (name, data)}
    )


def _no_leftovers(live: Live) -> None:
    """Nothing half-written: no staged files and no rows beyond what was acknowledged."""
    uploads = live.engine.paths.root / "uploads"
    staged = list((uploads / ".incoming").glob("*")) if uploads.exists() else []
    assert staged == []


def test_upload_list_ask_delete_round_trip(live_factory) -> None:
    live = live_factory()
    first = _upload(live, "lighthouse.md", FACT)
    assert first.status_code == 201, first.text
    doc = first.json()["document"]
    assert doc["n_chunks"] >= 1 and first.json()["unchanged"] is False
    again = _upload(live, "lighthouse.md", FACT)
    assert again.json()["unchanged"] is True and again.json()["document"]["id"] == doc["id"]

    listed = httpx.get(f"{live.url}/collections/notes/documents").json()["data"]
    assert [d["id"] for d in listed] == [doc["id"]]

    reply = live.client.chat.completions.create(
        model="echo",
        messages=[{"role": "user", "content": "Who keeps the Brindle lighthouse?"}],
        extra_body={"collection": "notes"},
    )
    assert "Ottoline Farrow" in reply.model_extra["citations"][0]["text"]

    gone = httpx.delete(f"{live.url}/collections/notes/documents/{doc['id']}")
    assert gone.status_code == 200 and gone.json()["deleted"] is True
    assert httpx.get(f"{live.url}/collections/notes/documents").json()["data"] == []
    assert not (live.engine.paths.root / "uploads" / "notes" / "lighthouse.md").exists()
    again = httpx.delete(f"{live.url}/collections/notes/documents/{doc['id']}")
    assert again.status_code == 404


@pytest.mark.parametrize(
    "name, data, message",
    [
        ("evil.exe", b"MZ\x90\x00", "unsupported file type .exe"),
        ("notes.txt", b"\x00\x01\x02binary", "looks binary"),
        ("notes.txt", b"\xff\xfe\xfa bad utf-8", "not valid UTF-8"),
        ("empty.md", b"", "empty file"),
        ("fake.pdf", b"not a pdf", "not a PDF"),
        (".hidden.md", FACT, "invalid file name"),
        # No file name: the part arrives as a plain form field, not a file.
        ("", FACT, "send the document as a multipart file part named `file` with a file name"),
    ],
)
def test_bad_uploads_are_one_line_400s_and_leave_nothing(live_factory, name, data, message):
    live = live_factory()
    response = _upload(live, name, data)
    assert response.status_code in (400, 422), response.text
    error = response.json()["error"]
    assert message in error["message"]
    assert "\n" not in error["message"] and ".incoming" not in error["message"]
    _no_leftovers(live)
    assert not (live.engine.paths.root / "uploads" / "notes").exists() or not any(
        (live.engine.paths.root / "uploads" / "notes").iterdir()
    )


def test_a_form_without_one_named_file_part_is_told_how_to_send_one(live_factory) -> None:
    live = live_factory()
    url = f"{live.url}/collections/notes/documents"
    how = "send the document as a multipart file part named `file` with a file name"
    for request in (
        {"data": {"file": "just text"}},  # a text field, not a file
        {"files": {"document": ("a.md", FACT)}},  # another name
        {},  # nothing
    ):
        r = httpx.post(url, **request)
        assert r.status_code == 400 and r.json()["error"] == {
            "message": how,
            "type": "invalid_request_error",
            "param": "file",
            "code": "invalid_request",
        }, r.text
    two = httpx.post(url, files=[("file", ("a.md", FACT)), ("file", ("b.md", FACT))])
    assert two.status_code == 400 and two.json()["error"]["message"] == "send one file per request"
    assert two.json()["error"]["param"] == "file"
    _no_leftovers(live)
    assert live.engine.collections() == []


def test_a_traversal_name_stays_inside_the_uploads_folder(live_factory) -> None:
    live = live_factory()
    response = _upload(live, "../../escape.md", FACT)
    assert response.status_code == 201
    assert response.json()["document"]["source"] == "escape.md"
    assert (live.engine.paths.root / "uploads" / "notes" / "escape.md").is_file()
    assert not (live.engine.paths.root / "escape.md").exists()


def test_an_upload_cannot_pose_as_another_document(live_factory, tmp_path) -> None:
    live = live_factory()
    mine = tmp_path / "docs" / "overview.md"
    mine.parent.mkdir()
    mine.write_bytes(FACT)
    live.engine.ingest([mine], "notes")
    [ingested] = live.engine.documents("notes")
    assert _upload(live, "report.md", FACT + b"Report.\n").status_code == 201
    refused = {
        # The ingested file's own name: it would be cited as "overview.md" twice.
        "overview.md": f"already has document {ingested.id} under the same name",
        # Cyrillic о (U+043E) for the Latin o, in one word with Latin letters.
        "\u043everview.md": "mixes look-alike letters of different scripts in '\u043everview'",
        # All Cyrillic but the suffix, and each word in one script: refused by its look alone.
        "\u0441\u043e\u0440.md": "under a name that looks like it, 'cop.md'",
        "Overview.md": "under a name that looks like it, 'overview.md'",
        "rep0rt.md": "under a name that looks like it, 'report.md'",
        "\u0391\u03b2c.md": "mixes look-alike letters of different scripts",  # Greek Α, β
    }
    live.engine.ingest([_write(tmp_path / "docs" / "cop.md")], "notes")
    for name, message in refused.items():
        r = _upload(live, name, FACT)
        assert r.status_code == 400, (name, r.text)
        error = r.json()["error"]["message"]
        assert message in error, error
        assert "another name" in error or "one script" in error
        assert "\n" not in error
    _no_leftovers(live)
    names = sorted(d["source"] for d in _listed(live))
    assert names == ["cop.md", "overview.md", "report.md"]


def test_names_in_one_script_are_accepted_whatever_the_script(live_factory) -> None:
    live = live_factory()
    for name in ("отчёт.md", "Отчёт Q3.md", "東京タワー.md", "iPhone手机.md", "Ωμέγα.md"):
        r = _upload(live, name, FACT)
        assert r.status_code == 201, (name, r.text)
        assert r.json()["document"]["source"] == name
    # The same name typed on macOS arrives decomposed (е + U+0308): the same document.
    again = _upload(live, "отчёт.md".replace("ё", "е\u0308"), FACT)
    assert again.status_code == 201 and again.json()["unchanged"] is True
    assert len(_listed(live)) == 5


def _write(path: Path) -> Path:
    path.write_bytes(FACT)
    return path


def _listed(live: Live) -> list[dict]:
    return httpx.get(f"{live.url}/collections/notes/documents").json()["data"]


def test_no_response_shows_an_absolute_path_or_another_collection(live_factory, tmp_path):
    live = live_factory()
    mine = tmp_path / "private" / "plans.md"
    mine.parent.mkdir()
    mine.write_bytes(FACT)
    live.engine.ingest([mine], "secret-project")
    assert _upload(live, "lighthouse.md", FACT).json()["document"]["source"] == "lighthouse.md"
    listed = httpx.get(f"{live.url}/collections/secret-project/documents").json()["data"]
    assert [d["source"] for d in listed] == ["plans.md"]
    reply = live.client.chat.completions.create(
        model="echo",
        messages=[{"role": "user", "content": "Who keeps the Brindle lighthouse?"}],
        extra_body={"collection": "secret-project"},
    )
    assert {c["source"] for c in reply.model_extra["citations"]} == {"plans.md"}
    missing = httpx.get(f"{live.url}/collections/nope/documents").json()["error"]["message"]
    assert "secret-project" not in missing and "notes" not in missing
    assert str(tmp_path) not in missing


def test_upload_cap_is_413_and_bad_collections_are_4xx(live_factory) -> None:
    live = live_factory(ServeSettings(max_upload_bytes=1000))
    big = _upload(live, "big.md", b"word " * 400)
    assert big.status_code == 413
    assert big.json()["error"]["code"] == "request_too_large"
    _no_leftovers(live)
    assert _upload(live, "ok.md", FACT, collection="bad name!").status_code == 400
    missing = httpx.get(f"{live.url}/collections/nope/documents")
    assert missing.status_code == 404 and "unknown collection 'nope'" in missing.text
    wrong_id = httpx.delete(f"{live.url}/collections/nope/documents/abc")
    assert wrong_id.status_code == 400 and wrong_id.json()["error"]["param"] == "doc_id"


def test_a_collection_name_ending_in_a_newline_is_not_a_second_collection(live_factory):
    live = live_factory()
    assert _upload(live, "a.md", FACT, collection="docs").status_code == 201
    for name in ("docs%0A", "docs%0D%0A", "docs%00"):
        r = _upload(live, "a.md", FACT, collection=name)
        assert r.status_code == 400, r.text
        assert r.json()["error"]["message"].startswith("invalid collection name 'docs\\")
        assert httpx.get(f"{live.url}/collections/{name}/documents").status_code == 404
    names = [c["name"] for c in httpx.get(f"{live.url}/collections").json()["data"]]
    assert names == ["docs"]


def test_prepare_rebuilds_a_missing_index_before_the_server_listens(paths) -> None:
    from outweigh.engine import Engine
    from outweigh.serve import ready
    from outweigh.testing import EchoBackend, FakeEmbedder

    engine = Engine(paths=paths, backend=EchoBackend(), embedder=FakeEmbedder())
    engine.ingest([SUITE_DOCS], "docs")
    for f in paths.index_dir.iterdir():
        f.unlink()
    seen: list[tuple[int, int]] = []
    ready(
        ServeSettings(),
        Engine(paths=paths, backend=EchoBackend()),
        lambda d, t: seen.append((d, t)),
    )
    chunks = engine.store.count_chunks(engine.store.collection("docs"))
    assert seen and seen[-1] == (chunks, chunks)
    assert engine.vectors.check(engine.store.collection("docs")).ok


def test_an_upload_is_parsed_once_and_outside_the_engines_lock(live_factory, monkeypatch):
    """While one upload's file is being parsed, other requests run: the parse holds no lock
    that they need, and it happens once per upload."""
    import threading

    from outweigh.retrieval import uploads

    live = live_factory()
    parsing, release = threading.Event(), threading.Event()
    calls: list[str] = []
    real = uploads.read_document

    def slow_read(path, max_bytes):
        calls.append(path.name)
        parsing.set()
        release.wait(30)
        return real(path, max_bytes)

    monkeypatch.setattr(uploads, "read_document", slow_read)
    done: list[httpx.Response] = []
    upload = threading.Thread(target=lambda: done.append(_upload(live, "slow.md", FACT)))
    upload.start()
    assert parsing.wait(30)
    # The engine's lock is free: listing documents and models answers during the parse.
    assert httpx.get(f"{live.url}/models", timeout=10).status_code == 200
    assert live.engine.lock.acquire(timeout=5)
    live.engine.lock.release()
    release.set()
    upload.join(30)
    assert done[0].status_code == 201 and calls == ["slow.md"]
