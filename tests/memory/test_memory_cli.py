"""`outweigh memory ...`, `outweigh ask --user`, and the `outweigh chat` REPL."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from outweigh.cli.chat import Repl
from outweigh.engine import AskOptions, Engine
from outweigh.memory import MemoryStore
from outweigh.testing import EchoBackend, FakeEmbedder

from .helpers import run_cli


@pytest.fixture
def cli(monkeypatch, capsys, embedder):
    """Run `outweigh ...` in this process, with the session's real MiniLM (loaded once)."""
    import outweigh.embed

    monkeypatch.setattr(outweigh.embed, "SentenceTransformerEmbedder", lambda *_, **__: embedder)
    return lambda *args, stdin="": run_cli(monkeypatch, capsys, *args, stdin=stdin)


@pytest.fixture
def cli_smol(cli, monkeypatch, smol):
    """`cli` whose commands load the session's real SmolLM2 instead of a second copy."""
    import outweigh.models.loader

    monkeypatch.setattr(outweigh.models.loader, "load", lambda name, *_, **__: smol)
    return cli


@pytest.fixture
def seeded(paths):
    store = MemoryStore(paths, embedder=FakeEmbedder())
    store.capture("ada", "s1", "My cat is Bublik.")
    store.capture("ada", "s2", "My cat is now called Murka. I keep bees.")
    store.capture("bob", "s1", "I live in Oslo.")
    store.close()


def test_list_shows_current_facts_and_history_with_all(cli, seeded):
    code, out, _ = cli("memory", "list", "--user", "ada", "--json")
    assert code == 0
    assert [m["text"] for m in json.loads(out)] == ["My cat is now called Murka.", "I keep bees."]
    code, out, _ = cli("memory", "list", "--user", "ada", "--all", "--json")
    assert [m["current"] for m in json.loads(out)] == [False, True, True]
    code, out, _ = cli("memory", "list", "--user", "ada", "--all")
    assert "superseded by 2" in out and "Murka" in out and "Oslo" not in out


def test_unknown_user_lists_nothing_without_error(cli, seeded):
    assert cli("memory", "list", "--user", "nobody", "--json")[:2] == (0, "[]\n")


def test_search_remember_forget_export(cli, seeded):
    code, out, _ = cli("memory", "search", "--user", "ada", "bees", "--json")
    assert code == 0 and json.loads(out)[0]["text"] == "I keep bees."
    code, out, _ = cli("memory", "remember", "--user", "ada", "my locker is 318")
    assert code == 0 and "remembered #" in out
    new_id = out.split("#")[1].split(":")[0]
    code, out, _ = cli("memory", "forget", "--user", "ada", new_id)
    assert code == 0 and f"forgot #{new_id}" in out
    code, out, _ = cli("memory", "export", "--user", "ada")
    exported = json.loads(out)
    texts = [m["text"] for m in exported["memories"]] + [t["text"] for t in exported["turns"]]
    assert exported["user"] == "ada" and exported["turns"]
    assert not any("locker" in text for text in texts)
    code, out, _ = cli("memory", "forget", "--user", "ada", "--all")
    assert code == 0 and "forgot 3 facts" in out
    assert json.loads(cli("memory", "export", "--user", "ada")[1])["memories"] == []
    assert json.loads(cli("memory", "list", "--user", "bob", "--json")[1])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("memory", "forget", "--user", "ada", "abc"), "malformed memory id"),
        (("memory", "forget", "--user", "ada", "1; DROP TABLE memories"), "malformed memory id"),
        (("memory", "forget", "--user", "ada", "999"), "ada has no memory #999"),
        (("memory", "forget", "--user", "ada"), "exactly one of ID or --all"),
        (("memory", "forget", "--user", "ada", "1", "--all"), "exactly one of ID or --all"),
        (("memory", "list", "--user", ""), "a user is required"),
        (("memory", "search", "--user", "ada", "  "), "query is empty"),
        (("memory", "remember", "--user", "ada", ""), "message is empty"),
        (("ask", "--user", "", "--no-rag", "hi"), "a user is required"),
    ],
)
def test_bad_input_is_one_line_and_exit_2_and_writes_nothing(cli, seeded, paths, args, message):
    before = MemoryStore(paths, embedder=FakeEmbedder()).export("ada")["memories"]
    code, out, err = cli(*args)
    assert code == 2
    assert message in err and err.strip().count("\n") == 0
    assert "Traceback" not in out + err
    assert MemoryStore(paths, embedder=FakeEmbedder()).export("ada")["memories"] == before


