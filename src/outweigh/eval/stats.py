"""How much of a score is chance: bootstrap intervals for every rate, and the paired test
behind the headline's "outweighs".

On a 12-question suite one answer moves accuracy by 0.08, so a rate is reported with its 95%
percentile-bootstrap interval (Efron & Tibshirani 1993, ch. 13): the questions resampled with
replacement, the rate recomputed each time. Two configs answered the same questions, so they
are compared question by question with the exact McNemar test (McNemar 1947; the exact
binomial form, as Dietterich 1998 recommends for comparing two classifiers on one test set):
only the questions where exactly one of them is right carry information.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

BOOTSTRAP_SAMPLES = 2000
"""Resamples per interval: the 2.5th and 97.5th percentiles of 2000 means move by under
0.01 between seeds on a 12-question suite, and 2000 is Efron & Tibshirani's advice for
percentile intervals (they suggest at least 1000)."""

LEVEL = 0.95
"""Coverage of every interval; the `_ci95` in the JSON keys."""

ALPHA = 0.05
"""The headline calls a difference significant below this McNemar p-value: the 95% level of
the intervals beside it."""


def bootstrap_ci(values: Sequence[float], seed: int) -> tuple[float, float] | None:
    """The 95% percentile-bootstrap interval of the mean of `values` (one per question: 0/1
    for a rate, a fraction for F1), seeded so a rerun prints the same interval; None when
    there are no values."""
    if not values:
        return None
    import numpy as np

    x = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(BOOTSTRAP_SAMPLES, len(x)))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - LEVEL) / 2, 1 - (1 - LEVEL) / 2])
    return round(float(lo), 4), round(float(hi), 4)


@dataclass(frozen=True)
class Paired:
    """Two configs on the questions both answered."""

    questions: int
    """Questions both configs answered."""
    only_first: int
    """Questions only the first got right."""
    only_second: int
    """Questions only the second got right."""
    p_value: float
    """Exact two-sided McNemar p-value: under "equally good", each of the questions where
    they differ is a fair coin's toss."""

    @property
    def significant(self) -> bool:
        return self.p_value < ALPHA


def mcnemar(first: Sequence[bool], second: Sequence[bool]) -> Paired:
    """The exact McNemar test on paired right/wrong outcomes (same questions, same order):
    p = P(X <= min(b, c)) * 2, capped at 1, for X ~ Binomial(b + c, 1/2)."""
    if len(first) != len(second):
        raise ValueError("mcnemar needs the two configs' outcomes on the same questions")
    b = sum(1 for x, y in zip(first, second, strict=True) if x and not y)
    c = sum(1 for x, y in zip(first, second, strict=True) if y and not x)
    n = b + c
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2**n
    return Paired(len(first), b, c, min(1.0, 2 * tail))


KAPPA_TRUSTED = 0.6
"""The judge is worth reading where its kappa with the string metric is at least this:
"substantial" agreement on Landis & Koch's (1977) scale (0.41-0.60 moderate, 0.61-0.80
substantial), the usual bar for two raters labelling the same items."""


@dataclass(frozen=True)
class Agreement:
    """Two raters' yes/no labels of the same items: the judge and the string metric."""

    items: int
    """Items both labelled."""
    agreement: float | None
    """Share of items they label alike; None with no items."""
    kappa: float | None
    """Cohen's kappa (Cohen 1960): agreement beyond what their own yes-rates give by chance,
    (p_o - p_e) / (1 - p_e); None with no items or when chance agreement is 1 (both say
    always the same one label), where it is undefined."""


def agreement(first: Sequence[bool], second: Sequence[bool]) -> Agreement:
    """Raw agreement and Cohen's kappa of two raters' labels of the same items, in order."""
    if len(first) != len(second):
        raise ValueError("agreement needs both raters' labels of the same items")
    n = len(first)
    if n == 0:
        return Agreement(0, None, None)
    observed = sum(1 for x, y in zip(first, second, strict=True) if x == y) / n
    yes_a, yes_b = sum(map(bool, first)) / n, sum(map(bool, second)) / n
    chance = yes_a * yes_b + (1 - yes_a) * (1 - yes_b)
    kappa = None if chance >= 1.0 else (observed - chance) / (1 - chance)
    return Agreement(n, observed, kappa)
