"""`outweigh adapter ...` and `outweigh ask --adapter` through the real entry point: results on
stdout, every refusal one `error:` line with exit code 2 and nothing written."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.adapters.conftest import CliResult, leftovers

from outweigh import Paths

Cli = Callable[..., CliResult]


def one_error_line(result: CliResult) -> str:
    assert result.code == 2, (result.out, result.err)
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    return lines[0]


def test_add_list_show_rm(cli: Cli, paths: Paths, lora_dir: Callable[..., Path]) -> None:
    assert cli("adapter", "add", str(lora_dir()), "--name", "style").code == 0
    listed = json.loads(cli("adapter", "list", "--json").out)
    assert [a["name"] for a in listed] == ["style"]
    shown = json.loads(cli("adapter", "show", "style", "--json").out)
    assert (shown["base_model"], shown["rank"], shown["targets"]) == (
        "smollm2-135m",
        4,
        ["q_proj", "v_proj"],
    )
    assert Path(shown["path"]) == paths.adapters_dir / "style"
    human = cli("adapter", "show", "style")
    assert human.code == 0 and "q_proj" in human.out
    assert cli("adapter", "rm", "style").code == 0
    assert json.loads(cli("adapter", "list", "--json").out) == []
    assert leftovers(paths) == []


@pytest.mark.parametrize("name", ["../up", "a/b", ".."])
def test_add_refuses_path_names(
    cli: Cli, paths: Paths, lora_dir: Callable[..., Path], name: str
) -> None:
    assert "invalid adapter name" in one_error_line(
        cli("adapter", "add", str(lora_dir()), "--name", name)
    )
    assert leftovers(paths) == []


def test_add_refuses_pickle(cli: Cli, paths: Paths, tmp_path: Path) -> None:
    src = tmp_path / "old"
    src.mkdir()
    (src / "adapter_config.json").write_text("{}")
    (src / "adapter_model.bin").write_bytes(b"pickle")
    assert "pickle" in one_error_line(cli("adapter", "add", str(src), "--name", "old"))
    assert leftovers(paths) == []


def test_unknown_names_list_the_registered(cli: Cli, lora_dir: Callable[..., Path]) -> None:
    cli("adapter", "add", str(lora_dir()), "--name", "style")
    for args in (("show", "nope"), ("rm", "nope"), ("export", "nope", "--out", "x")):
        assert "registered: style" in one_error_line(cli("adapter", *args))


def test_ask_refuses_an_unknown_adapter_before_loading(
    cli: Cli, lora_dir: Callable[..., Path]
) -> None:
    cli("adapter", "add", str(lora_dir()), "--name", "style")
    line = one_error_line(cli("ask", "hi?", "--no-rag", "--adapter", "nope"))
    assert "unknown adapter 'nope'; registered: style" in line
    assert "needs a weight" in one_error_line(cli("ask", "hi?", "--no-rag", "--adapter", "style,x"))


def test_train_refusals(cli: Cli, paths: Paths, tmp_path: Path) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text('{"prompt": "a", "completion": "b"}\n{oops\n')
    assert "d.jsonl:2: not valid JSON" in one_error_line(
        cli("adapter", "train", str(data), "--name", "x")
    )
    data.write_text("")
    assert "has no examples" in one_error_line(cli("adapter", "train", str(data), "--name", "x"))
    data.write_text('{"prompt": "a", "completion": "b"}\n')
    assert "`--rank` must be at least 1" in one_error_line(
        cli("adapter", "train", str(data), "--name", "x", "--rank", "0")
    )
    assert "unknown model" in one_error_line(
        cli("adapter", "train", str(data), "--name", "x", "--base", "nope")
    )
    assert "--from 'nope': not a registered adapter" in one_error_line(
        cli("adapter", "train", str(data), "--name", "x", "--from", "nope")
    )
    assert leftovers(paths) == []


def test_export_and_merge_refusals(
    cli: Cli, paths: Paths, lora_dir: Callable[..., Path], tmp_path: Path
) -> None:
    cli("adapter", "add", str(lora_dir()), "--name", "style")
    line = one_error_line(
        cli("adapter", "export", "style", "--for", "tgi", "--out", str(tmp_path / "o"))
    )
    assert "choose one of: vllm" in line
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "f").write_text("x")
    assert "not empty" in one_error_line(cli("adapter", "merge", "style", "--out", str(taken)))
    assert "not empty" in one_error_line(
        cli("adapter", "export", "style", "--for", "vllm", "--out", str(taken))
    )


def test_export_prints_the_vllm_command(
    cli: Cli, lora_dir: Callable[..., Path], tmp_path: Path
) -> None:
    cli("adapter", "add", str(lora_dir()), "--name", "style")
    result = cli("adapter", "export", "style", "--for", "vllm", "--out", str(tmp_path / "v"))
    assert result.code == 0
    assert (
        "vllm serve HuggingFaceTB/SmolLM2-135M-Instruct --enable-lora --lora-modules" in result.out
    )
