"""Scoring: answer normalization, accuracy / exact match / F1, citations, style, memory, cost.

Answer scoring follows the SQuAD v1.1 evaluation script (Rajpurkar et al. 2016): lowercase,
drop punctuation and English articles (`outweigh.text.ARTICLES`; other languages' words are
kept), collapse whitespace; exact match and token F1 take the best score over the gold
answers. Two changes make it work on any language and on chatty models:

- Unicode: text is NFKC-normalized and case-folded first, and punctuation is every Unicode
  punctuation or symbol character, not just ASCII's, so Cyrillic, accented and full-width
  text compare as a reader would expect.
- `accuracy` asks whether a gold answer appears *inside* the prediction as a whole-token
  run (the "answer recall" used for PopQA, Mallen et al. 2023), because small instruct models
  answer in sentences. Whole tokens, so "27" is not found in "127".
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import re
import statistics
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from outweigh.attribution import MARKER, contains
from outweigh.text import ARTICLES

CONCISE_WORDS = 20
"""`concise_accuracy`'s floor on answer length, in normalized words: one plain sentence
(readability guides put the average English sentence at 15-20 words). A restated question
plus the fact fits ("heron 7 submersible is rated to maximum depth of 412 metres" is 11);
a copied passage (examples/suite's chunks: 57 to 145 words), a list of candidates or an echo of
the prompt does not."""

CONCISE_FACTOR = 4
"""...or 4x the gold answer's words, whichever is more, so a long gold answer (a title, an
address) is not cut by the floor: the answer, its restated subject and a verb."""


def normalize(text: str) -> str:
    """Drop `[n]` markers (`attribution.MARKER`: "--jobs [2]" does not answer "2"); NFKC,
    case-fold, punctuation and symbols to spaces, drop articles, collapse whitespace.

    Punctuation becomes a space rather than vanishing, so "KX-19" and "KX 19" normalize alike
    and words glued by a dash or slash stay separate tokens.
    """
    text = unicodedata.normalize("NFKC", MARKER.sub(" ", text)).casefold()
    text = "".join(" " if unicodedata.category(ch)[0] in "PS" else ch for ch in text)
    return " ".join(w for w in text.split() if w not in ARTICLES)


def tokens(text: str) -> list[str]:
    """The normalized words of `text`."""
    return normalize(text).split()


def accuracy(prediction: str, answers: Sequence[str]) -> bool:
    """Whether some gold answer's normalized tokens appear, contiguous, in the prediction's. An
    answer that abstains (`abstains`) holds none: "I don't know" is not the option `-i`."""
    return not abstains(prediction) and mentions(prediction, answers)


def mentions(prediction: str, texts: Sequence[str]) -> bool:
    """Whether some text's normalized tokens appear, contiguous, in the prediction's, whatever
    else it says: a value it must not hold, even in passing ("I don't know; maybe Tver?")."""
    pred = tokens(prediction)
    return any(contains(pred, tokens(a)) for a in texts)


def concise(prediction: str, answers: Sequence[str]) -> bool:
    """Right (`accuracy`) and short: at most max(CONCISE_WORDS, CONCISE_FACTOR x the words of
    the gold answer it holds) words, so copying a passage or listing candidates scores 0."""
    if abstains(prediction):
        return False
    pred = tokens(prediction)
    return any(
        contains(pred, gold) and len(pred) <= max(CONCISE_WORDS, CONCISE_FACTOR * len(gold))
        for gold in (tokens(a) for a in answers)
    )


_DONT_KNOW = re.compile(
    r"\b(?:(?:do not|don't|dont|doesn't|didn't|did not) (?:know|have|recall|remember|mention)|"
    r"(?:not|never) (?:sure|mentioned|told|said|known|aware)|(?:haven't|have not|hasn't|has not) "
    r"(?:told|said|mentioned|shared|given)|no (?:information|record|idea|memory|details)|"
    r"(?:can't|cannot|can not) (?:tell|say|know|recall|find)|unknown|not something)\b",
    re.IGNORECASE,
)
"""A sentence that says the answer is not known: "I don't know", "you haven't told me"."""


_APOLOGY = re.compile(
    r"^\W*(?:(?:i'm|i am|i'm so|so)\s+)?(?:sorry|apologi[sz]e)\W*$", re.IGNORECASE
)


def abstains(prediction: str) -> bool:
    """Whether an answer declines to state a fact: it says it does not know, and each of its
    sentences either says so, asks back ("Could you tell me?") or only apologises.

    Strict on purpose: "I don't know your car, but it is probably a Toyota." states an
    invented fact in its second sentence and is wrong.
    """
    sentences = [
        s for s in re.split(r"(?<=[.!?;])\s+|\n+|,\s*(?:but|however)\b", prediction) if s.strip()
    ]
    said = [bool(_DONT_KNOW.search(s)) for s in sentences]
    asks = [s.rstrip().endswith("?") or _APOLOGY.match(s) is not None for s in sentences]
    return any(said) and all(d or a for d, a in zip(said, asks, strict=True))


def memory_correct(
    prediction: str, answers: Sequence[str], abstain: bool, forbidden: Sequence[str]
) -> bool:
    """A memory answer is right when it holds a gold answer (or, for an abstention, abstains)
    and holds none of the `forbidden` texts (a superseded value, another user's fact)."""
    if mentions(prediction, forbidden):
        return False
    return abstains(prediction) if abstain else accuracy(prediction, answers)


def exact_match(prediction: str, answers: Sequence[str]) -> bool:
    """Whether the normalized prediction equals some normalized gold answer."""
    pred = normalize(prediction)
    return any(pred == normalize(a) for a in answers)


def f1(prediction: str, answers: Sequence[str]) -> float:
    """Best token-overlap F1 between the prediction and any gold answer (SQuAD v1.1); 0 for an
    answer that abstains."""
    if abstains(prediction):
        return 0.0
    pred = tokens(prediction)
    best = 0.0
    for answer in answers:
        gold = tokens(answer)
        common = sum((Counter(pred) & Counter(gold)).values())
        if common == 0:
            continue
        precision, recall = common / len(pred), common / len(gold)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best


def source_matches(path: str, gold: str) -> bool:
    """Whether a stored document path is the gold document, named relative to the suite's docs/.

    `gold` is a file name ("policies.md") or a path under docs/ ("hr/policies.md"); the
    stored path is absolute, so it matches when it ends with the gold path at a folder boundary.
    """
    stored = Path(path).as_posix()
    want = Path(gold).as_posix().lstrip("/")
    return stored == want or stored.endswith("/" + want)


DIAGNOSES = ("right", "reading_miss", "retrieval_miss")
"""Per +rag facts answer: right; wrong with the gold document among the prompt's passages (the
reader failed); wrong without it (retrieval failed first)."""


def diagnosis(correct: bool, context: Iterable[str], gold: str) -> str:
    """`right`, `reading_miss` (gold document in the prompt, answer wrong) or `retrieval_miss`
    (gold document not in the prompt, answer wrong)."""
    if correct:
        return "right"
    return "reading_miss" if any_source(context, gold) else "retrieval_miss"


def any_source(sources: Iterable[str], gold: str) -> bool:
    """Whether one of `sources` is the gold document."""
    return any(source_matches(s, gold) for s in sources)


def mean(values: Iterable[float | bool]) -> float | None:
    """Arithmetic mean, or None when there is nothing to average (the metric does not apply)."""
    vals = [float(v) for v in values]
    return sum(vals) / len(vals) if vals else None


def p50(values: Sequence[float]) -> float | None:
    """Median; None for no values."""
    return statistics.median(values) if values else None


def tokens_per_s(completion_tokens: Sequence[int], seconds: Sequence[float]) -> float | None:
    """Generated tokens over wall time, summed over every answer (so long answers weigh more)."""
    total = sum(seconds)
    return sum(completion_tokens) / total if total > 0 else None


# -- memory use ---------------------------------------------------------------------------------
_HWM = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def reset_peak_rss() -> bool:
    """Reset the process's peak-RSS mark so the next reading covers only what follows.

    Linux >= 4.0 resets VmHWM when "5" is written to /proc/self/clear_refs (proc(5)). Elsewhere
    this returns False and `peak_rss_mb` reports the peak since the process started.

    Freed heap pages go back to the OS first (glibc's malloc_trim), so the new mark starts
    from live memory, not from what an earlier step (e.g. training) freed but glibc kept.
    """
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    try:
        _CLEAR_REFS.write_text("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MiB (since the last successful reset, on Linux)."""
    try:
        for line in _HWM.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # the kernel reports kB
    except (OSError, ValueError, IndexError):
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # ru_maxrss is in kilobytes on Linux but in bytes on macOS (getrusage(2) on each).
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def reset_peak_vram() -> None:
    """Reset torch's CUDA peak counter, when torch is loaded and a GPU is present."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def peak_vram_mb() -> float | None:
    """Peak GPU memory torch allocated since the last reset, in MiB; None without a GPU."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return None
    return float(torch.cuda.max_memory_allocated()) / (1024 * 1024)


# -- the metric table -------------------------------------------------------------------------
@dataclass(frozen=True)
class Metric:
    """One column of the results: how to label, compare and chart it."""

    key: str
    """Name in the JSON results and the table."""
    part: str
    """Which suite part it measures: facts, style, memory or cost."""
    higher_is_better: bool | None
    """Direction of "better", for highlighting the best config; None for a diagnostic with no
    better direction (nothing is highlighted, nothing charted)."""
    fraction: bool
    """A rate in [0, 1], charted on the shared quality axis; cost metrics are not."""
    help: str
    """One line for the docs and the report."""


METRICS: tuple[Metric, ...] = (
    Metric("accuracy", "facts", True, True, "a gold answer appears in the answer"),
    Metric("concise_accuracy", "facts", True, True, "right, in at most max(20, 4 x gold) words"),
    Metric("exact_match", "facts", True, True, "the answer is exactly a gold answer"),
    Metric("f1", "facts", True, True, "token overlap with the best gold answer"),
    Metric(
        "citation_accuracy", "facts", True, True, "the gold document is among the true citations"
    ),
    Metric("cited_per_answer", "facts", None, False, "passages an answer rests on, mean"),
    Metric("cite_rate", "facts", None, True, "answers that cite a passage"),
    Metric("abstention", "facts", True, True, "unanswerable: says it does not know, cites nothing"),
    Metric("false_abstention", "facts", False, True, "answerable: says it does not know"),
    Metric("retrieval_recall_at_k", "facts", True, True, "the gold document is retrieved"),
    Metric("retrieval_miss", "facts", False, True, "wrong, gold document not in the prompt"),
    Metric("reading_miss", "facts", False, True, "wrong, gold document in the prompt"),
    Metric("gold_only_accuracy", "facts", True, True, "right given only the gold document"),
    Metric("reader_gap", "facts", None, True, "gold_only_accuracy - accuracy, same questions"),
    Metric("judge_accuracy", "facts", True, True, "--judge: says the answer gives the gold one"),
    Metric("judge_faithfulness", "facts", True, True, "--judge: the cited passages support it"),
    Metric("judge_agreement", "facts", None, True, "--judge agrees with accuracy, same questions"),
    Metric("judge_kappa", "facts", None, False, "--judge vs accuracy, Cohen's kappa: trust >= 0.6"),
    Metric("judge_questions", "facts", None, False, "questions both --judge and accuracy scored"),
    Metric("judge_unparsed", "facts", False, False, "--judge replies neither yes nor no"),
    Metric("style_adherence", "style", True, True, "the answer passes its style check"),
    Metric("memory_recall", "memory", True, True, "a remembered fact is recalled"),
    Metric("memory_facts", "memory", True, True, "memory: a fact said once"),
    Metric("memory_updates", "memory", True, True, "memory: the latest value, not the old"),
    Metric("memory_multi_session", "memory", True, True, "memory: facts of several sessions"),
    Metric("memory_temporal", "memory", True, True, "memory: when, or how things were"),
    Metric("memory_abstention", "memory", True, True, "memory: no invented fact when unknown"),
    Metric("memory_isolation", "memory", True, True, "memory: never another user's fact"),
    Metric("latency_p50_s", "cost", False, False, "median seconds per answer"),
    Metric("tokens_per_s", "cost", True, False, "generated tokens per second"),
    Metric("peak_rss_mb", "cost", False, False, "peak resident memory, MiB"),
    Metric("peak_vram_mb", "cost", False, False, "peak GPU memory torch allocated, MiB"),
    Metric("vram_gb", "cost", False, False, "planned VRAM to serve it (outweigh plan), GB"),
    Metric("accuracy_per_gb", "cost", True, False, "quality per GB: accuracy / vram_gb"),
)
"""Every metric in the order the table, JSON and chart show them."""
