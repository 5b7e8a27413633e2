#!/usr/bin/env bash
# Runs llama.cpp from this checkout's .venv on older x86-64 CPUs than the machine's, under
# qemu-user's CPU emulation (Debian's qemu-user): for each CPU model, which CPU variant the
# portable build loads and whether it decodes. A -march=native build dies there with SIGILL.
#   bash scripts/check_cpus.sh [CPU_MODEL ...]     (default: Nehalem SandyBridge Haswell)
# Older than SSE3 (qemu64) NumPy itself, which llama-cpp-python imports, dies with SIGILL.
# qemu 7.2 emulates no AVX-512, so the skylakex, icelake and zen4 variants are not run here.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v qemu-x86_64 >/dev/null || { echo "check_cpus: needs qemu-user (apt-get install qemu-user)"; exit 2; }
export OUTWEIGH_MODELS_DIR="${OUTWEIGH_MODELS_DIR:-$PWD/.cache/models}" HF_HUB_OFFLINE=1
model="$(.venv/bin/python -c 'from outweigh.generate.llamacpp import model_file
from outweigh.models.catalog import resolve
from outweigh.models.options import LoadOptions
from outweigh.settings import Paths
print(model_file(resolve("smollm2-135m"), Paths(), LoadOptions(device="cpu")))')"
for cpu in "${@:-Nehalem SandyBridge Haswell}"; do
  for c in $cpu; do
    start=$(date +%s)
    if out=$(qemu-x86_64 -cpu "$c" .venv/bin/python -c '
import sys
from outweigh.generate import native
llama = native.llama_cpp_module()
llm = llama.Llama(sys.argv[1], n_ctx=64, n_threads=2, verbose=False)
ids = llm.tokenize(b"The capital of France is", add_bos=True)
text = b"".join(llm.detokenize([t]) for _, t in zip(range(3), llm.generate(ids, temp=0.0)))
print(native.loaded_variant(), " ".join(native.cpu_features()), "|", text.decode(errors="replace"))
' "$model" 2>/tmp/check_cpus.err); then
      echo "$c: ok in $(( $(date +%s) - start )) s: variant ${out}"
    else
      echo "$c: FAILED ($?): $(grep -v '^qemu-x86_64: warning' /tmp/check_cpus.err | tail -1)"
    fi
  done
done
