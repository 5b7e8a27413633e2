"""Build (once) llama.cpp's own `llama-server` from the llama.cpp that llama-cpp-python vendors,
the baseline `benchmarks/bench_load.py` measures outweigh's server against.

The sdist of the pinned llama-cpp-python (`llama_cpp_wheel.VERSION`) carries llama.cpp under
`vendor/llama.cpp`; it is built with the same portable flags as the wheel (no
`-march=native`, the CPU code as one library per SIMD level, `GGML_BACKEND_DL`), but only the
`llama-server` target and the CPU variant this machine loads (`--variant`, default: the one
`outweigh.generate.native` picks), so the build takes minutes rather than the wheel's hour.
The result is kept under `<repo>/.cache/llama-server-<version>/` and reused.

    python scripts/llama_server.py [--sdist FILE] [--variant haswell]   # prints the binary's path
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from llama_cpp_wheel import PORTABLE_ARGS, VERSION

ROOT = Path(__file__).resolve().parents[1]


def folder() -> Path:
    return ROOT / ".cache" / f"llama-server-{VERSION}"


def binary() -> Path:
    return folder() / "bin" / "llama-server"


def this_variant() -> str:
    from outweigh.generate.native import llama_cpp_module, loaded_variant

    llama_cpp_module()
    return loaded_variant() or "haswell"


def _only_variant(src: Path, variant: str) -> None:
    """Keep only `variant` among the CPU variants: the one this machine loads, compiled with the
    same flags as in the wheel; the others would only lengthen the build."""
    cmake = src / "ggml/src/CMakeLists.txt"
    text = cmake.read_text()

    def keep(match: re.Match[str]) -> str:
        return match.group(0) if match.group(2) == variant else f"{match.group(1)}# not built\n"

    text = re.sub(r"^(\s*)ggml_add_cpu_backend_variant\((\w[\w.]*)[^\n]*\n", keep, text, flags=re.M)
    if f"ggml_add_cpu_backend_variant({variant}" not in text:
        raise SystemExit(f"llama_server: no CPU variant {variant!r} in this llama.cpp")
    cmake.write_text(text)


def build(sdist: Path | None, variant: str) -> Path:
    if binary().is_file():
        return binary()
    with tempfile.TemporaryDirectory(prefix="outweigh-llama-server-") as tmp:
        tmp_path = Path(tmp)
        if sdist is None:
            pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary"]
            subprocess.run([*pip, ":all:", f"llama-cpp-python=={VERSION}", "-d", tmp], check=True)
            (sdist,) = tmp_path.glob("llama_cpp_python-*.tar.gz")
        prefix = f"llama_cpp_python-{VERSION}/vendor/llama.cpp/"
        with tarfile.open(sdist) as tar:
            members = [m for m in tar.getmembers() if m.name.startswith(prefix)]
            tar.extractall(tmp_path, members=members, filter="data")
        src = tmp_path / prefix
        _only_variant(src, variant)
        out = tmp_path / "build"
        flags = [f for f in PORTABLE_ARGS.split() if not f.startswith("-DLLAVA")]
        configure = ["cmake", "-S", str(src), "-B", str(out), "-G", "Ninja"]
        off = ["-DLLAMA_CURL=OFF", "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF"]
        release = ["-DCMAKE_BUILD_TYPE=Release", "-DLLAMA_BUILD_SERVER=ON"]
        subprocess.run([*configure, *release, *flags, *off], check=True)
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 2))
        targets = ["llama-server", f"ggml-cpu-{variant}"]
        subprocess.run(["cmake", "--build", str(out), "-j", jobs, "--target", *targets], check=True)
        bin_dir = folder() / "bin.part"
        bin_dir.mkdir(parents=True, exist_ok=True)
        for path in (out / "bin").iterdir():
            if path.is_file() and (path.name == "llama-server" or ".so" in path.name):
                (bin_dir / path.name).write_bytes(path.read_bytes())
                (bin_dir / path.name).chmod(0o755)
        bin_dir.rename(folder() / "bin")  # a killed build leaves nothing to reuse
    return binary()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sdist", type=Path, help="llama-cpp-python's sdist, if at hand")
    parser.add_argument("--variant", help="CPU variant to build (default: this machine's)")
    args = parser.parse_args()
    print(build(args.sdist, args.variant or this_variant()))


if __name__ == "__main__":
    main()
