"""Which of the prompt's passages an answer rests on: its true citations.

A passage is cited when the answer marks it `[n]` and the passage holds something the answer
says, or, for an answer that marks none that check out, when one of the answer's sentences
is attributed to it by overlap: the passage holds at least `SUPPORT` of the weight of the
sentence's key tokens, and its numbers. Key tokens are what the answer adds to the question:
its words less stopwords, the question's own words and the words a model uses to talk about
the task ("context", "passage", "know"). Never every passage by default: an answer that says
nothing a passage holds ("I don't know", a fact from the model's own memory) cites nothing.

The idea is the overlap baseline of attribution evaluation (Rashkin et al. 2023, "Measuring
Attribution in Natural Language Generation Models"; Gao et al. 2023, "Enabling Large Language
Models to Generate Text with Citations", which checks citations per sentence), kept lexical
so it costs microseconds and needs no model: a small reader mostly copies its answer out of
the passage (docs/eval.md).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING

from outweigh.text import NEGATIONS, stop_words, wordset

if TYPE_CHECKING:
    from outweigh.prompt import Citation

SUPPORT = 0.5
"""A passage supports a sentence when it holds at least this share of the weight of the
sentence's key tokens, and every number in them: half of what the sentence adds to the
question, so a small model's own embellishment ("a female otter named Grumbold": the passage
says "an otter called Grumbold") is tolerated, while a distractor that shares one generic word
of a three-word claim (a third) is not. Numbers are the facts most often asked and most easily
invented, so a passage that lacks the sentence's number does not support it ("950 metres" is
not supported by a passage about 412 metres). A one-token claim ("8080") is all or nothing."""

MAX_ATTRIBUTED = 2
"""Most passages attribution cites: one holds a short answer, two cover an answer that joins
two facts. More would be the "cite everything" the metric must not reward."""

PREFIX = 4
"""A token of this many characters or more also matches a passage word that begins with it or
that it begins with: an inflection ("metre" / "metres", "ignore" / "ignores") or a name cut off
by the answer's token cap ("Brenne" for "Brenneke"). Shorter ones ("-i"), numbers and
names joined by a dot or a slash match only whole, or "1000" would be found in "10000" and
"pacote.extract" in a question that only says "pacote"."""

MARKER = re.compile(r"\[(\d{1,3})\]")
"""A passage reference like [2], as SYSTEM_RAG asks the model to write."""

_TOKEN = re.compile(r"(?<![\w-])--?\w[\w-]*|\w+(?:[./-]\w+)*")
"""A word, a compound kept whole ("KX-19", "8.5.1", "etc/passwd") or a command-line flag
("-i", "--color"): in manual pages a flag is the answer, and "-i" must not become the
stopword "i"."""

_DIGIT = re.compile(r"\d")
_JOINED = re.compile(r"\w[./]\w")

_SENTENCE = re.compile(r"(?<=[.!?;:])\s+|\n+")

_TASK_WORDS = wordset(
    "know knows known sure context passage passages answer answers question questions "
    "information info provided provide mention mentions mentioned according based text document "
    "documents say says said state states stated given use used using "
    "знаю знает контекст ответ вопрос информация информации текст текста документ документе "
    "сказано указано"
)
"""How a model talks about the prompt or frames an answer ("use -i"), not about the world: a
passage that happens to hold "context" or "answer" supports no fact."""

_STOPWORDS = stop_words("en", "ru") | _TASK_WORDS
"""What a key token is not: English and Russian stop words (`outweigh.text`), which keep
the words that can be an answer by themselves ("on", "off", "all"), and task words."""


def tokens(text: str) -> list[str]:
    """The words of `text` as attribution compares them: NFKC, case-folded, compounds and
    flags whole."""
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).casefold())


def contains(haystack: Sequence[str], needle: Sequence[str]) -> bool:
    """Whether the words `needle` appear, contiguous and in order, in `haystack`."""
    n = len(needle)
    return n > 0 and any(haystack[i : i + n] == needle for i in range(len(haystack) - n + 1))


def key_tokens(text: str, question: str = "") -> list[str]:
    """What `text` adds to `question`: its tokens less stopwords, task words and the
    question's words (matched as passages match them, so "named" repeats "name"), distinct,
    in order.

    A name the question shortened counts as the question's too: in "The Vellmark Tidal
    Robotics Cooperative's mascot is ..." asked about "the Vellmark cooperative", the words
    between two asked words with no stopword among them ("Tidal Robotics") restate the
    subject; they add nothing the answer rests on.
    """
    asked = _vocabulary(question)
    words = tokens(MARKER.sub(" ", text))
    kind = ["stop" if t in _STOPWORDS else "asked" if _holds(asked, t) else "key" for t in words]
    for i, k in enumerate(kind):  # a run of key words between two asked ones: the subject
        if k != "asked":
            continue
        j = i + 1
        while j < len(kind) and kind[j] == "key":
            j += 1
        if j < len(kind) and kind[j] == "asked" and j > i + 1:
            kind[i + 1 : j] = ["asked"] * (j - i - 1)
    return list(dict.fromkeys(t for t, k in zip(words, kind, strict=True) if k == "key"))


def _vocabulary(text: str) -> set[str]:
    """A passage's tokens, with the parts of each compound, so "19" is found in "KX-19"."""
    words = set(tokens(text))
    for w in list(words):
        words.update(p for p in re.split(r"[./-]+", w) if p)
    return words


