"""Continuous batching over one llama.cpp context: many answers decoded together.

One thread owns a llama.cpp context with `slots` sequences (`n_seq_max`), each with a KV
stream of its own as long as the model's window (`n_ctx` = slots x window, not unified).
Between two decode steps, answers join (a free slot, the adapter set the context runs) and
leave (an end token, `max_tokens`, a cancel). Each step is one `llama_decode` over a
`llama_batch` holding the next token of every running answer, each with its slot as `seq_id`,
plus up to `PREFILL_CHUNK` prompt tokens of answers still being prefilled, so a long prompt
neither stalls the others for long nor waits for them to end. Each answer samples with its own
sampler chain (greedy at temperature 0; else top-p, temperature and its seed) from its row of
logits.

**Why a stream per slot.** In a unified cache an answer's keys sit among other answers' cells,
and attention sums over them in another grouping: greedy answers then differ from the same
request alone (3 of 8 short answers did on SmolLM2). With a stream per slot an answer's
arithmetic is the same whatever else runs, so a batched greedy answer is token for token the
answer it gets alone, as `llama-server --parallel N` (which splits its cache the same way).
The price is memory: slots x window cells (SmolLM2-135M: 23 KB a cell, 1.5 GB at 8 slots).

**Prefix reuse.** A slot keeps the tokens whose keys and values it holds after its answer
ends. A new prompt takes the free slot whose tokens share the longest prefix with it and
evaluates only the rest: a system prompt and the passages that follow-up requests share are
not prefilled again. Models with a sliding-window cache (Gemma 3) drop old positions, so for
them a slot starts empty.

**Adapters.** llama.cpp sets LoRA adapters per context, so one decode step runs one adapter
set. Free slots go to waiting requests in arrival order whatever their set; the sets with
answers in slots then take turns of `TURN_STEPS` steps, round robin, switching the
context's adapters (`switch`) between turns. An answer waiting for its set's turn keeps
its slot and its cache, so no set waits for the others to drain. A set that would reload an
adapter another set's started answer holds (re-registered with new weights) waits until that
answer ends. A slot's cached prefix is reused only under the adapter set it was computed with.

**Cancellation.** A request whose `cancelled` event is set (a closed stream, a client gone) is
dropped at the next step and its slot freed; one still queued never starts.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from outweigh.errors import ModelLoadError
from outweigh.generate.base import CHOSEN, continuing

PREFILL_CHUNK = 256
"""Prompt tokens evaluated per step, over all joining answers: under a second on 2 CPU cores,
the most a running answer's next token waits for a joining one, and the granularity at which a
cancel lands during a long prompt."""

TURN_STEPS = 16
"""Decode steps an adapter set runs before another set with answers in slots gets a turn:
about half a second on 2 CPU cores, so a switch (microseconds) costs nothing measurable."""

END = object()
"""Put on a job's queue after its last token."""


@dataclass
class Job:
    """One answer: its prompt, how to sample, and where its tokens go."""

    prompt: list[int]
    max_tokens: int
    key: Hashable = ()
    """The adapter set it runs under (`()`: the bare base); answers with one key share a batch."""
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    cancelled: threading.Event | None = None
    """Set by the caller (a closed stream, a client gone) to drop the answer at the next step."""
    ignore_eos: bool = False
    """Decode to `max_tokens` past end tokens (benchmarks: every run the same length)."""
    first_bias: dict[int, float] = field(default_factory=dict)
    """Added to these tokens' logits before the first token is sampled."""
    choices: list[list[int]] = field(default_factory=list)
    """Token ids of the only answers it may give, each ending with an end token
    (`GenerationRequest.choices`); empty: any answer."""
    said: list[int] = field(default_factory=list)
    """The tokens sampled so far, kept where `choices` needs them."""
    out: queue.SimpleQueue[Any] = field(default_factory=queue.SimpleQueue)
    """Token ids as they are sampled, then `END`, or an exception."""
    stopped: threading.Event = field(default_factory=threading.Event)
    """Set by the reader once it wants no more tokens (a stop string, an early exit)."""
    queued_at: float = field(default_factory=time.monotonic)
    order: int = 0
    """Its place in arrival order (set on `submit`)."""

    def is_cancelled(self) -> bool:
        return self.stopped.is_set() or (self.cancelled is not None and self.cancelled.is_set())


