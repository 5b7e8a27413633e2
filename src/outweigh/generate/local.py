"""Local generation with transformers on this machine's CPU or GPU."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from outweigh.errors import InputError
from outweigh.generate.base import (
    CANCEL,
    CHOSEN,
    Backend,
    Generation,
    GenerationRequest,
    Message,
    StopCut,
    Stream,
    continuing,
    cut_at_stop,
)
from outweigh.generate.lora import AdapterRuntime
from outweigh.models.loader import LoadedModel

if TYPE_CHECKING:
    from outweigh.generate.lora import AdapterSource

# Base (non-chat) models see a plain Q/A transcript and stop when they start a new turn.
BASE_MODEL_STOPS = ["\nQuestion:", "\n\n\n"]

GREEDY: dict[str, Any] = {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
"""generate() kwargs for greedy decoding; the Nones unset the sampling defaults a model's
generation_config may carry, which would otherwise warn or apply."""

STREAM_STALL_S = 300
"""Seconds a stream waits for the next token before it reports a stall; far above the slowest
token seen on a loaded 2-core CPU (about 2 s), far below a client's patience."""


class LocalBackend(Backend):
    """A transformers model held in this process; one generation at a time per model."""

    chooses = True

    def __init__(self, loaded: LoadedModel, adapters: AdapterSource | None = None) -> None:
        self.loaded = loaded
        self.name = loaded.entry.name
        self.context_window = loaded.context_window
        self.tokenizer = loaded.tokenizer
        self.adapters = adapters
        """Where adapter names resolve (an `AdapterRegistry`); None runs the base model only."""
        self._lock = threading.Lock()
        """transformers models are not safe to run from two threads at once."""
        self._tok_lock = threading.RLock()
        """Fast (Rust) tokenizers raise "Already borrowed" when two threads use one at once;
        the server tokenizes requests while a stream decodes, so every use takes this lock."""

    @property
    def runtime(self) -> AdapterRuntime:
        """The LoRA adapters loaded over this model, created on the first adapter request."""
        return AdapterRuntime.of(self.loaded.model, self.name, self.adapters)

    # -- prompt ---------------------------------------------------------------------------
    def render(self, messages: list[Message]) -> str:
        """The exact text the model sees: its chat template, or a Q/A transcript for base models."""
        if self.loaded.entry.chat and self.tokenizer.chat_template:
            return str(
                self.tokenizer.apply_chat_template(
                    messages, tokenize=False, add_generation_prompt=True
                )
            )
        parts = []
        for m in messages:
            parts.append(f"Answer: {m['content']}" if m["role"] == "assistant" else m["content"])
        # Base models are trained on text that starts with BOS; Gemma degenerates without it.
        return (self.tokenizer.bos_token or "") + "\n\n".join(parts) + "\nAnswer:"

    def count_tokens(self, text: str) -> int:
        with self._tok_lock:
            return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def count_prompt_tokens(self, messages: list[Message]) -> int:
        return self.count_tokens(self.render(messages))

    def first_token(self, text: str) -> int | None:
        with self._tok_lock:
            ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return int(ids[0]) if ids else None

    def _stops(self, request: GenerationRequest) -> list[str]:
        return request.stop + ([] if self.loaded.entry.chat else BASE_MODEL_STOPS)

    def model_for(self, request: GenerationRequest) -> Any:
        """The module to run for this request: the bare base, or a view of it with the request's
        adapter (or weighted mix) switched on for the call. Adapter layers are off between
        calls, so the bare path runs the base model as is, with no PEFT wrapper in the way."""
        if request.adapter is None:
            return self.loaded.model
        return self.runtime.model_for(request.adapter)

    # -- generation -----------------------------------------------------------------------
    def _inputs(self, request: GenerationRequest) -> dict[str, Any]:
        with self._tok_lock:
            return self._encode(request)

    def _encode(self, request: GenerationRequest) -> dict[str, Any]:
        enc = self.tokenizer(
            self.render(request.messages), return_tensors="pt", add_special_tokens=False
        )
        return dict(enc.to(self.loaded.device))

    def _generate_kwargs(self, request: GenerationRequest, width: int) -> dict[str, Any]:
        import torch

        if request.seed is not None:
            torch.manual_seed(request.seed)
        kw: dict[str, Any] = {
            "max_new_tokens": request.max_tokens,
            "pad_token_id": self.tokenizer.pad_token_id,
        }
        if request.temperature > 0:
            kw.update(do_sample=True, temperature=request.temperature, top_p=request.top_p)
        else:
            kw.update(GREEDY)
        stops = self._stops(request)
        if stops:
            # Checked inside generate(), so decoding halts at the stop string, not max_tokens.
            kw.update(stop_strings=stops, tokenizer=self.tokenizer)
        if request.first_token_bias:
            kw["logits_processor"] = _first_bias([request.first_token_bias], width)
        if request.choices:
            from transformers import LogitsProcessorList

            chosen = _choosing([self._choice(c) for c in request.choices], width)
            kw.setdefault("logits_processor", LogitsProcessorList()).append(chosen)
        return kw

    def _choice(self, text: str) -> list[int]:
        """The tokens of an answer that is `text` and ends (`GenerationRequest.choices`)."""
        with self._tok_lock:
            ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
            end = self.tokenizer.eos_token_id
        return [int(t) for t in ids] + [int(end if end is not None else min(self._end_ids()))]

    def generate(self, request: GenerationRequest) -> Generation:
        import torch

        inputs = self._inputs(request)
        n_prompt = int(inputs["input_ids"].shape[1])
        kwargs = self._generate_kwargs(request, n_prompt)
        cancelled = CANCEL.get()
        if cancelled is not None:
            kwargs["stopping_criteria"] = _halt_when(cancelled.is_set)
        with self._lock, torch.inference_mode():
            model = self.model_for(request)
            out = model.generate(**inputs, **kwargs)
        return self._finish(out[0, n_prompt:].tolist(), n_prompt, request)

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Greedy answers to several requests in one batch, each row under its own adapter.

        Row i equals what `requests[i].adapter` alone gives on the same batch (PEFT's
        mixed-batch invariant); against a batch of one it may differ in the last float bits,
        since padding changes the matmul shapes.
        """
        import torch

        if not requests:
            return []
        if any(r.temperature > 0 for r in requests):
            raise InputError("batched generation is greedy only; set temperature to 0")
        tok = self.tokenizer
        prompts = [self.render(r.messages) for r in requests]
        # Left padding keeps every row's last prompt token at the same position, where
        # generation continues (transformers docs, "Batched generation").
        with self._tok_lock:
            enc = tok(
                prompts,
                return_tensors="pt",
                padding=True,
                padding_side="left",
                add_special_tokens=False,  # the rendered prompt already has its special tokens
            ).to(self.loaded.device)
        width = int(enc["input_ids"].shape[1])
        longest = max(r.max_tokens for r in requests)
        specs = [r.adapter for r in requests]
        with self._lock, torch.inference_mode(), self.runtime.mixed(specs) as (model, names):
            extra: dict[str, Any] = {"adapter_names": names} if names else {}
            if any(r.first_token_bias for r in requests):
                biases = [r.first_token_bias for r in requests]
                extra["logits_processor"] = _first_bias(biases, width)
            out = model.generate(
                **enc,
                **extra,
                max_new_tokens=longest,
                pad_token_id=tok.pad_token_id,
                **GREEDY,
            )
        return [
            self._finish(out[i, width:].tolist(), int(enc["attention_mask"][i].sum()), r)
            for i, r in enumerate(requests)
        ]

    def _finish(
        self, new_ids: list[int], prompt_tokens: int, request: GenerationRequest
    ) -> Generation:
        """The answer in the tokens generated after the prompt: up to the first end token and
        the first stop string, with its token accounting.

        A batch runs every row to its longest request and fills a finished row with padding,
        so the tokens past `max_tokens` and the padding after the end token are not the row's.
        The end token was generated too, and counts toward `completion_tokens`.
        """
        ids = new_ids[: request.max_tokens]
        ends = self._end_ids()
        end = next((i for i, t in enumerate(ids) if t in ends), None)
        with self._tok_lock:
            text = self.tokenizer.decode(ids[:end], skip_special_tokens=True)
        text, stopped = cut_at_stop(text, self._stops(request))
        # Short of max_tokens without an end token: a stop string ended generation.
        done = stopped or end is not None or len(ids) < request.max_tokens
        return Generation(
            text=text.strip(),
            prompt_tokens=prompt_tokens,
            completion_tokens=len(ids) if end is None else end + 1,
            finish_reason="stop" if done else "length",
        )

    def _end_ids(self) -> set[int]:
        """EOS, and the pad token that fills a finished row of a batch."""
        ids = self.loaded.model.generation_config.eos_token_id
        ids = ids if isinstance(ids, list) else [ids]
        return {int(i) for i in ids if i is not None} | {int(self.tokenizer.pad_token_id)}

    def stream(self, request: GenerationRequest) -> Stream:
        """The answer, decoded by a thread of its own (`Stream`): closing it, from any thread,
        stops `generate()` at the next token step (a stopping criterion reads the flag) and
        frees the model; so does the first stop string."""
        import torch
        from transformers import TextStreamer

        inputs = self._inputs(request)
        tok_lock = self._tok_lock
        kwargs = self._generate_kwargs(request, int(inputs["input_ids"].shape[1]))
        stops = self._stops(request)

        def produce(emit: Any, cancelled: threading.Event) -> None:
            cut = StopCut(stops)

            class Pieces(TextStreamer):
                def put(self, value: Any) -> None:
                    with tok_lock:
                        super().put(value)

                def end(self) -> None:
                    with tok_lock:
                        super().end()

                def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
                    piece = cut.feed(text)
                    if piece:
                        emit(piece)

            with self._lock, torch.inference_mode():
                model = self.model_for(request)
                model.generate(
                    **inputs,
                    **kwargs,
                    streamer=Pieces(self.tokenizer, skip_prompt=True, skip_special_tokens=True),
                    stopping_criteria=_halt_when(lambda: cancelled.is_set() or cut.stopped),
                )
            tail = cut.flush()
            if tail and not cancelled.is_set():
                emit(tail)

        return Stream(produce, f"transformers-{self.name}")


def _first_bias(rows: list[dict[int, float]], width: int) -> Any:
    """A logits processor for `generate()` that adds row i's `rows[i]` (token id -> bias; one
    dict for every row if there is one) to the logits of the first new token only: the step
    where the sequences are still `width` long."""
    from transformers import LogitsProcessor, LogitsProcessorList

    class FirstBias(LogitsProcessor):
        def __call__(self, input_ids: Any, scores: Any) -> Any:
            if input_ids.shape[1] == width:
                for i in range(scores.shape[0]):
                    for t, bias in rows[i if len(rows) > 1 else 0].items():
                        scores[i, t] += bias
            return scores

    return LogitsProcessorList([FirstBias()])


def _choosing(choices: list[list[int]], width: int) -> Any:
    """A logits processor for `generate()` that keeps each row to `choices` (token ids, each
    ending with the end token) from the first new token, the sequences `width` long then."""
    from transformers import LogitsProcessor

    class Choosing(LogitsProcessor):
        def __call__(self, input_ids: Any, scores: Any) -> Any:
            for i in range(scores.shape[0]):
                for t in continuing(choices, input_ids[i, width:].tolist()):
                    scores[i, t] += CHOSEN
            return scores

    return Choosing()


def _halt_when(flag: Callable[[], bool]) -> Any:
    """A stopping criterion for `generate()` that ends every row once `flag()` is true; read
    at each token step."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class Halt(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **_: Any) -> Any:
            return torch.full((input_ids.shape[0],), flag(), device=input_ids.device)

    return StoppingCriteriaList([Halt()])
