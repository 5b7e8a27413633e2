"""Scoring on hand-made predictions: normalization, several gold answers, Unicode."""

from __future__ import annotations

import pytest

from outweigh.eval.metrics import (
    accuracy,
    concise,
    diagnosis,
    exact_match,
    f1,
    mean,
    normalize,
    p50,
    peak_rss_mb,
    reset_peak_rss,
    source_matches,
    tokens_per_s,
)


@pytest.mark.parametrize(
    ("raw", "norm"),
    [
        ("The Heron-7!", "heron 7"),
        ("  An   otter,  named Grumbold. ", "otter named grumbold"),
        ("ＫＸ－１９", "kx 19"),  # full-width letters, digits and dash fold to ASCII (NFKC)
        ("Straße", "strasse"),  # case-folding, not just lower()
        ("«Одалис Бреннеке»", "одалис бреннеке"),
        ("ЁЛКА — Ёлка", "ёлка ёлка"),
        ("Café", "café"),
        ("", ""),
    ],
)
def test_normalize(raw: str, norm: str) -> None:
    assert normalize(raw) == norm


def test_normalization_is_idempotent() -> None:
    for text in ["The A-team's 3rd run!", "Привет, мир!", "ＡＢＣ  the  x"]:
        assert normalize(normalize(text)) == normalize(text)


def test_accuracy_finds_a_gold_answer_inside_a_sentence() -> None:
    answer = "The Heron-7 is rated to a maximum depth of 412 metres."
    assert accuracy(answer, ["412"])
    assert accuracy(answer, ["700", "412 metres"])  # any of several answers
    assert not accuracy(answer, ["41"])  # whole tokens only
    assert not accuracy("It was founded in 2027.", ["27"])
    assert not accuracy("", ["412"])


def test_a_citation_marker_is_not_an_answer() -> None:
    # "--max-procs [1]" names the option asked about and cites passage 1: it does not say
    # that the default is 1.
    assert not accuracy("--max-procs [1]", ["1"])
    assert accuracy("The default is 1 [1].", ["1"])
    assert accuracy("8 [2]", ["8"])


def test_an_abstention_is_no_answer() -> None:
    # "i" is the option -i normalized, and a word of "I don't know": no gold answer is there.
    idk = "I don't know: the context does not say."
    assert not accuracy(idk, ["-i"]) and not concise(idk, ["-i"]) and f1(idk, ["-i"]) == 0
    assert accuracy("-i [1]", ["-i"])
    assert accuracy("I don't know the author, but -i does it.", ["-i"])  # it states a fact


def test_accuracy_needs_the_tokens_in_order_and_together() -> None:
    assert accuracy("The director is Odalys Brenneke.", ["Odalys Brenneke"])
    assert not accuracy("Brenneke hired Odalys.", ["Odalys Brenneke"])


def test_accuracy_on_cyrillic_answers() -> None:
    assert accuracy("Директора зовут Одалис Бреннеке.", ["одалис бреннеке"])
    assert accuracy("ОТВЕТ: КВИЛЛХЕЙВЕН", ["Квиллхейвен"])
    assert not accuracy("Директора зовут Одалис.", ["Бреннеке"])


def test_exact_match_ignores_case_punctuation_and_articles() -> None:
    assert exact_match("The Amber.", ["amber"])
    assert exact_match("Marrowfield", ["Marrowfield Cells", "Marrowfield"])
    assert not exact_match("Amber badge", ["amber"])
    assert exact_match("«Четверг»", ["четверг"])


def test_f1_is_token_overlap_with_the_best_answer() -> None:
    assert f1("Pellucid Street", ["Pellucid Street"]) == 1.0
    assert f1("no idea", ["Pellucid Street"]) == 0.0
    # pred {on, pellucid}, gold {pellucid, street}: P = R = 1/2
    assert f1("on Pellucid", ["Pellucid Street"]) == pytest.approx(0.5)
    assert f1("on Pellucid", ["Quillhaven", "Pellucid"]) == pytest.approx(2 / 3)
    assert f1("улица Пеллюсид", ["Пеллюсид"]) == pytest.approx(2 / 3)