@dataclass
class _Slot:
    """A sequence of the context: what its cells hold and, while it runs, whose answer."""

    seq: int
    cached: list[int] = field(default_factory=list)
    """Tokens whose keys and values the cache holds for this sequence, positions 0..n-1."""
    key: Hashable = ()
    """The adapter set `cached` was computed under."""
    job: Job | None = None
    done: int = 0
    """Prompt tokens evaluated so far (the answer's prefill is complete at len(prompt))."""
    next_token: int = -1
    """Sampled, to be evaluated in the next step (-1: still prefilling)."""
    generated: int = 0
    sampler: Any = None
    used_at: float = 0.0


@dataclass
class Counters:
    """What the batcher has done since it started (for /health and /metrics)."""

    tokens: int = 0
    """Tokens sampled."""
    prompt_tokens: int = 0
    """Prompt tokens evaluated."""
    reused_tokens: int = 0
    """Prompt tokens taken from a cached prefix instead of evaluated."""
    steps: int = 0
    """`llama_decode` calls."""
    finished: int = 0
    cancelled: int = 0
    switches: int = 0
    """Adapter-set switches of the context."""


class Batcher:
    """Decodes every submitted `Job` in one running batch, on a thread of its own."""

    RATE_WINDOW_S = 10.0

    def __init__(
        self,
        llama_cpp: Any,
        model: Any,
        slots: int,
        window: int,
        threads: int,
        switch: Callable[[Any, Hashable], None],
        name: str = "llamacpp",
        keep: Any = None,
        conflicts: Callable[[Hashable, Hashable], bool] | None = None,
    ) -> None:
        self._api = llama_cpp
        self._keep = keep
        """What must outlive the context (the `Llama` owning the model): freed after it."""
        self.slots = slots
        self.window = window
        self._switch = switch
        """`switch(ctx, key)` sets the adapters of `key` on the context."""
        self._conflicts = conflicts or (lambda a, b: False)
        """Whether switching to one set would unload an adapter the other holds."""
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = slots * window
        params.n_batch = params.n_ubatch = PREFILL_CHUNK + slots
        params.n_seq_max = slots
        params.kv_unified = False
        params.n_threads = params.n_threads_batch = threads
        params.no_perf = True
        self.ctx = llama_cpp.llama_init_from_model(model, params)
        if not self.ctx:
            raise ModelLoadError(f"llama.cpp could not make a {slots}-sequence context")
        self._mem = llama_cpp.llama_get_memory(self.ctx)
        self._vocab = llama_cpp.llama_model_get_vocab(model)
        self._batch = llama_cpp.llama_batch_init(PREFILL_CHUNK + slots, 0, 1)
        self.keeps = llama_cpp.llama_model_n_swa(model) == 0
        """Whether a slot's cached prefix can be kept (no sliding-window cache)."""
        self._slots = [_Slot(i) for i in range(slots)]
        self._pending: deque[Job] = deque()
        self._cv = threading.Condition()
        self._closed = False
        self.active: Hashable = ()
        self._turn = 0
        """Steps run under `active` since the context switched to it."""
        self._turns: dict[Hashable, int] = {}
        """Set -> the switch count when its last turn ended."""
        self._arrivals = 0
        self.counters = Counters()
        self._recent: deque[tuple[float, int]] = deque()
        self._thread = threading.Thread(target=self._run, name=f"outweigh-{name}", daemon=True)
        self._thread.start()

    # -- the caller's side ----------------------------------------------------------------
    def submit(self, job: Job) -> None:
        with self._cv:
            if self._closed:
                raise ModelLoadError("the model is closed")
            self._arrivals += 1
            job.order = self._arrivals
            self._pending.append(job)
            self._cv.notify()

    @property
    def running(self) -> int:
        return sum(s.job is not None for s in self._slots)

    @property
    def waiting(self) -> int:
        return len(self._pending)

    def tokens_per_s(self) -> float:
        """Tokens sampled per second over the last `RATE_WINDOW_S` seconds."""
        now = time.monotonic()
        recent = [n for t, n in list(self._recent) if now - t <= self.RATE_WINDOW_S]
        return sum(recent) / self.RATE_WINDOW_S

    def wait_idle(self, timeout_s: float) -> bool:
        """Whether no answer runs or waits within `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while self.running or self.waiting:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def stop(self) -> None:
        """End the thread after its current step; it frees the context as it ends."""
        with self._cv:
            self._closed = True
            self._cv.notify()

    def close(self) -> None:
        """`stop`, and wait for the context to be freed."""
        self.stop()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=30)

    # -- the decoding thread --------------------------------------------------------------
    def _run(self) -> None:
        try:
            while True:
                with self._cv:
                    while not self._closed and not self._pending and not self.running:
                        self._cv.wait()
                    if self._closed:
                        break
                self._drop_cancelled()
                self._admit()
                if self.running:
                    self._step()
                elif self._pending:
                    time.sleep(0.005)  # an admission waits on nothing left running: retry
        except BaseException as e:  # every waiting reader gets the error, none hangs
            self._fail(e)
            raise
        finally:
            self._release()
        self._fail(ModelLoadError("the model was closed while answering"))

    def _release(self) -> None:
        """Free the samplers, the batch and the context (in this thread: nothing else uses
        them), then let go of what had to outlive them."""
        for s in self._slots:
            self._free_sampler(s)
        self._api.llama_batch_free(self._batch)
        self._api.llama_free(self.ctx)
        self.ctx = None
        self._keep = None

    def _fail(self, error: BaseException) -> None:
        with self._cv:
            self._closed = True
            jobs = [s.job for s in self._slots if s.job is not None] + list(self._pending)
            self._pending.clear()
        for s in self._slots:
            s.job = None
        for job in jobs:
            job.out.put(error)

    def _drop_cancelled(self) -> None:
        for s in self._slots:
            if s.job is not None and s.job.is_cancelled():
                self.counters.cancelled += 1
                self._finish(s)
        with self._cv:
            kept = [j for j in self._pending if not j.is_cancelled()]
            gone = [j for j in self._pending if j.is_cancelled()]
            self._pending = deque(kept)
        for job in gone:
            self.counters.cancelled += 1
            job.out.put(END)

    def _admit(self) -> None:
        """Free slots to waiting requests, in arrival order; then pick the set that runs."""
        with self._cv:
            while self._pending and self._place(self._pending[0]):
                self._pending.popleft()
        self._choose()

    def _choose(self) -> None:
        """Keep the context's set for its turn, then switch to the set of the oldest answer
        of another set in a slot (one whose switch unloads nothing a started answer holds)."""
        keys = {s.job.key for s in self._slots if s.job is not None}
        if not keys or (self.active in keys and (self._turn < TURN_STEPS or len(keys) == 1)):
            return
        started = {s.key for s in self._slots if s.job is not None and s.cached}
        # Round robin: the set whose last turn is oldest (one never run first), then the set
        # of the oldest answer; so with three sets, two never take turns over the third.
        waiting = sorted(
            (self._turns.get(s.job.key, -1), s.job.order, s.job.key)
            for s in self._slots
            if s.job is not None and s.job.key != self.active
        )
        for _, _, key in waiting:
            if any(self._conflicts(key, k) for k in started if k != key):
                continue
            try:
                self._switch(self.ctx, key)
            except Exception as e:  # that set's answers fail (an adapter would not load)
                for s in self._slots:
                    if s.job is not None and s.job.key == key:
                        s.job.out.put(e)
                        s.job = None
                        self._free_sampler(s)
                        self._clear(s)
                return
            self._turns[self.active] = self.counters.switches
            self.active = key
            self._turn = 0
            self.counters.switches += 1
            return

    def _place(self, job: Job) -> bool:
        """Give `job` the free slot whose cache shares the longest prefix with its prompt (the
        least recently used one if none does), keeping that prefix; False if none is free."""
        free = [s for s in self._slots if s.job is None]
        if not free:
            return False
        limit = len(job.prompt) - 1  # the last prompt token is always evaluated: its logits
        slot = min(free, key=lambda s: s.used_at)
        keep = 0
        if self.keeps:
            for s in free:
                n = _common(s.cached, job.prompt, limit) if s.key == job.key else 0
                if n > keep:
                    slot, keep = s, n
        if keep and not self._api.llama_memory_seq_rm(self._mem, slot.seq, keep, -1):
            keep = 0
        if keep:
            slot.cached = slot.cached[:keep]
        else:
            self._clear(slot)
        slot.key = job.key
        slot.job = job
        slot.done = keep
        slot.next_token = -1
        slot.generated = 0
        slot.sampler = self._sampler(job)
        self.counters.reused_tokens += keep
        return True

    def _clear(self, slot: _Slot) -> None:
        self._api.llama_memory_seq_rm(self._mem, slot.seq, -1, -1)
        slot.cached = []

    def _sampler(self, job: Job) -> Any:
        api = self._api
        chain = api.llama_sampler_chain_init(api.llama_sampler_chain_default_params())
        if job.temperature <= 0:
            api.llama_sampler_chain_add(chain, api.llama_sampler_init_greedy())
            return chain
        # As transformers samples: no top-k or min-p cut unless asked.
        api.llama_sampler_chain_add(chain, api.llama_sampler_init_top_p(job.top_p, 1))
        api.llama_sampler_chain_add(chain, api.llama_sampler_init_temp(job.temperature))
        seed = api.LLAMA_DEFAULT_SEED if job.seed is None else job.seed & 0xFFFFFFFF
        api.llama_sampler_chain_add(chain, api.llama_sampler_init_dist(seed))
        return chain

    def _free_sampler(self, slot: _Slot) -> None:
        if slot.sampler is not None:
            self._api.llama_sampler_free(slot.sampler)
            slot.sampler = None

    def _finish(self, slot: _Slot) -> None:
        """The answer leaves; the slot keeps what its cache holds, for the next prompt."""
        assert slot.job is not None
        slot.job.out.put(END)
        slot.job = None
        slot.used_at = time.monotonic()
        self._free_sampler(slot)
        if not self.keeps:
            self._clear(slot)

    def _step(self) -> None:
        """One `llama_decode`: the next token of every answer that has one, then prompt
        tokens of joining answers up to `PREFILL_CHUNK`; then each answer samples."""
        b = self._batch
        n = 0
        wants: list[tuple[_Slot, int]] = []  # (slot, batch row whose logits it samples from)
        rows: list[tuple[_Slot, int]] = []  # (slot, token) appended to its cache on success
        turn = [s for s in self._slots if s.job is not None and s.job.key == self.active]
        for s in turn:
            if s.next_token >= 0:
                _put(b, n, s.next_token, len(s.cached), s.seq, True)
                rows.append((s, s.next_token))
                wants.append((s, n))
                n += 1
        budget = PREFILL_CHUNK
        for s in turn:
            if budget <= 0:
                break
            if s.next_token >= 0:
                continue
            prompt = s.job.prompt
            take = min(budget, len(prompt) - s.done)
            for i in range(s.done, s.done + take):
                last = i == len(prompt) - 1
                _put(b, n, prompt[i], i, s.seq, last)
                rows.append((s, prompt[i]))
                if last:
                    wants.append((s, n))
                n += 1
            budget -= take
        if n == 0:
            return
        b.n_tokens = n
        rc = self._api.llama_decode(self.ctx, b)
        if rc != 0:
            self._decode_failed(rc)
            return
        self.counters.steps += 1
        self._turn += 1
        for s, token in rows:
            s.cached.append(token)
            if s.next_token < 0:
                s.done += 1
                self.counters.prompt_tokens += 1
        sampled = 0
        for s, row in wants:
            job = s.job
            assert job is not None
            if s.generated == 0 and job.first_bias:
                logits = self._api.llama_get_logits_ith(self.ctx, row)
                for t, bias in job.first_bias.items():
                    logits[t] += bias
            if job.choices:
                logits = self._api.llama_get_logits_ith(self.ctx, row)
                for t in continuing(job.choices, job.said):
                    logits[t] += CHOSEN
            token = int(self._api.llama_sampler_sample(s.sampler, self.ctx, row))
            if job.choices:
                job.said.append(token)
            s.generated += 1
            sampled += 1
            job.out.put(token)
            eog = not job.ignore_eos and self._api.llama_vocab_is_eog(self._vocab, token)
            if eog or s.generated >= job.max_tokens:
                self.counters.finished += 1
                self._finish(s)
            else:
                s.next_token = token
        self.counters.tokens += sampled
        now = time.monotonic()
        self._recent.append((now, sampled))
        while self._recent and now - self._recent[0][0] > self.RATE_WINDOW_S:
            self._recent.popleft()

    def _decode_failed(self, rc: int) -> None:
        """Each slot's stream holds a whole window, so a step never lacks room (1) unless
        llama.cpp disagrees: the newest answer then ends with an error and the others go on.
        Anything else fails every running answer."""
        running = [s for s in self._slots if s.job is not None and s.job.key == self.active]
        victims = running[-1:] if rc == 1 and len(running) > 1 else running
        for s in victims:
            job = s.job
            assert job is not None
            job.out.put(ModelLoadError(f"llama.cpp could not decode (llama_decode returned {rc})"))
            s.job = None
            self._free_sampler(s)
            self._clear(s)


def _put(batch: Any, i: int, token: int, pos: int, seq: int, logits: bool) -> None:
    batch.token[i] = token
    batch.pos[i] = pos
    batch.n_seq_id[i] = 1
    batch.seq_id[i][0] = seq
    batch.logits[i] = logits


def _common(a: list[int], b: list[int], limit: int) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if n >= limit or x != y:
            break
        n += 1
    return n
