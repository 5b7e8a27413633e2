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