def test_enormous_message_is_refused_with_the_configurable_cap(cli, monkeypatch, paths):
    monkeypatch.setenv("OUTWEIGH_MAX_MESSAGE_CHARS", "64")
    code, _, err = cli("memory", "remember", "--user", "ada", "I keep bees. " * 10)
    assert code == 2 and "OUTWEIGH_MAX_MESSAGE_CHARS" in err
    code, _, err = cli("ask", "--user", "ada", "--no-rag", "My cat is X. " * 10)
    assert code == 2 and "memory cap of 64" in err
    assert MemoryStore(paths, embedder=FakeEmbedder()).export("ada")["turns"] == []


@pytest.mark.slow
def test_ask_with_a_user_remembers_and_no_memory_does_not(cli_smol, paths):
    cli = cli_smol
    args = ("ask", "--no-rag", "--max-tokens", "4", "--user", "ada", "--session", "s1")
    assert cli(*args, "--no-memory", "I keep bees on the roof.")[0] == 0
    assert json.loads(cli("memory", "list", "--user", "ada", "--json")[1]) == []
    code, out, _ = cli(*args, "--json", "My boat is called the Brisket Moon.")
    assert code == 0 and json.loads(out)["answer"] is not None
    (item,) = json.loads(cli("memory", "list", "--user", "ada", "--json")[1])
    assert (item["text"], item["session"]) == ("My boat is called the Brisket Moon.", "s1")


@pytest.mark.slow
def test_chat_repl_streams_and_handles_commands(cli_smol):
    cli = cli_smol
    stdin = "/remember I keep bees\n/memories\n/forget nope\n/bogus\nMy cat is Bublik.\n/exit\n"
    code, out, err = cli("chat", "--user", "ada", "--max-tokens", "6", stdin=stdin)
    assert code == 0, err
    assert "remembered #1 I keep bees" in out
    assert "#1 I keep bees" in out
    assert "malformed memory id 'nope'" in err and "unknown command /bogus" in err
    assert "remembered #2" in out  # the fact stated in the conversation
    code, out, _ = cli("memory", "list", "--user", "ada", "--json")
    assert [m["text"] for m in json.loads(out)] == ["I keep bees", "My cat is Bublik."]


# -- the REPL itself, on the echo backend (the commands are not about the model) ------------
@pytest.fixture
def repl(paths):
    engine = Engine(paths, embedder=FakeEmbedder(), backend=EchoBackend(reply="sure"))
    out = Console(record=True, width=200)
    r = Repl(engine, AskOptions(user="ada", session="s", rag=False), out)
    yield r
    engine.close()


def test_repl_keeps_history_and_recalls_memories(repl):
    assert repl.handle("I live in Lisbon.")
    assert repl.handle("Where do I live?")
    sent = repl.engine.backend().requests[-1].messages
    assert [m["content"] for m in sent[1:3]] == ["I live in Lisbon.", "sure"]
    assert "- I live in Lisbon." in sent[-1]["content"]
    text = repl.out.export_text()
    assert "recalled #1" in text and "remembered #1" in text


def test_repl_commands_never_reach_the_model(repl):
    for line in [
        "/remember '); DROP TABLE memories;--",
        "/memories",
        "/forget 1 OR 1=1",
        "/forget 99",
        "/forget",
        "/remember",
        "/help",
        "",
    ]:
        assert repl.handle(line)
    assert repl.engine.backend().requests == []
    (item,) = repl.engine.memory.list("ada")
    assert item.text == "'); DROP TABLE memories;--"
    text = repl.out.export_text()
    assert "malformed memory id" in text and "no memory #99" in text and "usage: /remember" in text
    assert repl.handle("/forget 1") and repl.engine.memory.list("ada") == []
    assert repl.handle("/exit") is False


def test_repl_with_memory_off_refuses_memory_commands(repl):
    repl.options.memory = False
    repl.handle("/memories")
    repl.handle("I keep bees.")
    assert "memory is off" in repl.out.export_text()
    assert repl.engine.memory.list("ada") == []


def test_repl_run_ends_on_eof(repl):
    lines = iter(["I keep bees."])

    def read(prompt: str) -> str:
        try:
            return next(lines)
        except StopIteration:
            raise EOFError from None

    repl.run(read)
    assert [m.text for m in repl.engine.memory.list("ada")] == ["I keep bees."]
