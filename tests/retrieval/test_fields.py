"""The field a question names, read from the passages: `Key: value` lines, list items that are
fields, and table cells under their column's header (`outweigh.retrieval.fields`)."""

from __future__ import annotations

import pytest

from outweigh.prompt import Citation
from outweigh.retrieval.fields import (
    asked_stems,
    field_reading,
    fields,
    keyed,
    link_reading,
    mail_reading,
    named_address,
    named_field,
    named_keys,
    named_link,
)

API = """\
# Registry API
## Crates
### Crates: Search
- Endpoint: /api/v1/crates
- Method: GET
- Authorization: Not required
The search endpoint returns the crates whose names match the query, ten to a page.
### Crates: Publish
- Endpoint: /api/v1/crates/new
- Method: PUT
- Authorization: Included
The publish endpoint uploads a new crate. It is refused for a name already taken.
### Crates: Yank
- Endpoint: /api/v1/crates/{name}/{version}/yank
- Method: DELETE
- Authorization: Included
"""

RECORD = """\
Metadata-Version: 2.1
Name: quietfox
Version: 2.4.1
Summary: A small logging helper
Requires-Python: >=3.8, !=3.9.0
Classifier: Programming Language :: Python :: 3.11
Requires-Dist: colorama>=0.4.6
"""

TARGETS = """\
## Tier 2 targets
| target | std | notes |
| --- | --- | --- |
| riscv64a23-unknown-linux-gnu | ✓ | RISC-V Linux (kernel 6.8.0+, glibc 2.39) |
| riscv64gc-unknown-none-elf | * | Bare RISC-V (RV64IMAFDC ISA) |
```
Note: this block is an example: code
```
"""


def cite(text: str, source: str = "/docs/registry-api.md", n: int = 1) -> Citation:
    return Citation(n, source, n, text, 1.0, None)


def test_fields_are_key_value_lines_and_table_cells_not_names_with_digits() -> None:
    got = {(f.key, f.value) for f in fields(cite(TARGETS + "bpo-45495: Add a keyword\n"))}
    assert ("notes", "RISC-V Linux (kernel 6.8.0+, glibc 2.39)") in got
    assert ("std", "*") not in got  # a placeholder cell is no value
    assert ("std", "✓") in got
    # A name with digits is an entry's label, not a key; a line in a code block is no field.
    assert not any(key.startswith("bpo") or key == "Note" for key, _ in got)
    items = {(f.key, f.value) for f in fields(cite(API))}
    assert ("Method", "PUT") in items and ("Authorization", "Not required") in items


def test_the_unit_the_question_names_picks_among_fields_of_one_key() -> None:
    passages = [cite(API)]
    assert named_field("What is the method of Crates: Publish?", passages).value == "PUT"
    assert named_field("Crates: Yank: what is its method?", passages).value == "DELETE"
    # Two units named as well as each other: no value wins.
    assert named_field("What is the authorization of the crates endpoints?", passages) is None
    # A key the question does not name, or only in a quoted title, is not asked.
    assert named_field("What does a search return, ten to a page?", passages) is None
    assert named_field("Where is “Method: GET” documented?", passages) is None


def test_a_table_cell_is_found_by_its_header_and_its_row() -> None:
    q = "What are the notes of riscv64a23-unknown-linux-gnu?"
    field = named_field(q, [cite(TARGETS, "/docs/platform-support.md")])
    assert field is not None and field.value == "RISC-V Linux (kernel 6.8.0+, glibc 2.39)"


