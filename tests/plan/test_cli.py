"""`outweigh plan` end to end: the seed command, --json, --compare --plot, and every bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from outweigh.plan import catalog
from tests.conftest import CliResult

ROOT = Path(__file__).resolve().parents[2]
SEED = [
    "plan",
    "qwen2.5-32b",
    "--gpu",
    "rtx-pro-6000",
    "--loras",
    "5",
    "--lora-rank",
    "16",
    "--context",
    "16k",
]


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real `outweigh` entry point in a fresh interpreter."""
    code = "import sys; from outweigh.cli import main; sys.argv[0] = 'outweigh'; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_seed_command(cli: Callable[..., CliResult]) -> None:
    r = cli(*SEED)
    assert r.code == 0, r.err
    out = " ".join(r.out.split())
    assert "65.53 GB" in out  # bf16 weights
    assert "256 KiB/tok" in out  # KV per token
    assert "268.44 MB each" in out  # one rank-16 all-linear adapter
    assert "fits" in out and "does not fit" not in out


def test_json_has_the_stable_keys(cli: Callable[..., CliResult]) -> None:
    r = cli(*SEED, "--json")
    assert r.code == 0, r.err
    d = json.loads(r.out)
    for key in (
        "params_total",
        "weights_bytes",
        "lora_bytes",
        "kv_bytes_per_token",
        "kv_bytes",
        "activation_bytes",
        "overhead_bytes",
        "total_bytes",
    ):
        assert isinstance(d[key], int)
    assert d["gpus"][0]["fits"] is True and d["gpus"][0]["max_context"] > 16384
    assert d["kv_bytes_per_token"] == 262144


def test_compare_with_plot_writes_a_png(cli: Callable[..., CliResult], tmp_path: Path) -> None:
    png = tmp_path / "out.png"
    r = cli(
        "plan",
        "--compare",
        "qwen2.5-32b:bf16",
        "llama-3.1-70b:awq",
        "--gpu",
        "rtx-pro-6000",
        "--context",
        "16k",
        "--plot",
        str(png),
    )
    assert r.code == 0, r.err
    assert "best on rtx-pro-6000: llama-3.1-70b:awq" in " ".join(r.out.split())
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_json(cli: Callable[..., CliResult]) -> None:
    r = cli(
        "plan",
        "--compare",
        "smollm2-135m",
        "gemma3-270m:q4_k_m",
        "--gpu",
        "rtx-3090",
        "--engine",
        "vllm",
        "--json",
    )
    assert r.code == 0, r.err
    d = json.loads(r.out)
    assert [p["quant"] for p in d["plans"]] == ["bf16", "q4_k_m"] and "rtx-3090" in d["best"]


def test_every_gpu_by_default(cli: Callable[..., CliResult]) -> None:
    r = cli("plan", "smollm2-135m", "--json")
    assert {g["gpu"] for g in json.loads(r.out)["gpus"]} == set(catalog.gpus())


@pytest.fixture
def bad_files(tmp_path: Path) -> dict[str, Path]:
    files = {
        "malformed": tmp_path / "malformed.json",
        "array": tmp_path / "array.json",
        "bert": tmp_path / "bert" / "config.json",
        "missing": tmp_path / "missing.json",
        "binary": tmp_path / "binary.json",
        "empty_dir": tmp_path / "empty",
    }
    files["malformed"].write_text('{"model_type": "llama", "hidden_size": 64,')
    files["array"].write_text("[1, 2, 3]")
    files["bert"].parent.mkdir()
    files["bert"].write_text(json.dumps({"model_type": "bert", "hidden_size": 768}))
    # keys left out take transformers' defaults; a key given with a nonsense value is an error
    files["missing"].write_text(json.dumps({"model_type": "llama", "hidden_size": -64}))
    files["binary"].write_bytes(b"\xff\xfe\x00\x01garbage")
    files["empty_dir"].mkdir()
    return files


