"""llama.cpp on this machine: the CPU variant it loads, and the probe that keeps a native crash
out of the process. The crashing engine here is a real subprocess that really segfaults (or
hangs); only which program the probe runs is swapped."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from outweigh.errors import ModelLoadError
from outweigh.generate import native
from outweigh.generate.choose import llamacpp_installed
from outweigh.models.options import LoadOptions
from outweigh.settings import Paths

needs_llama = pytest.mark.skipif(not llamacpp_installed(), reason="llama-cpp-python missing")

SEGFAULT = "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"


@pytest.fixture
def models_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A models folder of the test's own, so verdicts start empty; the converted weights are
    linked in from the shared cache, so nothing is converted again."""
    shared = Path(os.environ["OUTWEIGH_MODELS_DIR"])
    mine = tmp_path / "models"
    mine.mkdir()
    for f in shared.glob("*") if shared.is_dir() else []:
        if f.name != "llamacpp-verdicts.json":
            (mine / f.name).symlink_to(f)
    monkeypatch.setenv("OUTWEIGH_MODELS_DIR", str(mine))
    monkeypatch.setattr("outweigh.generate.choose._told_crash", set())
    return mine


def crash_with(monkeypatch: pytest.MonkeyPatch, code: str) -> list[Path]:
    """Make the probe run `code` (in a real subprocess) instead of llama.cpp; the files it was
    asked to probe are recorded."""
    asked: list[Path] = []

    def command(model_file: Path) -> list[str]:
        asked.append(model_file)
        return [sys.executable, "-c", code]

    monkeypatch.setattr(native, "probe_command", command)
    return asked


