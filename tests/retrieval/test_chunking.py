import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outweigh.retrieval.chunking import chunk_text
from outweigh.testing import FakeEmbedder

spans = FakeEmbedder().token_spans  # whitespace tokens


def test_chunks_respect_size_and_overlap():
    text = " ".join(f"w{i}" for i in range(1000))
    chunks = chunk_text(text, spans, chunk_tokens=100, overlap=20)
    assert all(len(c.text.split()) <= 100 for c in chunks)
    for a, b in itertools.pairwise(chunks):
        shared = set(a.text.split()) & set(b.text.split())
        assert len(shared) == 20
    assert chunks[0].text.startswith("w0 ") and chunks[-1].text.endswith("w999")


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(alphabet="abcдж .\n", min_size=1, max_size=12), max_size=300))
def test_every_token_lands_in_some_chunk(words):
    text = " ".join(words)
    chunks = chunk_text(text, spans, chunk_tokens=16, overlap=4)
    covered = {w for c in chunks for w in c.text.split()}
    assert set(text.split()) <= covered
    assert all(text[c.start : c.end].strip() == c.text for c in chunks)


def test_prefers_to_end_chunks_at_sentence_breaks():
    text = ("Alpha beta gamma delta. " * 10).strip()
    chunks = chunk_text(text, spans, chunk_tokens=14, overlap=2)
    assert all(c.text.endswith(".") for c in chunks[:-1])


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (10, 10), (10, -1)])
def test_bad_sizes_are_refused(size, overlap):
    with pytest.raises(ValueError):
        chunk_text("a b c", spans, chunk_tokens=size, overlap=overlap)


def test_tokenizing_in_segments_gives_the_same_chunks(monkeypatch):
    import outweigh.retrieval.chunking as chunking

    text = " ".join(f"word{i % 97}{'.' if i % 13 == 0 else ''}" for i in range(5000))
    whole = chunk_text(text, spans, chunk_tokens=50, overlap=10)
    monkeypatch.setattr(chunking, "SEGMENT_CHARS", 333)  # about 40 segments
    assert chunk_text(text, spans, chunk_tokens=50, overlap=10) == whole


def _table_text(rows: int) -> str:
    body = "\n".join(f"| cmd{i} | {i * 7} | the text of row {i} |" for i in range(rows))
    head = "| Name | Size | Text |\n| --- | --- | --- |"
    return f"Prose before.\n\n## Sheet\n\n{head}\n{body}\n\nAfter."


@pytest.mark.parametrize(("size", "overlap"), [(40, 8), (60, 0), (200, 40)])
def test_every_chunk_of_a_table_opens_with_its_header(size, overlap):
    text = _table_text(300)
    head = "| Name | Size | Text |\n| --- | --- | --- |"
    chunks = chunk_text(text, spans, chunk_tokens=size, overlap=overlap)
    rows = {line for c in chunks for line in c.text.splitlines() if line.startswith("| cmd")}
    assert len(rows) == 300  # every row is in some chunk
    for c in chunks:
        assert len(c.text.split()) <= size  # the header's tokens count
        if "| cmd" in c.text:
            assert c.text.startswith(("Prose", head)), c.text[:60]
        # Both parts are the document's own text, where the offsets say.
        body = text[c.start : c.end].strip()
        if c.head is None:
            assert c.text == body
        else:
            assert c.text == text[c.head[0] : c.head[1]] + "\n" + body
            assert text[c.head[0] : c.head[1]] == head
            assert text[c.start - 1] == "\n" and text[c.start : c.start + 5] == "| cmd"


def test_a_header_over_half_a_chunk_is_not_repeated():
    wide = "| " + " | ".join(f"h{i}" for i in range(30)) + " |"
    rule = "|" + " --- |" * 30
    text = "\n".join([wide, rule, *("| " + " | ".join(["x"] * 30) + " |" for _ in range(20))])
    chunks = chunk_text(text, spans, chunk_tokens=100, overlap=10)
    assert len(chunks) > 1 and all(c.head is None for c in chunks)
    assert all(text[c.start : c.end].strip() == c.text for c in chunks)


def test_a_chunk_that_starts_inside_a_block_of_code_opens_with_its_fence():
    code = "\n".join(f"# step {i}\nrun --step {i}" for i in range(60))
    text = f"## Install\n\nRun these.\n\n```sh\n{code}\n```\n\n## Usage\n\nThen use it."
    chunks = chunk_text(text, spans, chunk_tokens=40, overlap=8)
    inside = [c for c in chunks if text.index("```sh") < c.start < text.rindex("```")]
    assert inside and all(c.text.startswith("```sh\n") for c in inside)
    for c in inside:  # the fence is the document's own line, where the offsets say
        assert c.head is not None and text[c.head[0] : c.head[1]] == "```sh"
        assert c.text == "```sh\n" + text[c.start : c.end].strip()
    after = [c for c in chunks if c.start > text.rindex("```")]
    assert all(c.head is None for c in after)
