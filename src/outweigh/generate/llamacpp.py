"""Local generation with llama.cpp (llama-cpp-python): a GGUF run in its quantized form.

The bundled models are quantized GGUF files. transformers dequantizes them to float32 and
decodes in PyTorch; llama.cpp runs the quantized weights directly, about 7x faster on 2 CPU
cores (docs/benchmarks.md). A file runs as it ships, except where the catalog names a CPU
type its quant lacks fast kernels for (`quantize.cpu_gguf`). The prompt is the same text as the
transformers backend renders (the chat template carried in the GGUF, rendered by
llama-cpp-python's Jinja2 formatter, which runs the same template as `apply_chat_template`),
and decoding, stop strings, streaming and token accounting follow `LocalBackend`'s rules, so
an answer is the same whichever backend runs.

LoRA adapters stay unmerged: each registered adapter's GGUF form (written at registration, see
`outweigh.adapters.gguf`) is loaded once over the base with `llama_adapter_lora_init`, and every
request sets its own adapters and scales with `llama_set_adapters_lora`, so switching or mixing
(`a:0.7,b:0.3` is the scales 0.7 and 0.3, the same 0.7·ΔW_a + 0.3·ΔW_b as PEFT's `cat` mix)
costs no reload of the base.

Answers are decoded together: `generate.batcher.Batcher` runs up to `slots` of them in one
batch over one context (continuous batching), reusing cached prompt prefixes; requests under
different adapter sets take turns (a batch runs one set).

Whether llama.cpp or transformers serves a model is `choose.open_local`'s decision.
"""

from __future__ import annotations

import codecs
import ctypes
import queue
import threading
import weakref
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from outweigh.errors import InputError, ModelLoadError
from outweigh.generate.base import (
    CANCEL,
    Backend,
    Generation,
    GenerationRequest,
    Message,
    Stream,
    until_stop,
)
from outweigh.generate.batcher import END, Batcher, Job
from outweigh.generate.local import BASE_MODEL_STOPS
from outweigh.generate.lora import check_base, spell_mix
from outweigh.generate.native import cpu_threads, llama_cpp_module
from outweigh.generate.quantize import cpu_gguf
from outweigh.prompt import MAX_PROMPT_TOKENS

if TYPE_CHECKING:
    from outweigh.generate.lora import AdapterSource
    from outweigh.models.catalog import ModelEntry
    from outweigh.models.options import LoadOptions
    from outweigh.settings import Paths


@dataclass(frozen=True)
class Placement:
    """Where llama.cpp puts the layers."""

    n_gpu_layers: int
    """Layers offloaded to the GPU: -1 all of them, 0 none (CPU)."""
    main_gpu: int = 0
    """The GPU that holds the model under `--device cuda:N`."""

    @property
    def on_gpu(self) -> bool:
        return self.n_gpu_layers != 0


def placement(options: LoadOptions) -> Placement:
    """`--device` for llama.cpp: every layer on the GPU when the build has CUDA (or another
    GPU backend) and the device is not cpu; a build without one runs on the CPU, and a device
    named explicitly on such a build is refused."""
    llama_cpp = llama_cpp_module()

    if options.device == "cpu":
        return Placement(0)
    gpu = bool(llama_cpp.llama_supports_gpu_offload())
    if not gpu:
        if options.device != "auto":
            raise InputError(
                f"`--device {options.device}`: this llama-cpp-python build has no GPU support; "
                "rebuild it with CMAKE_ARGS=-DGGML_CUDA=on or use --device cpu"
            )
        return Placement(0)
    index = int(options.device.partition(":")[2] or 0)
    return Placement(-1, index)


def model_file(entry: ModelEntry, paths: Paths, options: LoadOptions) -> Path:
    """The GGUF llama.cpp runs `entry` from under `options`: on a GPU the file as it ships
    (every quant type has fast kernels there), on a CPU `cpu_gguf`."""
    from outweigh.models.loader import gguf_file

    return gguf_file(entry.name, paths) if placement(options).on_gpu else cpu_gguf(entry, paths)