def test_scores_are_bounded_and_agree() -> None:
    cases = [("Amber", ["amber"]), ("an amber badge", ["amber"]), ("blue", ["amber"])]
    for pred, gold in cases:
        score = f1(pred, gold)
        assert 0.0 <= score <= 1.0
        if exact_match(pred, gold):
            assert accuracy(pred, gold) and score == 1.0


def test_sources_match_by_name_or_path_under_docs() -> None:
    stored = "/home/u/suite/docs/hr/policies.md"
    assert source_matches(stored, "policies.md")
    assert source_matches(stored, "hr/policies.md")
    assert not source_matches(stored, "licies.md")
    assert not source_matches("/x/docs/other.md", "policies.md")


def test_concise_needs_the_answer_and_a_short_one() -> None:
    gold = ["412"]
    assert concise("The Heron-7 is rated to a maximum depth of 412 metres.", gold)
    assert not concise("It is rated to 300 metres.", gold)  # short but wrong
    passage = (
        "Our main survey platform is the Heron-7, a two-metre autonomous submersible. The "
        "Heron-7 is rated to a maximum depth of 412 metres and carries a sonar mast, two sample "
        "bottles and a tether reel."
    )
    assert accuracy(passage, gold) and not concise(passage, gold)  # a copied passage
    listing = "It could be 40, 120, 250, 300, 412, 500, 650, 800, 1000, 1200, 1500, 2000 metres "
    assert accuracy(listing * 2, gold) and not concise(listing * 2, gold)  # a list of guesses
    # A long gold answer widens the bound: four times its own words.
    title = ["Guidelines for the Safe Recovery of Autonomous Survey Vessels"]
    assert concise("It is called Guidelines for the Safe Recovery of Autonomous Survey "
                   "Vessels, the handbook every new member of the crew reads in the first "
                   "week at the dock.", title)  # fmt: skip


def test_diagnosis_tells_retrieval_from_reading() -> None:
    context = ["/x/docs/overview.md", "/x/docs/policies.md"]
    assert diagnosis(True, context, "policies.md") == "right"
    assert diagnosis(True, [], "policies.md") == "right"  # right without the gold passage
    assert diagnosis(False, context, "policies.md") == "reading_miss"
    assert diagnosis(False, context, "safety.txt") == "retrieval_miss"
    assert diagnosis(False, [], "safety.txt") == "retrieval_miss"


def test_aggregates() -> None:
    assert mean([True, False, True, True]) == 0.75
    assert mean([]) is None
    assert p50([3.0, 1.0, 2.0]) == 2.0
    assert p50([]) is None
    assert tokens_per_s([10, 30], [1.0, 1.0]) == 20.0
    assert tokens_per_s([5], [0.0]) is None


def test_peak_rss_is_positive_and_resettable() -> None:
    reset_peak_rss()
    first = peak_rss_mb()
    assert first > 0
    ballast = bytearray(64 * 1024 * 1024)
    ballast[::4096] = b"x" * len(ballast[::4096])  # touch every page so it is resident
    assert peak_rss_mb() >= first + 32
    del ballast


@pytest.mark.parametrize(
    ("answer", "abstained"),
    [
        ("I don't know: you haven't told me that.", True),
        ("I'm sorry, but I don't have information about your car.", True),
        ("I'm not sure. Could you tell me?", True),
        ("I don't know your car, but it is probably a Toyota.", False),
        ("You drive a Toyota.", False),
        ("Your daughter's name is Emily.", False),
        ("", False),
    ],
)
def test_abstaining_means_stating_no_fact(answer: str, abstained: bool) -> None:
    from outweigh.eval.metrics import abstains

    assert abstains(answer) is abstained


def test_a_stale_or_foreign_value_makes_a_memory_answer_wrong() -> None:
    from outweigh.eval.metrics import memory_correct

    assert memory_correct("You live in Pskov.", ["Pskov"], False, ["Tver"])
    assert not memory_correct("You live in Pskov or Tver.", ["Pskov"], False, ["Tver"])
    assert not memory_correct("I don't know; maybe Pirozhok?", [], True, ["Pirozhok"])
    assert memory_correct("I don't know.", [], True, ["Pirozhok"])
