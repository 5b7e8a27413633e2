"""llama.cpp on this machine: which CPU code it loads, and whether it runs here at all.

**CPU code chosen at run time.** `make install` builds llama-cpp-python with its CPU backend
as one shared library per SIMD level (`scripts/llama_cpp_wheel.py`: `GGML_BACKEND_DL`,
`GGML_CPU_ALL_VARIANTS`, no `-march=native`, no AMX), and its `llama_cpp` module loads the one
that scores best on this CPU when imported, so one build runs on any x86-64 (or aarch64)
machine. `OUTWEIGH_LLAMA_CPU=haswell` picks a variant by name instead. `llama_cpp_module()`
checks that choice, loads the variant itself for a build without that loader, and remembers
which one runs (`loaded_variant`). A build with a single CPU backend (pip's default) is used as
it is.

**A native crash never takes the process down.** Before llama.cpp first serves a model file on
a machine, `probe` loads it and decodes a few tokens in a subprocess. A probe that dies (a
segfault, an illegal instruction) or hangs turns llama.cpp off for that file: `pick_backend`
says why in one line and transformers serves. The verdict is kept in the models folder, keyed
by the llama.cpp build, the CPU's flags and the model file, so later runs do not probe again.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import logging
import os
import platform
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

PROBE_TIMEOUT_S = 120.0
"""A probe that has not answered by then is taken as hung. Loading and 8 tokens of the bundled
model take about 2 s on 2 cores; a 32B GGUF on a CPU can take a minute to load."""

PROBE_TOKENS = 8

CPU_ENV = "OUTWEIGH_LLAMA_CPU"
"""Names the CPU variant to load (`haswell`, `skylakex`, ...) instead of the best-scoring one."""

_loaded: dict[str, Any] = {}


def llama_cpp_module() -> ModuleType:
    """The `llama_cpp` module, with this CPU's backend variant loaded (once per process).

    A wheel from `make install` loads it itself when imported; a build with variants but
    without that loader gets it loaded here. A variant named in `$OUTWEIGH_LLAMA_CPU` that the
    build lacks is an InputError naming the ones it has."""
    import llama_cpp as module

    if "module" not in _loaded:
        from outweigh.settings import llama_cpu

        lib_dir = Path(module.llama_cpp._base_path)
        found = variants(lib_dir)
        if found:
            chosen = choose_variant(found, llama_cpu())
            _load_variant(lib_dir, chosen)
            _loaded["variant"] = variant_name(chosen)
        _loaded["module"] = module
    return module


def variants(lib_dir: Path) -> list[Path]:
    """The CPU backend variants a build ships (`libggml-cpu-<name>.so`), by name."""
    suffix = ".dll" if sys.platform == "win32" else ".so"
    prefix = "ggml-cpu-" if sys.platform == "win32" else "libggml-cpu-"
    return sorted(p for p in lib_dir.glob(f"{prefix}*{suffix}") if p.is_file())


def variant_name(path: Path) -> str:
    return path.name.split("ggml-cpu-", 1)[1].rsplit(".", 1)[0]


def _load_variant(lib_dir: Path, chosen: Path) -> None:
    """Load `chosen` into the ggml libllama uses, unless a backend is loaded already."""
    ggml = _loaded_ggml(lib_dir)
    ggml.ggml_backend_reg_count.restype = ctypes.c_size_t
    if ggml.ggml_backend_reg_count() > 0:  # by the wheel's own loader, or the host program
        return
    ggml.ggml_backend_load.restype = ctypes.c_void_p
    ggml.ggml_backend_load.argtypes = [ctypes.c_char_p]
    quiet = logging.getLogger("llama-cpp-python")  # its log callback prints "loaded CPU backend"
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        handle = ggml.ggml_backend_load(str(chosen).encode())
    finally:
        quiet.setLevel(level)
    if not handle:
        from outweigh.errors import ModelLoadError

        raise ModelLoadError(f"llama.cpp could not load its CPU backend {chosen}")


def choose_variant(found: list[Path], wanted: str | None) -> Path:
    """The variant named `wanted` (InputError naming the choices if the build lacks it), else
    the best for this CPU."""
    if not wanted:
        return best_variant(found)
    chosen = next((p for p in found if variant_name(p) == wanted), None)
    if chosen is None:
        from outweigh.errors import InputError

        names = ", ".join(variant_name(p) for p in found)
        raise InputError(f"{CPU_ENV}={wanted!r} is not in this build; choose one of: {names}")
    return chosen


def _loaded_ggml(lib_dir: Path) -> Any:
    """The libggml instance libllama is linked to. A wheel holds `libggml.so`, `.so.0` and
    `.so.0.x.y` as three copies (zip has no links), and opening another copy than the one the
    loader took for libllama would make a second ggml whose backends llama.cpp never sees."""
    if sys.platform == "win32":
        return ctypes.CDLL(str(lib_dir / "ggml.dll"))
    for path in sorted(lib_dir.glob("libggml.so*")):
        try:  # RTLD_NOLOAD: only a copy that is loaded already
            return ctypes.CDLL(str(path), mode=os.RTLD_NOLOAD | ctypes.RTLD_GLOBAL)
        except OSError:
            continue
    return ctypes.CDLL(str(lib_dir / "libggml.so"))


def best_variant(found: list[Path]) -> Path:
    """The variant whose `ggml_backend_score` is highest on this CPU (0: cannot run here)."""
    best, best_score = found[0], 0
    for path in found:
        try:
            lib = ctypes.CDLL(str(path))
        except OSError:
            continue
        lib.ggml_backend_score.restype = ctypes.c_int
        score = int(lib.ggml_backend_score())
        if score > best_score:
            best, best_score = path, score
    return best


def loaded_variant() -> str | None:
    """The CPU variant this process loaded (None: not loaded yet, or a single-backend build)."""
    return _loaded.get("variant")


def cpu_threads() -> int:
    """Threads for decoding: every core this process may run on. llama-cpp-python's default is
    half the cores, which on a 2-core machine is one."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


