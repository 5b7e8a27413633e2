"""What an eval run is asked to do (`EvalOptions`) and what it found: one `Record` per scored
answer, and the `EvalResult` that `outweigh.eval.report` renders."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from outweigh.errors import InputError
from outweigh.eval.spec import ConfigSpec, parse_judge, parse_spec, parse_specs
from outweigh.eval.stats import KAPPA_TRUSTED, Paired, mcnemar
from outweigh.eval.vram import BASIS as VRAM_BASIS


@dataclass(frozen=True)
class EvalOptions:
    """How every config answers; the same for all configs of a run."""

    k: int = 3
    """Chunks retrieved per question for `+rag` configs, and the k of retrieval_recall_at_k.
    Three fit the small models' budget and hold the answer: more passages past the first few
    rarely help small readers (Liu et al. 2023, "Lost in the Middle")."""
    max_tokens: int = 48
    """Answer cap in tokens; facts answers are a phrase, and CPU time grows with every token."""
    style_max_tokens: int = 64
    """Answer cap for style prompts: long enough for a short message and its sign-off."""
    seed: int = 0
    """Seeds generation; with greedy decoding it makes runs repeatable."""
    limit: int | None = None
    """Use only the first N questions, style prompts and memory asks; None uses all."""
    reader_gap: bool = False
    """Also answer each sourced question once more per `+rag` config with only its gold
    document as context (its best k chunks), for `gold_only_accuracy` and `reader_gap`."""
    judge: str | None = None
    """`--judge MODEL[@URL]`: a model that also grades each facts answer's correctness and
    faithfulness (`outweigh.eval.judge`); None scores with the string metrics only."""

    def validate(self) -> None:
        """One-line errors naming the flag."""
        for flag, value in (
            ("-k", self.k),
            ("--max-tokens", self.max_tokens),
            ("--style-max-tokens", self.style_max_tokens),
        ):
            if value < 1:
                raise InputError(f"`{flag}` must be at least 1; got {value}")
        if self.limit is not None and self.limit < 1:
            raise InputError(f"`--limit` must be at least 1; got {self.limit}")
        if self.seed < 0:
            raise InputError(f"`--seed` must be 0 or more; got {self.seed}")
        if self.judge is not None:
            parse_judge(self.judge)

    def judge_spec(self) -> ConfigSpec | None:
        """The parsed `--judge`, or None without one."""
        return None if self.judge is None else parse_judge(self.judge)

    @classmethod
    def parse(
        cls,
        k: str = "3",
        max_tokens: str = "48",
        seed: str = "0",
        limit: str | None = None,
        reader_gap: bool = False,
        judge: str | None = None,
    ) -> EvalOptions:
        """Options from command-line text, so a typo is one `error:` line, not a usage screen."""
        opts = cls(
            k=whole_number(k, "-k"),
            max_tokens=whole_number(max_tokens, "--max-tokens"),
            seed=whole_number(seed, "--seed"),
            limit=None if limit is None else whole_number(limit, "--limit"),
            reader_gap=reader_gap,
            judge=None if judge is None else str(parse_judge(judge)),
        )
        opts.validate()
        return opts


def whole_number(text: str, flag: str) -> int:
    """`text` as an int, or a one-line error naming the option it came from."""
    try:
        return int(text)
    except ValueError:
        raise InputError(f"`{flag}` must be a whole number; got {text!r}") from None


JUDGE_TRUST = (
    f"trust a config's judge_accuracy and judge_faithfulness where its judge_kappa (the "
    f"judge's Cohen's kappa with accuracy, on judge_questions questions) is at least "
    f"{KAPPA_TRUSTED}; below it, read the string metrics"
)
"""The line the JSON, the table and the report give beside the judge's numbers."""


