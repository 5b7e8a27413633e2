"""Eval suites: a directory of documents and JSONL files, loaded with one clear error per mistake.

A suite holds any subset of three parts (docs/eval.md documents the format):

- facts: `docs/` (anything `outweigh ingest` reads) and `questions.jsonl`, one
  `{"question": str, "answers": [str, ...], "source": "gold file under docs/" (optional),
  "kind": "what sort of fact" (optional)}`, or `{"question": str, "abstain": true}` for a
  question the documents do not answer (the right answer is "I don't know", uncited);
- style: `style.jsonl`, one `{"prompt": str, "check": {KIND: str}}` per line, KIND being
  regex, starts_with or ends_with;
- memory: `memory.jsonl`, `{"user", "session", "say": str}` and
  `{"user", "session", "ask": str, "answers": [str, ...]}` lines, replayed in order; an ask
  may add `"category"` (one of `CATEGORIES`), `"abstain": true` (the right answer is not to
  know; `answers` may then be left out) and `"forbidden": [str, ...]` (text whose presence
  makes an answer wrong: a superseded value, another user's fact).

Every malformed line is reported as `FILE line N: what is wrong`, before any model loads.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from outweigh.errors import InputError, NotFoundError
from outweigh.eval.metrics import normalize
from outweigh.retrieval.loaders import SUFFIXES

QUESTIONS = "questions.jsonl"
STYLE = "style.jsonl"
MEMORY = "memory.jsonl"
DOCS = "docs"

CATEGORIES = ("facts", "updates", "multi-session", "temporal", "abstention", "isolation")
"""Memory ask categories, after LongMemEval's (Wu et al. 2024, arXiv:2410.10813): a fact said
once; a fact a later statement changed; facts from several sessions together; when something
happened or how things were; what the user never said; another user's facts."""

CHECKS = ("regex", "starts_with", "ends_with")
"""The style checks a `check` object may name (exactly one per line)."""

MAX_TEXT = 4000
"""Longest question, prompt or memory line, in characters: a suite line is a question, not a
document (documents go in docs/), and a runaway line would blow the small models' budget."""


@dataclass(frozen=True)
class FactQuestion:
    """One question about the suite's documents."""

    question: str
    """What is asked."""
    answers: tuple[str, ...]
    """Acceptable gold answers; the best-matching one scores."""
    source: str | None
    """The gold document, relative to docs/ (or a file name); None skips citation metrics."""
    line: int
    """1-based line in questions.jsonl, for reports."""
    kind: str | None = None
    """What sort of fact it asks (a suite made by `make_suite` labels each: field, person,
    url, option, ...); None when the line gives none."""
    abstain: bool = False
    """The documents do not answer it: right is saying so, with no citation."""


@dataclass(frozen=True)
class StyleCase:
    """One prompt whose answer must pass a style check."""

    prompt: str
    """What is asked."""
    kind: str
    """regex, starts_with or ends_with."""
    value: str
    """The pattern or the text to find."""
    line: int
    """1-based line in style.jsonl."""

    def check(self, answer: str) -> bool:
        """Whether `answer` passes; surrounding whitespace never decides it."""
        text = answer.strip()
        if self.kind == "regex":
            # search, not match: the pattern may sit anywhere; anchors are the suite's choice.
            return re.search(self.value, text, re.MULTILINE) is not None
        if self.kind == "starts_with":
            return text.startswith(self.value.strip())
        return text.endswith(self.value.strip())

    @property
    def description(self) -> str:
        """The check as the report shows it, e.g. `ends_with: -- Vellmark`."""
        return f"{self.kind}: {self.value}"


@dataclass(frozen=True)
class MemoryStep:
    """One line of the memory replay: something the user says, or asks later."""

    user: str
    """Whose memory; users never see each other's facts."""
    session: str
    """A conversation; each one runs in a fresh engine, so recall must come from the store."""
    text: str
    """The user's message."""
    answers: tuple[str, ...]
    """Gold answers for an `ask` line; empty for a `say` line and for an abstention."""
    line: int
    """1-based line in memory.jsonl."""
    category: str | None = None
    """One of `CATEGORIES` for an `ask` line that names one; None otherwise."""
    abstain: bool = False
    """The right answer is not to know (`outweigh.eval.metrics.abstains`)."""
    forbidden: tuple[str, ...] = ()
    """Text that makes an answer wrong where it appears (a superseded value, another user's
    fact), matched like a gold answer."""
    ask: bool = False
    """Whether this line is a question, and so scored."""

    @property
    def is_ask(self) -> bool:
        """Whether this line is scored."""
        return self.ask or bool(self.answers)


