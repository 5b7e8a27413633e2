"""One answer path: every door (the library, `outweigh ask`, the server's whole and streamed
answers, the eval) builds its request through `Engine.turn`, and each request is preflighted
once. Generation here is EchoBackend where the test is about the path, not the model; `ask`
runs the real default model."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from outweigh.engine import AskOptions, Engine
from outweigh.engine.turn import BARRED, READINGS, Prepared, Turn
from outweigh.errors import InputError
from outweigh.generate.base import GenerationRequest
from outweigh.settings import Paths
from outweigh.testing import EchoBackend, FakeEmbedder
from tests.eval.conftest import make_suite  # noqa: F401 (a fixture)
from tests.serve.conftest import live_factory  # noqa: F401 (a fixture)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How many times `Engine.preflight` and `Engine.turn` ran, across every Engine."""
    counts = {"preflight": 0, "turn": 0}

    def counting(name: str) -> Callable[..., Any]:
        real = getattr(Engine, name)

        def wrapper(self: Engine, *args: Any, **kwargs: Any) -> Any:
            counts[name] += 1
            return real(self, *args, **kwargs)

        return wrapper

    for name in counts:
        monkeypatch.setattr(Engine, name, counting(name))
    return counts


def echo_engine(paths: Paths) -> Engine:
    return Engine(paths=paths, backend=EchoBackend(name="smollm2-135m"), embedder=FakeEmbedder())


def test_the_library_preflights_each_request_once(paths: Paths, calls: dict[str, int]) -> None:
    with echo_engine(paths) as engine:
        engine.ask("hello?", AskOptions(rag=False))
        assert calls == {"preflight": 1, "turn": 1}
        _, stream = engine.stream([{"role": "user", "content": "hi"}], AskOptions(rag=False))
        assert "".join(stream)
        assert calls == {"preflight": 2, "turn": 2}
        # Checked ahead (as `outweigh ask` does before loading the model): not again.
        opts = AskOptions(rag=False)
        checked = engine.preflight(opts, question="hello?")
        engine.ask("hello?", opts, checked=checked)
        assert calls == {"preflight": 3, "turn": 3}
        # A check of other options does not count for these.
        engine.ask("hello?", AskOptions(rag=False), checked=checked)
        assert calls == {"preflight": 4, "turn": 4}


def test_the_empty_question_is_refused_before_the_index_syncs(paths: Paths) -> None:
    with echo_engine(paths) as engine:
        synced: list[int] = []
        with pytest.raises(InputError, match="the question is empty"):
            engine.preflight(
                AskOptions(collection="nowhere"),
                question="   ",
                on_sync=lambda d, t: synced.append(d),
            )
        assert synced == []


