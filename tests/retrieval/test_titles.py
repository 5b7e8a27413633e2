"""What a document's file name says it is about, less the words that say what kind of file
it is; and the engine reading a document a question names in full that retrieval missed."""

import pytest

from outweigh import AskOptions, Engine
from outweigh.retrieval.titles import kinds, named, titles
from outweigh.testing import EchoBackend

RECORDS = ["click", "fastapi", "fastapi_offline", "httpx", "hypothesis", "rich", "typer"]


def test_the_words_most_file_names_share_say_what_kind_of_file_it_is():
    sources = [f"/d/{n}-METADATA.txt" for n in RECORDS] + ["/d/NOTES.txt"]
    assert kinds(sources) == {"metadata"}
    assert kinds(["/d/a-README.md", "/d/b-README.md"]) == set()  # two share no kind
    assert kinds(["/d/sort.txt", "/d/tee.txt", "/d/cut.txt"]) == set()


def test_a_question_names_a_record_in_full_by_its_name_alone():
    sources = [f"/d/{n}-METADATA.txt" for n in RECORDS]
    found = titles(sources, kinds(sources))
    assert found[RECORDS.index("fastapi")] == {"fastapi"}
    assert found[RECORDS.index("fastapi_offline")] == {"fastapi", "offlin"}
    # A README is `which`'s, not named by "its README"; a title of a kind's word or of
    # numbers alone keeps its kind.
    assert titles(["/d/which-README.md", "/d/install.txt"]) == [{"which"}, {"instal"}]
    assert titles(["/d/news-3.6.6.txt"], frozenset({"news"})) == [{"news", "3", "6"}]


def test_named_gives_the_documents_a_question_names_in_full():
    documents = {
        "/d/click-METADATA.txt": frozenset({"click"}),
        "/d/fastapi-METADATA.txt": frozenset({"fastapi"}),
        "/d/time.txt": frozenset({"time"}),
    }
    assert named("Which version of click is described?", documents, typed=True) == [
        "/d/click-METADATA.txt"
    ]
    assert named("Who wrote fastapi?", documents, typed=True) == ["/d/fastapi-METADATA.txt"]
    # An everyday word names a document only where a typed value is asked for.
    assert named("What time is it?", documents, typed=False) == []
    assert named("Which version of time is described?", documents, typed=True) == ["/d/time.txt"]
    # A question that names many documents names none of them in particular.
    many = {f"/d/{n}.txt": frozenset({"grep"}) for n in "abcd"}
    assert named("Which version of grep?", many, typed=True) == []


@pytest.fixture
def records(paths, embedder, tmp_path):
    """Records of packages that all require click but click's own, which says little."""
    docs = tmp_path / "records"
    docs.mkdir()
    (docs / "click-METADATA.txt").write_text(
        "Metadata-Version: 2.4\nName: click\nVersion: 8.5.1\n"
        "Summary: Composable command line interface toolkit\n"
    )
    for i, name in enumerate(["typer", "rich-click", "flask", "black", "pip-tools", "celery"]):
        (docs / f"{name}-METADATA.txt").write_text(
            f"Metadata-Version: 2.4\nName: {name}\nVersion: 1.{i}.0\n"
            f"Summary: {name}, a tool that is described in terms of click\n"
            "Requires-Dist: click>=8.0\nRequires-Dist: click-default-group\n"
        )
    e = Engine(paths, embedder=embedder, backend=EchoBackend(reply="ok"))
    e.ingest([docs], "records")
    yield e
    e.close()


def test_the_engine_reads_the_document_a_question_names_in_full(records):
    question = "Which version of click is described?"
    answer = records.ask(question, AskOptions(collection="records", k=3))
    assert answer.context[0].source.endswith("/click-METADATA.txt")
    assert "Version: 8.5.1" in answer.context[0].excerpt


def test_a_document_named_in_full_bears_on_the_question_past_the_floor(embedder):
    from outweigh.retrieval.hybrid import Hit
    from outweigh.retrieval.select import Selection, select

    record = "Metadata-Version: 2.4\nName: faiss-cpu\nVersion: 1.15.1\nAuthor: Meta AI Research"
    hit = [Hit(1, "/d/faiss-cpu-METADATA.txt", record, 0.03, 1, 1)]
    strict = Selection(expand=0, floor=0.99)  # no line comes this close in meaning
    kind = frozenset({"metadata"})  # what most of the collection's file names share
    question = "Who is the author of faiss-cpu?"
    got = select(question, hit, embedder, strict, k=3, shared=kind)
    assert got[0].excerpt.endswith("Meta AI Research")
    # Named by the words of its kind alone, or by everyday words, it does not.
    assert select("Who wrote the metadata?", hit, embedder, strict, k=3, shared=kind) == []
    plain = [Hit(1, "/d/time.txt", "time - run programs and summarize usage", 0.03, 1, 1)]
    assert select("What time is it?", plain, embedder, strict, k=3) == []
