"""Context selection: which retrieved chunks reach the prompt, each cut to the lines that
match the question.

A small reader given the passage that holds the answer answers right; given that passage
among two look-alikes (another package's maintainer, another program's URL) it often copies
the neighbour's value, and every extra passage costs prefill time on a CPU. So after
retrieval each chunk is split into lines, every line is scored against the question with
the two signals retrieval already has (stem overlap weighted by rarity among the candidate
lines, as BM25 weighs terms, and cosine similarity under the loaded embedder), and:

- each chunk is cut to its best-scoring lines and their neighbours, in document order
  (extractive compression, as in RECOMP's extractive compressor, Xu et al. 2023,
  arXiv:2310.04408, here without training a scorer);
- a chunk whose best line scores far below the best chunk's is dropped (a gap cut, not a
  fixed k), so a question that two passages answer keeps both, and a question that one
  passage answers is not read next to distractors;
- the chunks are ordered best first;
- a line also counts for what it hangs from (its heading, lead line, label or header row,
  `outweigh.retrieval.structure`), a field whose key the question names counts most under
  what it names (`retrieval.fields`), and a chosen line brings those lines and its entry's
  sign-off along, so a value reaches the reader with the words that say what it is;
- a question no passage line comes close to (`Selection.floor`), or whose passages share no
  word with it but numbers, gets no passages at all; nor does one that shares only everyday
  words with its documents ("day", "color", "times") and names none of them, unless a line
  comes closer still (`names_them`, `Embedder.common_floor`); a question that names a kept
  document in full by its file name (`retrieval.titles`), in words not everyone uses, or
  quotes a run of its words, keeps it whatever the floor says: "Who is the author of
  faiss-cpu?" is about `faiss-cpu-METADATA.txt`, however far its lines are in meaning.

docs/retrieval.md has the measurements behind the defaults.
"""

from __future__ import annotations

import math
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from outweigh.retrieval.bearing import names_them, passage_terms, rare_terms, shares_terms, spelled
from outweigh.retrieval.fields import asked_stems, named_keys
from outweigh.retrieval.hybrid import Hit
from outweigh.retrieval.identifiers import identifiers, phrases, quotes_held
from outweigh.retrieval.lines import split_long, unpack
from outweigh.retrieval.structure import (
    Line,
    ancestors,
    asked,
    demands,
    holds,
    lines_of,
    outline,
    records,
    starts_item,
)
from outweigh.retrieval.titles import names, names_record, terms, widest
from outweigh.retrieval.titles import titles as titles_of
from outweigh.text import common

if TYPE_CHECKING:
    import numpy as np

    from outweigh.embed import Embedder
    from outweigh.retrieval.store import Store


@dataclass(frozen=True)
class Selection:
    """How retrieved chunks are chosen and cut before they go into the prompt."""

    candidates: int = 5
    """Chunks retrieved before selection; the `-k` of a request caps how many are kept."""
    lines: int = 3
    """Best-scoring lines kept from each chunk (each with `window` lines either side);
    0 keeps chunks whole."""
    window: int = 1
    """Neighbouring lines kept around each chosen line, within its paragraph (a blank line
    ends one) and its item (`structure.starts_item`): an option's name sits on the line above
    its description, a field's value or a changelog entry may wrap onto the next line, and the
    next option, field or entry is not part of the answer but a look-alike of it."""
    gap: float = 0.7
    """A passage is kept when its score is at least this share of the best one's; 0 keeps
    every candidate (a fixed k)."""
    expand: int = 1
    """The documents of this many top hits are read whole (up to `siblings` chunks each),
    not just their retrieved chunks; 0 reads only what retrieval returned."""
    siblings: int = 12
    """Most chunks read per expanded document, its first and last, then the nearest to the
    retrieved chunk: a man page or a record is a few chunks, a book is not read whole."""
    head: int = 3
    """First lines of each document `expand` reads (it always reads the first and last
    chunk) kept in its passage: the lines that say what the document is (a man page's
    title and NAME summary, a record's Package/Name, a file's heading), which no question's
    words need to match."""
    tail: int = 1
    """Last lines of such a document kept too: a man page's footer names its release."""
    floor: float | None = None
    """A question whose best passage has no line this close to it (`Hit.relevance`) is not
    about the collection ("What is 2 + 2?" over package records): it gets no passages, and
    is answered as if retrieval were off, with no citation. So is a question whose passages
    share no word with it but numbers (`shares_a_word`), and one that shares only everyday
    words with its documents and names none of them, under the embedder's `common_floor`
    (`names_them`). None takes the embedder's own
    measured floor (`Embedder.relevance_floor`: 0.45 for the bundled one); 0 always
    retrieves, with no word check either, and the engine checks no names
    (`checks_relevance`)."""

    @property
    def enabled(self) -> bool:
        """Whether selection changes anything at all."""
        return self.lines > 0 or self.gap > 0 or self.expand > 0


