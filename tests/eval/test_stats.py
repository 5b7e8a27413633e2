"""The intervals and the paired test behind the headline: checked against scipy's exact
binomial test, and for the properties any bootstrap interval must have."""

from __future__ import annotations

import pytest

from outweigh.eval.stats import bootstrap_ci, mcnemar


def test_mcnemar_is_scipys_exact_binomial_test_on_the_discordant_questions() -> None:
    stats = pytest.importorskip("scipy.stats")
    for b in range(0, 9):
        for c in range(0, 9):
            first = [True] * b + [False] * c + [True, False] * 3
            second = [False] * b + [True] * c + [True, False] * 3
            p = mcnemar(first, second)
            assert (p.only_first, p.only_second, p.questions) == (b, c, b + c + 6)
            expected = 1.0 if b + c == 0 else stats.binomtest(b, b + c, 0.5).pvalue
            assert p.p_value == pytest.approx(expected, abs=1e-12), (b, c)
            assert p.p_value == mcnemar(second, first).p_value  # symmetric


def test_bootstrap_interval_holds_the_rate_narrows_with_questions_and_repeats() -> None:
    few = [True, False] * 6
    many = few * 10
    lo, hi = bootstrap_ci(few, seed=0)
    assert 0.0 <= lo < 0.5 < hi <= 1.0
    lo2, hi2 = bootstrap_ci(many, seed=0)
    assert lo < lo2 < 0.5 < hi2 < hi  # 10x the questions: a narrower interval
    assert bootstrap_ci(few, seed=0) == (lo, hi)  # seeded: a rerun prints the same
    assert bootstrap_ci([True] * 5, seed=3) == (1.0, 1.0)  # nothing varies, nothing to widen
    assert bootstrap_ci([], seed=0) is None
