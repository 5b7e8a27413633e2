"""Who is asking: a real server with two users and an admin, each holding a key made by the
real CLI, and the adversarial round's attacks, each failing with 403 or 404, while the admin
path works and is logged. Generation is EchoBackend (it answers with its prompt's last
message, so a prompt that held someone else's memory shows it); the test is about keys."""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import openai
import pytest

from outweigh.engine import Engine
from outweigh.serve import ServeSettings
from outweigh.settings import Paths
from outweigh.testing import EchoBackend, FakeEmbedder
from tests.serve.conftest import SUITE_DOCS, start

SECRET = "my cat is called Bublik"


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "outweigh", *args],
        capture_output=True,
        text=True,
        env={"OUTWEIGH_HOME": str(home), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"},
        timeout=120,
    )


class Team:
    """alice and bob (users) and root (admin) on one server; `docs` ingested by the operator."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.keys = {}
        for name, flags in (("alice", []), ("bob", []), ("root", ["--admin"])):
            done = _cli(home, "users", "add", name, *flags)
            assert done.returncode == 0, done.stderr
            self.keys[name] = done.stdout.strip().splitlines()[-1]
        self.engine = Engine(paths=Paths(home), backend=EchoBackend(), embedder=FakeEmbedder())
        self.engine.ingest([SUITE_DOCS], "docs")
        self.server, live = start(self.engine)
        self.url = live.url

    def http(self, name: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[name]}"} if name else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def sdk(self, name: str) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.url, api_key=self.keys[name], max_retries=0)

    def chat(self, name: str, text: str, **extra: object) -> str:
        reply = self.sdk(name).chat.completions.create(
            model="echo", messages=[{"role": "user", "content": text}], **extra
        )
        return str(reply.choices[0].message.content)

    def close(self) -> None:
        self.server.__exit__()
        self.engine.close()


@pytest.fixture(scope="module")
def team(tmp_path_factory) -> Team:
    team = Team(tmp_path_factory.mktemp("team-home"))
    # alice tells the server a private fact and a phone number, with her key and no `user`.
    team.chat("alice", f"Remember that {SECRET}")
    team.chat("alice", "Remember that my support phone number is +1-555-0100")
    # ... and uploads a private document.
    with team.http("alice") as c:
        made = c.post(
            "/collections/alice-notes/documents",
            files={"file": ("plan.md", b"# Plan\n\nThe launch code word is Marmalade.\n")},
        )
        assert made.status_code == 201, made.text
    yield team
    team.close()


def _facts(team: Team, who: str, **params: str) -> list[dict]:
    with team.http(who) as c:
        listed = c.get("/memories", params=params)
    assert listed.status_code == 200, listed.text
    return listed.json()["data"]


def test_a_key_says_who_is_asking(team: Team) -> None:
    for name, admin in (("alice", False), ("root", True)):
        with team.http(name) as c:
            me = c.get("/me").json()
        assert (me["name"], me["admin"], me["operator"], me["keys"]) == (name, admin, False, True)
    with team.http(None) as c:
        assert c.get("/models").status_code == 401
        assert c.get("/me").status_code == 401
        wrong = c.get("/models", headers={"Authorization": "Bearer ow-not-a-key"})
    assert wrong.status_code == 401 and "wrong API key" in wrong.json()["error"]["message"]
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=team.url, api_key="none", max_retries=0).models.list()


def test_another_users_memories_cannot_be_read(team: Team) -> None:
    with team.http("bob") as c:
        read = c.get("/memories", params={"user": "alice"})
    assert read.status_code == 403 and read.json()["error"]["type"] == "permission_error"
    with pytest.raises(openai.PermissionDeniedError):
        team.chat("bob", "What is my cat called?", user="alice")
    # bob's own question recalls bob's memories: alice's fact is not in his prompt.
    assert "Bublik" not in team.chat("bob", "What is my cat called?")
    assert "Bublik" in team.chat("alice", "What is my cat called?")
    assert _facts(team, "bob") == []
    assert SECRET in [f["text"] for f in _facts(team, "alice")]


def test_another_users_memories_cannot_be_poisoned_or_deleted(team: Team) -> None:
    with pytest.raises(openai.PermissionDeniedError):
        team.chat("bob", "Remember that my support phone number is +1-900-ATTACKER", user="alice")
    texts = [f["text"] for f in _facts(team, "alice")]
    assert not any("ATTACKER" in t for t in texts) and any("555-0100" in t for t in texts)
    target = _facts(team, "alice")[0]["id"]
    assert target.startswith("mem_") and len(target) == 20  # random, not a global counter
    with team.http("bob") as c:
        assert c.delete(f"/memories/{target}", params={"user": "alice"}).status_code == 403
        assert c.delete(f"/memories/{target}").status_code == 404  # not bob's
    assert target in [f["id"] for f in _facts(team, "alice")]


def test_another_users_collection_is_invisible_and_the_operators_is_read_only(
    team: Team,
) -> None:
    with team.http("bob") as c:
        names = [x["name"] for x in c.get("/collections").json()["data"]]
        assert names == ["docs"]  # alice's private collection is not even listed
        assert c.get("/collections/alice-notes/documents").status_code == 404
        upload = c.post(
            "/collections/alice-notes/documents", files={"file": ("plan.md", b"# Plan\n\nSold.")}
        )
        assert upload.status_code == 404
        # The operator's collection: readable, not writable.
        docs = c.get("/collections/docs/documents").json()["data"]
        assert docs and c.delete(f"/collections/docs/documents/{docs[0]['id']}").status_code == 403
        over = c.post("/collections/docs/documents", files={"file": ("x.md", b"# X\n\nforged")})
        assert over.status_code == 403
        stolen = c.post(
            "/chat/completions",
            json={
                "model": "echo",
                "messages": [{"role": "user", "content": "What is the launch code word?"}],
                "collection": "alice-notes",
                "rag": True,
            },
        )
    assert stolen.status_code == 404
    # Nothing of alice's reached any prompt bob sent.
    assert not any("Marmalade" in str(r.messages) for r in team.engine.backend().requests[-3:])
    with team.http("alice") as c:
        mine = c.get("/collections/alice-notes/documents").json()["data"]
    assert [d["source"] for d in mine] == ["plan.md"] and mine[0]["uploader"] == "alice"


def test_sharing_lets_one_user_read_then_write(team: Team) -> None:
    with team.http("bob") as c:
        assert c.put("/collections/alice-notes/shares/bob", json={}).status_code == 404
    with team.http("alice") as c:
        shared = c.put("/collections/alice-notes/shares/bob", json={"write": False})
        assert shared.status_code == 200 and shared.json()["shared"] == {"bob": False}
        assert c.put("/collections/alice-notes/shares/nobody", json={}).status_code == 404
    with team.http("bob") as c:
        assert c.get("/collections/alice-notes/documents").status_code == 200
        answer = c.post(
            "/chat/completions",
            json={
                "model": "echo",
                "messages": [{"role": "user", "content": "What is the launch code word?"}],
                "collection": "alice-notes",
            },
        ).json()
        assert (
            c.post(
                "/collections/alice-notes/documents", files={"file": ("b.md", b"# B\n\nbob's")}
            ).status_code
            == 403
        )
        # Sharing is the owner's: bob may not pass it on.
        assert c.put("/collections/alice-notes/shares/root", json={}).status_code == 403
    cited = answer["citations"][0]
    assert (cited["collection"], cited["origin"], cited["uploader"]) == (
        "alice-notes",
        "uploaded",
        "alice",
    )
    with team.http("alice") as c:
        c.put("/collections/alice-notes/shares/bob", json={"write": True})
    with team.http("bob") as c:
        added = c.post(
            "/collections/alice-notes/documents", files={"file": ("b.md", b"# B\n\nbob's")}
        )
        assert added.status_code == 201 and added.json()["document"]["uploader"] == "bob"
    with team.http("alice") as c:
        assert c.delete("/collections/alice-notes/shares/bob").json()["shared"] == {}
    with team.http("bob") as c:
        assert c.get("/collections/alice-notes/documents").status_code == 404


def test_the_admin_acts_for_a_user_and_is_logged(team: Team, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="outweigh.audit"):
        facts = _facts(team, "root", user="alice")
        with team.http("root") as c:
            docs = c.get("/collections/alice-notes/documents")
    assert SECRET in [f["text"] for f in facts] and docs.status_code == 200
    assert any("'root'" in r.getMessage() and "'alice'" in r.getMessage() for r in caplog.records)
    with team.http("root") as c:
        target = next(f["id"] for f in facts if "555-0100" in f["text"])
        assert c.delete(f"/memories/{target}", params={"user": "alice"}).status_code == 200
    assert not any("555-0100" in f["text"] for f in _facts(team, "alice"))


def test_the_operator_shares_its_own_collection_with_write(team: Team) -> None:
    done = _cli(team.home, "collections", "share", "docs", "--with", "bob", "--write")
    assert done.returncode == 0 and "bob (write)" in done.stdout, done.stderr
    with team.http("bob") as c:
        added = c.post("/collections/docs/documents", files={"file": ("bob.md", b"# B\n\nok")})
        assert added.status_code == 201
    with team.http("alice") as c:  # still read-only for everyone else
        refused = c.post("/collections/docs/documents", files={"file": ("a.md", b"# A\n\nno")})
    assert refused.status_code == 403
    listed = _cli(team.home, "collections", "list").stdout
    assert "docs" in listed and "(operator)" in listed and "alice-notes" in listed


def test_a_rotated_key_stops_working_and_a_removed_user_is_locked_out(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    key = _cli(home, "users", "add", "carol").stdout.strip().splitlines()[-1]
    _cli(home, "users", "add", "dave")
    engine = Engine(paths=Paths(home), backend=EchoBackend(), embedder=FakeEmbedder())
    server, live = start(engine)
    try:
        ok = httpx.get(f"{live.url}/me", headers={"Authorization": f"Bearer {key}"})
        assert ok.json()["name"] == "carol"
        new = _cli(home, "users", "rotate", "carol").stdout.strip().splitlines()[-1]
        old = httpx.get(f"{live.url}/me", headers={"Authorization": f"Bearer {key}"})
        assert old.status_code == 401
        assert httpx.get(f"{live.url}/me", headers={"Authorization": f"Bearer {new}"}).is_success
        assert _cli(home, "users", "rm", "carol").returncode == 0
        gone = httpx.get(f"{live.url}/me", headers={"Authorization": f"Bearer {new}"})
        assert gone.status_code == 401
    finally:
        server.__exit__()
        engine.close()
    # With every user gone, a server bound beyond loopback locks everyone out, not open.
    _cli(home, "users", "rm", "dave")
    engine = Engine(paths=Paths(home), backend=EchoBackend(), embedder=FakeEmbedder())
    server, live = start(engine, ServeSettings(host="0.0.0.0"))
    try:
        assert httpx.get(f"{live.url}/me").status_code == 401
    finally:
        server.__exit__()
        engine.close()
    # Keys are stored hashed: the database never holds one.
    db = sqlite3.connect(home / "outweigh.db")
    assert key not in str(db.execute("SELECT * FROM users").fetchall())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["users", "add", "bad name"], "invalid user name"),
        (["users", "rotate", "nobody"], "no user 'nobody'"),
        (["users", "rm", "nobody"], "no user 'nobody'"),
        (["collections", "share", "nothing", "--with", "x"], "unknown collection 'nothing'"),
    ],
)
def test_bad_user_commands_get_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    done = _cli(tmp_path, *args)
    assert done.returncode != 0 and message in done.stderr
    assert done.stderr.strip().count("\n") == 0 and "Traceback" not in done.stderr
