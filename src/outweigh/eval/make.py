"""An eval suite made from a user's own collection: `outweigh eval SUITE --make-from COLLECTION`.

Does the reader work on my data? The suite answers that without any hand-written question:

- every chunk of the collection is mined for questions its own text answers, by the reader's
  miner (`outweigh.adapters.mining.mine`: `Key: value` records, manual pages, ...);
- a question more than one document answers, or one answered two ways, is dropped: with two
  answers it is ambiguous, and with one its gold source is, and it may sit on both sides;
- the collection's *documents*, not its questions, are split by the seed into a held-out
  share and a training side, so no document answers questions on both sides: a reader
  trained on the training side (`outweigh adapter train --reader C --held-out SUITE`) has
  never seen a question about a held-out document, or the passage that answers it;
- the suite asks only about held-out documents, at most `limit` questions drawn evenly
  across kinds of fact, in turns, so the first N of them (`outweigh eval --limit N`) are
  balanced too;
- every document of the collection is copied into `docs/`, both sides: at eval time the
  training side's documents are retrieval's distractors, as they are in the collection.

The suite directory is built beside its destination and renamed into place: written whole or
not at all. Its files:

    docs/            the collection's documents, by their paths below the folder they share
    questions.jsonl  {"question", "answers": [answer], "source": path under docs/, "kind"}
    held-out.txt     the held-out documents' sources as the collection stores them, one a line
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import secrets
import shlex
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from outweigh.adapters.mining import Fact, mine
from outweigh.errors import InputError
from outweigh.eval.metrics import normalize
from outweigh.eval.results import whole_number
from outweigh.eval.suite import DOCS, QUESTIONS
from outweigh.names import check_adapter_name
from outweigh.settings import DEFAULT_MODEL

if TYPE_CHECKING:
    from outweigh.engine import Engine

HELD_OUT = "held-out.txt"

Progress = Callable[[str, int, int], None]
"""`progress(task, done, total)`, as `run_eval` reports it."""


@dataclass(frozen=True)
class MakeOptions:
    """How a suite is drawn from a collection."""

    share: float = 0.5
    """Share of the collection's documents held out (0 < share < 1); the suite asks only
    about them, the rest is the training side. At least one document goes to each side."""
    limit: int = 200
    """Most questions in the suite. Two hundred give an accuracy within about 7 points
    (95% interval of a proportion near 0.5: 1.96 * sqrt(0.25 / 200)) and take minutes, not
    hours, to answer with a small model on a CPU."""
    seed: int = 0
    """Fixes the split, the phrasing and the draw: the same seed on the same collection gives
    the same suite."""

    def validate(self) -> None:
        """One-line errors naming the flag."""
        if not 0 < self.share < 1:
            raise InputError(
                f"`--share` must be between 0 and 1 (the held-out share); got {self.share:g}"
            )
        if self.limit < 1:
            raise InputError(f"`--limit` must be at least 1; got {self.limit}")
        if self.seed < 0:
            raise InputError(f"`--seed` must be 0 or more; got {self.seed}")

    @classmethod
    def parse(cls, share: str | None, limit: str | None, seed: str) -> MakeOptions:
        """Options from command-line text (None: the default), so a typo is one line."""
        try:
            held = cls.share if share is None else float(share)
        except ValueError:
            raise InputError(f"`--share` must be a number such as 0.5; got {share!r}") from None
        opts = cls(
            share=held,
            limit=cls.limit if limit is None else whole_number(limit, "--limit"),
            seed=whole_number(seed, "--seed"),
        )
        opts.validate()
        return opts


@dataclass(frozen=True)
class MadeSuite:
    """What `make_suite` wrote."""

    root: Path
    """The suite directory."""
    collection: str
    """The collection it was made from."""
    held_out: int
    """Documents held out: the suite's questions are about them."""
    training: int
    """Documents on the training side, those no longer on disk included."""
    kinds: dict[str, int]
    """Questions per kind of fact, by kind."""
    ambiguous: int
    """Questions dropped because more than one document, or answer, fits them."""
    missing: list[str] = field(default_factory=list)
    """Sources no longer on disk: not copied, and nothing asked about them."""

    @property
    def questions(self) -> int:
        return sum(self.kinds.values())

    def next_commands(self) -> list[str]:
        """Train a reader on the training side, then measure it against the bundled one."""
        suite, collection = shlex.quote(str(self.root)), shlex.quote(self.collection)
        name = _adapter_name(self.collection)
        return [
            f"outweigh adapter train --reader {collection} --held-out {suite} --name {name}",
            f"outweigh eval {suite} -c {DEFAULT_MODEL}+rag -c {DEFAULT_MODEL}+rag+lora:{name}",
        ]


