"""Running a suite against several configs on the real models, greedy and seeded.

One run:
1. checks every config (model known, adapter registered; an endpoint config's server answers
   with its model and adapter) before anything heavy loads;
2. ingests the suite's docs once into a collection private to the run (`eval-<hex>`), and
   drops it afterwards, so the user's collections are neither read nor touched;
3. for each config, loads its model once (configs sharing a model share the load; an
   endpoint config (`MODEL@URL`, `outweigh.eval.endpoints`) generates there instead), answers
   the facts questions, the style prompts and the memory replay, and measures cost;
4. returns an `EvalResult` that `outweigh.eval.report` renders as a table, JSON, PNG and markdown.

Decoding is greedy (temperature 0) with a fixed seed, so a run is reproducible on one machine.
Style prompts and memory lines are answered without document retrieval: those metrics isolate
the adapter and the memory store from what the docs happen to say.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import itertools
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from outweigh.engine import Answer, AskOptions, Engine
from outweigh.errors import InputError, NotFoundError
from outweigh.eval import judge as grader
from outweigh.eval import metrics as m
from outweigh.eval.endpoints import Endpoints
from outweigh.eval.journal import Journal, header
from outweigh.eval.results import EvalOptions, EvalResult, Record
from outweigh.eval.spec import ConfigSpec, parse_specs
from outweigh.eval.stats import bootstrap_ci
from outweigh.eval.suite import CATEGORIES, MemoryStep, Suite, load_suite
from outweigh.eval.vram import per_gb
from outweigh.settings import Paths

if TYPE_CHECKING:
    from outweigh.embed import Embedder
    from outweigh.generate.base import Backend
    from outweigh.models.options import LoadOptions

Progress = Callable[[str, int, int], None]
"""`progress(task, done, total)`: called as each answer (or ingested file) completes."""

SAY_MAX_TOKENS = 8
"""Reply length for memory `say` lines: the reply is not scored, only the capture matters."""


# -- the run -----------------------------------------------------------------------------------
def run_eval(
    suite: Suite | str | Path,
    configs: Sequence[ConfigSpec | str],
    options: EvalOptions | None = None,
    paths: Paths | None = None,
    progress: Progress | None = None,
    embedder: Embedder | str | None = None,
    backend_factory: Callable[[str], Backend] | None = None,
    load: LoadOptions | None = None,
    endpoints: Endpoints | None = None,
    resume: str | Path | None = None,
) -> EvalResult:
    """Evaluate every config on the suite; see the module docstring for what happens.

    `embedder`: an Embedder, or a sentence-transformers folder or hub id (None: the setting).
    `backend_factory(model)` builds the backend for a model name, as `Engine` takes it (e.g.
    an upstream OpenAI-compatible server); by default models load locally, once per run, placed
    by `load` (device, dtype, quantization), as is the embedder. `endpoints`: the keys,
    timeout and retries of `MODEL@URL` configs (default: no key but $OUTWEIGH_UPSTREAM_API_KEY).
    `resume`: a journal file (`outweigh.eval.journal`) that every scored answer is appended
    to; answers it already holds are taken from it, not asked again.
    """
    started = time.perf_counter()
    options = options or EvalOptions()
    options.validate()
    specs = parse_specs(str(c) for c in configs)
    suite = (suite if isinstance(suite, Suite) else load_suite(suite)).limited(options.limit)
    paths = paths or Paths()
    endpoints = endpoints or Endpoints.parse([])
    params = _preflight(specs, paths, backend_factory, endpoints)
    judge = options.judge_spec()
    if judge is not None:
        grader.check(judge, paths, backend_factory, endpoints)
    progress = progress or (lambda task, done, total: None)
    run_id = secrets.token_hex(4)
    journal = None
    if resume is not None:
        head = header(suite, [str(s) for s in specs], options, run_id)
        journal = Journal(Path(resume).expanduser(), head)
        run_id = journal.previous_run or run_id
    base = Engine(paths, embedder=embedder, load=load)
    runs = _Runs(paths, specs, backend_factory, load, endpoints)
    collection = f"eval-{run_id}"
    ingested = False
    gold: dict[str, str] = {}
    non_embedding: dict[str, int] = {}
    try:
        if journal is not None and journal.previous_run:
            _clean_up(base, run_id, len(specs), suite)  # what a killed try left behind
        retrieved: dict[int, list[str]] = {}
        if suite.questions and suite.docs is not None and any(s.rag for s in specs):
            ingested = True
            retrieved = _ingest(base, suite, suite.docs, collection, options.k, progress)
            if options.reader_gap:
                gold = _ingest_gold(base, suite, suite.docs, collection, progress)
        records: list[Record] = []
        results: dict[str, dict[str, float | None]] = {}
        intervals: dict[str, dict[str, tuple[float, float]]] = {}
        for i, spec in enumerate(specs):
            sourced = sum(q.source in gold for q in suite.questions) if spec.rag else 0
            total = len(suite.questions) + sourced + len(suite.style) + len(suite.memory)
            progress(str(spec), 0, total)
            backend = runs.backend(spec)
            if spec.model not in non_embedding and (counted := _count_params(backend)):
                params[spec.model], non_embedding[spec.model] = counted
            ctx = _Config(
                spec,
                str(spec),
                options,
                base.embedder,
                backend,
                paths,
                collection,
                namespace=f"eval-{run_id}-{i}-",
                gold=gold,
                journal=journal,
            )
            del backend
            m.reset_peak_rss()
            m.reset_peak_vram()
            tick = functools.partial(_tick, progress, ctx.label, total)
            mine = list(ctx.run(suite, retrieved, tick))
            results[ctx.label], intervals[ctx.label] = _aggregate(spec, mine, options.seed)
            records.extend(mine)
            del ctx  # the last reference to the backend but the pool's, so done() can free it
            runs.done(i)
        if judge is not None:
            grader.grade(
                judge,
                records,
                options.seed,
                paths,
                backend_factory,
                load,
                endpoints,
                journal,
                progress,
            )
            for label in results:
                mine = [r for r in records if r.config == label]
                values, cis = grader.scores(mine, options.seed)
                results[label].update(values)
                intervals[label].update(cis)
        vram_notes = per_gb(specs, results, options.k)
    finally:
        if ingested:
            for name in [collection, *gold.values()]:
                _drop(base, name)
        runs.close()
        base.close()
        if journal is not None:
            journal.close()
    return EvalResult(
        suite=suite.name,
        configs=[str(s) for s in specs],
        results=results,
        intervals=intervals,
        records=records,
        options=options,
        params={str(s): params[s.model] for s in specs},
        non_embedding_params={str(s): non_embedding.get(s.model, 0) for s in specs},
        seconds=time.perf_counter() - started,
        vram_notes=vram_notes,
    )


def _tick(progress: Progress, label: str, total: int, done: int) -> None:
    progress(label, done, total)


def _preflight(
    specs: list[ConfigSpec],
    paths: Paths,
    factory: Callable[[str], Backend] | None,
    endpoints: Endpoints,
) -> dict[str, int]:
    """Each config through the engine's preflight: an unknown model or adapter, or an adapter
    trained on another base, fails before anything loads; each endpoint answers one token
    (`Endpoints.check`). The parameter counts come from the catalog, 0 when it lacks them."""
    from outweigh.models.catalog import catalog

    known = catalog()
    for spec in specs:
        if spec.endpoint is not None:
            continue  # the server knows its own models and adapters: Endpoints.check asks it
        with Engine(paths, model=spec.model, backend_factory=factory) as engine:
            engine.preflight(AskOptions(rag=False, memory=False, adapter=spec.adapter))
    endpoints.check(specs)
    return {s.model: known[s.model].params if s.model in known else 0 for s in specs}


def _ingest(
    engine: Engine, suite: Suite, docs: Path, collection: str, k: int, progress: Progress
) -> dict[int, list[str]]:
    """Ingest docs/ once; return the top-k retrieved sources per question line."""
    task = f"ingest {docs.name}/"
    done = [0]

    def on_file(path: str, total: int) -> None:
        done[0] += 1
        progress(task, done[0], total)

    report = engine.ingest([docs], collection, on_file=on_file)
    if report.failed:
        path, reason = report.failed[0]
        raise InputError(f"suite document failed to ingest: {reason}; fix or remove {path}")
    return {
        q.line: [shown(h.source, docs) for h in engine.search(q.question, collection, k)]
        for q in suite.questions
    }


def _ingest_gold(
    engine: Engine, suite: Suite, docs: Path, collection: str, progress: Progress
) -> dict[str, str]:
    """Each gold document of the questions in a collection of its own, for the gold-only pass:
    gold source -> collection. Retrieval inside one document gives its best k chunks, all of
    it when it has k or fewer."""
    sources = sorted({q.source for q in suite.questions if q.source})
    out: dict[str, str] = {}
    for j, source in enumerate(sources):
        name = f"{collection}-gold{j}"
        out[source] = name
        report = engine.ingest([docs / source], name)
        if report.failed:
            raise InputError(f"gold document failed to ingest: {report.failed[0][1]}; fix {source}")
        progress(f"ingest gold documents of {docs.name}/", j + 1, len(sources))
    return out


def _count_params(backend: Backend) -> tuple[int, int] | None:
    """(total, non-embedding) parameters of a locally loaded model; None for one served
    elsewhere. The embedding is the input token table (vocab x hidden) plus the output head
    when it is a tensor of its own (an untied lm_head); parameters are counted once each.
    Counted before the config runs, once per model, so adapters loaded later do not count."""
    counts = getattr(backend, "parameter_counts", None)
    if counts is not None:  # llama.cpp counts its own GGUF
        return counts()
    loaded = getattr(backend, "loaded", None)
    model = getattr(loaded, "model", None)
    if model is None or not hasattr(model, "get_input_embeddings"):
        return None
    total = sum(p.numel() for p in model.parameters())  # parameters() skips tied duplicates
    tables = {id(e.weight): e.weight.numel() for e in (model.get_input_embeddings(),)}
    head = model.get_output_embeddings()
    if head is not None:
        tables.setdefault(id(head.weight), head.weight.numel())
    return total, total - sum(tables.values())


def shown(source: str, docs: Path | None) -> str:
    """A stored source as the suite names it: its path under docs/ ("hr/policies.md"), so a
    gold path with a folder matches; the file name for anything else."""
    path = Path(source)
    if docs is not None:
        with contextlib.suppress(ValueError):
            return path.relative_to(docs.resolve()).as_posix()
    return path.name


def _clean_up(engine: Engine, run_id: str, configs: int, suite: Suite) -> None:
    """Remove what a killed try of run `run_id` left: its private collections and the memory
    its replays stored, so the resumed run starts from the same empty state."""
    for info in engine.collections():
        if info.name == f"eval-{run_id}" or info.name.startswith(f"eval-{run_id}-gold"):
            _drop(engine, info.name)
    for i in range(configs):
        for user in sorted({step.user for step in suite.memory}):
            engine.forget_all(f"eval-{run_id}-{i}-{user}")


def _drop(engine: Engine, collection: str) -> None:
    """Remove the run's private collection and its vector index."""
    with contextlib.suppress(NotFoundError):  # ingestion failed before it made the collection
        engine.drop_collection(collection)


