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
- the chunks are ordered best first.

docs/retrieval.md has the measurements behind the defaults.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from outweigh.retrieval.stems import stems

if TYPE_CHECKING:
    from outweigh.embed import Embedder
    from outweigh.retrieval.hybrid import Hit


_STOP_WORDS = (
    "a an and are as at be by can do does for from how i in is it of on or that the this to "
    "what when where which who whom whose why with use used"
    " about all also any my me you your its into than there their then these those"
)
STOP = frozenset(_STOP_WORDS.split())
"""English function words (as stems), which say nothing about which line answers."""

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"'])")
"""A sentence boundary inside a long line of prose."""

MAX_UNIT_CHARS = 300
"""A line longer than this (an unwrapped paragraph) is split into sentences before scoring."""


@dataclass(frozen=True)
class Selection:
    """How retrieved chunks are chosen and cut before they go into the prompt."""

    candidates: int = 5
    """Chunks retrieved before selection; the `-k` of a request caps how many are kept."""
    lines: int = 2
    """Best-scoring lines kept from each chunk (each with `window` lines either side);
    0 keeps chunks whole."""
    window: int = 1
    """Neighbouring lines kept around each chosen line: an option's name sits on the line
    above its description, a field's value may wrap onto the next."""
    gap: float = 0.7
    """A chunk is kept when its score is at least this share of the best chunk's; 0 keeps
    every candidate (a fixed k)."""

    @property
    def enabled(self) -> bool:
        """Whether selection changes anything at all."""
        return self.lines > 0 or self.gap > 0


NONE = Selection(candidates=0, lines=0, gap=0.0)
"""Selection off: the top-k chunks whole, in retrieval order."""


def units(text: str) -> list[str]:
    """The lines of a chunk as scored and shown: stripped, runs of spaces folded (a man page's
    indentation and column padding cost tokens and carry nothing), long prose lines split
    into sentences."""
    out: list[str] = []
    for raw in text.splitlines():
        line = " ".join(raw.split())
        if not line:
            continue
        if len(line) > MAX_UNIT_CHARS:
            out.extend(s for s in _SENTENCE.split(line) if s)
        else:
            out.append(line)
    return out


def _terms(text: str) -> set[str]:
    return {s for s in stems(text) if s not in STOP}


def select(question: str, hits: list[Hit], embedder: Embedder, how: Selection, k: int) -> list[Hit]:
    """At most `k` of `hits`, chosen, cut and ordered as `how` says; text is what the model
    reads (whole lines of the chunk, whitespace folded). Fewer than two hits and selection
    off are returned as given (cut to k)."""
    if not hits or not how.enabled:
        return hits[:k]
    per_hit = [units(h.text) or [h.text.strip()] for h in hits]
    flat = [u for us in per_hit for u in us]
    q_terms = _terms(question)
    unit_terms = [_terms(u) for u in flat]
    df = Counter(t for ts in unit_terms for t in ts)
    n = len(flat)

    def idf(t: str) -> float:
        return math.log(1 + n / (1 + df.get(t, 0)))

    total = sum(idf(t) for t in q_terms) or 1.0
    lexical = [sum(idf(t) for t in q_terms & ts) / total for ts in unit_terms]
    vectors = embedder.embed_batch([question, *flat])
    dense = [float(v) for v in vectors[1:] @ vectors[0]]
    score = [lex + den for lex, den in zip(lexical, dense, strict=True)]
    chosen: list[tuple[float, int, Hit]] = []
    start = 0
    for i, (hit, us) in enumerate(zip(hits, per_hit, strict=True)):
        scores = score[start : start + len(us)]
        start += len(us)
        # The document's name says what it is about ("sort.txt", "libfoo.md"): a question
        # naming the subject counts it for every line of that document.
        title = _terms(Path(hit.source).stem.replace("_", " ").replace("-", " "))
        bonus = sum(idf(t) for t in q_terms & title) / total
        best = max(scores) + bonus
        text = hit.text
        if how.lines > 0:
            top = sorted(range(len(us)), key=lambda j: -scores[j])[: how.lines]
            keep = sorted(
                {j + d for j in top for d in range(-how.window, how.window + 1)}
                & set(range(len(us)))
            )
            text = "\n".join(us[j] for j in keep)
        chosen.append((best, i, replace(hit, text=text)))
    chosen.sort(key=lambda c: (-c[0], c[1]))
    floor = chosen[0][0] * how.gap
    return [hit for s, _, hit in chosen if s >= floor][:k]