@needs_llama
@pytest.mark.slow
def test_a_segfaulting_engine_falls_back_in_one_line_and_the_verdict_is_kept(
    models_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from outweigh.generate.choose import open_local
    from outweigh.generate.local import LocalBackend

    asked = crash_with(monkeypatch, SEGFAULT)
    with caplog.at_level(logging.WARNING, logger="outweigh"):
        backend = open_local("smollm2-135m", Paths(), LoadOptions())
    assert isinstance(backend, LocalBackend)  # transformers serves, and the process lives
    lines = [r.getMessage() for r in caplog.records if "llama.cpp failed" in r.getMessage()]
    assert len(lines) == 1 and "\n" not in lines[0]
    assert "segmentation fault" in lines[0] and "make install" in lines[0]
    assert len(asked) == 1
    kept = json.loads((models_dir / "llamacpp-verdicts.json").read_text())
    assert [v["ok"] for v in kept.values()] == [False]

    # A second run (a new process would read the same file) reuses the verdict: no probe.
    monkeypatch.setattr("outweigh.generate.choose._told_crash", set())
    assert isinstance(open_local("smollm2-135m", Paths(), LoadOptions()), LocalBackend)
    assert len(asked) == 1

    # Asked for by name, llama.cpp is refused in one line rather than run into the crash.
    with pytest.raises(ModelLoadError, match="segmentation fault") as e:
        open_local("smollm2-135m", Paths(), LoadOptions(backend="llamacpp"))
    assert "\n" not in str(e.value)


@needs_llama
def test_a_hanging_probe_is_a_verdict_too(models_dir: Path, monkeypatch: pytest.MonkeyPatch):
    crash_with(monkeypatch, "import time; time.sleep(30)")
    model = models_dir / "fake.gguf"
    model.write_bytes(b"GGUF")
    verdict = native.probe(model, models_dir, timeout_s=1)
    assert not verdict.ok and verdict.reason == "hung for 1 s"
    assert native.cached_verdict(model, models_dir) == verdict


@needs_llama
def test_a_changed_model_file_is_probed_again(models_dir: Path, monkeypatch: pytest.MonkeyPatch):
    asked = crash_with(monkeypatch, "raise SystemExit(0)")
    model = models_dir / "fake.gguf"
    model.write_bytes(b"GGUF")
    assert native.probe(model, models_dir).ok
    assert native.probe(model, models_dir).ok
    model.write_bytes(b"GGUF, rewritten")
    assert native.probe(model, models_dir).ok
    assert len(asked) == 2


@needs_llama
@pytest.mark.slow
def test_the_real_probe_passes_and_a_cli_run_then_reads_a_kept_failure(
    models_dir: Path, tmp_path: Path
) -> None:
    """The real probe of the bundled model passes here. A failure written for the same key is
    what a later `outweigh ask` (its own process) finds: it answers with transformers and says
    why in one line, exit 0."""
    from outweigh.generate.llamacpp import model_file
    from outweigh.models.catalog import resolve

    path = model_file(resolve("smollm2-135m"), Paths(), LoadOptions())
    verdict = native.probe(path, models_dir)
    assert verdict.ok, verdict.reason
    key = native.verdict_key(path)
    data = json.loads((models_dir / "llamacpp-verdicts.json").read_text())
    data[key] = {**data[key], "ok": False, "reason": "segmentation fault"}
    (models_dir / "llamacpp-verdicts.json").write_text(json.dumps(data))
    done = subprocess.run(
        [sys.executable, "-m", "outweigh", "ask", "What is 2+2?", "--no-rag", "--max-tokens", "8"],
        capture_output=True,
        text=True,
        env={**os.environ, "OUTWEIGH_HOME": str(tmp_path / "cli-home")},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
    said = [line for line in done.stderr.splitlines() if "llama.cpp failed" in line]
    assert len(said) == 1 and "segmentation fault" in said[0]
    assert "Traceback" not in done.stderr


@needs_llama
def test_the_cpu_code_is_chosen_for_this_cpu() -> None:
    """A portable build ships several CPU variants and loads the best one this CPU runs; a
    single-backend build has none to choose."""
    module = native.llama_cpp_module()
    found = native.variants(Path(module.llama_cpp._base_path))
    if not found:
        pytest.skip("this llama-cpp-python build has a single CPU backend")
    names = {native.variant_name(p) for p in found}
    assert "sapphirerapids" not in names  # the AMX code that segfaults is not built
    assert native.loaded_variant() in names
    flags = native.cpu_flags()
    features = native.cpu_features()
    if native.loaded_variant() == "haswell":
        assert "AVX2" in features and "avx2" in flags
    if "avx2" not in flags.split():
        assert "AVX2" not in features


def test_a_variant_this_build_lacks_is_one_line(tmp_path: Path) -> None:
    from outweigh.errors import InputError

    found = [tmp_path / "libggml-cpu-haswell.so", tmp_path / "libggml-cpu-zen4.so"]
    assert native.choose_variant(found, "zen4") == found[1]
    with pytest.raises(InputError, match="choose one of: haswell, zen4") as e:
        native.choose_variant(found, "skylake")
    assert "OUTWEIGH_LLAMA_CPU='skylake'" in str(e.value)


@needs_llama
@pytest.mark.slow
def test_doctor_shows_the_build_the_cpu_code_and_what_serves_each_model(
    models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from outweigh.doctor import engine

    findings = {f.check: f for f in engine(Paths())}
    build = findings["engine"]
    assert build.ok and "llama-cpp-python 0.3" in build.detail
    if native.loaded_variant():
        assert f"CPU code {native.loaded_variant()}" in build.detail
    assert findings["engine smollm2-135m"].detail.startswith("llama.cpp (probe passed in ")

    # The same check on a machine where llama.cpp crashes on the model: a problem, with its fix.
    (models_dir / "llamacpp-verdicts.json").unlink()
    crash_with(monkeypatch, SEGFAULT)
    findings = {f.check: f for f in engine(Paths())}
    smol = findings["engine smollm2-135m"]
    assert not smol.ok and not smol.healthy
    assert smol.detail.startswith("transformers: ") and "segmentation fault" in smol.detail