@pytest.mark.parametrize(
    ("question", "answer", "held", "expected"),
    [
        # A piece of the value is made whole; the question's own words back are replaced.
        ("What is the authorization of Crates: Search?", "Not [1]", True, "Not required [1]"),
        ("What is the method of Crates: Publish?", "Publish [1]", True, "PUT [1]"),
        # Another unit's value for the same key, and an answer that did not hold up.
        ("Crates: Yank: what is its method?", "GET [1]", True, "DELETE [1]"),
        ("Crates: Publish: its endpoint?", "/api/v2 [1]", False, "/api/v1/crates/new [1]"),
        # The whole value, or an answer written in prose, stays as the reader gave it.
        ("What is the method of Crates: Publish?", "PUT [1]", True, None),
        ("What is the method of Crates: Publish?", "a new crate [1]", True, None),
    ],
)
def test_a_reading_is_replaced_by_the_named_fields_value(question, answer, held, expected) -> None:
    assert field_reading(answer, question, [cite(API)], held) == expected


def test_a_typed_question_gets_the_value_of_its_type_from_the_field() -> None:
    passages = [cite(RECORD, "/docs/quietfox-METADATA.txt")]
    # "3.11" is written on a classifier, a key the question does not name.
    q = "Which Python versions does quietfox require?"
    assert field_reading("3.11 [1]", q, passages, True) == ">=3.8, !=3.9.0 [1]"
    # A version the reader found on a line whose key shares the question's words stays.
    q = "Which version of colorama does quietfox require?"
    assert field_reading(">=0.4.6 [1]", q, passages, True) is None
    # "Version: 2.4.1" holds one version: that is the answer, not the line.
    dated = [cite("Release: 2.4.1, on 2024-05-01 at noon\n")]
    assert field_reading("noon [1]", "When was the release dated?", dated, True) == (
        "2024-05-01 [1]"
    )
    # A field with no value of the demanded type answers nothing.
    assert field_reading("x [1]", "Which version is the summary?", passages, False) is None


def test_keyed_names_the_fields_whose_key_the_question_names() -> None:
    asked = asked_stems("What is the library support of armv5te-none-eabi?")
    assert keyed("- Library Support: core and alloc", asked) == {"librari", "support"}
    assert keyed("Library: libc", asked) == {"librari"}
    assert keyed("Tier: 3", asked) == frozenset()
    assert keyed("http://example.org: a link", asked) == frozenset()


RECORDS = """\
Metadata-Version: 2.1
Name: defusedxml
Version: 0.7.1
Home-page: https://github.com/tiran/defusedxml
Requires-Python: >=2.7

Metadata-Version: 2.1
Name: lxml
Version: 6.0.2
Home-page: https://lxml.de/
Requires-Python: >=3.8
"""


def test_a_record_is_known_by_its_fields_and_a_longer_key_names_first() -> None:
    whole = cite(RECORDS, "/docs/records.txt")
    q = "What is the home page URL of lxml?"
    assert named_field(q, [whole]).value == "https://lxml.de/"
    # "Requires-Python" takes more of the question than "Version", and a short value keeps
    # the bound around its version.
    q = "Which Python versions does defusedxml require?"
    assert field_reading("0.7.1 [1]", q, [whole], True) == ">=2.7 [1]"
    # An excerpt lost the blank line between records: where the chunk shows whose each
    # field is, the chunk says it; two records run together name both, and nothing wins.
    cut = "\n".join(line for line in RECORDS.splitlines() if line and "Metadata" not in line)
    shown = Citation(1, "/docs/records.txt", 1, RECORDS, 1.0, cut)
    assert named_field("What is the home page URL of lxml?", [shown]).value == "https://lxml.de/"
    alone = Citation(1, "/docs/records.txt", 1, cut, 1.0, cut)
    assert named_field("What is the home page URL of lxml?", [alone]) is None