class _Runs:
    """Loads each model once per run (or opens one connection per endpoint and model), in an
    engine of its own (whose adapter registry the backend reads), and closes that engine after
    the last config that uses it."""

    def __init__(
        self,
        paths: Paths,
        specs: list[ConfigSpec],
        factory: Callable[[str], Backend] | None,
        load: LoadOptions | None = None,
        endpoints: Endpoints | None = None,
    ) -> None:
        self.paths = paths
        self.load = load
        self.specs = specs
        self.factory = factory
        self.endpoints = endpoints or Endpoints()
        self.engines: dict[tuple[str, str | None], Engine] = {}

    def backend(self, spec: ConfigSpec) -> Backend:
        key = spec.runs_on
        if key not in self.engines:
            factory = self.factory
            if spec.endpoint is not None:
                factory = functools.partial(self.endpoints.backend, spec)
            self.engines[key] = Engine(
                self.paths, model=spec.model, backend_factory=factory, load=self.load
            )
        return self.engines[key].backend()

    def done(self, i: int) -> None:
        key = self.specs[i].runs_on
        if key in self.engines and all(s.runs_on != key for s in self.specs[i + 1 :]):
            self.engines.pop(key).close()
            gc.collect()  # the weights go now, so the next config's peak RSS is its own

    def close(self) -> None:
        """Close the engines still open: those of a run that stopped early."""
        while self.engines:
            self.engines.popitem()[1].close()


