"""How the engine builds one answer's request: retrieve and select passages, recall memories,
fit both into the model's window, pick the reader and its check, and say what answers where
nothing here does (`Engine._build`, called by `Engine.turn` under the engine's lock)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING

from outweigh.engine.turn import Checked, Prepared, declines
from outweigh.errors import InputError
from outweigh.generate.base import Backend, Fixed, GenerationRequest, Message
from outweigh.prompt import MAX_PROMPT_TOKENS, PASSAGE_OVERHEAD_TOKENS, Citation, build_messages
from outweigh.retrieval.answers import holds_up, owned_as_asked, tidy
from outweigh.retrieval.bearing import names_them
from outweigh.retrieval.fields import field_reading, link_reading, mail_reading
from outweigh.retrieval.hybrid import Hit, HybridSearcher
from outweigh.retrieval.identifiers import (
    absent_answer,
    mentions,
    missing,
    missing_quotes,
    unsaid_answer,
)
from outweigh.retrieval.select import checks_relevance, expand, select
from outweigh.retrieval.structure import demands
from outweigh.retrieval.terms import replace_reading
from outweigh.text import rare, words

if TYPE_CHECKING:
    from outweigh.adapters import AdapterRegistry
    from outweigh.embed import Embedder
    from outweigh.engine.turn import AskOptions
    from outweigh.memory import MemoryItem, MemoryStore
    from outweigh.retrieval.store import Collection, Store
    from outweigh.settings import Paths


def checked_reading(
    question: str, passages: Sequence[Citation], leads: frozenset[str], answer: str
) -> str:
    """The passage reader's `answer` to `question`, or its "I don't know" where the answer does
    not hold up against the question and the `passages` it read (`retrieval.answers`): the
    question's own words back, no value of the type it demands, a value no passage writes, a
    placeholder, the next entry's value, or another document's. A small reader copies such
    answers out of a passage that does not hold the answer; said with `[1]`, they would pass
    for grounded. `leads`: the first words of the collection's file names. The lines that
    open or close a block of code around the answer are dropped first (`tidy`).

    A question that describes an option or a command of a manual in other words ("How do I
    copy a directory recursively?", "Какой параметр pstree рисует линии символами UTF-8?")
    is answered with the term whose description it clearly matches best
    (`retrieval.terms`), where the reader named no term (it copied the description) or one
    the question describes less well. A question that names a field its passages write
    ("What is the method of Owners: Add?" over "- Method: PUT" under "### Owners: Add") is
    answered with its value, where the reader gave a piece of it, another field's or unit's
    value, or the question back; one that asks the address of a link by its text, with that
    link's (`retrieval.fields`)."""
    from outweigh.adapters.reader import DONT_KNOW

    answer = tidy(answer)
    if declines(answer):
        return answer
    term = replace_reading(answer, question, passages)
    if term is not None and holds_up(term, question, passages, leads):
        return term
    held = holds_up(answer, question, passages, leads)
    for read in (field_reading, link_reading, mail_reading):
        value = read(answer, question, passages, held)
        if value is not None and holds_up(value, question, passages, leads):
            return value
    return answer if held else DONT_KNOW


def offered(question: str, passages: Sequence[Citation], leads: frozenset[str]) -> list[str]:
    """What the reader chooses among once its reading of `question` was turned down
    (`Prepared.offers`): the values of the type the question demands that the `passages`
    write (`retrieval.candidates`), those the check lets through, `MOST` at most; for a
    version, those written after a word of the question where there are any.

    "I don't know" is not among them: the reader did not say it on its own reading, under
    its margin, and offered beside "Ori Livneh" for "Whose copyright notice appears in the
    monotonic README?" it took it; what keeps an unanswerable question unanswered is the
    check (docs/benchmarks-eval.md has both runs)."""
    from outweigh.retrieval.candidates import MOST, candidates

    held = [a for a in candidates(question, passages) if holds_up(a, question, passages, leads)]
    if demands(question) == "version":  # "CPython 3.15.0a3" before the heading "v2.6.30"
        held = [a for a in held if owned_as_asked(a, question, passages)] or held
    return held[:MOST]


class Answering:
    """The request-building methods of `Engine` (a mixin over its store, searcher, embedder,
    memory and adapter registry)."""

    paths: Paths
    store: Store
    searcher: HybridSearcher
    embedder: Embedder
    memory: MemoryStore
    adapters: AdapterRegistry
    _current: set[str]

    leads: Callable[[Collection], frozenset[str]]
    kinds: Callable[[Collection], frozenset[str]]
    titles: Callable[[Collection], dict[str, frozenset[str]]]

    def _build(
        self, messages: list[Message], question: str, checked: Checked, backend: Backend
    ) -> Prepared:
        options = checked.options
        recalled = self._recall(question, options)
        hits, absent = self._retrieve(question, checked) if checked.collection else ([], [])
        about = self._about(question, checked) if checked.collection and not hits else set()
        window = min(backend.context_window, MAX_PROMPT_TOKENS)
        base = build_messages(messages, [], rag=bool(hits))
        budget = window - options.max_tokens - backend.count_prompt_tokens(base)
        if budget < 0:
            raise InputError(
                f"the conversation is {-budget} tokens over {backend.name}'s {window}-token "
                "window; shorten it or lower max_tokens"
            )
        memories: list[MemoryItem] = []
        lines: list[str] = []
        if recalled:
            from outweigh.memory.recall import fit, prompt_line

            # Memories get their own budget, taken first: they are about this user.
            cap = min(self.memory.limits.prompt_tokens, budget)
            memories = fit(recalled, cap, backend.count_tokens)
            lines = [prompt_line(m) for m in memories]
            budget -= backend.count_prompt_tokens(
                build_messages(messages, [], rag=bool(hits), memories=lines)
            ) - backend.count_prompt_tokens(base)
        citations: list[Citation] = []
        for hit in hits:
            cost = backend.count_tokens(hit.excerpt or hit.text) + PASSAGE_OVERHEAD_TOKENS
            if cost > budget:
                break
            budget -= cost
            citations.append(
                Citation(
                    len(citations) + 1,
                    hit.source,
                    hit.chunk_id,
                    hit.text,
                    hit.score,
                    hit.excerpt,
                    *self._origin(checked.collection, hit.source),
                    location=hit.location.to_dict() if hit.location else None,
                    where=hit.location.label() if hit.location else None,
                )
            )
        # A question about the user's own world that no memory is about: say so.
        personal = options.memory and options.user is not None and not citations
        if personal and self.memory.unanswerable(str(options.user), question, recalled):
            from outweigh.memory.abstain import DONT_KNOW

            backend, memories, lines = Fixed(backend, DONT_KNOW), [], []
        elif absent and not any(mentions(m, n) for m in lines for n in absent):
            # It names what no document mentions, nor any memory: nothing here answers it.
            backend, memories, lines = Fixed(backend, absent_answer(absent)), [], []
        elif about and not lines:
            # It names what documents here are about, and none of their lines bears on it.
            backend, memories = Fixed(backend, unsaid_answer(about)), []
        adapter = options.adapter
        bias: dict[int, float] = {}
        check: Callable[[str], str] | None = None
        offers: Callable[[], list[str]] | None = None
        if adapter is None and options.reader and (citations or lines):
            from outweigh.adapters.bundled import MEMORY_READER, READER

            adapter = self._reader(backend, READER if citations else MEMORY_READER)
            if adapter == READER and citations:
                bias = self._abstain_bias(backend)
                leads = self.leads(checked.collection) if checked.collection else frozenset()
                check = partial(checked_reading, question, citations, leads)
                offers = partial(offered, question, citations, leads)
        request = GenerationRequest(
            messages=build_messages(messages, citations, rag=bool(citations), memories=lines),
            max_tokens=options.max_tokens,
            temperature=options.temperature,
            top_p=options.top_p,
            stop=list(options.stop),
            seed=options.seed,
            adapter=adapter,
            first_token_bias=bias,
        )
        fallback = None
        kinds = self.kinds(checked.collection) if checked.collection else frozenset()
        if check is not None and not names_them(question, hits, kinds):
            # Passages passed the gate on meaning alone, but a question that names nothing of
            # them and that the reader cannot answer from them is not about them: answer it
            # bare.
            fallback = replace(
                request,
                messages=build_messages(messages, [], rag=False, memories=lines),
                adapter=None,
                first_token_bias={},
            )
        return Prepared(request, citations, backend, memories, check, fallback, offers=offers)

    def _abstain_bias(self, backend: Backend) -> dict[int, float]:
        """The first-token bias that makes the passage reader say "I don't know" only where it
        is surer of that than of any answer by its margin (`settings.reader_margin`)."""
        from outweigh.adapters.bundled import READER, abstain_margin
        from outweigh.adapters.reader import DONT_KNOW
        from outweigh.settings import reader_margin

        margin = reader_margin()
        if margin is None:
            bundled = self.adapters.get(READER).source == "bundled"
            margin = abstain_margin(READER, backend.name) if bundled else 0.0
        token = backend.first_token(DONT_KNOW) if margin else None
        return {} if token is None else {token: -margin}

    def _origin(self, coll: Collection | None, source: str) -> tuple[str | None, str, str | None]:
        """(collection, "ingested" or "uploaded", uploader) of a retrieved passage's document,
        so a citation says where it came from and who put it there."""
        from outweigh.retrieval import uploads

        assert coll is not None
        row = self.store.document(coll, source)
        origin = "uploaded" if uploads.owned(self.paths, coll.name, source) else "ingested"
        return coll.name, origin, row.uploader if row is not None else None

    def _reader(self, backend: Backend, name: str) -> str | None:
        """The reader adapter `name` for `backend`'s model, if it has one: the user's own
        adapter of that name on that base, else the one bundled for it, registered on first
        use (`outweigh.adapters.bundled`). An upstream server's reader is the LoRA it serves
        under that name on this base (vLLM's `--lora-modules reader=DIR`, or an `outweigh
        serve` with a `reader` registered). None for a model with no such reader."""
        if getattr(backend, "adapters", None) is None:
            served = backend.served_adapters()
            return name if served.get(name) == backend.name else None
        from outweigh.adapters.bundled import EARLIER, bundled
        from outweigh.adapters.registry import sha256_of

        registry = self.adapters
        path = bundled(name, backend.name)
        if name in registry.names():
            info = registry.get(name)
            ours = info.source == "bundled" or info.sha256 in EARLIER.get(name, ())
            if ours and path is not None and name not in self._current:
                # Registered from an earlier release's copy: this release's replaces it.
                if info.sha256 != sha256_of(path / "adapter_model.safetensors"):
                    registry.remove(name)
                    registry.add(path, name, base=backend.name, source="bundled")
                self._current.add(name)
            return name if registry.get(name).base_model == backend.name else None
        if path is None:
            return None
        registry.add(path, name, base=backend.name, source="bundled")
        self._current.add(name)
        return name

    def _recall(self, question: str, options: AskOptions) -> list[MemoryItem]:
        """The user's memories for this question, best first; none when memory is off."""
        if not options.memory or options.user is None:
            return []
        memory = self.memory
        return memory.recall(options.user, question, limit=memory.limits.recall)

    def _named(self, coll: Collection, question: str, hits: list[Hit], limit: int) -> list[Hit]:
        """The opening chunks (`limit` each) of the documents `question` names in full by
        their file names (`retrieval.titles.named`) that retrieval missed: "Which version of
        click is described?" over records whose other pages all require click."""
        from outweigh.retrieval.titles import named

        have = {h.source for h in hits}
        typed = demands(question) is not None
        return [
            Hit(row.id, row.source, row.text, 0.0, None, None, location=row.location)
            for source in named(question, self.titles(coll), typed)
            if source not in have
            for row in self.store.opening_chunks(coll, source, limit)
        ]

    def _about(self, question: str, checked: Checked) -> set[str]:
        """The words of `question`, none an everyday one (`text.common`), that begin file
        names of the collection (`leads`): "coreutils" of "What is the home page of GNU
        Coreutils?" over `coreutils-*.txt`. A question that names them is about the
        documents, even where none of their lines bears on it: they do not say, and the
        bare model would make an answer up. Nothing where selection checks no relevance."""
        coll = checked.collection
        if coll is None or not checks_relevance(checked.options.selection, self.embedder):
            return set()
        leads = self.leads(coll) - self.kinds(coll)
        return {w for w in words(question) if w in leads and rare(w)}

    def _retrieve(self, question: str, checked: Checked) -> tuple[list[Hit], list[str]]:
        """The passages for `question`, and the names with digits it gives that no document
        of the collection mentions (`outweigh.retrieval.identifiers`), when it has no
        passages for that reason. A name the selected passages lack, or a span the question
        quotes, is looked up literally, and the passages are selected again from the chunks
        that hold it."""
        coll, options = checked.collection, checked.options
        assert coll is not None
        how = options.selection
        n = max(options.k, how.candidates)
        hits = self.searcher.search_in(coll, question, n)
        kinds = self.kinds(coll)
        hits += self._named(coll, question, hits, how.siblings)

        def pick(chunks: list[Hit]) -> list[Hit]:
            read = expand(self.store, question, chunks, how, kinds)
            return select(question, read, self.embedder, how, options.k, self.store, kinds)

        kept = pick(hits)
        if not kept or not checks_relevance(how, self.embedder):
            return kept, []
        shown = [(h.source, h.excerpt or h.text) for h in kept]
        lacking = missing(question, shown)
        quotes = missing_quotes(question, shown)
        if not lacking and not quotes:
            return kept, []
        found, absent = self.searcher.mentioning(coll, question, lacking + quotes, n)
        absent = [name for name in absent if name in lacking]  # a quote may be misremembered
        if absent:
            return [], absent
        if not found:  # only quotes, held by no document: the same passages
            return kept, []
        ids = {h.chunk_id for h in found}
        return pick(found + [h for h in hits if h.chunk_id not in ids]) or kept, []
