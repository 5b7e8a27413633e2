"""Context selection on real man pages with the real embedder: the passage that answers is
kept, cut to the lines that answer, and a look-alike neighbour is dropped."""

from __future__ import annotations

from dataclasses import replace

from outweigh.retrieval.hybrid import Hit
from outweigh.retrieval.lines import units
from outweigh.retrieval.select import NONE, Selection, select
from tests.conftest import ROOT

MAN = ROOT / "examples" / "suite-man" / "docs"


def tail(name: str, chars: int = 1000) -> str:
    """The end of a rendered page: AUTHOR, REPORTING BUGS, COPYRIGHT, SEE ALSO, footer."""
    return (MAN / f"{name}.txt").read_text()[-chars:]


def hits(*names: str) -> list[Hit]:
    return [
        Hit(i, f"/docs/{n}.txt", tail(n), 0.03 - i * 0.001, i + 1, i + 1)
        for i, n in enumerate(names)
    ]


def test_keeps_the_answering_passage_first_and_drops_the_look_alikes(embedder) -> None:
    # shuf and tac rank above sort: same layout, same licence, another author.
    got = select(
        "Who wrote the sort program?", hits("shuf", "tac", "sort"), embedder, Selection(), k=3
    )
    assert [h.source for h in got] == ["/docs/sort.txt"]
    assert "Written by Mike Haertel and Paul Eggert." in got[0].excerpt
    # Compression: fewer lines than the chunk, each one a line of it (spacing folded).
    whole = units(tail("sort"))
    assert set(got[0].excerpt.splitlines()) < set(whole)
    assert "There is NO WARRANTY, to the extent permitted by law." not in got[0].excerpt


def test_a_question_two_passages_answer_keeps_both(embedder) -> None:
    got = select(
        "Where is the full documentation for sort and for shuf online?",
        hits("tac", "sort", "shuf"),
        embedder,
        Selection(),
        k=3,
    )
    assert {h.source for h in got} >= {"/docs/sort.txt", "/docs/shuf.txt"}
    text = "\n".join(h.excerpt for h in got)
    assert "https://www.gnu.org/software/coreutils/sort" in text
    assert "https://www.gnu.org/software/coreutils/shuf" in text


def test_selection_off_is_the_top_k_whole(embedder) -> None:
    given = hits("shuf", "tac", "sort")
    assert select("Who wrote sort?", given, embedder, NONE, k=2) == given[:2]


def test_a_page_read_whole_keeps_its_name_line_and_footer(embedder) -> None:
    page = (MAN / "sort.txt").read_text()
    retrieved = Hit(2, "/docs/sort.txt", page[-1000:], 0.03, 1, 1)
    # `expand` added the page's first chunk: no retriever ranked it.
    first = Hit(1, "/docs/sort.txt", page[:1000], 0.0, None, None)
    ask = "What does the sort command do, in one line?"
    got = select(ask, [retrieved, first], embedder, Selection(), k=3)
    lines = got[0].excerpt.splitlines()
    assert "sort - sort lines of text files" in lines  # the NAME line no question word matches
    assert lines[-1] == units(page)[-1]  # the footer, with the release
    assert lines[-1].startswith("GNU coreutils 9.1")
    # Retrieval may return every chunk of a short page itself: still read whole.
    ranked = replace(first, bm25_rank=2, dense_rank=2)
    both = select(ask, [retrieved, ranked], embedder, Selection(), k=3)[0].excerpt
    assert "sort - sort lines of text files" in both.splitlines()
    # Only a page read whole: retrieved chunks alone keep their best lines only.
    alone = select(ask, [retrieved], embedder, Selection(expand=0), k=3)[0].excerpt
    assert "sort - sort lines of text files" not in alone


def test_the_page_a_question_names_beats_pages_that_only_mention_it(embedder) -> None:
    # Each neighbour's SEE ALSO names the page, and its lines hold "one" or "line".
    for name, neighbours in {
        "su": ("runuser", "setpriv"),
        "touch": ("last", "znew"),
        "unlink": ("rm",),
        "zless": ("xzless",),
    }.items():
        page = (MAN / f"{name}.txt").read_text()
        given = [*hits(*neighbours), Hit(9, f"/docs/{name}.txt", page[:1000], 0.02, 3, 3)]
        ask = f"What does the {name} command do, in one line?"
        got = select(ask, given, embedder, Selection(), k=3)
        assert got[0].source == f"/docs/{name}.txt", name