@dataclass
class _Config:
    """One config answering one suite."""

    spec: ConfigSpec
    label: str
    options: EvalOptions
    embedder: Embedder
    backend: Backend
    paths: Paths
    collection: str
    namespace: str = ""
    """Prefix for memory users and sessions, so each config starts with an empty memory and the
    user's own memories are never read or written."""
    gold: dict[str, str] = field(default_factory=dict)
    """Gold source -> a collection holding only it, for the gold-only pass (`--reader-gap`)."""
    journal: Journal | None = None
    """`--resume`: answers already scored are taken from it, new ones appended to it."""

    def engine(self) -> Engine:
        return Engine(self.paths, embedder=self.embedder, backend=self.backend)

    def ask(self, engine: Engine, text: str, max_tokens: int, **kw: Any) -> tuple[Answer, float]:
        opts = AskOptions(
            max_tokens=max_tokens,
            temperature=0.0,
            seed=self.options.seed,
            adapter=self.spec.adapter,
            **kw,
        )
        t0 = time.perf_counter()
        answer = engine.chat([{"role": "user", "content": text}], opts)
        return answer, time.perf_counter() - t0

    def _rag(self, collection: str | None = None) -> dict[str, Any]:
        """Retrieval options: the run's collection (or `collection`) for +rag, else none."""
        if not self.spec.rag:
            return {"rag": False}
        return {"rag": True, "collection": collection or self.collection, "k": self.options.k}

    def run(
        self, suite: Suite, retrieved: dict[int, list[str]], tick: Callable[[int], None]
    ) -> Iterator[Record]:
        done = 0
        with self.engine() as engine:
            for q in suite.questions:
                steps = 2 if self.spec.rag and q.source in self.gold else 1
                if self.journal and (kept := self.journal.get(self.label, "facts", q.line)):
                    done += steps
                    tick(done)
                    yield kept
                    continue
                answer, dt = self.ask(
                    engine, q.question, self.options.max_tokens, **self._rag(), memory=False
                )
                if q.abstain:  # right: says it does not know, cites nothing
                    correct = m.abstains(answer.answer) and not answer.citations
                else:
                    correct = m.accuracy(answer.answer, q.answers)
                context = [shown(c.source, suite.docs) for c in answer.context]
                record = Record(
                    config=self.label,
                    part="facts",
                    line=q.line,
                    prompt=q.question,
                    expected=list(q.answers),
                    answer=answer.answer,
                    correct=correct,
                    seconds=dt,
                    completion_tokens=answer.usage["completion_tokens"],
                    exact=m.exact_match(answer.answer, q.answers),
                    f1=m.f1(answer.answer, q.answers),
                    source=q.source,
                    cited=[shown(c.source, suite.docs) for c in answer.citations],
                    cited_where=[c.where for c in answer.citations],
                    cited_text=[c.excerpt or c.text for c in answer.citations],
                    retrieved=retrieved.get(q.line, []) if self.spec.rag else [],
                    context=context,
                    concise=m.concise(answer.answer, q.answers),
                    diagnosis=m.diagnosis(correct, context, q.source)
                    if self.spec.rag and q.source
                    else None,
                    adapter=answer.adapter,
                    category=q.kind,
                    abstain=q.abstain,
                )
                done += 1
                tick(done)
                if self.spec.rag and q.source in self.gold:
                    alone, _ = self.ask(
                        engine,
                        q.question,
                        self.options.max_tokens,
                        **self._rag(self.gold[q.source]),
                        memory=False,
                    )
                    record.gold_only = m.accuracy(alone.answer, q.answers)
                    done += 1
                    tick(done)
                if self.journal:
                    self.journal.add(record)
                yield record
            for case in suite.style:
                if self.journal and (kept := self.journal.get(self.label, "style", case.line)):
                    done += 1
                    tick(done)
                    yield kept
                    continue
                answer, dt = self.ask(
                    engine, case.prompt, self.options.style_max_tokens, rag=False, memory=False
                )
                record = Record(
                    config=self.label,
                    part="style",
                    line=case.line,
                    prompt=case.prompt,
                    expected=[case.description],
                    answer=answer.answer,
                    correct=case.check(answer.answer),
                    seconds=dt,
                    completion_tokens=answer.usage["completion_tokens"],
                    adapter=answer.adapter,
                )
                if self.journal:
                    self.journal.add(record)
                yield record
                done += 1
                tick(done)
        yield from self._memory(suite, done, tick)

    def _memory(self, suite: Suite, done: int, tick: Callable[[int], None]) -> Iterator[Record]:
        """Replay memory.jsonl in order; every (user, session) runs in a fresh engine. With a
        journal the replay is kept or redone whole: each step reads what earlier ones stored."""
        if self.journal and (kept := self.journal.memories.get(self.label)) is not None:
            tick(done + len(suite.memory))
            yield from kept
            return
        replayed: list[Record] = []
        try:
            for _, steps in itertools.groupby(suite.memory, lambda s: (s.user, s.session)):
                with self.engine() as engine:
                    for step in steps:
                        record = self._replay(engine, step)
                        if record is not None:
                            replayed.append(record)
                        done += 1
                        tick(done)
        finally:
            if suite.memory:
                self._forget({step.user for step in suite.memory})
        if self.journal and suite.memory:
            self.journal.add_memory(self.label, replayed)
        yield from replayed

    def _replay(self, engine: Engine, step: MemoryStep) -> Record | None:
        """Send one memory.jsonl line as its user; the scored record of an `ask`."""
        mem = {
            "rag": False,
            "memory": self.spec.memory,
            "user": self.namespace + step.user,
            "session": self.namespace + step.session,
        }
        limit = self.options.max_tokens if step.is_ask else SAY_MAX_TOKENS
        answer, dt = self.ask(engine, step.text, limit, **mem)
        if not step.is_ask:
            return None
        return Record(
            config=self.label,
            part="memory",
            line=step.line,
            prompt=step.text,
            expected=list(step.answers) or ["(abstain)"],
            answer=answer.answer,
            correct=m.memory_correct(answer.answer, step.answers, step.abstain, step.forbidden),
            seconds=dt,
            completion_tokens=answer.usage["completion_tokens"],
            user=step.user,
            session=step.session,
            category=step.category,
            adapter=answer.adapter,
        )

    def _forget(self, users: set[str]) -> None:
        """Delete what the replay stored: eval users must not linger in the user's db."""
        with self.engine() as engine:
            for user in sorted(users):
                engine.forget_all(self.namespace + user)