def checks_relevance(how: Selection, embedder: Embedder) -> bool:
    """Whether selection drops passages that do not bear on the question (`Selection.floor`
    is not 0) and the engine checks the names a question gives (`identifiers`)."""
    return bool(embedder.relevance_floor if how.floor is None else how.floor)


NONE = Selection(candidates=0, lines=0, gap=0.0, expand=0, floor=0.0)
"""Selection off: the top-k chunks whole, in retrieval order."""


LINE_CACHE = 8192
"""Line vectors kept between questions (384 floats each for the bundled embedder, about
12 MiB): the pages a collection's questions land on repeat, and embedding their lines is
most of selection's cost on a CPU."""

_cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
_cache_lock = threading.Lock()


def _line_vectors(
    embedder: Embedder, lines: list[str], read_stored: Callable[[], dict[str, np.ndarray]]
) -> np.ndarray:
    """(len(lines), dim) vectors: from the cache where a line was embedded before, else from
    `read_stored()` (the vectors ingest stored with the chunks, `outweigh.retrieval.lines`; read
    only when a line is not cached), else embedded now."""
    import numpy as np

    with _cache_lock:
        missing = sorted({u for u in lines if (embedder.name, u) not in _cache})
    stored = read_stored() if missing else {}
    todo = [u for u in missing if u not in stored]
    new = dict(zip(todo, embedder.embed_lines(todo), strict=True)) if todo else {}
    fresh = [stored[u] if u in stored else new[u] for u in missing]
    with _cache_lock:
        for u, v in zip(missing, fresh, strict=True):
            _cache[(embedder.name, u)] = v
        out = np.stack([_cache[(embedder.name, u)] for u in lines])
        for u in lines:
            _cache.move_to_end((embedder.name, u))
        while len(_cache) > LINE_CACHE:
            _cache.popitem(last=False)
    return out


HEADING_SHARE = 0.5
"""Share of the best score among the lines a line hangs from that it adds to its own."""
TYPE_BONUS = 0.3
"""Added to a line holding a value of the type the question asks for."""
KEY_BONUS = 1.0
"""Added to a field whose key the question names, under what it names (`fields.named_keys`)."""
NAME_BONUS = 1.0
"""Added to a line, or to a document, that holds the names with digits the question gives
(`identifiers`: a release, an issue number), in proportion to how many of them it holds
(`_name_credit`). Neither signal sees such a name: its words (3, 6, 6) are everywhere, and
the embedder puts 3.6.1 next to 3.6.6."""
RECORDS = 3
"""Records a document's lines may hold before its first lines stop saying what it is: in a
file of package records they are another package's ("Name: accelerate", "Version: 1.16.0")."""
NAME_LINES = 3
"""Most lines of a document that may hold a name for each to earn it; past that the name is
what the document is about ("bzip2" in bzip2's manual), and earns the document once."""