# -- build facts ---------------------------------------------------------------------------------
def build_id() -> str:
    """A short hash of the installed llama.cpp libraries (names, sizes, mtimes): it changes when
    llama-cpp-python is rebuilt, which is when a verdict must be taken again."""
    import importlib.util

    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.submodule_search_locations:
        return "none"
    lib = Path(next(iter(spec.submodule_search_locations))) / "lib"
    parts = [
        f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}"
        for p in sorted(lib.glob("*"))
        if p.is_file()
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


def cpu_flags() -> str:
    """The CPU's model name and feature flags, as the kernel reports them."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return f"{platform.machine()} {platform.processor()}"
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key in ("model name", "flags", "Features", "CPU part") and key not in fields:
            fields[key] = value.strip()
    return " | ".join(f"{k}: {v}" for k, v in sorted(fields.items()))


def cpu_features() -> list[str]:
    """The SIMD features the loaded llama.cpp CPU code uses ("AVX2", "AVX512_BF16", ...)."""
    module = llama_cpp_module()
    info = module.llama_print_system_info().decode(errors="replace")
    used = []
    for part in info.split("|"):
        name, _, value = part.rpartition("=")
        name = name.split(":")[-1].strip()
        if value.strip() == "1" and name:
            used.append(name)
    return used


# -- the probe -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Verdict:
    """Whether llama.cpp ran a model file on this machine, and if not, why."""

    ok: bool
    reason: str
    """"" when ok; else what happened ("segmentation fault", "hung for 120 s", ...)."""
    seconds: float
    probed_at: float

    def line(self, model: str, so: str = "transformers serves it (slower)") -> str:
        """The one line that says what follows from a failed probe (`so`)."""
        return (
            f"llama.cpp failed on {model} on this machine ({self.reason}, in a test run in a "
            f"subprocess), so {so}. Fix: rebuild llama-cpp-python "
            f"portably with `make install` (or pick its CPU code with {CPU_ENV}=haswell); "
            "`outweigh doctor` shows the engine"
        )


def verdict_key(model_file: Path) -> str:
    from outweigh.settings import llama_cpu

    stat = model_file.stat()
    parts = [
        build_id(),
        cpu_flags(),
        str(model_file.resolve()),
        str(stat.st_size),
        str(stat.st_mtime_ns),
        llama_cpu() or "",
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _verdicts_file(models_dir: Path) -> Path:
    return models_dir / "llamacpp-verdicts.json"


def cached_verdict(model_file: Path, models_dir: Path) -> Verdict | None:
    try:
        data = json.loads(_verdicts_file(models_dir).read_text())
        return Verdict(**data[verdict_key(model_file)])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _keep(model_file: Path, models_dir: Path, verdict: Verdict) -> None:
    path = _verdicts_file(models_dir)
    try:
        data = json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, ValueError):
        data = {}
    data[verdict_key(model_file)] = asdict(verdict)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only models folder probes again next time; nothing is lost


def probe_command(model_file: Path) -> list[str]:
    """The subprocess that loads `model_file` and decodes a few tokens."""
    return [sys.executable, "-m", "outweigh.generate.native", str(model_file)]


def probe(model_file: Path, models_dir: Path, timeout_s: float = PROBE_TIMEOUT_S) -> Verdict:
    """The verdict for `model_file` on this machine: cached, or from a probe run now."""
    cached = cached_verdict(model_file, models_dir)
    if cached is not None:
        return cached
    started = time.monotonic()
    env = dict(os.environ, PYTHONFAULTHANDLER="1")
    try:
        done = subprocess.run(
            probe_command(model_file),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env=env,
            stdin=subprocess.DEVNULL,
        )
        reason = _reason(done.returncode, done.stderr)
    except subprocess.TimeoutExpired:
        reason = f"hung for {timeout_s:g} s"
    verdict = Verdict(not reason, reason, round(time.monotonic() - started, 2), time.time())
    _keep(model_file, models_dir, verdict)
    return verdict


def _reason(returncode: int, stderr: str) -> str:
    if returncode == 0:
        return ""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        words = {
            "SIGSEGV": "segmentation fault",
            "SIGILL": "illegal instruction",
            "SIGBUS": "bus error",
            "SIGABRT": "abort",
            "SIGKILL": "killed (out of memory?)",
        }
        return words.get(name, name)
    last = next((s.strip() for s in reversed(stderr.splitlines()) if s.strip()), "")
    return f"exit {returncode}: {last[:200]}" if last else f"exit {returncode}"


def _probe_main(model_file: str) -> None:
    """Run in the probe subprocess: load, decode PROBE_TOKENS greedily, exit 0."""
    module = llama_cpp_module()
    llm = module.Llama(model_file, n_ctx=256, n_threads=cpu_threads(), verbose=False)
    prompt = llm.tokenize(b"The capital of France is", add_bos=True)
    for n, _ in enumerate(llm.generate(prompt, temp=0.0, top_k=1), start=1):
        if n >= PROBE_TOKENS:
            break
    llm.close()


if __name__ == "__main__":
    _probe_main(sys.argv[1])