def _aggregate(
    spec: ConfigSpec, records: list[Record], seed: int
) -> tuple[dict[str, float | None], dict[str, tuple[float, float]]]:
    """The config's metrics, and the 95% bootstrap interval of each rate (`eval.stats`)."""
    rates = _rates(spec, records)
    out: dict[str, float | None] = {k: m.mean(v) for k, v in rates.items()}
    gold_only, with_rag = out["gold_only_accuracy"], m.mean(rates["_gold_with_rag"])
    del out["_gold_with_rag"]
    facts = [r for r in records if r.part == "facts" and not r.abstain]
    out.update(
        cited_per_answer=m.mean(len(r.cited) for r in facts) if spec.rag else None,
        reader_gap=None if gold_only is None or with_rag is None else gold_only - with_rag,
        latency_p50_s=m.p50([r.seconds for r in records]),
        tokens_per_s=m.tokens_per_s(
            [r.completion_tokens for r in records], [r.seconds for r in records]
        ),
        peak_rss_mb=m.peak_rss_mb(),
        peak_vram_mb=m.peak_vram_mb(),
    )
    order = [x.key for x in m.METRICS]
    results = {k: out.get(k) for k in order}
    intervals = {
        k: ci for k in order if k in rates and (ci := bootstrap_ci(rates[k], seed)) is not None
    }
    return results, intervals