@dataclass(frozen=True)
class _Document:
    """A document's retrieved and expanded chunks read as one run of lines."""

    units: list[str]
    """Lines as scored and shown (whitespace folded, long prose split into sentences)."""
    owner: list[Hit]
    """The chunk each unit came from."""
    breaks: set[int]
    """Units that follow a blank line."""
    parent: list[int | None]
    """The unit each unit hangs from (`structure.outline`)."""
    items: set[int]
    """Units that begin an item of their own (`structure.starts_item`): a list item, an
    option, a field, a table row."""
    records: int = 0
    """Records (`Key: value` paragraphs) among its lines (`structure.records`)."""
    code: frozenset[int] = frozenset()  # units in a fenced block of code (no field of the text)

    def signoff(self, j: int) -> list[int]:
        """The last line of the entry j heads (the lines that hang from j) or else belongs
        to (the lines that hang from j's parent), when it names a person or a date: a
        changelog entry's `-- Name <mail>  date`, a letter's signature."""
        members = [u for u, p in enumerate(self.parent) if p == j]
        top = self.parent[j]
        if not members and top is not None:
            members = [u for u, p in enumerate(self.parent) if p == top and u != j]
        if not members:
            return []
        last = members[-1]
        line = self.units[last]
        return [last] if holds(line, "person") or holds(line, "date") else []


def _read(chunks: list[Hit]) -> _Document:
    """The lines of one document's chunks, in document order, the overlap between
    consecutive chunks read once, with the structure `structure.outline` finds."""
    lines: list[Line] = []
    owner: list[Hit] = []
    prev: Hit | None = None
    for hit in sorted(chunks, key=lambda h: h.chunk_id):  # ids follow the document order
        new = lines_of(hit.text) or [Line(hit.text.strip(), False, False)]
        skip = 0
        if prev is not None and hit.chunk_id == prev.chunk_id + 1:
            new = _without_head(new, prev.text)
            skip, fuller = _overlap([x.text for x in lines[-OVERLAP_LINES:]], [x.text for x in new])
            if fuller:  # the earlier chunk ended mid-line
                lines[-1] = replace(new[skip - 1], blank_before=lines[-1].blank_before)
        elif lines:
            new[0] = replace(new[0], blank_before=True)
        lines.extend(new[skip:])
        owner.extend([hit] * (len(new) - skip))
        prev = hit
    parent = outline(lines)
    units: list[str] = []
    unit_owner: list[Hit] = []
    breaks: set[int] = set()
    first: list[int] = []  # the first unit of each line
    unit_parent: list[int | None] = []
    items: set[int] = set()
    for i, line in enumerate(lines):
        text = " ".join(line.text.split())
        parts = split_long(text)
        first.append(len(units))
        if line.blank_before:
            breaks.add(len(units))
        if starts_item(line.text):
            items.add(len(units))
        for n, part in enumerate(parts):
            units.append(part)
            unit_owner.append(owner[i])
            p = parent[i]
            unit_parent.append(first[p] if p is not None else None if n == 0 else first[i])
    code = frozenset(first[i] for i, line in enumerate(lines) if line.code)
    return _Document(units, unit_owner, breaks, unit_parent, items, records(lines, parent), code)


def _without_head(new: list[Line], before: str) -> list[Line]:
    """`new`'s lines without the table header and rule the chunker repeats at its top
    (`chunking`), when the chunk before holds that header too: read once, as in the file."""
    if len(new) > 2 and new[1].text.startswith("|") and "---" in new[1].text:
        head = f"{new[0].text}\n{new[1].text}"
        if head in before:
            return new[2:]
    return new


OVERLAP_LINES = 64
"""Lines at the end of a chunk searched for where the next chunk's overlap begins."""


def _overlap(before: list[str], new: list[str]) -> tuple[int, bool]:
    """How many of `new`'s first lines repeat the end of `before` (consecutive chunks share
    tokens; the later one may start mid-line), and whether the last of them is fuller than
    the line it repeats (the earlier chunk ended mid-line)."""
    for m in range(min(len(before), len(new)), 0, -1):
        tail = before[-m:]
        if not tail[0].endswith(new[0]):
            continue
        if m == 1:
            return 1, False
        if tail[1:-1] == new[1 : m - 1] and new[m - 1].startswith(tail[-1]):
            return m, new[m - 1] != tail[-1]
    return 0, False


def _without(question: str, title: set[str]) -> str:
    """The question with the words of the subject's name taken out."""
    kept = [w for w in question.split() if not (terms(w) and terms(w) <= title)]
    return " ".join(kept) or question