@dataclass(kw_only=True)
class Record:
    """One scored answer."""

    config: str
    """The canonical config spec."""
    part: str
    """facts, style or memory."""
    line: int
    """Line of the suite file the prompt came from."""
    prompt: str
    """What was asked."""
    expected: list[str]
    """Gold answers, or the style check."""
    answer: str
    """What the config answered."""
    correct: bool
    """accuracy for facts and memory, the check for style."""
    seconds: float
    """Wall time of the answer, retrieval included."""
    completion_tokens: int
    """Tokens generated."""
    exact: bool | None = None
    """exact_match, for facts."""
    f1: float | None = None
    """Token F1, for facts."""
    source: str | None = None
    """The gold document, for facts that name one."""
    cited: list[str] = field(default_factory=list)
    """Sources of the passages the answer rests on (`Answer.citations`), as paths under the
    suite's docs/."""
    cited_where: list[str | None] = field(default_factory=list)
    """Where each of `cited` is in its document ("p. 12, §3.2 Budget"); None when unknown."""
    cited_text: list[str] = field(default_factory=list)
    """Each of `cited` as the prompt showed it (the selected lines, else the whole chunk):
    what the judge checks the answer's faithfulness against."""
    retrieved: list[str] = field(default_factory=list)
    """Sources of the top-k retrieved chunks (paths under docs/), for +rag configs."""
    context: list[str] = field(default_factory=list)
    """Sources of the passages the prompt carried (`Answer.context`, paths under docs/): the
    retrieved ones that fit the budget."""
    concise: bool | None = None
    """Right and short (`metrics.concise`), for facts."""
    diagnosis: str | None = None
    """right, reading_miss or retrieval_miss (`metrics.diagnosis`), for +rag facts with a
    gold document."""
    gold_only: bool | None = None
    """Right when given only the gold document (`--reader-gap`), for +rag facts."""
    user: str | None = None
    """The suite's user, for memory lines."""
    session: str | None = None
    """The suite's session, for memory lines."""
    category: str | None = None
    """The memory ask's category (`outweigh.eval.suite.CATEGORIES`), when it names one; a
    fact's kind (`FactQuestion.kind`)."""
    abstain: bool = False
    """A fact question the documents do not answer: right is "I don't know", uncited."""
    adapter: str | None = None
    """The adapter that answered (`Answer.adapter`): the config's own, a bundled reader the
    engine chose for a prompt with passages or memories, or None for the bare model."""

    judge: dict[str, str] = field(default_factory=dict)
    """`--judge` verdicts, for facts: aspect (`correct`, `faithful`) -> "yes", "no" or
    "unparsed" (the reply was neither); an aspect not judged is absent (no judge, an
    unanswerable question's correctness, an answer that cites nothing's faithfulness)."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class EvalResult:
    """Everything one run measured; `outweigh.eval.report` turns it into tables and files."""

    suite: str
    """The suite's directory name."""
    configs: list[str]
    """Canonical config specs, in run order."""
    results: dict[str, dict[str, float | None]]
    """Config -> metric -> value; None where the metric does not apply (e.g. no +rag)."""
    records: list[Record]
    """Every scored answer, per config, in suite order."""
    options: EvalOptions
    """How it was run."""
    intervals: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)
    """Config -> rate -> its 95% bootstrap interval (`eval.stats`), for rates that apply."""
    params: dict[str, int] = field(default_factory=dict)
    """Config -> base model parameter count (0 when unknown), for the "bigger model" story."""
    non_embedding_params: dict[str, int] = field(default_factory=dict)
    """Config -> parameters less the token embeddings (and an untied output head); 0 when
    unknown. Two models' sizes compare fairly here: Gemma-3-270M's 262k-token vocabulary is
    168M of its 268M, leaving 100M, against SmolLM2-135M's 106M."""
    seconds: float = 0.0
    """Wall time of the whole run."""
    vram_notes: dict[str, str] = field(default_factory=dict)
    """Config -> why the planner gave it no `vram_gb` (`outweigh.eval.vram`); configs with
    one are absent."""

    def specs(self) -> list[ConfigSpec]:
        return parse_specs(self.configs)

    def to_dict(self) -> dict[str, Any]:
        """The `--json` document: suite, results, per_question, and where retrieval hurt."""
        results = {
            c: {
                **values,
                **{f"{k}_ci95": list(ci) for k, ci in self.intervals.get(c, {}).items()},
            }
            for c, values in self.results.items()
        }
        return {
            "suite": self.suite,
            "results": results,
            "comparison": None if (p := self.comparison()) is None else p.to_dict(),
            "judge": None
            if self.options.judge is None
            else {
                "model": self.options.judge,
                "trusted_kappa": KAPPA_TRUSTED,
                "trust": JUDGE_TRUST,
            },
            "per_question": [r.to_dict() for r in self.records],
            "by_kind": self.by_kind(),
            "retrieval_hurt": [h.to_dict() for h in self.retrieval_hurt()],
            "options": dataclasses.asdict(self.options),
            "vram": {"basis": VRAM_BASIS, "notes": self.vram_notes},
            "params": self.params,
            "non_embedding_params": self.non_embedding_params,
            "seconds": round(self.seconds, 2),
        }

    def comparison(self) -> Comparison | None:
        """The small augmented config against its strongest rival on accuracy, paired on the
        facts both answered; None when the run has no such pair.

        The small side is the augmented config with the best accuracy on the run's smallest
        model that has one. Its rivals are the configs on every other model at least as big
        by total parameters, or of unknown size (a model on a server), bare or augmented, so
        "smollm2-135m+rag" meets "gemma3-270m+rag" and not only a bare "gemma3-270m"; the
        strongest is the one with the best accuracy.
        """
        specs = {c: parse_spec(c) for c in self.configs}
        acc = {c: self.results[c].get("accuracy") for c in self.configs}
        augmented = [c for c, s in specs.items() if s.augmented and acc[c] is not None]
        if not augmented:
            return None
        size = min(self.params.get(c, 0) for c in augmented)
        small = max(
            (c for c in augmented if self.params.get(c, 0) == size),
            key=lambda c: acc[c] or 0.0,
        )
        rivals = [
            c
            for c, s in specs.items()
            if s.model != specs[small].model
            and (self.params.get(c, 0) >= size or self.params.get(c, 0) == 0)
            and acc[c] is not None
        ]
        if not rivals:
            return None
        rival = max(rivals, key=lambda c: acc[c] or 0.0)
        right = {
            (r.config, r.line): r.correct
            for r in self.records
            if r.part == "facts" and not r.abstain
        }
        lines = sorted(
            {ln for c, ln in right if c == small} & {ln for c, ln in right if c == rival}
        )
        paired = mcnemar([right[(small, ln)] for ln in lines], [right[(rival, ln)] for ln in lines])
        return Comparison(small, rival, acc[small] or 0.0, acc[rival] or 0.0, paired)

    def by_kind(self) -> dict[str, dict[str, float | None]]:
        """Accuracy of each config on each kind of fact question (`FactQuestion.kind`;
        unanswerable ones: abstention), for suites that label their kinds."""
        out: dict[str, dict[str, float | None]] = {}
        for r in self.records:
            if r.part == "facts" and r.category is not None:
                out.setdefault(r.category, {})
        for kind in out:
            for config in self.configs:
                rows = [
                    r.correct
                    for r in self.records
                    if r.config == config and r.part == "facts" and r.category == kind
                ]
                out[kind][config] = sum(rows) / len(rows) if rows else None
        return dict(sorted(out.items()))

    def retrieval_hurt(self) -> list[Hurt]:
        """Facts a config got right without retrieval and wrong with it (Self-RAG, Asai et al.
        2023, measured this on TriviaQA: ChatGPT fell from 74.3 to 65.7 with retrieval).

        Each `+rag` config is paired with the run's config that differs only in `rag`, else
        with the one on the same model that shares the most of adapter and memory.
        """
        specs = self.specs()
        by_key = {(r.config, r.line): r for r in self.records if r.part == "facts"}
        hurt: list[Hurt] = []
        for rag in (s for s in specs if s.rag):
            plain = _closest_plain(rag, specs)
            if plain is None:
                continue
            for (cfg, line), right in by_key.items():
                if cfg != str(plain) or not right.correct:
                    continue
                wrong = by_key.get((str(rag), line))
                if wrong is not None and not wrong.correct:
                    hurt.append(Hurt(str(plain), str(rag), right, wrong))
        return hurt


