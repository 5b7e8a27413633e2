"""Updates, secrets, history and abstention: the latest fact wins, whatever the phrasing; a
secret said in passing is not kept; the past never reads as the present; no invented facts.

Real SQLite and the real all-MiniLM-L6-v2 (`mem_real`, `embedder`): supersession and relevance
depend on its cosines.
"""

from __future__ import annotations

import pytest

from outweigh.engine import AskOptions, Engine
from outweigh.memory import ModelExtractor, RuleExtractor
from outweigh.memory.abstain import DONT_KNOW, personal_question
from outweigh.memory.capture import WITHHELD, Candidate, Fact, decide, subject_of
from outweigh.memory.recall import PAST_MARK
from outweigh.prompt import MEMORY_HEADING
from outweigh.testing import EchoBackend

from .helpers import rows_mentioning


def _current(store, user):
    return [m.text for m in store.list(user)]


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("I live in Tver.", "I have just moved from Tver to Pskov."),
        ("I live in Tver.", "In 2024, I moved to Pskov."),
        ("My dentist appointment is on the 14th.", "My dentist moved the appointment to the 21st."),
        ("My phone number ends in 4410.", "I changed my phone number; it now ends in 8823."),
        ("My phone number ends in 4410.", "My new phone number ends in 8823."),
        ("I drink coffee every morning.", "I don't drink coffee anymore."),
        ("I drive an old Lada.", "I drive a Kia now."),
        ("I work at a bakery.", "These days I work at a hospital canteen instead."),
        ("My favourite band is Radiohead.", "My favourite band these days is Portishead."),
        ("Our family holiday is in July.", "We moved the family holiday to August."),
        ("My mum lives in Pune.", "My mum moved in with us last spring."),
        ("I am a vegetarian.", "I'm fully vegan now."),
    ],
)
def test_a_paraphrased_update_supersedes_and_keeps_the_old_fact_as_history(mem_real, before, after):
    (old,) = mem_real.capture("olga", "s1", before)
    (new,) = mem_real.capture("olga", "s2", after)
    assert _current(mem_real, "olga") == [after.rstrip()]
    (past,) = [m for m in mem_real.list("olga", include_history=True) if not m.current]
    assert (past.id, past.superseded_by) == (old.id, new.id)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("My daughter Aisha is seven.", "My daughter started school in September 2023."),
        ("I'm allergic to shellfish.", "I'm fully vegan now."),
        ("I work at Yandex.", "These days I work from home."),
        ("My dentist is Dr Ivanova.", "I now drive a Kia."),
        ("I like jazz.", "I like tea."),
    ],
)
def test_a_statement_about_something_else_is_added_not_an_update(mem_real, first, second):
    mem_real.capture("olga", "s1", first)
    mem_real.capture("olga", "s2", second)
    assert _current(mem_real, "olga") == [first, second]


def test_an_update_keeps_the_name_it_did_not_change(mem_real):
    mem_real.capture("ines", "s1", "My sister Marta lives in Lyon.")
    mem_real.capture("ines", "s2", "My sister moved to Geneva last month.")
    assert _current(mem_real, "ines") == [
        "My sister moved to Geneva last month.",
        "My sister Marta",
    ]


def test_saying_a_fact_again_is_a_noop(mem_real):
    (a,) = mem_real.capture("olga", "s1", "Our cat is called Pirozhok.")
    (b,) = mem_real.capture("olga", "s2", "My cat is called Pirozhok.")
    assert a.id == b.id and len(mem_real.list("olga", include_history=True)) == 1


@pytest.mark.parametrize(
    "message",
    [
        "Can you recommend a good book about birds?",
        "Please write me a short poem about rain.",
        "Tell me a joke about cats.",
        "I need help writing a cover letter.",
        "What's a good recipe for plov?",
        "I'm so tired today.",
        "I'm a bit hungry.",
        "I'm thinking about getting a dog.",
        "I'm looking for a new job, actually.",
        "My head hurts right now.",
        "My question is about Python.",
        "If I move to Pskov, I will tell you.",
        "I went to the shop today.",
    ],
)
def test_questions_requests_and_passing_states_are_not_captured(mem, message):
    assert mem.capture("olga", "s1", message) == []
    assert mem.list("olga") == []