def _adapter_name(collection: str) -> str:
    """`reader-COLLECTION` where that is a valid adapter name, else `my-reader`."""
    try:
        return check_adapter_name(f"reader-{collection}")
    except InputError:
        return "my-reader"


def make_suite(
    engine: Engine,
    suite: str | Path,
    collection: str,
    options: MakeOptions | None = None,
    progress: Progress | None = None,
) -> MadeSuite:
    """Write a new suite directory `suite` from `collection` (see the module docstring).

    Refused in one line, with nothing written: `suite` exists and is not empty, or its parent
    folder does not; an unknown collection; fewer than two of its documents on disk; no
    question to ask about the held-out documents."""
    opts = options or MakeOptions()
    opts.validate()
    report = progress or (lambda task, done, total: None)
    root = Path(suite).expanduser()
    _check_destination(root)
    documents = engine.documents(collection)
    on_disk = {d.source: p for d in documents if (p := _on_disk(d.source)) is not None}
    missing = sorted(d.source for d in documents if d.source not in on_disk)
    if len(on_disk) < 2:
        raise InputError(
            f"collection {collection!r} has {len(on_disk)} document(s) on disk; a suite needs "
            "two or more, held-out ones to ask about and others to train on"
        )
    held = _split(list(on_disk), opts)

    task = f"read {collection}"
    total = sum(d.n_chunks for d in documents)
    found: list[Fact] = []
    rngs: dict[str, random.Random] = {}
    for i, (source, text) in enumerate(engine.chunk_texts(collection), 1):
        # One generator per document: its phrasing does not depend on the other documents.
        rng = rngs.setdefault(source, random.Random(f"{opts.seed}\n{source}"))
        found.extend(mine(source, text, rng, most=None))  # all: ambiguity is seen whole
        report(task, min(i, total), total)
    facts, ambiguous = _unambiguous(found)
    asked = [f for f in facts if f.source in held]
    if not asked:
        where = "its held-out documents" if facts else "it"
        raise InputError(
            f"collection {collection!r} gives no question to ask about {where}: nothing in "
            "it has a shape the question miner reads (`Key: value` records, manual pages ...)"
            + ("; try another --seed or a larger --share" if facts else "")
        )
    chosen = _balanced(asked, opts.limit, random.Random(opts.seed))
    under = _layout(on_disk)
    _write(root, on_disk, under, chosen, sorted(held), report)
    kinds: dict[str, int] = {}
    for fact in chosen:
        kinds[fact.kind] = kinds.get(fact.kind, 0) + 1
    return MadeSuite(
        root,
        collection,
        held_out=len(held),
        training=len(documents) - len(held),
        kinds=dict(sorted(kinds.items())),
        ambiguous=ambiguous,
        missing=missing,
    )


def read_held_out(suite: str | Path) -> frozenset[str]:
    """The sources a suite holds out (its held-out.txt); InputError naming the command that
    makes one when it has none."""
    root = Path(suite).expanduser()
    path = root / HELD_OUT
    if not path.is_file():
        raise InputError(
            f"{root} has no {HELD_OUT}; make the suite with "
            f"`outweigh eval {shlex.quote(str(root))} --make-from COLLECTION`"
        )
    try:
        lines = path.read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read {path}: {e}") from None
    return frozenset(line for line in lines if line)


def held_out_of(engine: Engine, suite: str | Path, collection: str) -> frozenset[str]:
    """`read_held_out(suite)`, refused in one line when none of its sources is a document of
    `collection` (a suite made from another collection would skip nothing)."""
    held = read_held_out(suite)
    sources = {d.source for d in engine.documents(collection)}
    if not held & sources:
        raise InputError(
            f"none of the documents {suite} holds out is in collection {collection!r}; "
            "give the suite made from it"
        )
    return held


# -- steps -------------------------------------------------------------------------------------
def _check_destination(root: Path) -> None:
    if root.is_dir() and any(root.iterdir()):
        raise InputError(f"{root} exists and is not empty; give a new folder for the suite")
    if root.exists() and not root.is_dir():
        raise InputError(f"{root} is a file; give a new folder for the suite")
    if not root.parent.is_dir():
        raise InputError(f"{root.parent} does not exist; create it first")


def _on_disk(source: str) -> Path | None:
    """Where a stored source is now. Ingest stores real absolute paths; a relative one (an
    older ingest) is read from where this runs, the best guess at where that ran."""
    path = Path(os.path.abspath(source))
    return path if path.is_file() else None


