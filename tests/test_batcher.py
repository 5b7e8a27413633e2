"""Continuous batching on the real engine (the bundled SmolLM2 GGUF through llama.cpp): answers
decoded together are token for token the answers each request gets alone, a cancelled answer
frees its slot at the next step, a shared prompt prefix is not evaluated twice, and requests
under different adapters take turns and answer as they do alone."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from outweigh.generate.base import GenerationRequest
from outweigh.prompt import build_messages

QUESTIONS = [
    "Name three colours of the rainbow.",
    "What is the capital of France?",
    "Write a haiku about rain.",
    "Explain in two sentences why the tide rises and falls.",
    "Count from 1 to 20.",
    "Say hi.",
    "What is 2+2?",
    "List four animals.",
]


def request(question: str, max_tokens: int = 40, **kw: Any) -> GenerationRequest:
    messages = build_messages([{"role": "user", "content": question}], [], False)
    return GenerationRequest(messages, max_tokens=max_tokens, **kw)


def at_once(backend: Any, requests: list[GenerationRequest]) -> list[Any]:
    """Each request from a thread of its own, all started together."""
    out: list[Any] = [None] * len(requests)

    def run(i: int) -> None:
        out[i] = backend.generate(requests[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    return out


def test_batched_greedy_answers_equal_the_answers_alone(smol_llama: Any) -> None:
    """Eight requests decoded together (more than one per step, and prompts prefilled while
    others decode): every answer, its token count and finish equal the request alone."""
    assert smol_llama.parallel >= 4
    requests = [request(q) for q in QUESTIONS]
    alone = [smol_llama.generate(r) for r in requests]
    steps = smol_llama.batcher.counters.steps
    together = at_once(smol_llama, requests)
    batched_steps = smol_llama.batcher.counters.steps - steps
    for a, b in zip(alone, together, strict=True):
        assert (b.text, b.completion_tokens, b.finish_reason) == (
            a.text,
            a.completion_tokens,
            a.finish_reason,
        )
    # Decoded together: far fewer steps than the tokens they generated.
    assert batched_steps < sum(g.completion_tokens for g in together) * 0.6


def test_sampling_is_per_request_and_seeded(smol_llama: Any) -> None:
    """A seeded sampled answer is the same alone and beside others; greedy beside it stays
    greedy."""
    sampled = request(QUESTIONS[2], temperature=0.9, top_p=0.95, seed=7)
    greedy = request(QUESTIONS[0])
    alone = smol_llama.generate(sampled)
    again, beside = at_once(smol_llama, [sampled, greedy])
    assert again.text == alone.text
    assert beside.text == smol_llama.generate(greedy).text


def test_a_cancelled_stream_frees_its_slot_and_the_others_go_on(smol_llama: Any) -> None:
    long = request("Write the numbers from 1 to 1000, separated by commas.", max_tokens=1500)
    short = request(QUESTIONS[1], max_tokens=16)
    reference = smol_llama.generate(short).text
    stream = smol_llama.stream(long)
    next(stream)
    assert smol_llama.batcher.running == 1
    result: list[Any] = []
    worker = threading.Thread(target=lambda: result.append(smol_llama.generate(short)))
    worker.start()
    stream.close()
    assert stream.join(timeout=2)
    worker.join(timeout=60)
    assert result[0].text == reference
    assert smol_llama.wait_idle(2)
    assert smol_llama.batcher.running == 0


def test_a_stop_string_ends_the_answer_in_the_batch(smol_llama: Any) -> None:
    free = smol_llama.generate(request(QUESTIONS[3])).text
    word = free.split()[3]
    cut, other = at_once(smol_llama, [request(QUESTIONS[3], stop=[word]), request(QUESTIONS[0])])
    assert word not in cut.text and free.startswith(cut.text)
    assert cut.finish_reason == "stop"
    assert other.text == smol_llama.generate(request(QUESTIONS[0])).text
    assert smol_llama.wait_idle(2)


def test_a_shared_prefix_is_not_evaluated_twice(smol_llama: Any) -> None:
    """The same long system prompt with another question: only the new tail is evaluated."""
    system = "You answer in one short sentence. " * 40
    first = GenerationRequest(
        [{"role": "system", "content": system}, {"role": "user", "content": "Say hi."}],
        max_tokens=4,
    )
    second = GenerationRequest(
        [{"role": "system", "content": system}, {"role": "user", "content": "Say bye."}],
        max_tokens=4,
    )
    smol_llama.generate(first)
    counters = smol_llama.batcher.counters
    before_eval, before_reused = counters.prompt_tokens, counters.reused_tokens
    smol_llama.generate(second)
    prompt = len(smol_llama.tokens(smol_llama.render(second.messages)))
    evaluated = counters.prompt_tokens - before_eval
    assert counters.reused_tokens - before_reused > 250
    assert evaluated < 30 and evaluated + counters.reused_tokens - before_reused == prompt


def test_a_cancel_while_queued_never_starts(smol_llama: Any) -> None:
    """A request whose client is gone before it got a slot is dropped without decoding."""
    from outweigh.generate.base import CANCEL

    gone = threading.Event()
    gone.set()
    token = CANCEL.set(gone)
    try:
        started = time.perf_counter()
        gen = smol_llama.generate(request(QUESTIONS[4], max_tokens=500))
    finally:
        CANCEL.reset(token)
    assert gen.completion_tokens <= 1
    assert time.perf_counter() - started < 5
    assert smol_llama.wait_idle(2)


def test_doctor_says_how_each_engine_serves_requests(cli: Any) -> None:
    result = cli("doctor", "--dry-run")
    text = result.out + result.err
    assert "answers at once" in text


@pytest.mark.parametrize("bad", ["0", "x", "65"])
def test_a_bad_slot_count_is_one_line(bad: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from outweigh.errors import InputError
    from outweigh.settings import llama_slots

    monkeypatch.setenv("OUTWEIGH_LLAMA_SLOTS", bad)
    with pytest.raises(InputError, match="OUTWEIGH_LLAMA_SLOTS") as e:
        llama_slots()
    assert "\n" not in str(e.value)


def test_a_backend_dropped_without_close_frees_its_context() -> None:
    """The batcher's thread holds no reference to its backend: dropping the backend ends the
    thread, which frees the context (no 1.5 GB cache kept alive by a forgotten backend)."""
    import gc

    from outweigh.generate.choose import open_local
    from outweigh.models.options import LoadOptions
    from outweigh.settings import Paths

    backend = open_local("smollm2-135m", Paths(), LoadOptions(backend="llamacpp", slots=2))
    assert backend.generate(request("Say hi.", 4)).text
    thread = backend.batcher._thread
    del backend
    gc.collect()
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_slots_are_checked_in_one_line() -> None:
    from outweigh.errors import InputError
    from outweigh.models.options import LoadOptions

    with pytest.raises(InputError, match="`slots` must be from 1 to 64"):
        LoadOptions(slots=0).validate()


@pytest.fixture(scope="module")
def with_adapter(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The SmolLM2 GGUF through llama.cpp with 4 slots and a registry holding `noise`, a LoRA of
    random weights (what an adapter holds does not matter to how the batch schedules it)."""
    from outweigh.adapters import AdapterRegistry
    from outweigh.generate.choose import open_local
    from outweigh.models.options import LoadOptions
    from outweigh.settings import Paths
    from tests.adapters.conftest import write_lora

    root = tmp_path_factory.mktemp("batch-adapters")
    paths = Paths(root)
    registry = AdapterRegistry(paths)
    registry.add(write_lora(root / "noise-src", seed=7, scale=0.08), "noise")
    backend = open_local("smollm2-135m", paths, LoadOptions(backend="llamacpp", slots=4), registry)
    yield backend
    backend.close()
    registry.close()