def select(
    question: str,
    hits: list[Hit],
    embedder: Embedder,
    how: Selection,
    k: int,
    store: Store | None = None,
    shared: frozenset[str] = frozenset(),
) -> list[Hit]:
    """At most `k` passages from `hits` (as `expand` returns them), one per document, chosen,
    cut and ordered as `how` says; `store` gives the line vectors ingest stored (without it,
    lines not cached are embedded here). A document's chunks are read as one run of lines,
    so the line that answers is found wherever retrieval cut the page; the passage keeps the
    chunk id of its best line, its text whole lines (whitespace folded). `shared`: the
    words most of the collection's file names share (`kinds`). Selection off: the first k."""
    if not hits or not how.enabled:
        return hits[:k]
    docs: dict[str, list[Hit]] = {}
    for hit in hits:
        docs.setdefault(hit.source, []).append(hit)
    # The documents `expand` read whole, with their first and last chunks.
    expanded = _whole(question, hits, how, shared)
    whole = [source in expanded for source in docs]
    read = [_read(chunks) for chunks in docs.values()]
    groups = [(doc.units, doc.owner) for doc in read]
    breaks = {(g, j) for g, doc in enumerate(read) for j in doc.breaks}
    # A neighbour is kept only when it goes on with the chosen line's item: the wrapped rest
    # of a changelog entry, not the next entry, whose look-alike value the reader would copy.
    ends = breaks | {(g, j) for g, doc in enumerate(read) for j in doc.items}
    flat = [u for lines, _ in groups for u in lines]
    q_terms = terms(question)
    unit_terms = [terms(u) for u in flat]
    titles = titles_of(list(docs), shared)
    floor = embedder.relevance_floor if how.floor is None else how.floor
    if checks_relevance(how, embedder) and not shares_terms(
        q_terms, set().union(*unit_terms, *titles)
    ):
        return []  # no passage could share a word: no line needs embedding to say so
    df = Counter(t for ts in unit_terms for t in ts)
    n = len(flat)

    def idf(t: str) -> float:
        return math.log(1 + n / (1 + df.get(t, 0)))

    total = sum(idf(t) for t in q_terms) or 1.0
    # The document's name says what it is about ("sort.txt"). A question that names the
    # subject counts that for the whole document; within it, the line is found by the rest
    # of the question ("who wrote"), or the subject's name, on many of its lines, would win.
    asks = [_without(question, t) if q_terms & t else question for t in titles]
    # The documents the question names in full are its subject; another page's line that
    # only mentions that name ("SEE ALSO sort(1)") earns nothing for it.
    subject = widest([names(q_terms, t) for t in titles], titles)
    named = set().union(*(t for t, s in zip(titles, subject, strict=True) if s))
    kind = asked(question)
    name_lines, name_docs = _name_credit(question, list(docs), subject, [u for u, _ in groups])
    variants = sorted({*asks, question})
    q_vecs = embedder.embed_lines(variants)
    q_vec = {v: q_vecs[i] for i, v in enumerate(variants)}

    def stored() -> dict[str, np.ndarray]:
        if store is None:
            return {}
        return unpack(store.line_vectors([h.chunk_id for h in hits]), embedder.dim)

    lines_vec = _line_vectors(embedder, flat, stored)
    full = lines_vec @ q_vec[question]
    chosen: list[tuple[float, int, Hit]] = []
    named_record: dict[int, bool] = {}
    typed = demands(question) is not None
    key_words = asked_stems(question)
    start = 0
    for i, (lines, owner) in enumerate(groups):
        span = range(start, start + len(lines))
        start += len(lines)
        # A record the question names ("Name: click") is its subject within the document:
        # its lines are found by the rest of the question, and lifted over other records'.
        parent = read[i].parent
        heads = {a for a in parent if a is not None}
        leads = {a for a in heads if names_record(lines[a], q_terms, typed)}
        rest = q_terms - titles[i] - named
        rest -= set().union(*(terms(lines[a].partition(":")[2]) for a in leads))
        rest_total = sum(idf(t) for t in rest) or 1.0
        dense = lines_vec[span.start : span.stop] @ q_vec[asks[i]]
        # A question that is only the subject's name ("what is git-merge-tree for?") leaves
        # nothing to match within its page: each line matches that empty rest as fully as
        # another page's line that mentions the name matches the question.
        own = [
            (sum(idf(t) for t in rest & unit_terms[j]) / rest_total if rest else 1.0)
            + float(dense[j - span.start])
            + NAME_BONUS * name_lines[j]
            for j in span
        ]
        # A line also answers for what it hangs from: the sign-off under the heading that
        # names the release. Lines that hold a value of the type asked ("who": a person) are
        # lifted where a word of the question is on them or above them; so are fields whose
        # key the question names, under the unit it names.
        base = span.start
        prose = ["" if j in read[i].code else line for j, line in enumerate(lines)]
        named_here = bool(subject[i] or leads)
        keyed = named_keys(prose, parent, unit_terms[span.start :], rest, key_words, named_here)
        scores = []
        for j in range(len(lines)):
            up = ancestors(parent, j)
            matched = any(rest & unit_terms[base + a] for a in (j, *up))
            scores.append(
                own[j]
                + (NAME_BONUS if leads & {j, *up} else 0.0)
                + HEADING_SHARE * max((own[a] for a in up), default=0.0)
                + (TYPE_BONUS if kind and matched and holds(lines[j], kind) else 0.0)
                + (KEY_BONUS if j in keyed and (not leads or leads & {j, *up}) else 0.0)
            )
        # A page the question names in full is its subject: the full title credit. Else the
        # share of the question its name covers ("sort" in "what does sort-lines do").
        bonus = 1.0 if subject[i] or leads else sum(idf(t) for t in q_terms & titles[i]) / total
        bonus += NAME_BONUS * name_docs[i]
        top = sorted(range(len(lines)), key=lambda j: -scores[j])
        best_hit = owner[top[0]]
        if how.lines > 0:
            near = set()
            for j in top[: how.lines]:
                near.add(j)
                # Neighbours within the chosen line's item: a wrapped line, the option name
                # above its description; not the next item, option or paragraph.
                for d in range(1, how.window + 1):  # above, up to where the item begins
                    if (i, j - d + 1) in ends:
                        break
                    near.add(j - d)
                for d in range(1, how.window + 1):  # below, up to the next item
                    if (i, j + d) in ends:
                        break
                    near.add(j + d)
                # What the line is about: the headings, lead line or header row it hangs
                # from; and the last line of its entry when that says who or when.
                near.update(ancestors(read[i].parent, j))
                near.update(read[i].signoff(j))
            if whole[i] and read[i].records < RECORDS:  # a file of records: its first is not
                near |= set(range(how.head)) | set(range(len(lines) - how.tail, len(lines)))
            text = "\n".join(lines[j] for j in sorted(near & set(range(len(lines)))))
        else:
            text = best_hit.excerpt or best_hit.text
        about = [top[0], *ancestors(read[i].parent, top[0])]
        named_record[i] = any(names_record(lines[j], q_terms, typed) for j in about)
        near_line = float(full[span.start : span.stop].max())
        # Documents are ranked and cut by their best line's own score: structure chooses
        # lines within a document, and would lift every record's look-alike field alike.
        chosen.append((max(own) + bonus, i, replace(best_hit, excerpt=text, relevance=near_line)))
    chosen.sort(key=lambda c: (-c[0], c[1]))
    cut = chosen[0][0] * how.gap
    kept = [hit for s, _, hit in chosen if s >= cut][:k]
    if any(
        (subject[i] and not all(map(common, titles[i]))) or named_record[i]
        for _, i, _ in chosen[: len(kept)]
    ) or quotes_held(question, [h.excerpt or h.text for h in kept]):
        return kept  # it names one in full (a file, a record, a quoted run of its words)
    closest = max(h.relevance or 0.0 for h in kept)
    if floor and closest < floor:
        return []  # nothing here bears on the question
    if floor and not shares_terms(q_terms, passage_terms(kept)):
        return []  # close in meaning, but about something else
    if floor and closest < embedder.common_floor and not names_them(question, hits, shared):
        return []  # shares only everyday words with it: "What is 5 times 5?", `times`
    return kept


