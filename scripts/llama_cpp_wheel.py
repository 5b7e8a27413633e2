"""Build (once) and install a portable llama-cpp-python wheel.

llama-cpp-python has no Linux wheel on PyPI, and its default build compiles llama.cpp with
`-march=native`: the library then runs only on CPUs with the build machine's features, and on
Sapphire Rapids-class Xeons it compiles in the AMX matmul, which segfaults (ggml-org/llama.cpp
#20824). This script builds it instead with the CPU backend as several shared libraries, one
per SIMD level (`GGML_BACKEND_DL` + `GGML_CPU_ALL_VARIANTS`); llama.cpp scores them against
the CPU at run time and loads the best one (`outweigh.generate.llamacpp_build`). Two changes to
the sdist, both plain text edits made here:

- the AMX variant (`sapphirerapids`) and the variants that only sit between two others
  (ivybridge, piledriver, cannonlake, cascadelake, cooperlake) are not built: an AMX machine
  loads `zen4` (AVX-512 with VBMI, VNNI and BF16), and the build is 6 variants shorter;
- the remaining variants are installed beside libllama in the wheel (llama-cpp-python's
  CMakeLists installs only a single `ggml-cpu`), and `llama_cpp` loads the best of them when it
  is imported (`LOADER`), so any program using llama_cpp from this wheel works, not only
  outweigh (whose `outweigh.generate.native` reports which one it is).

The wheel is kept in a cache folder named by a hash of everything that shapes it (the sdist
version, these edits, the CMake arguments, the machine architecture and compiler), so a wheel
built with other flags is never reused, and pip's own wheel cache (keyed by the sdist alone)
is bypassed.

    python scripts/llama_cpp_wheel.py PYTHON [--cmake-args EXTRA]   # EXTRA: -DGGML_CUDA=on
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VERSION = "0.3.36"
# Kept x86 variants, lowest to highest; llama.cpp's scoring picks among them at load time.
X86_VARIANTS = (
    "x64",
    "sse42",
    "sandybridge",
    "haswell",
    "skylakex",
    "icelake",
    "alderlake",
    "zen4",
)
ARM_VARIANTS = (
    "armv8.0_1",
    "armv8.2_1",
    "armv8.2_2",
    "armv8.2_3",
    "armv8.6_1",
    "armv8.6_2",
    "armv9.2_1",
    "armv9.2_2",
)
# Portable CPU backend: no -march=native, one library per SIMD level, chosen at run time.
# LLAVA_BUILD=OFF skips the multimodal library outweigh does not use.
PORTABLE_ARGS = (
    "-DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON -DLLAVA_BUILD=OFF"
)


LOADER = """
# Added by outweigh's portable build (scripts/llama_cpp_wheel.py): the CPU code ships as one
# library per SIMD level beside libllama; load the one that scores best on this CPU (or the
# one $OUTWEIGH_LLAMA_CPU names), so every caller of llama_cpp gets a working backend.
def _load_cpu_variant() -> None:
    import glob

    if not glob.glob(str(_base_path / "libggml-cpu-*.so")):
        return
    ggml = None
    for name in sorted(glob.glob(str(_base_path / "libggml.so*"))):
        try:  # the copy libllama is linked to, not a second ggml
            ggml = ctypes.CDLL(name, mode=os.RTLD_NOLOAD | ctypes.RTLD_GLOBAL)
            break
        except OSError:
            continue
    if ggml is None:
        return
    ggml.ggml_backend_reg_count.restype = ctypes.c_size_t
    if ggml.ggml_backend_reg_count() > 0:
        return
    quiet = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)(
        lambda *_: None
    )
    ggml.ggml_log_set(quiet, None)  # llama_cpp._logger sets its own callback at import
    wanted = os.environ.get("OUTWEIGH_LLAMA_CPU", "").strip()
    if wanted and (_base_path / f"libggml-cpu-{wanted}.so").is_file():
        ggml.ggml_backend_load.restype = ctypes.c_void_p
        ggml.ggml_backend_load(str(_base_path / f"libggml-cpu-{wanted}.so").encode())
    else:
        ggml.ggml_backend_load_all_from_path(str(_base_path).encode())
    global _quiet_log
    _quiet_log = quiet  # kept alive until llama_cpp._logger replaces it