@dataclass(frozen=True)
class Suite:
    """A loaded suite; the parts it lacks are empty."""

    root: Path
    """The suite directory."""
    questions: tuple[FactQuestion, ...] = ()
    style: tuple[StyleCase, ...] = ()
    memory: tuple[MemoryStep, ...] = ()
    docs: Path | None = field(default=None)
    """The docs/ folder, when the suite has facts."""

    @property
    def name(self) -> str:
        """The directory name, which the report uses as the suite's title."""
        return self.root.name

    @property
    def memory_asks(self) -> int:
        """How many memory lines are scored."""
        return sum(step.is_ask for step in self.memory)

    def limited(self, n: int | None) -> Suite:
        """The first `n` questions, style prompts and memory asks (with the lines said before)."""
        if n is None:
            return self
        memory: list[MemoryStep] = []
        asks = 0
        for step in self.memory:
            memory.append(step)
            asks += step.is_ask
            if asks == n:
                break
        return replace(
            self, questions=self.questions[:n], style=self.style[:n], memory=tuple(memory)
        )


def load_suite(path: str | Path, docs_dir: str | Path | None = None) -> Suite:
    """Read and validate a suite directory; every problem is one line naming file and line.
    `docs_dir` asks the questions over another folder of documents than the suite's own
    docs/ (questions not about the documents, over any collection)."""
    root = Path(path).expanduser()
    if not root.exists():
        raise NotFoundError(f"suite {root} does not exist; give a folder with {QUESTIONS} + docs/")
    if not root.is_dir():
        raise InputError(f"suite {root} is a file; give the folder that holds {QUESTIONS}")
    questions: tuple[FactQuestion, ...] = ()
    docs: Path | None = None
    if docs_dir is not None and not Path(docs_dir).expanduser().is_dir():
        raise InputError(f"--docs {docs_dir} is not a folder; give a folder of documents")
    if (root / QUESTIONS).is_file():
        docs = Path(docs_dir).expanduser() if docs_dir is not None else root / DOCS
        if not docs.is_dir():
            raise InputError(
                f"{root / QUESTIONS} needs a {DOCS}/ folder beside it to ask about, or --docs DIR"
            )
        if not any(p.is_file() and p.suffix.lower() in SUFFIXES for p in docs.rglob("*")):
            kinds = " ".join(sorted(SUFFIXES))
            raise InputError(f"{docs} holds no documents to ingest ({kinds})")
        questions = tuple(_read(root / QUESTIONS, lambda o, n: _question(o, n, docs)))
    style = tuple(_read(root / STYLE, _style)) if (root / STYLE).is_file() else ()
    memory = tuple(_read(root / MEMORY, _memory)) if (root / MEMORY).is_file() else ()
    if not (questions or style or memory):
        raise InputError(
            f"suite {root} has nothing to evaluate; add {QUESTIONS} (with {DOCS}/), "
            f"{STYLE} or {MEMORY}"
        )
    if memory and not any(s.is_ask for s in memory):
        raise InputError(f"{root / MEMORY} has no `ask` line, so nothing would be scored")
    return Suite(root=root, questions=questions, style=style, memory=memory, docs=docs)