def _holds(vocabulary: set[str], token: str) -> bool:
    """Whether a passage's words hold `token`: whole, or by a shared prefix of `PREFIX`+."""
    if token in vocabulary:
        return True
    if len(token) < PREFIX or _DIGIT.search(token) or _JOINED.search(token):
        return False
    return any(
        len(w) >= PREFIX and not _DIGIT.search(w) and (w.startswith(token) or token.startswith(w))
        for w in vocabulary
    )


def held_share(text: str, answer: str, question: str = "") -> float:
    """The share of `answer`'s key tokens (`key_tokens`) that `text` holds, as a passage holds
    them; 0 for an answer with none, or only negations: it states nothing."""
    keys = key_tokens(answer, question)
    if set(keys) <= NEGATIONS:
        return 0.0
    vocabulary = _vocabulary(text)
    return sum(_holds(vocabulary, t) for t in keys) / len(keys)


def markers(answer: str, passages: Sequence[Citation]) -> list[Citation]:
    """The passages an answer marks as [n], in order of first mention, unknown numbers dropped."""
    by_n = {c.n: c for c in passages}
    marked = dict.fromkeys(int(n) for n in MARKER.findall(answer) if int(n) in by_n)
    return [by_n[n] for n in marked]


def supporting(answer: str, passages: Sequence[Citation], question: str = "") -> list[Citation]:
    """The passages `answer` rests on, each at most once; none when nothing supports it.

    1. An answer with no key tokens but negations (an abstention, a bare "yes") cites
       nothing: there is nothing in it a passage could support. Negations stay key tokens,
       as they can turn a fact around, but alone they state nothing ("I don't know: the
       context does not say.").
    2. Its [n] markers, kept when the marked passage holds one of the answer's key tokens. A
       marker on a passage that shares nothing with the answer is a false citation and
       dropped (a small model numbers passages it did not use).
    3. When no marker survives, each sentence goes to the passage, among those holding all
       its numbers, with the most of its key-token weight, if that is at least `SUPPORT`. A
       token weighs 1 / (passages holding it), so the passage with the answer's rarest
       tokens wins, ties going to the one with the longest shared token, then to the
       better-ranked. The `MAX_ATTRIBUTED` passages with the most support are cited, in
       prompt order.
    """
    keys = key_tokens(answer, question)
    if not passages or set(keys) <= NEGATIONS:
        return []
    # What the model read: the selected lines where selection cut the passage (they may come
    # from the document's other chunks, its footer or NAME line), else the chunk.
    vocab = {c.n: _vocabulary(c.excerpt or c.text) for c in passages}
    held = {n: {t for t in keys if _holds(v, t)} for n, v in vocab.items()}
    marked = [c for c in markers(answer, passages) if held[c.n]]
    if marked:
        return marked
    support: dict[int, float] = {}
    for sentence in _SENTENCE.split(MARKER.sub(" ", answer)):
        words = key_tokens(sentence, question)
        if set(words) <= NEGATIONS:
            continue
        weight = {t: 1 / max(1, sum(t in h for h in held.values())) for t in words}
        total = sum(weight.values())

        def score(c: Citation, words: list[str] = words, weight: dict[str, float] = weight):
            shared = [t for t in words if t in held[c.n]]
            return (sum(weight[t] for t in shared), max(map(len, shared), default=0), -c.n)

        numbers = [t for t in words if _DIGIT.search(t)]
        eligible = [c for c in passages if all(t in held[c.n] for t in numbers)]
        if not eligible:
            continue
        top = max(eligible, key=score)
        share = score(top)[0] / total
        if share >= SUPPORT:
            support[top.n] = support.get(top.n, 0.0) + share * total
    chosen = sorted(support, key=lambda n: (-support[n], n))[:MAX_ATTRIBUTED]
    return [c for c in passages if c.n in chosen]