@dataclass(frozen=True)
class Comparison:
    """What the headline says: the small augmented config against its strongest rival."""

    small: str
    rival: str
    small_accuracy: float
    rival_accuracy: float
    paired: Paired
    """McNemar on the facts both answered (`eval.stats.mcnemar`)."""

    @property
    def verdict(self) -> str:
        """ "outweighs" or "does not outweigh" only when the paired test finds a difference;
        "indistinguishable" otherwise, however the two accuracies happen to fall."""
        if not self.paired.significant:
            return "indistinguishable"
        return (
            "outweighs" if self.paired.only_first > self.paired.only_second else "does not outweigh"
        )

    def to_dict(self) -> dict[str, Any]:
        p = self.paired
        return {
            "small": self.small,
            "rival": self.rival,
            "verdict": self.verdict,
            "questions": p.questions,
            "only_small_right": p.only_first,
            "only_rival_right": p.only_second,
            "mcnemar_p": round(p.p_value, 4),
            "significant": p.significant,
        }


@dataclass(frozen=True)
class Hurt:
    """One question retrieval turned from right to wrong."""

    without: str
    """The config without retrieval, which answered right."""
    with_rag: str
    """The config with retrieval, which answered wrong."""
    right: Record
    wrong: Record

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.right.prompt,
            "answers": self.right.expected,
            "without_rag": self.without,
            "with_rag": self.with_rag,
            "answer_without": self.right.answer,
            "answer_with": self.wrong.answer,
            "retrieved": self.wrong.retrieved,
        }


def _closest_plain(rag: ConfigSpec, specs: Sequence[ConfigSpec]) -> ConfigSpec | None:
    candidates = [s for s in specs if not s.rag and s.runs_on == rag.runs_on]
    if not candidates:
        return None
    return max(candidates, key=lambda s: (s.adapter == rag.adapter) + (s.memory == rag.memory))