# -- lines -------------------------------------------------------------------------------------
def _read(path: Path, parse: Callable[[dict[str, Any], _Line], Any]) -> list[Any]:
    """Parse each non-blank line of a JSONL file with `parse(obj, where)`."""
    try:
        text = path.read_text("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{path} is not UTF-8 (byte {e.start}); save it as UTF-8") from e
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror}") from e
    items = []
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        where = _Line(path.name, n)
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as e:
            raise where.error(f"not valid JSON ({e.msg} at column {e.colno})") from None
        if not isinstance(obj, dict):
            raise where.error(f"expected a JSON object, got {type(obj).__name__}")
        try:  # a "\ud800" escape is valid JSON but no tokenizer takes the lone surrogate
            json.dumps(obj, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise where.error("holds a lone surrogate (\\ud800-\\udfff); send UTF-8 text") from None
        items.append(parse(obj, where))
    if not items:
        raise InputError(f"{path} has no lines; delete it or add at least one")
    return items


@dataclass(frozen=True)
class _Line:
    """Where a line came from, to prefix its errors."""

    file: str
    n: int

    def error(self, message: str) -> InputError:
        return InputError(f"{self.file} line {self.n}: {message}")

    def keys(self, obj: dict[str, Any], required: tuple[str, ...], optional: tuple[str, ...]):
        missing = [k for k in required if k not in obj]
        if missing:
            raise self.error(f"missing key {missing[0]!r}; a line has {_names(required)}")
        unknown = [k for k in obj if k not in required + optional]
        if unknown:
            allowed = _names(required + optional)
            raise self.error(f"unknown key {unknown[0]!r}; allowed: {allowed}")

    def text(self, obj: dict[str, Any], key: str) -> str:
        value = obj[key]
        if not isinstance(value, str) or not value.strip():
            raise self.error(f"{key!r} must be a non-empty string")
        if len(value) > MAX_TEXT:
            raise self.error(f"{key!r} is {len(value)} characters; the limit is {MAX_TEXT}")
        return value.strip()

    def answers(self, obj: dict[str, Any], key: str = "answers") -> tuple[str, ...]:
        value = obj[key]
        if not isinstance(value, list) or not value:
            raise self.error(f'"{key}" must be a non-empty list of strings, e.g. ["27"]')
        out = []
        for a in value:
            if not isinstance(a, str) or not a.strip():
                raise self.error(f'"{key}" must hold only non-empty strings')
            if not normalize(a):
                raise self.error(
                    f"answer {a!r} is empty once punctuation and articles are dropped; "
                    "give the words to look for"
                )
            out.append(a.strip())
        return tuple(out)


def _names(keys: tuple[str, ...]) -> str:
    return ", ".join(repr(k) for k in keys)


def _question(obj: dict[str, Any], where: _Line, docs: Path) -> FactQuestion:
    if obj.get("abstain") is not None:
        where.keys(obj, ("question", "abstain"), ("kind",))
        if obj["abstain"] is not True:
            raise where.error('"abstain" is true or absent; give "answers" otherwise')
        kind = where.text(obj, "kind") if obj.get("kind") is not None else None
        return FactQuestion(where.text(obj, "question"), (), None, where.n, kind, abstain=True)
    where.keys(obj, ("question", "answers"), ("source", "kind"))
    source = None
    if obj.get("source") is not None:
        source = where.text(obj, "source")
        if not _doc_exists(docs, source):
            raise where.error(f"source {source!r} is not a file under {docs}")
    kind = where.text(obj, "kind") if obj.get("kind") is not None else None
    question, answers = where.text(obj, "question"), where.answers(obj)
    return FactQuestion(question, answers, source, where.n, kind)


def _doc_exists(docs: Path, source: str) -> bool:
    """A path under docs/, or the name of some file in it (names are how suites cite)."""
    target = (docs / source).resolve()
    if target.is_file() and target.is_relative_to(docs.resolve()):
        return True
    return "/" not in source and any(p.name == source for p in docs.rglob("*") if p.is_file())


def _style(obj: dict[str, Any], where: _Line) -> StyleCase:
    where.keys(obj, ("prompt", "check"), ())
    check = obj["check"]
    if not isinstance(check, dict) or len(check) != 1:
        raise where.error(f'"check" must be an object with one of {_names(CHECKS)}')
    kind, value = next(iter(check.items()))
    if kind not in CHECKS:
        raise where.error(f"unknown check {kind!r}; use one of {_names(CHECKS)}")
    if not isinstance(value, str) or not value.strip():
        raise where.error(f'"check.{kind}" must be a non-empty string')
    if kind == "regex":
        try:
            re.compile(value)
        except re.error as e:
            raise where.error(f"check.regex {value!r} does not compile: {e}") from None
    return StyleCase(where.text(obj, "prompt"), kind, value, where.n)


def _memory(obj: dict[str, Any], where: _Line) -> MemoryStep:
    if ("say" in obj) == ("ask" in obj):
        raise where.error('give exactly one of "say" (a fact to remember) or "ask" (a question)')
    if "say" in obj:
        where.keys(obj, ("user", "session", "say"), ())
        user, session, say = (where.text(obj, k) for k in ("user", "session", "say"))
        return MemoryStep(user, session, say, (), where.n)
    optional = ("answers", "category", "abstain", "forbidden")
    where.keys(obj, ("user", "session", "ask"), optional)
    abstain = obj.get("abstain", False)
    if not isinstance(abstain, bool):
        raise where.error('"abstain" must be true or false')
    if "answers" not in obj and not abstain:
        raise where.error('an "ask" needs "answers", or "abstain": true if nothing is known')
    category = obj.get("category")
    if category is not None and category not in CATEGORIES:
        raise where.error(f"unknown category {category!r}; use one of {_names(CATEGORIES)}")
    forbidden = where.answers(obj, "forbidden") if "forbidden" in obj else ()
    return MemoryStep(
        where.text(obj, "user"),
        where.text(obj, "session"),
        where.text(obj, "ask"),
        where.answers(obj) if "answers" in obj else (),
        where.n,
        category=category,
        abstain=abstain,
        forbidden=forbidden,
        ask=True,
    )