@pytest.mark.slow
def test_outweigh_ask_preflights_once(cli: Any, calls: dict[str, int]) -> None:
    result = cli("ask", "What is 2+2?", "--no-rag", "--max-tokens", "8", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["answer"]
    assert calls == {"preflight": 1, "turn": 1}


def test_the_server_preflights_each_request_once(
    live_factory: Any,  # noqa: F811
    calls: dict[str, int],
) -> None:
    live = live_factory(backend=EchoBackend(name="smollm2-135m"))
    body = {"model": "smollm2-135m", "messages": [{"role": "user", "content": "hi"}]}
    live.client.chat.completions.create(**body, extra_body={"rag": False})
    assert calls == {"preflight": 1, "turn": 1}
    chunks = list(live.client.chat.completions.create(**body, stream=True, n=2))
    assert chunks
    assert calls == {"preflight": 2, "turn": 2}


def test_the_eval_preflights_each_question_once(
    make_suite: Any,  # noqa: F811
    paths: Paths,
    calls: dict[str, int],
) -> None:
    from outweigh.eval.runner import run_eval

    questions = [{"question": f"What is fact {i}?", "answers": [f"fact {i}"]} for i in range(3)]
    suite = make_suite(
        questions=questions, docs={"facts.md": "# Facts\n\nfact 0, fact 1, fact 2\n"}
    )
    run_eval(
        suite,
        ["smollm2-135m"],
        paths=paths,
        embedder=FakeEmbedder(),
        backend_factory=lambda name: EchoBackend(name=name),
    )
    # One check of the config before anything loads, then one per question.
    assert calls == {"preflight": 1 + 3, "turn": 3}


def test_a_stream_cut_off_remembers_what_was_said(paths: Paths) -> None:
    """The REPL's Ctrl-C, a client gone: the turn is remembered once, with the partial
    answer; a stream read to the end is remembered with all of it."""
    backend = EchoBackend(name="smollm2-135m", reply="one two three four five")
    with Engine(paths=paths, backend=backend, embedder=FakeEmbedder()) as engine:
        seen: list[tuple[str, str]] = []
        engine.record = lambda q, a, o: seen.append((q, a))  # type: ignore[method-assign]
        opts = AskOptions(rag=False, user="olga")
        _, stream = engine.stream([{"role": "user", "content": "I keep bees."}], opts)
        first = next(stream)
        stream.close()
        assert stream.join(timeout=5)
        assert seen and seen[0][0] == "I keep bees." and seen[0][1].startswith(first)
        assert len(seen) == 1
        _, stream = engine.stream([{"role": "user", "content": "Count."}], opts)
        assert "".join(stream) == "one two three four five"
        assert seen[1] == ("Count.", "one two three four five")


def test_engine_is_a_context_manager(tmp_path: Path) -> None:
    with Engine(paths=Paths(tmp_path / "h"), embedder=FakeEmbedder()) as engine:
        assert engine.collections() == []
    assert engine._store is None  # closed


class Biased(EchoBackend):
    """An EchoBackend that can bias a first token: each word's first letter is its token."""

    def first_token(self, text: str) -> int | None:
        return ord(text[0]) if text else None


def test_a_reading_is_read_again_only_where_the_check_turned_it_down() -> None:
    dont_know = "I don't know: the context does not say."
    request = GenerationRequest([{"role": "user", "content": "q"}], first_token_bias={73: -1.0})

    def prepared(backend: EchoBackend, fallback: GenerationRequest | None = None) -> Prepared:
        return Prepared(request, [], backend, check=lambda a: a, fallback=fallback)

    again = prepared(Biased()).again("--max-procs [1]", dont_know)
    assert again is not None  # the margin's bias kept, the turned-down first token barred
    assert again.first_token_bias == {73: -1.0, ord("-"): -BARRED}
    assert again.messages == request.messages
    assert prepared(Biased()).again("1 [1]", "1 [1]") is None  # kept
    assert prepared(Biased()).again(dont_know, dont_know) is None  # the reader's own
    assert prepared(EchoBackend()).again("--max-procs", dont_know) is None  # cannot bias
    assert prepared(Biased(), fallback=request).again("00..53", dont_know) is None  # bare


class Ranked(Biased):
    """Reads the first of its `readings` whose first letter the request does not bar."""

    def __init__(self, readings: list[str]) -> None:
        super().__init__(name="ranked")
        self.readings = readings

    def stream(self, request: GenerationRequest):  # type: ignore[no-untyped-def]
        self.requests.append(request)
        barred = {t for t, b in request.first_token_bias.items() if b <= -BARRED}
        yield next(r for r in self.readings if ord(r[0]) not in barred)


def test_a_turned_down_reading_is_read_again_until_one_holds_or_the_readings_run_out() -> None:
    """Each reading again bars the first tokens of every reading turned down before it, the
    margin's bias kept; whole and streamed alike; at most `READINGS` readings."""
    dont_know = "I don't know: the context does not say."
    request = GenerationRequest([{"role": "user", "content": "q"}], first_token_bias={73: -1.0})

    def check(answer: str) -> str:
        return answer if answer[0].isdigit() else dont_know

    def turn(readings: list[str]) -> tuple[Turn, Ranked]:
        backend = Ranked(readings)
        prepared = Prepared(request, [], backend, check=check)
        return Turn(prepared, AskOptions(rag=False), "q", lambda q, a, o: None), backend

    assert READINGS == 3
    third = ["--max-procs [1]", "xargs [1]", "1 [1]"]
    whole, backend = turn(third)
    assert whole.generate().text == "1 [1]"
    assert backend.requests[-1].first_token_bias == {73: -1.0, ord("-"): -BARRED, ord("x"): -BARRED}
    streamed, _ = turn(third)
    assert "".join(streamed.stream()) == "1 [1]"
    # A fourth reading is not tried: "I don't know" after three.
    fourth = ["--max-procs [1]", "xargs [1]", "yes [1]", "1 [1]"]
    whole, backend = turn(fourth)
    assert whole.generate().text == dont_know
    assert len(backend.requests) == READINGS
    streamed, backend = turn(fourth)
    assert "".join(streamed.stream()) == dont_know
    assert len(backend.requests) == READINGS


class Choosing(Ranked):
    """A Ranked backend that also chooses: among a request's choices, the `pick`-th."""

    chooses = True

    def __init__(self, readings: list[str], pick: int = 0) -> None:
        super().__init__(readings)
        self.pick = pick

    def stream(self, request: GenerationRequest):  # type: ignore[no-untyped-def]
        if not request.choices:
            yield from super().stream(request)
            return
        self.requests.append(request)
        yield request.choices[self.pick]


def test_a_turned_down_reading_chooses_among_what_the_passages_offer_once() -> None:
    """Where the passages offer values that hold up (`Prepared.offers`) and the backend
    chooses, the second reading is a choice among them, with the margin's bias and nothing
    barred, and it is the last; whole and streamed alike. Without offers, or with a backend
    that cannot choose, the readings bar first tokens as before."""
    dont_know = "I don't know: the context does not say."
    request = GenerationRequest([{"role": "user", "content": "q"}], first_token_bias={73: -1.0})
    offers = ["8 [1]", "16 [2]"]

    def check(answer: str) -> str:
        return answer if answer[0].isdigit() else dont_know

    def turn(backend: Ranked, offered: list[str]) -> Turn:
        prepared = Prepared(request, [], backend, check=check, offers=lambda: offered)
        return Turn(prepared, AskOptions(rag=False), "q", lambda q, a, o: None)

    readings = ["--max-procs [1]", "xargs [1]", "1 [1]"]
    for pick, expected in ((0, "8 [1]"), (1, "16 [2]")):
        whole = Choosing(readings, pick)
        assert turn(whole, offers).generate().text == expected
        assert [r.choices for r in whole.requests] == [(), tuple(offers)]
        assert whole.requests[1].first_token_bias == {73: -1.0}
        streamed = Choosing(readings, pick)
        assert "".join(turn(streamed, offers).stream()) == expected
        assert len(streamed.requests) == 2
    for backend, offered in ((Choosing(readings), []), (Ranked(readings), offers)):
        assert turn(backend, offered).generate().text == "1 [1]"
        assert len(backend.requests) == READINGS
        assert not any(r.choices for r in backend.requests)