def test_an_adapter_request_does_not_wait_for_a_long_base_answer(with_adapter: Any) -> None:
    """An adapter request arriving while a long base answer decodes gets its turn within
    TURN_STEPS steps and ends first, where draining the batch made it wait for the long one;
    both answers are the ones they get alone."""
    from outweigh.generate.batcher import TURN_STEPS

    llama = with_adapter
    long = request("Write a long story about a dragon who learns to fly.", max_tokens=160)
    short = request(QUESTIONS[1], max_tokens=8, adapter="noise")
    alone = [llama.generate(long), llama.generate(short)]
    assert alone[0].completion_tokens == 160  # the long answer runs many turns
    ended: dict[str, float] = {}
    texts: dict[str, str] = {}

    def run(name: str, r: GenerationRequest) -> None:
        texts[name] = llama.generate(r).text
        ended[name] = time.monotonic()

    first = threading.Thread(target=run, args=("long", long))
    first.start()
    while llama.batcher.counters.tokens == 0 or not llama.batcher.running:
        time.sleep(0.01)
    started = llama.batcher.counters.steps
    second = threading.Thread(target=run, args=("short", short))
    second.start()
    second.join(timeout=300)
    # The short one ended while the long one ran: within its prefill and 8 tokens, plus at most
    # two turns of the other set.
    assert llama.batcher.counters.steps - started < 8 + 2 + 2 * TURN_STEPS
    first.join(timeout=300)
    assert [texts["long"], texts["short"]] == [a.text for a in alone]
    assert ended["short"] < ended["long"]


def test_three_adapter_sets_take_turns_round_robin(with_adapter: Any) -> None:
    """Two long answers under two sets and a short one under a third that arrives last: the
    third gets a turn after each of the others has had one, so it ends before both, where
    turns going to the oldest answer's set would keep it waiting for one of them to end."""
    llama = with_adapter
    story = "Write a long story about a dragon who learns to fly."
    base = request(story, max_tokens=160)
    noise = request(story, max_tokens=160, adapter="noise")
    half = request(QUESTIONS[1], max_tokens=8, adapter="noise:0.5")
    ended: dict[str, float] = {}

    def run(name: str, r: GenerationRequest) -> None:
        assert llama.generate(r).completion_tokens > 0
        ended[name] = time.monotonic()

    threads = [threading.Thread(target=run, args=(n, r)) for n, r in [("base", base)]]
    threads[0].start()
    while llama.batcher.counters.tokens == 0 or not llama.batcher.running:
        time.sleep(0.01)
    for name, r in (("noise", noise), ("half", half)):
        threads.append(threading.Thread(target=run, args=(name, r)))
        threads[-1].start()
        time.sleep(0.3)
    for t in threads:
        t.join(timeout=300)
    assert ended["half"] < min(ended["base"], ended["noise"])
