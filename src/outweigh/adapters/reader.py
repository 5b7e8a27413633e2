"""Reader training data from a collection: questions its own text answers
(`outweigh.adapters.mining`), each asked over the passages retrieval and selection would
really put in front of the model.

RAFT (Zhang et al. 2024, "RAFT: Adapting Language Model to Domain Specific RAG",
arXiv:2403.10131) trains a reader on (question, gold passage among distractors) -> answer
citing the gold passage, with some rows whose context lacks the gold passage. Here:

- the questions are the miner's (`mining.mine`), and those a capable model writes
  (`mining.write_questions`), drawn evenly across kinds;
- the context is what `outweigh ask` would build: hybrid retrieval, then
  `outweigh.retrieval.select` (gap cut, line compression), then numbered passages through
  `outweigh.prompt.build_messages`, so the adapter learns on the prompt it reads at answer
  time;
- where the gold passage did not make it into the context, the row answers "I don't know"
  (RAFT's rows without the oracle document), which teaches the reader not to take a
  neighbour's value;
- answers are short: the value and its passage number;
- the built set is trimmed (`trimmed`): few "I don't know" rows (`DONT_KNOW_SHARE`) and few
  rows of any one answer (`SAME_ANSWER`).
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from outweigh.adapters.mining import Fact, folded, mine
from outweigh.errors import InputError
from outweigh.generate.base import Message
from outweigh.prompt import Citation, build_messages
from outweigh.retrieval.select import Selection, expand, select

if TYPE_CHECKING:
    from outweigh.embed import Embedder
    from outweigh.retrieval.hybrid import HybridSearcher
    from outweigh.retrieval.store import Collection, Store

WITHOUT_GOLD = 0.2
"""Share of rows asked over the context with the fact's document taken out, answered
`DONT_KNOW`: RAFT keeps the oracle passage in a share P of rows (its best P was 0.6 to
0.8); without such rows a reader names whatever value of the asked type the context holds,
and a question the documents do not answer gets a confident wrong value."""

DONT_KNOW = "I don't know: the context does not say."
"""The answer of a row whose context lacks the passage that holds the fact."""

DONT_KNOW_SHARE = 0.08
"""Most "I don't know" rows a built set keeps, as a share of its rows. Retrieval that misses
the gold passage adds such rows to the deliberate `WITHOUT_GOLD` ones: 2,400 rows over
package files, READMEs and man pages came out 35% "I don't know", and the reader trained on
them said it to half the answerable questions of the changelog and Texinfo suites."""

SAME_ANSWER = 12
"""Most rows a built set keeps with one answer: the release of a package whose man pages all
name it would otherwise be a twentieth of the rows, and the reader learns the value."""


@dataclass(frozen=True)
class ReaderData:
    """Rows built from a collection, with what went into them."""

    rows: list[list[Message]]
    """Conversations: system, user (context + question), assistant (short answer)."""
    facts: int
    """Questions found in the collection's text."""
    absent: int
    """Rows answering "I don't know" because the gold passage was not in the context."""
    kinds: dict[str, int] = field(default_factory=dict)
    """Rows per kind of fact (`Fact.kind`)."""


