"""`outweigh eval --judge MODEL[@URL]`: a model grades each facts answer, beside the string
metrics and never instead of them.

Two questions per facts answer, each a short prompt for a one-word verdict at temperature 0:
- `correct`: does the answer give the expected one? (answerable questions: the ones
  `accuracy` scores);
- `faithful`: is what the answer says supported by the passages it cites? (answers that cite
  at least one passage; the passages as the prompt showed them).

A reply is read as "yes" or "no" only when its first word says so (`verdict`); anything else
is "unparsed", counted apart and never taken for a yes. The judge's `correct` is set against
the string metric's `accuracy` on the questions both score (raw agreement and Cohen's kappa,
`outweigh.eval.stats.agreement`), so a user sees whether the judge can be trusted on their
suite before reading its faithfulness: LLM judges drift from human labels in ways that depend
on the model and the task (Zheng et al. 2023, "Judging LLM-as-a-Judge").

The judge answers through the backends the configs use: a catalog model or folder loaded here
by the engine, or `MODEL@URL` on an OpenAI-compatible server with the run's keys, timeout and
retries (`outweigh.eval.endpoints`). Its replies are journaled by `--resume` like answers.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from outweigh.engine import AskOptions, Engine
from outweigh.eval.endpoints import Endpoints
from outweigh.eval.journal import Journal
from outweigh.eval.results import Record
from outweigh.eval.spec import ConfigSpec
from outweigh.eval.stats import agreement, bootstrap_ci
from outweigh.prompt import quoted
from outweigh.settings import Paths

if TYPE_CHECKING:
    from outweigh.generate.base import Backend, Message
    from outweigh.models.options import LoadOptions

# -- the prompts: every word the judge is sent --------------------------------------------------
SYSTEM = "You are a strict grader. Reply with one word: yes or no."

CORRECT = (
    "Question: {question}\n"
    "Expected answer: {expected}\n"
    "Answer to grade: {answer}\n\n"
    "Does the answer to grade give the expected answer (other wording is fine, a different "
    "or missing value is not)? Reply yes or no."
)

FAITHFUL = (
    "Passages:\n{passages}\n\n"
    "Answer to grade: {answer}\n\n"
    "Is everything the answer to grade states supported by the passages above? Reply yes or no."
)

ASPECTS = ("correct", "faithful")
"""What the judge is asked, in the order it is asked."""

MAX_TOKENS = 8
"""Reply cap: "yes" is one token in every tokenizer here; 8 leave room for a "Verdict:" or
markdown ahead of it, and no room for an essay that costs time."""

YES, NO, UNPARSED = "yes", "no", "unparsed"

_WORD = re.compile(r"[^\W\d_]+")
_LEAD = {"verdict", "answer", "final", "grade", "reply", "response", "the", "is"}
"""Words a reply may put before its verdict ("Verdict: yes", "The answer is no")."""


def verdict(reply: str) -> str:
    """ "yes" or "no" when the reply's first word (past a label such as "Verdict:") is one of
    them, whatever the case, punctuation or markdown around it; "unparsed" otherwise."""
    for word in _WORD.findall(reply.casefold()):
        if word in _LEAD:
            continue
        return word if word in (YES, NO) else UNPARSED
    return UNPARSED


def prompt(aspect: str, record: Record) -> list[Message] | None:
    """The judge's messages for one aspect of one facts answer; None where it does not apply
    (an unanswerable question's correctness, the faithfulness of an answer citing nothing)."""
    if aspect == "correct":
        if record.abstain:
            return None
        text = CORRECT.format(
            question=quoted(record.prompt, one_line=True),
            expected=" / ".join(quoted(a, one_line=True) for a in record.expected),
            answer=quoted(record.answer),
        )
    elif aspect == "faithful":
        if not record.cited_text:
            return None
        passages = "\n\n".join(f"[{i}] {quoted(t)}" for i, t in enumerate(record.cited_text, 1))
        text = FAITHFUL.format(passages=passages, answer=quoted(record.answer))
    else:
        raise ValueError(f"unknown judge aspect {aspect!r}")
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}]


# -- running it ---------------------------------------------------------------------------------
def check(
    spec: ConfigSpec, paths: Paths, factory: Callable[[str], Backend] | None, endpoints: Endpoints
) -> None:
    """Before the run: a local judge is a model the engine knows; an endpoint judge answers
    one token (`Endpoints.check`), or one `error:` line naming `--judge`."""
    if spec.endpoint is not None:
        endpoints.check([spec], flag="--judge")
        return
    with Engine(paths, model=spec.model, backend_factory=factory) as engine:
        engine.preflight(AskOptions(rag=False, memory=False))


def grade(
    spec: ConfigSpec,
    records: Sequence[Record],
    seed: int,
    paths: Paths,
    factory: Callable[[str], Backend] | None = None,
    load: LoadOptions | None = None,
    endpoints: Endpoints | None = None,
    journal: Journal | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> None:
    """Fill each facts record's `judge` verdicts, asking `spec`'s model what the journal does
    not already hold; the model loads (or the connection opens) only when something is left."""
    from outweigh.generate.base import GenerationRequest

    asks = [
        (r, aspect, messages)
        for r in records
        if r.part == "facts"
        for aspect in ASPECTS
        if (messages := prompt(aspect, r)) is not None
    ]
    task = f"judge {spec}"
    engine: Engine | None = None
    try:
        for done, (record, aspect, messages) in enumerate(asks, 1):
            reply = journal.verdicts.get((record.config, record.line, aspect)) if journal else None
            if reply is None:
                if engine is None:
                    if spec.endpoint is not None:
                        factory = functools.partial((endpoints or Endpoints()).backend, spec)
                    engine = Engine(paths, model=spec.model, backend_factory=factory, load=load)
                request = GenerationRequest(
                    messages, max_tokens=MAX_TOKENS, temperature=0.0, seed=seed
                )
                reply = engine.backend().generate(request).text
                if journal:
                    journal.add_verdict(record.config, record.line, aspect, reply)
            record.judge[aspect] = verdict(reply)
            if progress:
                progress(task, done, len(asks))
    finally:
        if engine is not None:
            engine.close()


def scores(
    records: Sequence[Record], seed: int
) -> tuple[dict[str, float | None], dict[str, tuple[float, float]]]:
    """One config's judge metrics and the 95% intervals of its two rates: the share of parsed
    verdicts that say yes, unparsed replies counted apart, and agreement with `accuracy`."""
    facts = [r for r in records if r.part == "facts"]
    rates = {
        "judge_accuracy": [r.judge.get("correct") == YES for r in facts if _parsed(r, "correct")],
        "judge_faithfulness": [
            r.judge.get("faithful") == YES for r in facts if _parsed(r, "faithful")
        ],
    }
    both = [r for r in facts if not r.abstain and _parsed(r, "correct")]
    agreed = agreement([r.judge["correct"] == YES for r in both], [r.correct for r in both])
    values: dict[str, float | None] = {k: sum(v) / len(v) if v else None for k, v in rates.items()}
    values.update(
        judge_agreement=agreed.agreement,
        judge_kappa=agreed.kappa,
        judge_questions=float(agreed.items),
        judge_unparsed=float(sum(v == UNPARSED for r in facts for v in r.judge.values())),
    )
    intervals = {
        k: ci for k, v in rates.items() if (ci := bootstrap_ci([float(x) for x in v], seed))
    }
    return values, intervals


def _parsed(record: Record, aspect: str) -> bool:
    return record.judge.get(aspect) in (YES, NO)