def test_an_options_description_keeps_its_name_not_the_next_option(embedder) -> None:
    # head(1): "-v, --verbose" above its description, a blank line, "-z, --zero-terminated".
    page = (MAN / "head.txt").read_text()
    given = [Hit(1, "/docs/head.txt", page[:2000], 0.03, 1, 1)]
    ask = "Which option of head does this: always print headers giving file names?"
    lines = select(ask, given, embedder, Selection(), k=3)[0].excerpt.splitlines()
    at = lines.index("always print headers giving file names")
    assert lines[at - 1] == "-v, --verbose"
    assert "-z, --zero-terminated" not in lines
    # The paragraph is the bound, not the window: a window of 3 still stops at the blank line.
    wide = select(ask, given, embedder, Selection(window=3), k=3)[0].excerpt.splitlines()
    assert "-v, --verbose" in wide and "-z, --zero-terminated" not in wide


LOG = ROOT / "examples" / "suite-log" / "docs"


def _excerpt(embedder, name: str, ask: str) -> list[str]:
    text = (LOG / name).read_text()
    given = [Hit(1, f"/docs/{name}", text, 0.03, 1, 1)]
    return select(ask, given, embedder, Selection(expand=0), k=3)[0].excerpt.splitlines()


WIDGET_README = """widget
======
widget turns dials.

Install
-------
pip install widget

License
-------
Copyright 2019, 2020 Ana Lima <ana@example.org>

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

  http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
"""


def test_a_licence_question_keeps_the_line_that_names_the_licence(embedder) -> None:
    # Every line of the boilerplate says "License"; the one that names which is kept.
    hit = Hit(1, "/docs/widget-README.md", WIDGET_README, 0.03, 1, 1)
    got = select("What is the license of widget?", [hit], embedder, Selection(), k=1)
    assert 'Licensed under the Apache License, Version 2.0 (the "License");' in got[0].excerpt


def test_a_list_item_keeps_its_wrapped_rest_not_the_next_item(embedder) -> None:
    # Rust's release notes list one pull request a line: the line above the asked one holds
    # a look-alike number (12568), which a small reader copies when it is shown.
    lines = _excerpt(
        embedder,
        "rust-1.74.0.md",
        "What is the number of the pull request “Add styling to `--help` output” in Rust 1.74.0?",
    )
    assert any("pull/12578" in line for line in lines)
    assert not any("pull/12568" in line for line in lines)
    # IDLE's NEWS wraps an entry onto a second line, which names who wrote the patch: it
    # is kept, and the next entry is not.
    lines = _excerpt(
        embedder, "idlelib-news-2.7.4.txt", "Who wrote the patch for Issue #14962 in IDLE 2.7.4?"
    )
    at = next(i for i, line in enumerate(lines) if line.startswith("- Issue #14962"))
    assert lines[at + 1] == "options. Patch by Roger Serwy."
    assert not any(line.startswith("- Issue #10997") for line in lines)


def test_lines_embedded_for_selection_match_the_index_path(embedder) -> None:
    # embed_lines may run in bfloat16 (where the CPU has it); the vectors stay the float32
    # ones to within rounding, and the best line for a question is the same.
    lines = units((MAN / "head.txt").read_text())
    fast, full = embedder.embed_lines(lines), embedder.embed_batch(lines)
    assert fast.shape == full.shape and fast.dtype == full.dtype
    assert (fast * full).sum(1).min() > 0.999
    q = "always print headers giving file names"
    assert int((fast @ embedder.embed_lines([q])[0]).argmax()) == int(
        (full @ embedder.embed_batch([q])[0]).argmax()
    )


def _changelog() -> str:
    people = ["Ana Lima", "Bo Chen", "Cai Wu", "Dag Berg", "Eli Roth", "Fay Moss"]
    items = [
        "Fix the build on arm64.",
        "Drop the old patch.",
        "Translate the manual.",
        "Add a test.",
    ]
    entries = []
    for n, who in enumerate(people):
        entries.append(
            f"frobnicate (2.{9 - n}-1) unstable; urgency=medium\n\n"
            f"  * New upstream release.\n  * {items[n % len(items)]}\n\n"
            f" -- {who} <{who.split()[0].lower()}@example.org>  "
            f"Mon, 0{n + 1} Jan 2024 09:00:00 +0100\n"
        )
    return "\n".join(entries)


def test_a_sign_off_is_read_with_the_entry_it_closes(embedder) -> None:
    # The question names the release (on the entry's heading) and asks who (on its sign-off
    # line, three lines and a blank line below): the passage keeps both, in document order,
    # and not the entries further off.
    hit = Hit(1, "/docs/frobnicate-changelog.txt", _changelog(), 0.03, 1, 1)
    got = select("Who uploaded frobnicate 2.7-1?", [hit], embedder, Selection(expand=0), k=3)
    excerpt = got[0].excerpt
    assert "frobnicate (2.7-1) unstable; urgency=medium" in excerpt
    assert "-- Cai Wu <cai@example.org> Mon, 03 Jan 2024 09:00:00 +0100" in excerpt
    assert excerpt.index("(2.7-1)") < excerpt.index("Cai Wu")
    assert not any(who in excerpt for who in ("Dag Berg", "Eli Roth", "Fay Moss"))