BAD = [
    (["{malformed}"], ["not valid JSON", "line 1"]),
    (["{array}"], ["JSON object"]),
    (["{bert}"], ["unsupported architecture 'bert'", "llama", "qwen2"]),
    (["{bert_dir}"], ["unsupported architecture 'bert'"]),
    (["{missing}"], ["`hidden_size` must be an integer", "-64"]),
    (["{binary}"], ["not UTF-8"]),
    (["{empty_dir}"], ["no config.json"]),
    (["no-such-model"], ["unknown model 'no-such-model'", "qwen2.5-32b"]),
    (["qwen2.5-32b", "--gpu", "h1000"], ["unknown GPU 'h1000'", "rtx-pro-6000", "h100"]),
    (["qwen2.5-32b", "--quant", "q3"], ["unknown quantization 'q3'", "awq", "q4_k_m"]),
    (["--compare", "qwen2.5-32b:q3", "mistral-7b"], ["unknown quantization 'q3'", "gptq"]),
    (["qwen2.5-32b", "--engine", "tgi"], ["unknown engine 'tgi'", "transformers", "vllm"]),
    (["qwen2.5-32b", "--kv-dtype", "int3"], ["--kv-dtype", "fp8"]),
    (["qwen2.5-32b", "--attention", "magic"], ["--attention", "sdpa"]),
    (["qwen2.5-32b", "--context", "-5"], ["--context", "negative"]),
    (["qwen2.5-32b", "--context", "abc"], ["--context", "4096 or 16k"]),
    (["qwen2.5-32b", "--context", "1e15"], ["--context", "10,000,000"]),
    (["qwen2.5-32b", "--batch", "0"], ["--batch", "from 1"]),
    (["qwen2.5-32b", "--batch", "-3"], ["--batch", "negative"]),
    (["qwen2.5-32b", "--batch", "2.5"], ["--batch", "whole number"]),
    (["qwen2.5-32b", "--loras", "99999"], ["--loras", "1,024"]),
    (["qwen2.5-32b", "--lora-rank", "0"], ["--lora-rank"]),
    (["qwen2.5-32b", "--rag-chunks", "-1"], ["--rag-chunks"]),
    (["qwen2.5-32b", "--chunk-tokens", "0"], ["--chunk-tokens"]),
    (["qwen2.5-32b", "--gpu-memory-utilization", "2"], ["--gpu-memory-utilization", "0 and 1"]),
    (["qwen2.5-32b", "--lora-targets", "qkv_proj"], ["--lora-targets", "q_proj", "all-linear"]),
    (["qwen2.5-32b", "--kv-dtype", "fp8"], ["--engine vllm"]),
    (["qwen2.5-32b", "--engine", "vllm", "--gpu", "m4-max"], ["vLLM does not run", "m4-max"]),
    (["qwen2.5-32b", "mistral-7b"], ["--compare"]),
    (["--compare", "qwen2.5-32b"], ["at least two"]),
    (["qwen2.5-32b", "--plot", "{tmp}/chart.jpg"], ["--plot", ".png"]),
    (["qwen2.5-32b", "--plot", "{tmp}/nowhere/chart.png"], ["--plot", "does not exist"]),
]


