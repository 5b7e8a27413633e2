"""The memory reader: its training rows, and the bundled adapter answering from memory."""

from __future__ import annotations

import re

import pytest

from outweigh.adapters.bundled import MEMORY_READER, bundled
from outweigh.adapters.memory_rows import PAST_MARK, rows
from outweigh.engine import AskOptions, Engine
from outweigh.memory.recall import PAST_MARK as RECALL_PAST_MARK
from outweigh.prompt import MEMORY_HEADING, build_messages
from outweigh.testing import EchoBackend, FakeEmbedder


def test_rows_are_the_prompt_the_engine_builds_with_a_grounded_answer():
    assert PAST_MARK == RECALL_PAST_MARK
    made = rows(200, seed=3)
    assert len(made) == 200
    for system, user, answer in made:
        question = user["content"].rsplit("Question: ", 1)[1]
        facts = user["content"].split("\n\n")[0].splitlines()[1:]
        memories = [f.removeprefix("- ") for f in facts]
        ask = [{"role": "user", "content": question}]
        assert [system, user] == build_messages(ask, [], rag=False, memories=memories)
        assert user["content"].startswith(MEMORY_HEADING)
        assert 3 <= len(memories) <= 6
        assert answer["role"] == "assistant" and answer["content"].startswith(("You", "Your"))
        # Every capitalised name or number the answer states is in one of the facts.
        named = re.findall(r"\b(?:[A-Z][a-z]+|\d+)\b", answer["content"][4:])
        shown = " ".join(memories)
        assert all(word in shown for word in named), (answer, memories)
    past = [r for r in made if PAST_MARK in r[1]["content"]]
    assert past and all("before" in r[2]["content"] or "used to" in r[2]["content"] for r in past)


def test_a_backend_without_outweigh_adapters_gets_no_reader(paths):
    engine = Engine(paths, embedder=FakeEmbedder(), backend=EchoBackend(reply="ok"))
    try:
        engine.memory.remember("ana", "Our cat is called Pirozhok.")
        engine.ask("What is our cat called?", AskOptions(rag=False, user="ana"))
        assert engine.backend().requests[-1].adapter is None
        assert MEMORY_READER not in engine.adapters.names()
    finally:
        engine.close()


@pytest.mark.slow
def test_the_bundled_reader_answers_from_memory_where_the_bare_model_does_not(paths, embedder):
    assert bundled(MEMORY_READER, "smollm2-135m") is not None
    # The engine loads the model itself, with its adapter registry behind it.
    engine = Engine(paths, embedder=embedder)
    said = [
        "Our cat is called Pirozhok.",
        "I work as a pharmacist.",
        "My brother is called Gleb.",
        "I live in Tver.",
        "I have just moved from Tver to Pskov.",
    ]
    asked = [
        ("What is our cat called?", "Pirozhok", None),
        ("What do I do for a living?", "pharmacist", None),
        ("What's my brother's name?", "Gleb", None),
        ("Where do I live now?", "Pskov", "Tver"),
    ]
    try:
        for text in said:
            engine.record(text, "", AskOptions(rag=False, user="olga", session="s1"))
        right = {True: 0, False: 0}
        for reader in (True, False):
            for question, gold, stale in asked:
                opts = AskOptions(rag=False, user="olga", max_tokens=24, reader=reader)
                answer = engine.ask(question, opts)
                assert answer.adapter == (MEMORY_READER if reader else None)
                ok = gold in answer.answer and (stale is None or stale not in answer.answer)
                right[reader] += ok
        info = engine.adapters.get(MEMORY_READER)
        assert info.base_model == "smollm2-135m"
        assert right[True] == len(asked)
        assert right[False] < right[True]
    finally:
        engine.close()