def test_a_question_about_something_else_gets_no_passages(embedder) -> None:
    how = Selection()  # the bundled embedder's own floor
    assert embedder.relevance_floor == 0.45
    off = select("What is the capital of France?", hits("sort", "shuf"), embedder, how, k=3)
    assert off == []
    on = select("Who wrote the sort program?", hits("sort", "shuf"), embedder, how, k=3)
    assert [h.source for h in on] == ["/docs/sort.txt"]
    assert on[0].relevance is not None and on[0].relevance >= 0.45
    # Without a floor, retrieval always applies.
    no_floor = Selection(floor=0.0)
    assert select("What is the capital of France?", hits("sort"), embedder, no_floor, k=3)


def test_a_question_that_shares_only_numbers_with_the_passage_gets_none(embedder) -> None:
    # A line of semver's README is as close to "What is 2 + 2?" as the floor lets through
    # ("Which then can be used to increment further:"), and the page is full of 2s: but no
    # word of the question is on it, so it is answered as if retrieval were off.
    page = ROOT / "examples" / "suite-readme" / "docs" / "semver-README-part2.md"
    hit = [Hit(1, str(page), page.read_text(), 0.03, 1, 1)]
    near = select("What is 2 + 2?", hit, embedder, Selection(expand=0, floor=0.0), k=3)
    assert near[0].relevance is not None and near[0].relevance >= embedder.relevance_floor
    assert select("What is 2 + 2?", hit, embedder, Selection(expand=0), k=3) == []
    # A question about the page keeps it, and so does one it does not answer (no author is
    # named on it): the reader must see the page to say it does not say.
    for question in ("Which versions does the range ~1.2 allow?", "Who wrote semver?"):
        assert select(question, hit, embedder, Selection(expand=0), k=3), question


def test_a_question_no_candidate_shares_a_word_with_embeds_no_line(embedder, monkeypatch) -> None:
    # The word check runs on the candidates first: with no word in common, no line of
    # theirs can be, and the page's lines are not embedded to find that out.
    calls: list[int] = []
    real = embedder.embed_lines
    monkeypatch.setattr(embedder, "embed_lines", lambda t: calls.append(len(t)) or real(t))
    off = select("What is the capital of France?", hits("sort", "shuf"), embedder, Selection(), 3)
    assert off == [] and calls == []
    assert select("Who wrote the sort program?", hits("sort", "shuf"), embedder, Selection(), 3)
    assert calls  # a question that shares words is scored line by line


def test_the_word_check_leaves_other_scripts_to_the_floor() -> None:
    # A question in Cyrillic over Latin pages, or in a script written without spaces, cannot
    # share a word with its passage; only the dense floor (already passed) decides.
    from outweigh.retrieval.bearing import shares_a_word

    page = [Hit(1, "/docs/sort.txt", "Written by Mike Haertel and Paul Eggert.", 0.03, 1, 1)]
    assert shares_a_word("Кто написал эту программу?", page)
    assert shares_a_word("这个程序是谁写的", page)
    assert not shares_a_word("What is the capital of France?", page)
    assert not shares_a_word("What is 2 + 2?", page)
    assert not shares_a_word("What's the capital of France?", [*page, *hits("basename")])
    assert shares_a_word("Who wrote it, Haertel?", page)


def tops(*names: str) -> list[Hit]:
    """The first 3,000 characters of each page: NAME, SYNOPSIS, the first options."""
    return [
        Hit(i, f"/docs/{n}.txt", (MAN / f"{n}.txt").read_text()[:3000], 0.03 - i * 0.001, 1, 1)
        for i, n in enumerate(names)
    ]


def test_a_question_of_everyday_words_must_come_closer(embedder, monkeypatch) -> None:
    # "hours" and "day" are on date's and sleep's pages, and a line of them is past the floor
    # (0.51): but everyone uses those words, and the question names nothing of the pages.
    pages = tops("date", "sleep")
    question = "How many hours are in a day?"
    near = select(question, pages, embedder, Selection(floor=0.0), k=3)
    closest = max(h.relevance or 0.0 for h in near)
    assert embedder.relevance_floor <= closest < embedder.common_floor == 0.56
    assert select(question, pages, embedder, Selection(), k=3) == []
    # The check is what drops it: without the common floor the pages are read.
    monkeypatch.setattr(embedder, "common_floor", 0.0)
    assert select(question, pages, embedder, Selection(), k=3)