@pytest.mark.parametrize(("args", "needles"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_error_line(
    cli: Callable[..., CliResult],
    bad_files: dict[str, Path],
    tmp_path: Path,
    args: list[str],
    needles: list[str],
) -> None:
    paths = {k: str(v) for k, v in bad_files.items()}
    paths["bert_dir"] = str(bad_files["bert"].parent)
    r = cli("plan", *(a.format(tmp=tmp_path, **paths) for a in args))
    assert r.code == 2
    assert r.out == ""
    assert "Traceback" not in r.err
    assert len(r.err.strip().splitlines()) == 1, r.err
    message = r.err.strip()
    assert message.startswith("error: ")
    for needle in needles:
        assert needle in message


def test_error_is_one_line_in_a_real_process() -> None:
    """A real process on an 80-column terminal: the message (with its list of choices) is longer
    than the terminal and still comes out as exactly one line, with exit code 2."""
    r = _run("plan", "qwen2.5-32b", "--gpu", "h1000", env={"COLUMNS": "80"})
    assert r.returncode == 2
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: unknown GPU 'h1000'")
    assert len(lines[0]) > 80


def test_planner_imports_no_heavy_libraries() -> None:
    code = (
        "import sys, outweigh.plan, outweigh.cli.plan, outweigh.plan.plot; "
        "heavy = [m for m in ('torch', 'transformers', 'matplotlib', 'peft') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ""


def test_plan_modules_import_only_the_standard_library() -> None:
    """Every `import` in plan/ outside plot.py names a stdlib module or outweigh itself."""
    import ast

    plan_dir = ROOT / "src" / "outweigh" / "plan"
    for path in plan_dir.glob("*.py"):
        if path.name == "plot.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or top == "outweigh", (path.name, name)


def test_gpu_calibrate_exits_cleanly_without_a_gpu(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.util

    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present; run benchmarks/gpu_calibrate.py by hand")
    spec = importlib.util.spec_from_file_location(
        "gpu_calibrate", ROOT / "benchmarks" / "gpu_calibrate.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(sys, "argv", ["gpu_calibrate.py"])
    assert module.main() == 0
    assert "no CUDA GPU" in capsys.readouterr().out


TRAIN = ["plan", "qwen2.5-32b", "--seq-len", "4096", "--gpu", "rtx-pro-6000", "--json"]


def test_seed_training_question_lora_and_qlora(cli: Callable[..., CliResult]) -> None:
    """The seed's question: a rank-16 LoRA or QLoRA of the 32B at 4096 tokens on 96 GB."""
    plans = {}
    for method in ("lora", "qlora"):
        r = cli(*TRAIN, "--train", method)
        assert r.code == 0, r.err
        plans[method] = d = json.loads(r.out)
        assert d["trainable_params"] == 134_217_728
        assert d["seq_len"] == 4096 and d["grad_checkpointing"] is True
        parts = ("weights", "lora", "gradient", "optimizer", "activation", "logits", "overhead")
        assert d["total_bytes"] == sum(d[f"{k}_bytes"] for k in parts)
        (fit,) = d["gpus"]
        assert fit["gpu"] == "rtx-pro-6000" and isinstance(fit["fits"], bool)
        assert fit["max_seq_len"] >= 4096 if fit["fits"] else fit["max_seq_len"] < 4096
    lora, qlora = plans["lora"], plans["qlora"]
    assert qlora["weights_bytes"] < lora["weights_bytes"] / 2  # nf4 against bf16
    assert qlora["optimizer_bytes"] < lora["optimizer_bytes"] / 3  # 8-bit against fp32 moments
    assert qlora["gpus"][0]["max_seq_len"] > lora["gpus"][0]["max_seq_len"]


def test_checkpointing_off_costs_activations(cli: Callable[..., CliResult]) -> None:
    on = json.loads(cli(*TRAIN, "--train", "lora").out)
    off = json.loads(cli(*TRAIN, "--train", "lora", "--no-grad-checkpointing").out)
    assert off["activation_bytes"] > 10 * on["activation_bytes"]
    assert off["gpus"][0]["max_seq_len"] < on["gpus"][0]["max_seq_len"]


def test_training_compare_picks_per_gpu(cli: Callable[..., CliResult]) -> None:
    r = cli(
        "plan", "qwen2.5-32b", "qwen2.5-7b", "--compare", "--train", "qlora", "--seq-len", "8k",
        "--gpu", "rtx-4090", "--json",
    )  # fmt: skip
    assert r.code == 0, r.err
    d = json.loads(r.out)
    assert [p["train"] for p in d["plans"]] == ["qlora", "qlora"]
    assert d["best"]["rtx-4090"] in ("", "qwen2.5-7b:qlora", "qwen2.5-32b:qlora")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--train", "dora"], "unknown `--train` 'dora'"),
        (["--seq-len", "4k"], "`--seq-len` is for training"),
        (["--train", "lora", "--quant", "awq"], "drop `--quant awq`"),
        (["--train", "lora", "--engine", "vllm"], "drop `--engine vllm`"),
        (["--train", "lora", "--seq-len", "0"], "`--seq-len` must be at least 1"),
        (["--train", "lora", "--seq-len", "lots"], "`--seq-len` must be a count"),
    ],
)
def test_bad_training_flags_are_one_line(
    cli: Callable[..., CliResult], args: list[str], message: str
) -> None:
    r = cli("plan", "qwen2.5-32b", *args)
    assert r.code == 2 and message in r.err and r.err.count("\n") == 1, r.err


def test_a_llamacpp_plan_counts_the_slots_serve_decodes(
    cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    """llama.cpp allocates a whole context per slot up front, so `--engine llamacpp` plans the
    slots `outweigh serve` runs ($OUTWEIGH_LLAMA_SLOTS, 8) unless `--batch` says otherwise."""
    args = ("plan", "smollm2-135m", "--engine", "llamacpp", "--quant", "q4_1", "--json")

    def kv(*extra: str) -> tuple[int, int]:
        r = cli(*args, *extra)
        assert r.code == 0, r.err
        d = json.loads(r.out)
        return d["batch"], d["kv_context_bytes"]

    one = kv("--batch", "1")
    assert kv() == (8, 8 * one[1])
    monkeypatch.setenv("OUTWEIGH_LLAMA_SLOTS", "2")
    assert kv() == (2, 2 * one[1])
    monkeypatch.delenv("OUTWEIGH_LLAMA_SLOTS")
    r = cli("plan", "smollm2-135m", "--json")  # transformers plans one sequence
    assert json.loads(r.out)["batch"] == 1