def _rates(spec: ConfigSpec, records: list[Record]) -> dict[str, list[float]]:
    """Each rate's per-question values (1/0, or F1), which its mean and interval come from;
    a rate with no values does not apply to this config."""
    asked = [r for r in records if r.part == "facts"]
    facts = [r for r in asked if not r.abstain]
    unanswerable = [r for r in asked if r.abstain]
    sourced = [r for r in facts if r.source] if spec.rag else []
    gold = [r for r in sourced if r.gold_only is not None]
    memory = [r for r in records if r.part == "memory"]
    return {
        "accuracy": [r.correct for r in facts],
        "concise_accuracy": [bool(r.concise) for r in facts],
        "exact_match": [bool(r.exact) for r in facts],
        "f1": [r.f1 or 0.0 for r in facts],
        "citation_accuracy": [m.any_source(r.cited, r.source or "") for r in sourced],
        "cite_rate": [bool(r.cited) for r in asked] if spec.rag else [],
        "abstention": [r.correct for r in unanswerable],
        "false_abstention": [m.abstains(r.answer) for r in facts],
        "retrieval_recall_at_k": [m.any_source(r.retrieved, r.source or "") for r in sourced],
        **{d: [r.diagnosis == d for r in sourced] for d in m.DIAGNOSES[1:]},
        "gold_only_accuracy": [bool(r.gold_only) for r in gold],
        "_gold_with_rag": [r.correct for r in gold],
        "style_adherence": [r.correct for r in records if r.part == "style"],
        "memory_recall": [r.correct for r in memory],
        **{
            "memory_" + c.replace("-", "_"): [r.correct for r in memory if r.category == c]
            for c in CATEGORIES
        },
    }  # type: ignore[dict-item]  # bools are the 1/0 of a rate