_load_cpu_variant()
"""


def _patch(src: Path) -> None:
    ggml = src / "vendor/llama.cpp/ggml/src/CMakeLists.txt"
    text = ggml.read_text()
    kept = 0

    def keep(match: re.Match[str]) -> str:
        nonlocal kept
        name = match.group(2)
        if name in X86_VARIANTS or not _is_x86_variant(name):
            kept += 1
            return match.group(0)
        return f"{match.group(1)}# outweigh: variant {name} not built\n"

    text = re.sub(r"^(\s*)ggml_add_cpu_backend_variant\((\w[\w.]*)[^\n]*\n", keep, text, flags=re.M)
    if "sapphirerapids SSE42" in text.replace("# outweigh: variant sapphirerapids", ""):
        raise SystemExit("llama_cpp_wheel: could not remove the AMX variant; check the sdist")
    ggml.write_text(text)
    names = " ".join(f"ggml-cpu-{v}" for v in X86_VARIANTS + ARM_VARIANTS)
    _insert_after(
        src / "CMakeLists.txt",
        "    llama_cpp_python_install_target(ggml-cpu)\n",
        f"    foreach(v {names})\n        llama_cpp_python_install_target(${{v}})\n"
        "    endforeach()\n",
    )
    _insert_after(
        src / "llama_cpp/llama_cpp.py",
        "_lib = load_shared_library(_lib_base_name, _base_path)\n",
        LOADER,
    )


def _insert_after(path: Path, anchor: str, text: str) -> None:
    """Put `text` after the line `anchor` of `path`; stop if the sdist no longer has it."""
    source = path.read_text()
    if anchor not in source:
        raise SystemExit(f"llama_cpp_wheel: {path.name} changed; update the patch ({anchor!r})")
    path.write_text(source.replace(anchor, anchor + text, 1))


_X86_ALL = frozenset(
    {"x64", "sse42", "sandybridge", "ivybridge", "piledriver", "haswell", "skylakex"}
    | {"cannonlake", "cascadelake", "icelake", "cooperlake", "zen4", "alderlake"}
    | {"sapphirerapids"}
)


def _is_x86_variant(name: str) -> bool:
    return name in _X86_ALL


def _compiler() -> str:
    cc = os.environ.get("CC", "cc")
    try:
        out = subprocess.run([cc, "--version"], capture_output=True, text=True, check=True)
        return out.stdout.splitlines()[0]
    except (OSError, subprocess.CalledProcessError):
        return cc


PATCH = 2
"""Raise when `_patch` changes what it does to the sources: the cache key includes it."""


def cache_key(cmake_args: str) -> str:
    parts = [
        VERSION,
        cmake_args,
        platform.machine(),
        _compiler(),
        str(PATCH),
        *X86_VARIANTS,
        *ARM_VARIANTS,
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "outweigh" / "wheels"


def build(python: str, cmake_args: str) -> Path:
    folder = cache_root() / f"llama-cpp-python-{VERSION}-{cache_key(cmake_args)}"
    wheels = sorted(folder.glob("llama_cpp_python-*.whl"))
    if wheels:
        print(f"llama-cpp-python: reusing {wheels[-1]}", flush=True)
        return wheels[-1]
    with tempfile.TemporaryDirectory(prefix="outweigh-llama-") as tmp:
        tmp_path = Path(tmp)
        subprocess.run(
            [
                python,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--no-binary",
                ":all:",
                f"llama-cpp-python=={VERSION}",
                "-d",
                tmp,
            ],
            check=True,
        )
        (sdist,) = tmp_path.glob("llama_cpp_python-*.tar.gz")
        with tarfile.open(sdist) as tar:
            tar.extractall(tmp_path, filter="data")
        src = tmp_path / f"llama_cpp_python-{VERSION}"
        _patch(src)
        out = tmp_path / "wheel"
        print(f"llama-cpp-python: building {VERSION} ({cmake_args}); minutes", flush=True)
        env = dict(os.environ, CMAKE_ARGS=cmake_args)
        env.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 2))
        subprocess.run(
            [
                python,
                "-m",
                "pip",
                "wheel",
                "-q",
                "--no-deps",
                "--no-cache-dir",
                "-w",
                str(out),
                str(src),
            ],
            check=True,
            env=env,
        )
        (wheel,) = out.glob("llama_cpp_python-*.whl")
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / (wheel.name + ".part")
        shutil.copy2(wheel, partial)
        partial.rename(folder / wheel.name)  # a killed build leaves no wheel to reuse
        return folder / wheel.name


def portable(extra: str) -> str:
    """The portable flags, then the `extra` ones they do not already hold; an extra flag that
    would undo portability (`-DGGML_NATIVE=ON`, no CPU variants, AMX on) stops the build."""
    flags = PORTABLE_ARGS.split()
    for flag in extra.split():
        name, _, value = flag.partition("=")
        undoes = {
            "-DGGML_NATIVE": "ON",
            "-DGGML_BACKEND_DL": "OFF",
            "-DGGML_CPU_ALL_VARIANTS": "OFF",
            "-DGGML_AMX_TILE": "ON",
        }
        if undoes.get(name) == value.upper():
            raise SystemExit(f"llama_cpp_wheel: {flag} would build for one CPU; drop it")
        if flag not in flags:
            flags.append(flag)
    return " ".join(flags)


def check_installed(python: str) -> None:
    """Stop unless the llama_cpp that `python` imports is a portable build: CPU variants beside
    libllama, and no AMX variant."""
    found = subprocess.run(
        [
            python,
            "-c",
            "import importlib.util, pathlib; s = importlib.util.find_spec('llama_cpp');"
            "print('\\n'.join(p.name for p in (pathlib.Path(next(iter("
            "s.submodule_search_locations))) / 'lib').glob('libggml-cpu-*')))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if not found or any("sapphirerapids" in name for name in found):
        raise SystemExit(
            "llama_cpp_wheel: the installed llama-cpp-python is not the portable build "
            f"(CPU variants: {found or 'none'}); remove it and run make install again"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("python", help="the Python of the environment to install into")
    parser.add_argument(
        "--cmake-args",
        default=os.environ.get("LLAMA_CMAKE_ARGS", ""),
        help="CMake arguments added to the portable ones, e.g. -DGGML_CUDA=on",
    )
    parser.add_argument("--print-key", action="store_true", help="print the cache key and exit")
    args = parser.parse_args()
    cmake_args = portable(args.cmake_args)
    if args.print_key:
        print(cache_key(cmake_args))
        return
    wheel = build(args.python, cmake_args)
    subprocess.run(
        [args.python, "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(wheel)],
        check=True,
    )
    check_installed(args.python)
    # llama-cpp-python's own dependencies, from the index as usual.
    subprocess.run(
        [
            args.python,
            "-m",
            "pip",
            "install",
            "-q",
            "numpy>=1.20",
            "typing-extensions>=4.5",
            "diskcache>=5.6.1",
            "jinja2>=2.11.3",
        ],
        check=True,
    )


if __name__ == "__main__":
    sys.exit(main())