def _name_credit(
    question: str, sources: list[str], subject: list[bool], documents: list[list[str]]
) -> tuple[list[float], list[float]]:
    """What the question's names with digits (`identifiers`) earn, as a share of them: each
    line of `documents` (all their lines in a row), and each document.

    A line earns a name it holds, when at most `NAME_LINES` lines of its document hold it
    (the heading of release 3.6.6, the entry of issue #21477). A name more of its lines
    hold is what the document is about, as is one its file name holds: it earns the
    document, once. A name a subject's file name holds (`sha512sum`, `bzip2`; `subject`
    says which documents the question names in full) earns nothing anywhere: the subject's
    title credit already counts it."""
    names = [phrases(n) for n in identifiers(question)]
    if not names:
        return [0.0] * sum(len(d) for d in documents), [0.0] * len(documents)
    by_file = [[spelled(Path(s).name, runs) for runs in names] for s in sources]
    theirs = [
        any(f[n] for f, s in zip(by_file, subject, strict=True) if s) for n in range(len(names))
    ]
    share = 1 / len(names)
    lines: list[float] = []
    docs: list[float] = []
    for d, units in enumerate(documents):
        rows = [[not theirs[n] and spelled(u, runs) for n, runs in enumerate(names)] for u in units]
        local = [sum(r[n] for r in rows) <= NAME_LINES for n in range(len(names))]
        lines += [share * sum(h and local[n] for n, h in enumerate(r)) for r in rows]
        about = [
            not t and (f or not lo) for t, f, lo in zip(theirs, by_file[d], local, strict=True)
        ]
        docs.append(0.0 if subject[d] else share * sum(about))
    return lines, docs