@pytest.mark.parametrize(
    ("message", "subject"),
    [
        ("Our cat is called Pirozhok.", "cat:name"),
        ("My brother Gleb teaches physics in Kazan.", "brother gleb:teach"),
        ("The appointment is on the 21st.", "appointment:is"),
        ("We live in a flat near the river.", "me:residence"),
        ("We got married in June 2022.", None),
        ("I visited Rome in May 2019.", None),
        ("My son Jan plays hockey.", None),
    ],
)
def test_statements_about_the_users_world_are_captured(message, subject):
    assert [(f.text, f.subject) for f in RuleExtractor().extract(message)] == [(message, subject)]


@pytest.mark.parametrize(
    "message",
    [
        "My PIN is 4821.",
        "By the way, my bank password is hunter2.",
        "My password hint is the name of my first dog.",
        "The gate code is 7731 and I live in Tver.",
    ],
)
def test_a_secret_said_in_passing_is_neither_a_fact_nor_kept_in_the_turn(paths, mem, message):
    secret = message.split(" is ")[1].split()[0].rstrip(".")
    facts = mem.capture("olga", "s1", message, reply=f"Noted: {secret}")
    assert all(secret not in f.text for f in facts)
    assert rows_mentioning(paths.db, secret) == []
    assert WITHHELD in mem.turns("olga")[0]["text"]


def test_a_secret_is_stored_only_on_an_explicit_remember(mem):
    (fact,) = mem.capture("olga", "s1", "Remember that my PIN is 4821.")
    assert (fact.text, fact.kind) == ("my PIN is 4821.", "explicit")


def test_the_model_extractor_drops_a_secret_the_model_proposes():
    backend = EchoBackend(reply="- my PIN is 4821\n- I live in Tver")
    facts = ModelExtractor(backend).extract("My PIN is 4821 and I live in Tver.")
    assert [f.text for f in facts] == ["I live in Tver"]


def test_the_model_decides_among_numbered_memories_and_falls_back_on_nonsense():
    fact = Fact("I drive a Kia now.", subject_of("I drive a Kia now."))
    cands = [Candidate(7, "I drive an old Lada.", None, 0.6), Candidate(9, "I like tea", None, 0.1)]
    assert ModelExtractor(EchoBackend(reply="UPDATE 1")).decide(fact, cands).target == 7
    assert ModelExtractor(EchoBackend(reply="ADD")).decide(fact, cands).action == "ADD"
    fallback = ModelExtractor(EchoBackend(reply="UPDATE 5")).decide(fact, cands)
    assert fallback == decide(fact, cands) and fallback.target == 7


@pytest.fixture
def engine(paths, embedder):
    e = Engine(paths, embedder=embedder, backend=EchoBackend(reply="ok"))
    yield e
    e.close()


def _prompt(engine: Engine) -> str:
    return engine.backend().requests[-1].messages[-1]["content"]


def test_history_never_enters_the_prompt_as_current(engine):
    opts = AskOptions(user="olga", session="s1", rag=False)
    engine.chat([{"role": "user", "content": "I live in Tver."}], opts)
    engine.chat([{"role": "user", "content": "I have just moved from Tver to Pskov."}], opts)
    engine.ask("Where do I live now?", opts)
    memories = _prompt(engine).split(MEMORY_HEADING)[1]
    assert "- I have just moved from Tver to Pskov." in memories
    assert "I live in Tver" not in memories
    # Asked about the past, the old fact may come, marked as past.
    engine.ask("Where did I live before?", opts)
    assert f"- {PAST_MARK} I live in Tver" in _prompt(engine)


def test_an_unknown_personal_question_is_answered_without_the_model(engine):
    opts = AskOptions(user="olga", session="s1", rag=False)
    engine.chat([{"role": "user", "content": "Our cat is called Pirozhok."}], opts)
    seen = len(engine.backend().requests)
    for question in ("What car do I drive?", "What is our dog called?", "What is my PIN?"):
        answer = engine.ask(question, opts)
        assert answer.answer == DONT_KNOW and answer.memories == []
    assert len(engine.backend().requests) == seen
    assert engine.ask("What is our cat called?", opts).answer == "ok"  # the model answers
    assert engine.ask("How do I sort a list in Python?", opts).answer == "ok"  # not personal


@pytest.mark.parametrize(
    ("question", "personal"),
    [
        ("What car do I drive?", True),
        ("Where did I live before?", True),
        ("Do I have a dog?", True),
        ("How do I sort a list?", False),
        ("What should I cook tonight?", False),
        ("Why is my code slow?", False),
        ("What is the capital of France?", False),
    ],
)
def test_personal_questions(question, personal):
    assert personal_question(question) is personal
