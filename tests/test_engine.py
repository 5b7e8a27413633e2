import pytest

from outweigh import AskOptions, Engine, InputError, NotFoundError
from outweigh.retrieval.select import NONE
from outweigh.testing import EchoBackend, FakeEmbedder


@pytest.fixture
def engine(paths, suite_docs):
    e = Engine(paths, embedder=FakeEmbedder(), backend=EchoBackend(reply="ok"))
    e.ingest([suite_docs], "suite")
    yield e
    e.close()


def test_context_is_numbered_in_rank_order_and_ok_cites_none_of_it(engine):
    # Selection off: this is about the prompt's layout of whatever passages go in.
    opts = AskOptions(collection="suite", k=3, selection=NONE)
    answer = engine.ask("Heron-7 maximum depth", opts)
    assert [c.n for c in answer.context] == [1, 2, 3]
    prompt = engine.backend().requests[-1].messages[-1]["content"]
    positions = [prompt.index(f"[{c.n}] ") for c in answer.context]
    assert positions == sorted(positions)
    assert prompt.rstrip().endswith("Question: Heron-7 maximum depth")
    assert all(c.text in prompt for c in answer.context)
    # "ok" rests on no passage: no citation, not every passage by default.
    assert answer.citations == []
    assert answer.to_dict()["citations"] == []


def test_no_rag_sends_no_context(engine):
    answer = engine.ask("Heron-7 maximum depth", AskOptions(rag=False))
    assert answer.citations == answer.context == []
    assert "Context:" not in engine.backend().requests[-1].messages[-1]["content"]


def test_context_is_cut_to_the_token_budget(paths, suite_docs):
    backend = EchoBackend(reply="ok", context_window=400)
    e = Engine(paths, embedder=FakeEmbedder(), backend=backend)
    e.ingest([suite_docs], "suite")
    opts = AskOptions(collection="suite", k=10, max_tokens=100, selection=NONE)
    answer = e.ask("Heron-7 depth", opts)
    sent = backend.count_prompt_tokens(backend.requests[-1].messages)
    assert 1 <= len(answer.context) < 10
    assert sent + 100 <= 400


def test_a_conversation_too_long_for_the_window_is_refused(paths):
    e = Engine(paths, embedder=FakeEmbedder(), backend=EchoBackend(context_window=50))
    with pytest.raises(InputError, match="over echo's 50-token window"):
        e.ask("word " * 100, AskOptions(rag=False))


def test_bad_options_and_unknown_collection(engine):
    with pytest.raises(NotFoundError, match="unknown collection 'nope'; ingest"):
        engine.ask("q", AskOptions(collection="nope"))
    for bad in (AskOptions(k=0), AskOptions(max_tokens=0), AskOptions(temperature=-1)):
        with pytest.raises(InputError):
            engine.ask("q", bad)
    with pytest.raises(InputError, match="empty"):
        engine.ask("   ", AskOptions(rag=False))


@pytest.mark.slow
def test_real_small_model_answers_from_the_documents(paths, embedder, smol_backend, suite_docs):
    e = Engine(paths, embedder=embedder, backend=smol_backend)
    e.ingest([suite_docs], "suite")
    q = "What is the maximum depth the Heron-7 submersible is rated to?"
    bare = e.ask(q, AskOptions(rag=False, max_tokens=40))
    grounded = e.ask(q, AskOptions(collection="suite", k=3, max_tokens=40))
    assert "412" not in bare.answer
    assert "412" in grounded.answer
    assert [c.source.rsplit("/", 1)[-1] for c in grounded.citations] == ["equipment.md"]
    # Three whole chunks in the prompt: cited is the one that holds 412, not the others.
    whole = e.ask(q, AskOptions(collection="suite", k=3, max_tokens=40, selection=NONE))
    assert "412" in whole.answer and len(whole.context) == 3
    assert [c.source.rsplit("/", 1)[-1] for c in whole.citations] == ["equipment.md"]
    assert "412" in whole.citations[0].text
    assert grounded.usage["prompt_tokens"] > bare.usage["prompt_tokens"]
    assert 0 < grounded.usage["completion_tokens"] <= 40


@pytest.mark.slow
def test_streaming_gives_the_same_text_as_generate(paths, embedder, smol_backend):
    e = Engine(paths, embedder=embedder, backend=smol_backend)
    opts = AskOptions(rag=False, max_tokens=24)
    whole = e.ask("Name three colours.", opts).answer
    _, pieces = e.stream([{"role": "user", "content": "Name three colours."}], opts)
    assert "".join(pieces).strip() == whole


def test_a_collections_leads_follow_its_documents(engine, tmp_path):
    # The first words of its file names, which the reader's answers are checked against,
    # read again when a document comes or goes.
    coll = engine.store.collection("suite")
    before = engine.leads(coll)
    assert before and all(w == w.lower() and " " not in w for w in before)
    extra = tmp_path / "time-invoking-time.txt"
    extra.write_text("GNU time runs a program and reports the resources it used.\n")
    engine.ingest([extra], "suite")
    assert engine.leads(coll) == before | {"time"}
    engine.remove_document("suite", str(extra))
    assert engine.leads(coll) == before