def build(
    store: Store,
    searcher: HybridSearcher,
    embedder: Embedder,
    collection: Collection,
    limit: int = 600,
    k: int = 3,
    selection: Selection | None = None,
    seed: int = 0,
    on_row: Callable[[int, int], None] | None = None,
    skip: frozenset[str] = frozenset(),
    without_gold: float = WITHOUT_GOLD,
    written: list[Fact] | None = None,
    trim: bool = True,
) -> ReaderData:
    """Up to `limit` reader rows from `collection`; InputError when its text asks nothing.
    No question is asked about a document whose source is in `skip` (an eval suite's
    held-out half), though its passages may still be retrieved as distractors. `written`
    adds questions a model wrote (`write_questions`), drawn as one more kind. With `trim`,
    the rows are `trimmed`: fewer than `limit` come back where many said "I don't know"."""
    rng = random.Random(seed)
    # Every row reads passages: the floor that sends off-topic questions to the bare model
    # is not the reader's business.
    how = replace(selection or Selection(), floor=0.0)
    ids = [int(i) for i in store.chunk_ids(collection)]
    if not ids:
        raise InputError(f"collection {collection.name!r} is empty; ingest documents into it")
    found: list[Fact] = []
    for start in range(0, len(ids), 512):
        for _, row in sorted(store.chunks(ids[start : start + 512]).items()):
            if row.source not in skip:
                found.extend(mine(row.source, row.text, rng))
    found.extend(f for f in written or () if f.source not in skip)
    if not found:
        raise InputError(
            f"collection {collection.name!r} has nothing to ask about: no `Key: value` "
            "lines, manual pages, copyright or licence lines, or e-mail addresses, URLs, "
            "dates, names or versions tied to a heading or label; add such documents, or let "
            "a model write questions "
            "with --question-writer MODEL"
        )
    chosen = _balanced(found, limit, rng)
    rows: list[list[Message]] = []
    for i, fact in enumerate(chosen, 1):
        hits = searcher.search_in(collection, fact.question, max(k, how.candidates))
        if rng.random() < without_gold:  # RAFT's rows whose context lacks the answer
            hits = [h for h in hits if h.source != fact.source]
        read = expand(store, fact.question, hits, how)
        picked = select(fact.question, read, embedder, how, k, store)
        citations = [
            Citation(n, h.source, h.chunk_id, h.text, h.score, h.excerpt)
            for n, h in enumerate(picked, 1)
        ]
        # The gold passage: the fact's document, with the line that states it still in
        # (compared with runs of whitespace folded: a summary may wrap onto a second line).
        evidence = folded(fact.evidence or fact.answer)
        gold = next(
            (
                c.n
                for c in citations
                if c.source == fact.source and evidence in folded(c.excerpt or c.text)
            ),
            None,
        )
        answer = DONT_KNOW if gold is None else f"{fact.answer} [{gold}]"
        user: list[Message] = [{"role": "user", "content": fact.question}]
        messages = build_messages(user, citations, rag=True)
        rows.append([*messages, {"role": "assistant", "content": answer}])
        if on_row is not None:
            on_row(i, len(chosen))
    kept = trimmed(rows, rng=random.Random(seed)) if trim else list(range(len(rows)))
    kinds = Counter(chosen[i].kind for i in kept)
    absent = sum(rows[i][-1]["content"] == DONT_KNOW for i in kept)
    return ReaderData([rows[i] for i in kept], len(found), absent, dict(sorted(kinds.items())))


def trimmed(
    rows: list[list[Message]],
    dont_know: float = DONT_KNOW_SHARE,
    same: int = SAME_ANSWER,
    rng: random.Random | None = None,
) -> list[int]:
    """The indices of `rows` to keep, in order: each answer value at most `same` times, and
    the "I don't know" rows drawn down to `dont_know` of what is kept."""
    rng = rng or random.Random(0)
    seen: Counter[str] = Counter()
    answered: list[int] = []
    unknown: list[int] = []
    for i, row in enumerate(rows):
        reply = row[-1]["content"]
        if reply == DONT_KNOW:
            unknown.append(i)
            continue
        value = re.sub(r"\s*\[\d+\]$", "", reply)
        seen[value] += 1
        if seen[value] <= same:
            answered.append(i)
    room = int(dont_know * len(answered) / (1 - dont_know)) if dont_know < 1 else len(unknown)
    return sorted([*answered, *rng.sample(unknown, min(room, len(unknown)))])


def _balanced(found: list[Fact], limit: int, rng: random.Random) -> list[Fact]:
    """Up to `limit` facts drawn evenly across kinds, in random order: a collection of
    package records has far more fields than a man page has summaries, and a reader
    trained mostly on one kind answers the others "I don't know"."""
    kinds: dict[str, list[Fact]] = {}
    for fact in found:
        kinds.setdefault(fact.kind, []).append(fact)
    for group in kinds.values():
        rng.shuffle(group)
    chosen: list[Fact] = []
    queues = [group for _, group in sorted(kinds.items())]
    while len(chosen) < limit and queues:
        queues = [q for q in queues if q]
        for q in queues:
            if len(chosen) < limit:
                chosen.append(q.pop())
    rng.shuffle(chosen)
    return chosen


def write(data: ReaderData, path: Path) -> Path:
    """The rows as a chat JSONL that `outweigh adapter train` reads, written whole or not at
    all (a temporary file moved into place)."""
    import json
    import os

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for row in data.rows:
            f.write(json.dumps({"messages": row}, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
    return path
