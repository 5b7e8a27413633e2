"""The CLI through a real subprocess: what a user types, what a user sees."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest


def run(*args, env=None, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "outweigh", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def one_line_error(proc, *needles):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    for needle in needles:
        assert needle in lines[0]


def test_help_is_fast_and_lists_the_commands():
    t0 = time.perf_counter()
    proc = run("--help")
    assert proc.returncode == 0
    for cmd in ("ingest", "search", "ask", "models", "docs", "demo", "plan"):
        assert cmd in proc.stdout
    assert time.perf_counter() - t0 < 20  # generous: only catches an eager torch import
    probe = "import sys, outweigh.cli; print('torch' in sys.modules)"
    assert subprocess.check_output([sys.executable, "-c", probe], text=True).strip() == "False"


def test_unknown_names_get_one_line_naming_the_choices(suite_docs):
    one_line_error(run("ask", "hi", "--model", "gpt-7"), "gpt-7", "smollm2-135m")
    one_line_error(run("search", "hi", "--collection", "nope"), "unknown collection 'nope'")
    one_line_error(run("ask", "hi", "--collection", "nope"), "unknown collection")
    one_line_error(run("models", "pull", "gpt-7"), "choose one of")
    one_line_error(run("ingest", str(suite_docs), "--collection", "../x"), "invalid collection")
    one_line_error(run("docs", "rm", "/nowhere.md"), "unknown collection")


def test_typos_in_commands_and_options_get_one_line_and_the_help_to_run():
    one_line_error(run("colections"), "No such command 'colections'", "outweigh --help")
    one_line_error(run("ask", "hi", "--bogus"), "--bogus", "outweigh ask --help")
    one_line_error(run("ask"), "Missing argument", "outweigh ask --help")
    one_line_error(run("docs", "ls"), "Did you mean 'list'", "outweigh docs --help")


def test_ingest_reports_bad_files_and_keeps_the_rest(tmp_path):
    (tmp_path / "ok.md").write_text("The harbour crane lifts 25 kilograms.")
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe\x00\x00binary")
    proc = run("ingest", str(tmp_path), "--collection", "t")
    assert proc.returncode == 0, proc.stderr
    assert "1 files" in proc.stdout and "1 failed" in proc.stdout
    assert "bad.txt" in proc.stderr and "Traceback" not in proc.stderr
    again = run("ingest", str(tmp_path), "--collection", "t")
    assert "0 files, 0 chunks, 1 skipped, 1 failed" in again.stdout
    hits = json.loads(run("search", "crane kilograms", "-c", "t", "--json").stdout)
    assert hits[0]["source"].endswith("ok.md")
    assert {"source", "chunk_id", "score", "text"} <= set(hits[0])
    docs = json.loads(run("docs", "list", "--json").stdout)
    assert [Path(d["source"]).name for d in docs] == ["ok.md"]
    assert run("docs", "rm", str(tmp_path / "ok.md"), "-c", "t").returncode == 0
    assert json.loads(run("search", "crane", "-c", "t", "--json").stdout) == []


@pytest.mark.slow
def test_ask_json_with_the_real_model(suite_docs, smol):  # smol: converted once already
    assert run("ingest", str(suite_docs)).returncode == 0
    question = "What is the maximum depth the Heron-7 submersible is rated to?"
    proc = run("ask", question, "--json", "-k", "3", "--max-tokens", "32", "--no-memory")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert set(out) >= {"answer", "citations", "model", "usage"}
    assert out["model"] == "smollm2-135m"
    assert "412" in out["answer"]
    # The passage the answer rests on, not all three the prompt carried.
    [cited] = out["citations"]
    assert cited["source"].endswith("equipment.md") and "412" in cited["text"]
    assert {"n", "source", "chunk_id", "text"} <= set(cited)
    text = run("ask", question, "-k", "3", "--max-tokens", "32", "--no-memory").stdout
    assert f"[{cited['n']}] " in text and "equipment.md" in text
    assert "bears on this" not in text
    # A question nothing in the collection bears on is answered bare, and says so.
    off = run("ask", "What is 2 + 2?", "--max-tokens", "16", "--no-memory").stdout
    assert "(nothing in default bears on this; answered without it)" in off and "[1]" not in off


def test_arguments_that_are_not_utf8_are_one_line_errors(cli) -> None:
    # A non-UTF-8 byte in argv reaches Python as a surrogate escape (PEP 383).
    bad = b"caf\xe9".decode("utf-8", "surrogateescape")
    for args, what in [
        (["ask", "--no-rag", "--no-memory", bad], "the question is not valid Unicode"),
        (["memory", "list", "--user", bad], "the user id is not valid Unicode"),
        (["ingest", "-c", bad, "/nowhere"], "invalid collection name"),
        (["chat", "--session", bad], "the session id is not valid Unicode"),
    ]:
        result = cli(*args)
        assert result.code == 2 and what in result.err, (args, result.err)
        assert "Traceback" not in result.err