def test_a_question_that_names_its_documents_keeps_them(embedder) -> None:
    from outweigh.retrieval.bearing import names_them

    pages = tops("date", "sleep")
    # Everyday words, but the page's own name, a name with digits on it, a word that general
    # language seldom uses: each says the question is about these pages.
    for question in (
        "Who wrote the date program?",
        "Which format is ISO 8601?",
        "How are nanoseconds shown?",
    ):
        assert names_them(question, pages), question
        assert select(question, pages, embedder, Selection(), k=3), question
    for question in ("How many hours are in a day?", "What is the opposite of day?"):
        assert not names_them(question, pages), question
    # A question in another script is left to the floor, which judges it alone.
    assert names_them("Сколько часов в сутках?", pages)


def test_everyday_words_are_judged_in_their_scripts_language() -> None:
    from outweigh.text import SCRIPT_WORDLISTS, common, word_script

    assert all(common(w) for w in ("day", "color", "times", "language", "день", "цвет"))
    # Names, terms of the trade, numbers, and scripts without a frequency list are not.
    assert not any(common(w) for w in ("Vellmark", "grep", "alphabet", "nanoseconds", "8601"))
    # "day" in every script with a list: each list loads, with nothing wordfreq leaves out.
    day = ("day", "день", "μέρα", "يوم", "יום", "दिन", "দিন", "நாள்")
    assert {word_script(w) for w in day} == set(SCRIPT_WORDLISTS)
    assert all(common(w) for w in day)
    # Ethiopic has no list; Korean's needs MeCab, which wordfreq does not install.
    assert not common("ሰላም") and not common("안녕하세요")


def test_a_table_read_across_chunks_has_its_header_once(embedder) -> None:
    from outweigh.retrieval.chunking import chunk_text

    rows = []
    for page in ("sort", "head", "tac", "shuf", "cut", "du"):
        for para in (MAN / f"{page}.txt").read_text().split("\n\n")[1:6]:
            rows.append(f"| {page} | {' '.join(para.split()[:14])} |")
    header = ["| Page | Opening |", "| --- | --- |"]
    text = "\n".join([*header, *rows])
    chunks = chunk_text(text, embedder.token_spans, chunk_tokens=60, overlap=12)
    assert len(chunks) > 3 and all(c.text.startswith(header[0]) for c in chunks)
    given = [Hit(i, "/docs/pages.xlsx", c.text, 0.03, i + 1, i + 1) for i, c in enumerate(chunks)]
    late = rows[-3]
    question = f"What does {late.split('|')[2].strip()} mean?"
    [passage] = select(question, given[-2:], embedder, Selection(), k=1)
    lines = (passage.excerpt or passage.text).splitlines()
    assert late in lines and lines.count(header[0]) == 1


def test_a_file_of_records_gives_the_record_asked_about_not_its_first(embedder) -> None:
    names = ["accelerate", "attrs", "click", "rich", "typer"]
    text = "\n\n".join(
        f"Metadata-Version: 2.{n % 2}\nName: {name}\nVersion: {n + 1}.{n}.0\n"
        f"Project-URL: Source, https://example.org/{name}\n"
        f"Project-URL: Docs, https://example.org/{name}/docs\nRequires-Dist: click>=7.0"
        for n, name in enumerate(names)
    )
    hit = [Hit(1, "/docs/records.txt", text, 0.03, 1, 1)]
    got = select("Which version of rich is described?", hit, embedder, Selection(), k=3)
    excerpt = got[0].excerpt
    assert "Name: rich" in excerpt and "Version: 4.3.0" in excerpt
    assert "accelerate" not in excerpt and "1.0.0" not in excerpt  # the file's first record
    # Within the record it names, the line is found by the rest of the question, not by
    # the lines that repeat the record's name.
    assert excerpt.startswith("Name: rich\nVersion: 4.3.0")
    # A record the question names bears on it, however far its lines are in meaning.
    strict = Selection(floor=0.99)
    assert select("Which version of click is described?", hit, embedder, strict, k=3)
    assert select("What is the capital of France?", hit, embedder, strict, k=3) == []


def test_a_field_the_question_names_is_kept_under_the_unit_it_names(embedder) -> None:
    # Every endpoint has a "Method:" line; the prose under each shares more of the
    # question's words ("publish", "crate") than the field that answers.
    from tests.retrieval.test_fields import API

    hit = Hit(1, "/docs/registry-api.md", API, 0.03, 1, 1)
    how = Selection(expand=0)
    got = select("What is the method of Crates: Publish?", [hit], embedder, how, k=3)
    lines = got[0].excerpt.splitlines()
    assert "- Method: PUT" in lines and "### Crates: Publish" in lines
    assert lines.index("### Crates: Publish") < lines.index("- Method: PUT")
    assert "- Method: GET" not in lines and "- Method: DELETE" not in lines
