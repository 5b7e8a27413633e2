"""What becomes a memory: explicit requests, first-person facts, subjects, near-duplicates."""

from __future__ import annotations

import pytest

from outweigh.memory import ModelExtractor, RuleExtractor
from outweigh.memory.capture import grounded, near_duplicate, parse_lines, subject_of
from outweigh.testing import EchoBackend

rules = RuleExtractor()


@pytest.mark.parametrize(
    ("message", "fact", "subject"),
    [
        ("My cat is Bublik.", "My cat is Bublik.", "cat:name"),
        ("my cat is now called Murka", "my cat is now called Murka", "cat:name"),
        ("my cat's name is Murka", "my cat's name is Murka", "cat:name"),
        ("My name is Ana", "My name is Ana", "me:name"),
        ("Call me Ishmael", "Call me Ishmael", "me:name"),
        ("I live in Lisbon.", "I live in Lisbon.", "me:residence"),
        ("I moved to Berlin last year", "I moved to Berlin last year", "me:residence"),
        ("I work as a glassblower", "I work as a glassblower", "me:job"),
        ("I work at Heron Labs", "I work at Heron Labs", "me:employer"),
        ("I am 34 years old!", "I am 34 years old!", "me:age"),
        ("My favourite colour is teal.", "My favourite colour is teal.", "favorite color:is"),
        ("I prefer short answers", "I prefer short answers", None),
        ("I am allergic to hazelnuts.", "I am allergic to hazelnuts.", None),
        ("I pilot the Heron-7 on the north reef.", "I pilot the Heron-7 on the north reef.", None),
        ("I don't eat meat", "I don't eat meat", None),
        ("Oh, and my sister lives in Oslo", "my sister lives in Oslo", "sister:residence"),
    ],
)
def test_first_person_facts_are_captured_with_their_subject(message, fact, subject):
    facts = rules.extract(message)
    assert [(f.text, f.subject, f.kind) for f in facts] == [(fact, subject, "auto")]


@pytest.mark.parametrize(
    "message",
    [
        "What is my cat called?",
        "Where do I live",
        "I am wondering about tax law.",
        "I'm not sure what you mean",
        "I have a question about Python",
        "I want to know the capital of France",
        "I need help with this code",
        "I think so",
        "If I lived in Paris I would be happy",
        "Do you remember when we met?",
        "remember what I said?",
        "Explain transformers to me.",
        "The Heron-7 dives to 300 m.",
        "I visited Rome",
        "",
    ],
)
def test_questions_requests_and_passing_states_are_not_facts(message):
    assert rules.extract(message) == []


def test_explicit_request_stores_the_rest_verbatim():
    (fact,) = rules.extract("Please remember that the wifi password is 'x\"; DROP TABLE x;--'")
    assert fact.kind == "explicit"
    assert fact.text == "the wifi password is 'x\"; DROP TABLE x;--'"


def test_a_message_with_several_facts_yields_each_once():
    facts = rules.extract(
        "Hi! My name is Ana and I pilot the Heron-7. My boat is called the Brisket Moon. "
        "My name is Ana."
    )
    assert [f.text for f in facts] == [
        "My name is Ana",
        "I pilot the Heron-7.",
        "My boat is called the Brisket Moon.",
    ]
    assert [f.subject for f in facts] == ["me:name", None, "boat:name"]


def test_an_adjective_does_not_claim_the_name_slot():
    assert subject_of("My cat is Bublik") == "cat:name"
    assert subject_of("My cat is black") == "cat:is"
    assert subject_of("My cat is 3 years old") == "cat:age"


@pytest.mark.parametrize(
    ("a", "b", "cosine", "same"),
    [
        ("My cat is Bublik", "my cat is called Bublik.", None, True),
        ("My favourite colour is teal", "my favorite color is teal", None, True),
        ("I am 34 years old", "I am 35 years old", 0.99, False),  # numbers differ
        ("I like cats", "I don't like cats", 0.99, False),  # negation differs
        ("I live in Lisbon", "I live in Lisbon, Portugal", 0.98, True),  # paraphrase
        ("I live in Lisbon", "I live in Porto", 0.6, False),
    ],
)
def test_near_duplicates(a, b, cosine, same):
    assert near_duplicate(a, b, cosine) is same
    assert near_duplicate(b, a, cosine) is same


@pytest.mark.parametrize(
    ("a", "b", "cosine"),
    [
        ("I like him", "I like her", None),  # whom it is about
        ("I moved out of Berlin", "I moved to Berlin", None),
        ("I own a boat", "I have a boat", None),
        ("I cannot swim", "I can swim", 0.99),  # "cannot" is a negation
    ],
)
def test_stop_words_that_tell_facts_apart_keep_them_apart(a, b, cosine):
    assert not near_duplicate(a, b, cosine)


def test_model_extractor_keeps_only_grounded_lines_and_never_asks_about_explicit_requests():
    backend = EchoBackend(
        reply="Facts:\n- I live in Lisbon\n- I own a spaceship and a castle\n* I keep bees\nNONE"
    )
    extractor = ModelExtractor(backend)
    facts = extractor.extract("I live in Lisbon, where I keep bees on the roof.")
    texts = [f.text for f in facts]
    assert "I live in Lisbon" in texts and "I keep bees" in texts
    assert not any("spaceship" in t for t in texts)
    assert all(grounded(t, "I live in Lisbon, where I keep bees on the roof.", 0.6) for t in texts)
    seen = len(backend.requests)
    (fact,) = extractor.extract("remember that my locker is 318")
    assert (fact.text, fact.kind) == ("my locker is 318", "explicit")
    assert len(backend.requests) == seen


def test_parse_lines_reads_bullets_only():
    assert parse_lines("Sure!\n- a fact\n2. another\n  * third\nNONE\n- NONE") == [
        "a fact",
        "another",
        "third",
    ]


@pytest.mark.slow
def test_model_extractor_on_the_real_small_model_invents_nothing(smol_backend):
    message = "My daughter is called Wren and I keep two goats on the hill."
    facts = ModelExtractor(smol_backend, max_tokens=24).extract(message)
    # Whatever the 135M model writes, only facts grounded in the message survive, and the
    # rules still catch the plain first-person ones.
    assert all(grounded(f.text, message, 0.6) for f in facts)
    assert any("Wren" in f.text for f in facts)