def test_selection_lifts_the_named_key_under_the_named_unit_only() -> None:
    from outweigh.retrieval.structure import lines_of, outline
    from outweigh.retrieval.titles import terms

    lines = lines_of(API)
    texts = [line.text for line in lines]
    parent = outline(lines)
    stems_of = [terms(t) for t in texts]
    q = "What is the method of Crates: Publish?"
    lifted = named_keys(texts, parent, stems_of, terms(q), asked_stems(q), named=False)
    assert [texts[j] for j in lifted] == ["- Method: PUT"]
    # Nothing of the question is above any "Method:" line: none, unless the question names
    # the document or its record, and then all.
    q = "What is the method?"
    assert named_keys(texts, parent, stems_of, terms(q), asked_stems(q), named=False) == set()
    assert len(named_keys(texts, parent, stems_of, terms(q), asked_stems(q), named=True)) == 3
    # The key that takes more of the question: "Requires-Python", not "Version".
    lines = lines_of(RECORDS)
    texts = [line.text for line in lines]
    q = "Which Python versions does lxml require?"
    lifted = named_keys(
        texts, outline(lines), [terms(t) for t in texts], terms(q), asked_stems(q), named=True
    )
    assert {texts[j] for j in lifted} == {"Requires-Python: >=3.8"}


def test_a_key_that_names_the_document_is_no_field_asked_for() -> None:
    from outweigh.retrieval.structure import lines_of, outline
    from outweigh.retrieval.titles import terms, title

    log = "## v1.1.5\n* python-build: Add CPython 3.6.3\n## v1.1.2\n* pyenv: Fix the version\n"
    q = "What CPython release was added in pyenv v1.1.5?"
    assert named_field(q, [cite(log, "/docs/pyenv-changelog.md")]) is None
    lines = lines_of(log)
    texts = [line.text for line in lines]
    rest = terms(q) - title("/docs/pyenv-changelog.md")
    stems_of = [terms(t) for t in texts]
    assert named_keys(texts, outline(lines), stems_of, rest, asked_stems(q), named=True) == set()


MOTOR = """\
# x86_64-unknown-motor
Tier: 3
[Motor OS](https://github.com/moturus/motor-os) is a new operating system.
## Building the target toolchain
Motor OS target toolchain can be [built using x.py](https://rustc-dev-guide.rust-lang.org/building/how-to-build-and-run.html):
## Building Rust programs
See the [Hello Motor OS](https://github.com/moturus/motor-os/blob/main/hello.md) example.
Read the [install notes](../install.html) first.
"""
OTHER = "https://rustc-dev-guide.rust-lang.org/building/how-to-build-and-run.html [1]"


@pytest.mark.parametrize(
    ("question", "answer", "held", "expected"),
    [
        # Quoted whole: that link, whatever the reader copied; not "Hello Motor OS".
        ("What URL does the motor page give for “Motor OS”?", OTHER, True, "motor-os [1]"),
        ("Where online is “Motor OS”?", "Motor OS [1]", True, "motor-os [1]"),
        # Named in the question's words: over an answer with no address in it.
        ("What is the URL of the Motor OS project?", "Motor OS [1]", True, "motor-os [1]"),
        # ... but not over an address on a line that shares the question's words.
        ("Which URL tells how to build the toolchain for Motor OS?", OTHER, True, None),
        # The right address, however written, is kept.
        ("Where online is “Motor OS”?", "https://github.com/moturus/motor-os/ [1]", True, None),
        ("Какая ссылка дана для «Motor OS»?", "Motor OS [1]", True, "motor-os [1]"),
        # A question that demands no address is not this check's.
        ("What is “Motor OS”?", "a new operating system [1]", True, None),
        ("Which flag turns on link-time optimization for Motor OS?", "-C lto [1]", True, None),
        # "link" may be a file's: a link's text named but not quoted is not asked for.
        ("Where is the link to Motor OS kept?", "/boot [1]", True, None),
        # A link to a page of the same site is no address: nothing to read.
        ("What is the URL of the install notes?", "Motor OS [1]", True, None),
    ],
)
def test_a_link_asked_for_by_its_text_gives_its_address(question, answer, held, expected) -> None:
    got = link_reading(answer, question, [cite(MOTOR, "/docs/platform-support-motor.html")], held)
    assert got == (expected and f"https://github.com/moturus/{expected}")