def _whole(
    question: str, hits: list[Hit], how: Selection, shared: frozenset[str] = frozenset()
) -> set[str]:
    """The documents read whole: those of the first `how.expand` hits, and any retrieved
    document the question names in full ("which option of install ... (as in chmod)" reads
    install's page too, though chmod's ranked first; `shared`, as `select` takes it)."""
    if how.expand < 1:
        return set()
    q_terms = terms(question)
    sources = list({h.source: None for h in hits})
    named = {
        s for s, t in zip(sources, titles_of(sources, shared), strict=True) if names(q_terms, t)
    }
    return {h.source for h in hits[: how.expand]} | named


def expand(
    store: Store,
    question: str,
    hits: list[Hit],
    how: Selection,
    shared: frozenset[str] = frozenset(),
) -> list[Hit]:
    """`hits` and, for the documents `_whole` names, their other chunks (at most
    `how.siblings` each: its first and last, then those that hold the question's rare words
    neither its name nor its retrieved chunks hold, then those nearest the retrieved one):
    retrieval finds the page, and the line that answers may sit in a chunk that ranked
    lower. `shared`: the words most of the collection's file names share (`titles.kinds`)."""
    whole = _whole(question, hits, how, shared)
    if not whole:
        return hits
    # The question's words, none an everyday one, that neither a document's name nor its
    # retrieved chunks hold: "Petr Písař" of "How can Petr Písař be reached by e-mail,
    # according to HTTP-Tiny?", not "release", which a changelog's every chunk holds.
    rare = rare_terms(question)
    read = list(whole)
    lack = {s: rare - t for s, t in zip(read, titles_of(read, shared), strict=True)}
    for hit in hits if rare else ():
        if hit.source in lack:
            lack[hit.source] -= terms(hit.text)
    have = {h.chunk_id for h in hits}
    extra: list[Hit] = []
    done: set[str] = set()
    for hit in hits:
        if hit.source not in whole or hit.source in done:
            continue
        done.add(hit.source)
        rest = sorted(lack[hit.source])
        for row in store.document_chunks(hit.source, hit.chunk_id, how.siblings, rest):
            if row.id not in have:
                have.add(row.id)
                extra.append(
                    Hit(row.id, row.source, row.text, 0.0, None, None, location=row.location)
                )
    return hits + extra
