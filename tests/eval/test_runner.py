"""The runner's invariants through the shipped fakes (the model is not what these test).

EchoBackend answers with the prompt it was given, so a config "knows" a fact exactly when its
prompt holds it: retrieval puts the gold passage there, a bare prompt does not.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from outweigh.engine import Engine
from outweigh.errors import InputError, NotFoundError
from outweigh.eval import EvalOptions, run_eval
from outweigh.eval.report import write_json
from outweigh.retrieval.store import Store
from outweigh.settings import Paths
from outweigh.testing import EchoBackend, FakeEmbedder
from tests.conftest import SUITE
from tests.eval.conftest import MakeSuite

DOCS = {
    "policies.md": "Visitors at the dock wear amber badges at all times.",
    "safety.txt": "The internal safety line is extension 4471, staffed day and night.",
    "otter.md": "The cooperative's otter mascot is called Grumbold.",
}
QUESTIONS = [
    {
        "question": "What colour badges do visitors wear?",
        "answers": ["amber"],
        "source": "policies.md",
    },
    {"question": "What is the safety line extension?", "answers": ["4471"], "source": "safety.txt"},
    {"question": "Name of the otter mascot?", "answers": ["Grumbold"], "source": "otter.md"},
]
STYLE = [{"prompt": "Write to the crew, then sign off.", "check": {"regex": "crew"}}]
OPTS = EvalOptions(k=1, max_tokens=400)


def echo(model: str) -> EchoBackend:
    return EchoBackend(name=model, context_window=4096)


@pytest.fixture
def suite(make_suite: MakeSuite) -> Path:
    return make_suite(questions=QUESTIONS, style=STYLE, docs=DOCS)


def run(suite: Path, configs: list[str], paths: Paths, **kw):
    return run_eval(
        suite, configs, kw.pop("options", OPTS), paths, embedder=FakeEmbedder(),
        backend_factory=echo, **kw,
    )  # fmt: skip


def test_retrieval_puts_the_facts_in_front_of_the_model(suite: Path, paths: Paths) -> None:
    result = run(suite, ["m", "m+rag"], paths)
    bare, rag = result.results["m"], result.results["m+rag"]
    assert bare["accuracy"] == 0.0 and rag["accuracy"] == 1.0
    assert rag["retrieval_recall_at_k"] == 1.0 and rag["citation_accuracy"] == 1.0
    # Metrics that do not apply are None, not 0: the bare model retrieves nothing.
    assert bare["retrieval_recall_at_k"] is None and bare["citation_accuracy"] is None
    assert bare["style_adherence"] == rag["style_adherence"] == 1.0  # the echo repeats "crew"
    assert bare["memory_recall"] is None
    assert all(r["latency_p50_s"] > 0 and r["peak_rss_mb"] > 0 for r in result.results.values())
    assert len(result.records) == 2 * (len(QUESTIONS) + len(STYLE))


def test_the_run_is_private_and_leaves_no_trace(suite: Path, paths: Paths) -> None:
    engine = Engine(paths, embedder=FakeEmbedder())
    engine.ingest([suite / "docs" / "policies.md"], "default")
    before = [(d.collection, d.source) for d in engine.store.documents()]
    engine.close()
    run(suite, ["m+rag"], paths)
    store = Store(paths)
    assert [c.name for c in store.collections()] == ["default"]
    assert [(d.collection, d.source) for d in store.documents()] == before
    assert not list(paths.index_dir.glob("eval-*"))


MISLED = {
    # Its words are all safety.txt's, so retrieval (k=1) brings that, not the gold otter.md.
    "question": "Which safety line extension is staffed day and night?",
    "answers": ["Grumbold"],
    "source": "otter.md",
}


def echo_or_shrug(model: str) -> EchoBackend:
    """`m` repeats its prompt (it knows what the prompt holds); `shrug` never knows."""
    if model == "shrug":
        return EchoBackend(name=model, reply="No idea, sorry.", context_window=4096)
    return echo(model)


def test_diagnosis_citations_and_reader_gap(make_suite: MakeSuite, paths: Paths) -> None:
    root = make_suite(questions=[*QUESTIONS, MISLED], docs=DOCS, name="diagnosis")
    options = EvalOptions(k=1, max_tokens=400, reader_gap=True)
    result = run_eval(
        root, ["m+rag", "shrug+rag"], options, paths, embedder=FakeEmbedder(),
        backend_factory=echo_or_shrug,
    )  # fmt: skip
    facts = {(r.config, r.line): r for r in result.records if r.part == "facts"}
    assert [facts["m+rag", i].diagnosis for i in (1, 2, 3, 4)] == ["right"] * 3 + ["retrieval_miss"]
    assert facts["m+rag", 4].context == ["safety.txt"]
    assert [facts["shrug+rag", i].diagnosis for i in (1, 2, 3, 4)] == ["reading_miss"] * 3 + [
        "retrieval_miss"
    ]
    m, shrug = result.results["m+rag"], result.results["shrug+rag"]
    assert (m["retrieval_miss"], m["reading_miss"]) == (0.25, 0.0)
    assert (shrug["retrieval_miss"], shrug["reading_miss"]) == (0.25, 0.75)
    # No fallback: an answer that rests on no passage cites none, and scores 0.
    assert all(facts["shrug+rag", i].cited == [] for i in (1, 2, 3, 4))
    assert shrug["citation_accuracy"] == 0.0 and shrug["cited_per_answer"] == 0.0
    # Given only otter.md, the echo answers the misled question too; the shrug never does.
    assert facts["m+rag", 4].gold_only is True and not facts["m+rag", 4].correct
    assert m["gold_only_accuracy"] == 1.0 and m["reader_gap"] == 0.25
    assert shrug["gold_only_accuracy"] == 0.0 and shrug["reader_gap"] == 0.0
    store = Store(paths)  # the gold-only collections are gone with the run's own
    assert [c.name for c in store.collections()] == []


def test_an_answer_that_repeats_the_prompt_is_right_but_not_concise(paths: Paths) -> None:
    """The echo holds every retrieved answer, and the whole prompt with it."""
    result = run(SUITE, ["m+rag"], paths, options=EvalOptions(k=3, max_tokens=400, limit=5))
    rag = result.results["m+rag"]
    assert rag["accuracy"] == 1.0 and rag["concise_accuracy"] == 0.0


def test_progress_reaches_every_total(suite: Path, paths: Paths) -> None:
    seen: dict[str, tuple[int, int]] = {}
    run(suite, ["m", "m+rag"], paths, progress=lambda t, d, n: seen.__setitem__(t, (d, n)))
    assert seen["m"] == seen["m+rag"] == (4, 4)
    assert seen["ingest docs/"] == (3, 3)


def test_limit_and_determinism(suite: Path, paths: Paths) -> None:
    opts = EvalOptions(k=1, max_tokens=400, limit=2)
    one = run(suite, ["m+rag"], paths, options=opts)
    two = run(suite, ["m+rag"], paths, options=opts)
    assert [r.answer for r in one.records] == [r.answer for r in two.records]
    assert [r.line for r in one.records if r.part == "facts"] == [1, 2]


def test_retrieval_hurt_lists_right_without_and_wrong_with(
    make_suite: MakeSuite, paths: Paths
) -> None:
    # The question itself holds the answer, so the bare echo is right; with k=1 retrieval
    # fetches a passage about the word "dock" and the truncated echo loses the answer.
    q = {"question": "Is dock badge amber?", "answers": ["amber"], "source": "policies.md"}
    docs = {"policies.md": "dock " * 30 + "nothing else", "other.md": "unrelated text"}
    root = make_suite(questions=[q], docs=docs, name="hurt")
    result = run(root, ["m", "m+rag"], paths, options=EvalOptions(k=1, max_tokens=12))
    hurt = result.retrieval_hurt()
    assert [(h.without, h.with_rag, h.right.line) for h in hurt] == [("m", "m+rag", 1)]


def test_json_has_the_documented_shape(suite: Path, paths: Paths, tmp_path: Path) -> None:
    import json

    result = run(suite, ["m", "m+rag"], paths)
    doc = json.loads(write_json(result, tmp_path / "out.json").read_text("utf-8"))
    assert doc["suite"] == "suite"
    assert set(doc["results"]) == {"m", "m+rag"}
    assert {"accuracy", "f1", "latency_p50_s", "tokens_per_s"} <= set(doc["results"]["m"])
    assert len(doc["per_question"]) == len(result.records)
    assert {"config", "part", "prompt", "expected", "answer", "correct"} <= set(
        doc["per_question"][0]
    )
    rag = next(q for q in doc["per_question"] if q["config"] == "m+rag" and q["part"] == "facts")
    assert rag["diagnosis"] == "right" and rag["cited"] == rag["context"] == ["policies.md"]
    assert set(doc["params"]) == set(doc["non_embedding_params"]) == {"m", "m+rag"}


def test_bad_configs_fail_before_anything_runs(suite: Path, paths: Paths) -> None:
    with pytest.raises(NotFoundError, match="unknown model 'nope'"):
        run_eval(suite, ["nope+rag"], OPTS, paths)
    with pytest.raises(InputError, match="unknown part"):
        run_eval(suite, ["smollm2-135m+rga"], OPTS, paths)
    with pytest.raises(InputError, match="--limit"):
        run_eval(suite, ["smollm2-135m"], EvalOptions(limit=0), paths)
    assert not paths.db.exists() or Store(paths).collections() == []


def test_option_text_is_checked() -> None:
    assert EvalOptions.parse(k="2", max_tokens="8", seed="1", limit="3") == EvalOptions(
        k=2, max_tokens=8, seed=1, limit=3
    )
    for kw, says in [
        ({"k": "0"}, "`-k` must be at least 1"),
        ({"k": "two"}, "`-k` must be a whole number"),
        ({"max_tokens": "-1"}, "`--max-tokens`"),
        ({"seed": "-3"}, "`--seed`"),
        ({"limit": "1.5"}, "`--limit` must be a whole number"),
    ]:
        with pytest.raises(InputError, match=says):
            EvalOptions.parse(**kw)


MEMORY = [
    {"user": "ana", "session": "mon", "say": "My boat is called the Brisket Moon."},
    {"user": "bo", "session": "mon", "say": "My locker number is 318."},
    {
        "user": "ana",
        "session": "fri",
        "ask": "What is my boat called?",
        "answers": ["Brisket Moon"],
    },
    {"user": "bo", "session": "fri", "ask": "What is my locker number?", "answers": ["318"]},
    {"user": "bo", "session": "fri", "ask": "What is my boat called?", "answers": ["Brisket Moon"]},
]


def test_memory_is_recalled_only_with_memory_and_only_for_its_user(
    make_suite: MakeSuite, paths: Paths
) -> None:
    root = make_suite(memory=MEMORY, name="mem")
    result = run(root, ["m", "m+memory"], paths)
    # The echo repeats its prompt, so a fact is "recalled" exactly when memory put it there.
    asks = [(r.config, r.user, r.correct) for r in result.records if r.part == "memory"]
    assert asks == [
        ("m", "ana", False),
        ("m", "bo", False),
        ("m", "bo", False),
        ("m+memory", "ana", True),
        ("m+memory", "bo", True),
        ("m+memory", "bo", False),  # Ana's boat never reaches Bo
    ]
    assert result.results["m+memory"]["memory_recall"] == pytest.approx(2 / 3)


def test_memory_is_reported_per_category(make_suite: MakeSuite, paths: Paths) -> None:
    memory = [
        {"user": "ana", "session": "1", "say": "I live in Tver."},
        {"user": "ana", "session": "2", "say": "I have just moved from Tver to Pskov."},
        {"user": "ana", "session": "3", "ask": "Where do I live?", "answers": ["Pskov"],
         "category": "updates", "forbidden": ["Tver"]},
        {"user": "ana", "session": "3", "ask": "What car do I drive?", "abstain": True,
         "category": "abstention"},
        {"user": "bo", "session": "3", "ask": "Where do I live?", "abstain": True,
         "category": "isolation", "forbidden": ["Pskov"]},
    ]  # fmt: skip
    result = run(make_suite(memory=memory, name="cats"), ["m+memory"], paths)
    got = result.results["m+memory"]
    # The echo repeats its prompt: the move statement holds "Tver" too, so the update is
    # scored wrong by its own forbidden value; the unknown ones are answered "don't know".
    assert got["memory_updates"] == 0.0
    assert got["memory_abstention"] == 1.0 and got["memory_isolation"] == 1.0
    assert got["memory_facts"] is None  # no ask of that category
    assert [r.category for r in result.records] == ["updates", "abstention", "isolation"]


def test_the_replay_leaves_the_users_own_memory_alone(make_suite: MakeSuite, paths: Paths) -> None:
    from outweigh.memory import MemoryStore

    store = MemoryStore(paths, embedder=FakeEmbedder())
    store.remember("ana", "My boat is called the Real Boat.")
    before = [m.text for m in store.list("ana")]
    store.close()
    run(make_suite(memory=MEMORY, name="mem"), ["m+memory"], paths)
    store = MemoryStore(paths, embedder=FakeEmbedder())
    assert [m.text for m in store.list("ana")] == before
    users = {r[0] for r in store.conn.execute("SELECT DISTINCT user FROM memories")}
    turns = {r[0] for r in store.conn.execute("SELECT DISTINCT user FROM memory_turns")}
    assert users == {"ana"} and turns <= {"ana"}  # the run's namespaced users are gone


def test_a_gold_document_in_a_folder_is_found_in_context_and_citations(
    make_suite: MakeSuite, paths: Paths
) -> None:
    docs = {"hr/policies.md": DOCS["policies.md"], "safety.txt": DOCS["safety.txt"]}
    root = make_suite(questions=[{**QUESTIONS[0], "source": "hr/policies.md"}], docs=docs)
    result = run(root, ["m+rag"], paths)
    [record] = [r for r in result.records if r.part == "facts"]
    assert record.cited == record.context == record.retrieved == ["hr/policies.md"]
    assert record.diagnosis == "right"
    assert result.results["m+rag"]["citation_accuracy"] == 1.0


def dont_know_or_echo(model: str) -> EchoBackend:
    """`idk` always says it does not know; `m` repeats its prompt, citing what it holds."""
    if model == "idk":
        return EchoBackend(name=model, reply="I don't know: the context does not say.")
    return echo(model)


def test_unanswerable_questions_score_abstention_and_kinds_are_reported(
    make_suite: MakeSuite, paths: Paths
) -> None:
    unanswerable = {"question": "What is the dock's fax number?", "abstain": True}
    kinds = [{**q, "kind": k} for q, k in zip(QUESTIONS, ("rule", "number", "name"), strict=True)]
    root = make_suite(questions=[*kinds, {**unanswerable, "kind": "unanswerable"}], docs=DOCS)
    result = run_eval(
        root, ["m+rag", "idk+rag"], OPTS, paths, embedder=FakeEmbedder(),
        backend_factory=dont_know_or_echo,
    )  # fmt: skip
    m, idk = result.results["m+rag"], result.results["idk+rag"]
    # The echo states what its passages say, cited: right on every answerable question,
    # wrong on the unanswerable one. "I don't know" is the reverse.
    assert (m["accuracy"], m["abstention"], m["false_abstention"]) == (1.0, 0.0, 0.0)
    assert (idk["accuracy"], idk["abstention"], idk["false_abstention"]) == (0.0, 1.0, 1.0)
    assert m["cite_rate"] == 1.0 and idk["cite_rate"] == 0.0
    assert result.by_kind() == {
        "name": {"m+rag": 1.0, "idk+rag": 0.0},
        "number": {"m+rag": 1.0, "idk+rag": 0.0},
        "rule": {"m+rag": 1.0, "idk+rag": 0.0},
        "unanswerable": {"m+rag": 0.0, "idk+rag": 1.0},
    }
    from outweigh.eval.report import markdown

    assert "| unanswerable | 0.00 | 1.00 |" in markdown(result)
