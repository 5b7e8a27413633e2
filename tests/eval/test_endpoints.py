"""`MODEL@URL` configs: a model on an OpenAI-compatible server answers the suite as the same
model loaded here does, and every way of pointing at a server wrongly is one line.

The endpoint is a real `outweigh serve` in its own process (`served`), with the same bundled
SmolLM2 GGUF on llama.cpp as the local configs and the bundled reader registered as the
adapter model `reader`; the eval reaches it with the real httpx client and a real key.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliResult
from tests.eval.conftest import KEY, KEY_ENV, Served, free_port

Cli = Callable[..., CliResult]


def test_endpoint_and_local_give_the_same_answers(
    served: Served, five_suite: Path, tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    out = tmp_path / "r.json"
    configs = ["smollm2-135m", "smollm2-135m+rag"]
    remote = [c.replace("smollm2-135m", f"smollm2-135m@{served.url}") for c in configs]
    args = [a for c in configs + remote for a in ("-c", c)]
    r = cli(
        "eval", str(five_suite), *args, "--limit", "2", "--api-key-env", KEY_ENV, "--json", str(out)
    )
    assert r.code == 0, r.err
    data = json.loads(out.read_text("utf-8"))
    answers = {(q["config"], q["line"]): (q["answer"], q["adapter"]) for q in data["per_question"]}
    lines = sorted({line for _, line in answers})
    assert len(lines) == 2
    for here, there in zip(configs, remote, strict=True):
        for line in lines:
            assert answers[(here, line)] == answers[(there, line)], (here, line)
    # Both +rag sides read through the same reader adapter: the endpoint's is the model
    # `reader` it serves, which the engine picks as it picks the bundled one here.
    assert {answers[(c, line)][1] for c in (configs[1], remote[1]) for line in lines} == {"reader"}
    assert data["results"][remote[1]]["accuracy"] == data["results"][configs[1]]["accuracy"]


def test_every_wrong_endpoint_is_one_line(
    served: Served, tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite = tmp_path / "s"
    (suite / "docs").mkdir(parents=True)
    (suite / "docs" / "p.md").write_text("Badges are amber.", "utf-8")
    q = {"question": "What colour are the badges?", "answers": ["amber"], "source": "p.md"}
    (suite / "questions.jsonl").write_text(json.dumps(q) + "\n", "utf-8")
    monkeypatch.setenv(KEY_ENV, KEY)
    monkeypatch.setenv("WRONG_KEY", "not-the-key")
    monkeypatch.delenv("OUTWEIGH_UPSTREAM_API_KEY", raising=False)
    monkeypatch.delenv("UNSET_KEY_VAR", raising=False)
    nowhere = f"http://127.0.0.1:{free_port()}/v1"
    good = f"smollm2-135m@{served.url}"
    cases = [
        (["-c", "smollm2-135m@ftp://host/v1"], "is not an http(s) URL"),
        (["-c", "smollm2-135m@"], "is not an http(s) URL"),
        (["-c", "@http://127.0.0.1:1/v1"], "has no model"),
        (["-c", f"smollm2-135m@{nowhere}"], "is unreachable"),
        (["-c", good, "--api-key-env", "UNSET_KEY_VAR"], "UNSET_KEY_VAR is unset or empty"),
        (["-c", good], "wants an API key; export it in a variable and pass --api-key-env"),
        (["-c", good, "--api-key-env", "WRONG_KEY"], "refused the key in WRONG_KEY"),
        (["-c", served.url], "name the model the server serves before its URL"),
        (
            ["-c", good, "--api-key-env", f"{served.url}=WRONG_KEY", "--api-key-env", KEY_ENV],
            "refused the key in WRONG_KEY",
        ),
        (["-c", f"nope@{served.url}", "--api-key-env", KEY_ENV], "does not serve the model 'nope'"),
        (
            ["-c", f"{good}+lora:nope", "--api-key-env", KEY_ENV],
            "does not serve the adapter 'nope'; it serves: smollm2-135m, reader",
        ),
        (["-c", good, "--api-key-env", KEY_ENV, "--timeout", "0"], "`--timeout` must be more"),
    ]
    for args, says in cases:
        r = cli("eval", str(suite), *args)
        assert r.code == 2, (args, r.out, r.err)
        assert r.err.startswith("error: ") and says in r.err, (args, r.err)
        assert r.err.count("\n") == 1 and "Traceback" not in r.out + r.err, r.err