def test_two_links_of_the_named_text_to_two_places_read_nothing() -> None:
    page = "[Docs](https://a.example.org/docs) and again [docs](https://b.example.org/docs)."
    assert named_link("What URL do the docs have?", [cite(page)]) is None
    # The same address twice is one link; the page's own name is not a link asked for.
    page = "[Docs](https://a.example.org/docs), [docs](https://a.example.org/docs/)."
    assert named_link("What URL do the docs have?", [cite(page)]).url.startswith("https://a.")
    assert named_link("What URL do the docs have?", [cite(page, "/d/docs.md")]) is None


def test_a_file_s_link_is_not_a_link_s_address() -> None:
    page = "# Links\n[ln](https://example.org/man/ln.html) makes links: `ln -s TARGET NAME`.\n"
    asked = "How do I make a symbolic link with ln?"
    assert link_reading("ln -s [1]", asked, [cite(page)], True) is None
    assert (
        link_reading("ln -s [1]", "Как создать символическую ссылку ln?", [cite(page)], True)
        is None
    )


PEOPLE = """\
AUTHOR
Original code by Ken Williams
<kwilliams@cpan.org>, Randy W. Sims <RandyS@ThePierianSpring.org>
Released by Matt S Trout (mst) <mst@shadowcat.co.uk>
CONTRIBUTORS
* Chris Nehren <apeiron@cpan.org>
* Kent Fredric <kentnl@cpan.org>
* David Golden <dagolden@cpan.org>
* David Golden <xdg@xdg.me>
Ported by bailey@newman.upenn.edu (Charles Bailey) and Guido van Rossum, guido@python.org.
"""


@pytest.mark.parametrize(
    ("question", "answer", "expected"),
    [
        # The next person's address in a list is replaced by the named person's own.
        ("Module-Metadata: what is Chris Nehren's e-mail?", "kentnl@cpan.org [1]", "apeiron"),
        ("What is the e-mail address of Randy W. Sims?", "kwilliams@cpan.org [1]", "RandyS"),
        ("How can Ken Williams be reached by e-mail?", "Ken Williams [1]", "kwilliams"),
        ("How can Matt S Trout be reached by e-mail?", "mst [1]", "mst"),
        # Written before the name, or with a particle and a word between.
        ("What is Charles Bailey's e-mail?", "I'd write [1]", "bailey"),
        ("What e-mail does Guido van Rossum use?", "python.org [1]", "guido"),
        # The right address is kept, in any case.
        ("What is Randy W. Sims's e-mail?", "randys@thepierianspring.org [1]", None),
        # Two addresses beside one name: nothing is read.
        ("What is the e-mail address of David Golden?", "xdg@xdg.me [1]", None),
        # No name, no address asked for, or a name no address is written beside.
        ("What is the e-mail address of the author?", "mst@shadowcat.co.uk [1]", None),
        ("Who is Chris Nehren?", "Kent Fredric [1]", None),
        ("What is the e-mail address of Larry Wall?", "mst@shadowcat.co.uk [1]", None),
    ],
)
def test_a_named_person_s_address_is_the_one_beside_the_name(question, answer, expected) -> None:
    got = mail_reading(answer, question, [cite(PEOPLE, "/docs/Module-Metadata.txt")], True)
    address = expected and next(w for w in PEOPLE.split() if w.lstrip("<").startswith(expected))
    assert got == (expected and f"{address.strip('<>,.')} [1]")


def test_words_between_a_name_and_an_address_give_it_to_another() -> None:
    # "Ken Williams, Chris Nehren <x@y.org>": the address is Chris Nehren's, not Ken's.
    page = "Thanks to Ken Williams, Chris Nehren <chris@example.org>."
    assert named_address("What is Ken Williams's e-mail?", [cite(page)]) is None
    assert named_address("What is Chris Nehren's e-mail?", [cite(page)]) == ("chris@example.org", 1)