class LlamaCppBackend(Backend):
    """A GGUF held by llama.cpp in this process; up to `parallel` answers decoded together."""

    chooses = True

    def __init__(
        self,
        llm: Any,
        entry: ModelEntry,
        adapters: AdapterSource | None = None,
        where: Placement | None = None,
        window: int | None = None,
        slots: int = 1,
    ) -> None:
        llama_cpp = llama_cpp_module()
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.llm = llm
        """The `llama_cpp.Llama` over the GGUF: its vocabulary, metadata and weights (the
        batcher decodes in a context of its own)."""
        self.entry = entry
        self.name = entry.name
        self.context_window = int(window or llm.n_ctx())
        """Tokens one answer may span, prompt and answer together."""
        self.adapters = adapters
        """Where adapter names resolve (an `AdapterRegistry`); None runs the base model only."""
        self.placement = where or Placement(0)
        meta = llm.metadata
        template = meta.get("tokenizer.chat_template") if entry.chat else None
        self._bos = _piece(llm, llm.token_bos())
        self._formatter = (
            Jinja2ChatFormatter(template, _piece(llm, llm.token_eos()), self._bos)
            if template
            else None
        )
        self._loras: dict[str, tuple[Any, str]] = {}
        """Registered name -> (llama_adapter_lora pointer, sha256 of the weights it holds)."""
        self._lora_lock = threading.Lock()
        self.parallel = slots
        self.batcher = Batcher(
            llama_cpp,
            llm.model,
            slots=slots,
            window=self.context_window,
            threads=cpu_threads(),
            switch=_weak(self._switch),
            conflicts=_reloads,
            name=f"llamacpp-{self.name}",
            keep=llm,
        )

    def parameter_counts(self) -> tuple[int, int]:
        """(total, non-embedding) parameters of the GGUF, as llama.cpp counts them (each
        tensor once). The embedding is the token table (vocab x hidden), plus the output head
        where the file holds one of its own (`output.weight`; a tied model has none)."""
        from gguf import GGUFReader

        total = int(self.llm._model.n_params())
        table = int(self.llm.n_vocab()) * int(self.llm.n_embd())
        names = {t.name for t in GGUFReader(self.llm.model_path).tensors}
        return total, total - table * (2 if "output.weight" in names else 1)

    @classmethod
    def load(
        cls,
        entry: ModelEntry,
        paths: Paths,
        options: LoadOptions,
        adapters: AdapterSource | None = None,
    ) -> LlamaCppBackend:
        """Open `entry`'s GGUF with llama.cpp, each answer's window as long as the prompt cap,
        `options.slots` answers at once."""
        where = placement(options)
        path = model_file(entry, paths, options)
        try:
            # This Llama's own context decodes nothing (the batcher's does): keep it small.
            llm = llama_cpp_module().Llama(
                str(path),
                n_ctx=64,
                n_batch=64,
                n_threads=cpu_threads(),
                n_gpu_layers=where.n_gpu_layers,
                main_gpu=where.main_gpu,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as e:
            raise ModelLoadError(f"llama.cpp cannot load {entry.name} ({path}): {e}") from e
        # The window: what the model was trained on (0 when the GGUF does not say), capped where
        # the prompt budget caps it, so the KV cache is sized to what a request can use
        # (llama.cpp allocates it whole). Asked of the loaded model: gguf-py would parse the
        # whole vocabulary again to find it, seconds per load.
        train = int(llm._model.n_ctx_train())
        window = min(train, MAX_PROMPT_TOKENS) if train > 0 else MAX_PROMPT_TOKENS
        return cls(llm, entry, adapters, where, window=window, slots=options.slots)

    # -- prompt ---------------------------------------------------------------------------
    def render(self, messages: list[Message]) -> str:
        """The exact text the model sees: its chat template, or a Q/A transcript for base models
        (the same text `LocalBackend.render` gives)."""
        if self._formatter is not None:
            return str(self._formatter(messages=messages).prompt)
        parts = []
        for m in messages:
            parts.append(f"Answer: {m['content']}" if m["role"] == "assistant" else m["content"])
        # Base models are trained on text that starts with BOS; Gemma degenerates without it.
        return self._bos + "\n\n".join(parts) + "\nAnswer:"

    def tokens(self, text: str) -> list[int]:
        """Token ids of `text`, special tokens in it parsed as such (as HF tokenizers do) and no
        BOS added: a rendered prompt carries its own."""
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def count_tokens(self, text: str) -> int:
        return len(self.tokens(text))

    def first_token(self, text: str) -> int | None:
        ids = self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)
        return int(ids[0]) if ids else None

    def count_prompt_tokens(self, messages: list[Message]) -> int:
        return self.count_tokens(self.render(messages))

    def _choice(self, text: str) -> list[int]:
        """The tokens of an answer that is `text` and ends (`GenerationRequest.choices`)."""
        ids = self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)
        return [int(t) for t in ids] + [int(self.llm.token_eos())]

    def _stops(self, request: GenerationRequest) -> list[str]:
        return request.stop + ([] if self.entry.chat else BASE_MODEL_STOPS)

    # -- adapters -------------------------------------------------------------------------
    def _resolve(self, spec: str | None) -> tuple[tuple[str, float, str], ...]:
        """(name, scale, sha256) for a request's adapter spec, checked against this base: the
        key of the adapter set its answer runs under (a re-registered adapter is another set)."""
        if spec is None:
            return ()
        if self.adapters is None:
            raise InputError(
                f"cannot use adapter {spec!r}: this {self.name} backend has no adapter registry "
                "to look it up in; open it with open_local(name, paths, adapters=AdapterRegistry())"
            )
        parts = list(self.adapters.resolve(spec))
        check_base((info for info, _ in parts), self.name)
        return tuple(
            (info.name, weight, info.sha256) for info, weight in sorted(parts, key=_by_name)
        )

    def _load_lora(self, name: str, sha256: str) -> None:
        llama_cpp = llama_cpp_module()

        assert self.adapters is not None
        path = self.adapters.gguf(name)
        ptr = llama_cpp.llama_adapter_lora_init(self.llm.model, str(path).encode())
        if not ptr:
            raise ModelLoadError(f"llama.cpp cannot load adapter {name!r} from {path}")
        old = self._loras.pop(name, None)
        self._loras[name] = (ptr, sha256)
        if old is not None:
            llama_cpp.llama_adapter_lora_free(old[0])

    def _switch(self, ctx: Any, key: Hashable) -> None:
        """Set the adapters of `key` on the batcher's context, from its thread between two
        steps. An adapter re-registered since it loaded is reloaded (and the old one freed):
        the batcher switches so only while no started answer holds the old one (`_reloads`).
        Cached prefixes are kept per adapter set by the batcher."""
        llama_cpp = llama_cpp_module()

        wanted: tuple[tuple[str, float, str], ...] = key  # type: ignore[assignment]
        with self._lora_lock:
            for name, _, sha in wanted:
                held = self._loras.get(name)
                if held is None or held[1] != sha:
                    self._load_lora(name, sha)
            n = len(wanted)
            ptrs = (llama_cpp.llama_adapter_lora_p_ctypes * n)(
                *(self._loras[a][0] for a, _, _ in wanted)
            )
            scales = (ctypes.c_float * n)(*(w for _, w, _ in wanted))
            rc = llama_cpp.llama_set_adapters_lora(
                ctx, ptrs if n else None, n, scales if n else None
            )
        if rc != 0:
            mix = spell_mix(tuple((a, w) for a, w, _ in wanted))
            raise ModelLoadError(f"llama.cpp could not set adapters {mix!r}")

    def loaded_adapters(self) -> list[str]:
        """Registered names whose GGUF adapters are loaded over the base."""
        return sorted(self._loras)

    # -- generation -----------------------------------------------------------------------
    def _submit(self, request: GenerationRequest, cancelled: threading.Event | None = None) -> Job:
        """Check `request` and hand it to the batcher; its tokens come on `Job.out`."""
        prompt = self.tokens(self.render(request.messages))
        if len(prompt) + request.max_tokens > self.context_window:
            raise InputError(
                f"the prompt is {len(prompt)} tokens and max_tokens {request.max_tokens}: over "
                f"{self.name}'s {self.context_window}-token window; shorten it"
            )
        vocab = self.llm.n_vocab()
        if any(not 0 <= t < vocab for t in request.first_token_bias):
            # The batcher writes into llama.cpp's logits buffer: an id past it is no id.
            raise InputError(f"a first_token_bias token id is outside 0..{vocab - 1}")
        greedy = request.temperature <= 0
        job = Job(
            prompt=prompt,
            max_tokens=request.max_tokens,
            key=self._resolve(request.adapter),
            temperature=0.0 if greedy else request.temperature,
            top_p=1.0 if greedy else request.top_p,
            seed=request.seed,
            cancelled=cancelled,
            first_bias=dict(request.first_token_bias),
            choices=[self._choice(c) for c in request.choices],
        )
        self.batcher.submit(job)
        return job

    def _decode(self, job: Job, ids: list[int]) -> Iterator[str]:
        """Text pieces as the job's tokens come; each generated id is appended to `ids`, the end
        token included (it was generated, and counts, as in `LocalBackend._finish`). Closing
        this iterator (a stop string found, a reader gone) drops the job at the next step."""
        llama_cpp = llama_cpp_module()

        vocab = self.llm._model.vocab
        utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        try:
            while True:
                try:
                    token = job.out.get(timeout=0.5)  # wakes so Ctrl-C reaches a CLI caller
                except queue.Empty:
                    continue
                if token is END:
                    break
                if isinstance(token, BaseException):
                    raise token
                ids.append(int(token))
                if llama_cpp.llama_token_is_eog(vocab, token):
                    break
                # special=False: control tokens decode to nothing, as skip_special_tokens.
                text = utf8.decode(self.llm.detokenize([token], special=False))
                if text:
                    yield text
            tail = utf8.decode(b"", final=True)
            if tail:
                yield tail
        finally:
            job.stopped.set()

    def wait_idle(self, timeout_s: float) -> bool:
        """Whether no answer is running or queued within `timeout_s`."""
        return self.batcher.wait_idle(timeout_s)

    def load_stats(self) -> dict[str, float]:
        """What the batcher does now and has done (`/health`, `/metrics`)."""
        c = self.batcher.counters
        return {
            "slots": self.batcher.slots,
            "running": self.batcher.running,
            "queued": self.batcher.waiting,
            "tokens_per_s": round(self.batcher.tokens_per_s(), 2),
            "tokens": c.tokens,
            "prompt_tokens": c.prompt_tokens,
            "reused_prompt_tokens": c.reused_tokens,
            "decode_steps": c.steps,
            "finished": c.finished,
            "cancelled": c.cancelled,
            "adapter_switches": c.switches,
        }

    def stream(self, request: GenerationRequest) -> Stream:
        """The answer, decoded by a thread of its own (`Stream`): closing it, from any thread,
        frees the model at the next token step."""

        def produce(emit: Any, cancelled: threading.Event) -> None:
            for piece in self._stream(request, [], cancelled):
                emit(piece)
                if cancelled.is_set():
                    return

        return Stream(produce, f"llamacpp-{self.name}")

    def _stream(
        self, request: GenerationRequest, ids: list[int], cancelled: threading.Event | None = None
    ) -> Iterator[str]:
        """The pieces, with a stop string cut out and the tail that could begin one held back."""
        yield from self._cut(request, self._submit(request, cancelled), ids)

    def _cut(self, request: GenerationRequest, job: Job, ids: list[int]) -> Iterator[str]:
        pieces = self._decode(job, ids)
        try:
            yield from until_stop(pieces, self._stops(request))
        finally:
            pieces.close()  # drops the job: its slot is free at the next step

    def generate(self, request: GenerationRequest) -> Generation:
        return self._whole(request, self._submit(request, CANCEL.get()))

    def _whole(self, request: GenerationRequest, job: Job) -> Generation:
        ids: list[int] = []
        text = "".join(self._cut(request, job, ids))
        prompt = len(job.prompt)
        ended = bool(ids) and self._is_end(ids[-1])
        # Short of max_tokens without an end token: a stop string ended generation.
        done = ended or len(ids) < request.max_tokens
        return Generation(
            text=text.strip(),
            prompt_tokens=prompt,
            completion_tokens=len(ids),
            finish_reason="stop" if done else "length",
        )

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Greedy answers to several requests, each under its own adapter, decoded together:
        the batcher runs the requests of one adapter set in one batch and the sets in turn,
        and a row is what its request alone gives."""
        if any(r.temperature > 0 for r in requests):
            raise InputError("batched generation is greedy only; set temperature to 0")
        cancelled = CANCEL.get()
        jobs: list[Job] = []
        try:
            for r in requests:
                jobs.append(self._submit(r, cancelled))
            return [self._whole(r, job) for r, job in zip(requests, jobs, strict=True)]
        finally:
            for job in jobs:
                job.stopped.set()

    def _is_end(self, token: int) -> bool:
        llama_cpp = llama_cpp_module()

        return bool(llama_cpp.llama_token_is_eog(self.llm._model.vocab, token))

    def __del__(self) -> None:
        # The batcher's thread holds no reference to this backend (`_weak`), so a backend
        # dropped without close() is collected: its thread ends and frees the context.
        batcher = getattr(self, "batcher", None)
        if batcher is not None:
            batcher.stop()

    def close(self) -> None:
        """Free the batcher, the adapters and the model now rather than at garbage collection."""
        llama_cpp = llama_cpp_module()

        self.batcher.close()
        with self._lora_lock:
            for ptr, _ in self._loras.values():
                llama_cpp.llama_adapter_lora_free(ptr)
            self._loras.clear()
            self.llm.close()


def _reloads(a: Any, b: Any) -> bool:
    """Whether adapter sets `a` and `b` (tuples of (name, weight, sha256)) hold one name at
    two versions: switching to one unloads the other's."""
    held = {name: sha for name, _, sha in b}
    return any(held.get(name, sha) != sha for name, _, sha in a)


def _weak(method: Any) -> Any:
    """`method`, called through a weak reference to its object."""
    ref = weakref.WeakMethod(method)

    def call(*args: Any) -> Any:
        bound = ref()
        if bound is None:
            raise ModelLoadError("the model was closed")
        return bound(*args)

    return call


def _by_name(part: tuple[Any, float]) -> str:
    return str(part[0].name)


def _piece(llm: Any, token: int) -> str:
    """The text of a special token (BOS, EOS) as the chat template writes it."""
    if token < 0:
        return ""
    return bytes(llm.detokenize([token], special=True)).decode("utf-8", errors="replace")