def _split(sources: list[str], opts: MakeOptions) -> set[str]:
    """The held-out sources: `share` of them, at least one and never all, ranked by a hash of
    the seed and the source. A document keeps its side when others join the collection,
    unless it sits at the cut. Sources with a line break stay on the training side:
    held-out.txt holds one source a line."""
    ranked = sorted(
        (s for s in sources if "\n" not in s and "\r" not in s),
        key=lambda s: hashlib.sha256(f"{opts.seed}\n{s}".encode("utf-8", "replace")).digest(),
    )
    n = min(max(round(opts.share * len(sources)), 1), len(sources) - 1, len(ranked))
    return set(ranked[:n])


def _unambiguous(found: list[Fact]) -> tuple[list[Fact], int]:
    """One fact per question that exactly one document answers, one way, with an answer the
    metrics can score; and how many questions were dropped for having several."""
    by_question: dict[str, dict[tuple[str, str], Fact]] = {}
    for fact in found:
        if normalize(fact.answer):  # an answer of punctuation alone scores nothing
            # One thing asked two ways ("the version of bitflags") is one question.
            key = f"{fact.kind}\n{fact.about}" if fact.about else fact.question
            by_question.setdefault(key, {}).setdefault((fact.source, fact.answer), fact)
    ambiguous = [group for group in by_question.values() if len(group) > 1]
    # A fact a document states twice (overlapping chunks) may be phrased two ways: it is
    # asked once, and not at all when either phrasing is ambiguous.
    tainted = {_fact_key(f) for group in ambiguous for f in group.values()}
    single = (next(iter(g.values())) for g in by_question.values() if len(g) == 1)
    once: dict[tuple[str, str, str, str], Fact] = {}
    for fact in sorted(single, key=lambda f: (f.source, f.kind, f.answer, f.question)):
        if _fact_key(fact) not in tainted:
            once.setdefault(_fact_key(fact), fact)
    return list(once.values()), len(ambiguous)


def _fact_key(fact: Fact) -> tuple[str, str, str, str]:
    """What a fact states, whatever its phrasing."""
    return (fact.source, fact.kind, fact.evidence, fact.answer)


def _balanced(facts: list[Fact], limit: int, rng: random.Random) -> list[Fact]:
    """Up to `limit` facts, one of each kind in turn (kinds by name) until a kind runs out:
    a collection of records holds far more fields than its man pages have summaries."""
    queues = []
    for kind in sorted({f.kind for f in facts}):
        group = sorted((f for f in facts if f.kind == kind), key=lambda f: (f.source, f.question))
        rng.shuffle(group)
        queues.append(group)
    chosen: list[Fact] = []
    while len(chosen) < limit and any(queues):
        for queue in queues:
            if queue and len(chosen) < limit:
                chosen.append(queue.pop())
    return chosen


def _layout(paths: dict[str, Path]) -> dict[str, str]:
    """Each source's path under docs/: its path below the deepest folder all of them share,
    so names stay unique. A hidden part (`.notes/`) gets a leading `_`, since ingesting a
    folder skips hidden files; a clash that makes is broken by a number."""
    common = Path(os.path.commonpath([str(p.parent) for p in paths.values()]))
    out: dict[str, str] = {}
    used: set[str] = set()
    for source, path in sorted(paths.items()):
        parts = [f"_{p}" if p.startswith(".") else p for p in path.relative_to(common).parts]
        rel = Path(*parts)
        n = 1
        while rel.as_posix().casefold() in used:
            n += 1
            rel = rel.with_name(f"{Path(*parts).stem}-{n}{rel.suffix}")
        used.add(rel.as_posix().casefold())
        out[source] = rel.as_posix()
    return out


def _write(
    root: Path,
    paths: dict[str, Path],
    under: dict[str, str],
    chosen: list[Fact],
    held: list[str],
    report: Progress,
) -> None:
    """Build the suite in a folder beside `root`, then rename it into place."""
    tmp = root.parent / f".{root.name}.{secrets.token_hex(4)}.tmp"
    try:
        tmp.mkdir()
    except OSError as e:
        raise InputError(f"cannot write in {root.parent}: {e.strerror}") from None
    try:
        for i, (source, path) in enumerate(sorted(paths.items()), 1):
            dest = tmp / DOCS / under[source]
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                shutil.copyfile(path, dest)  # contents only: a read-only source stays editable
            except OSError as e:
                raise InputError(f"cannot copy {path}: {e.strerror}") from None
            report("copy documents", i, len(paths))
        with (tmp / QUESTIONS).open("w", encoding="utf-8") as f:
            for fact in chosen:
                row = {
                    "question": fact.question,
                    "answers": [fact.answer],
                    "source": under[fact.source],
                    "kind": fact.kind,
                }
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        (tmp / HELD_OUT).write_text("".join(f"{s}\n" for s in held), "utf-8")
        try:  # rename(2) replaces an empty folder, and fails on one filled meanwhile
            os.rename(tmp, root)
        except OSError as e:
            raise InputError(f"cannot put the suite at {root}: {e.strerror}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
