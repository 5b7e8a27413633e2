"""The passage reader bundled for SmolLM2-135M: used by default for a prompt with passages,
answering short and cited where the bare model rambles, and stepping aside when asked."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from tests.adapters.test_reader import write_records

from outweigh.adapters.bundled import READER, bundled
from outweigh.engine import AskOptions, Engine
from outweigh.eval.metrics import accuracy, concise
from outweigh.testing import EchoBackend, FakeEmbedder

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MAN = EXAMPLES / "suite-man" / "docs"

ASKED = [
    ("What is the version of beta?", ["0.9.0"], "beta.txt"),
    ("Who is the author of gamma?", ["Chen Wei"], "gamma.txt"),
    ("Where is the home page of delta?", ["https://delta.example/home"], "delta.txt"),
    ("Which option of fold does this: count bytes rather than columns?", ["--bytes"], "fold.txt"),
    ("Who wrote the printenv program?", ["David MacKenzie", "Richard Mlynarik"], "printenv.txt"),
    ("Which version of GNU coreutils does the head manual page document?", ["9.1"], "head.txt"),
]


def test_a_backend_without_outweigh_adapters_gets_no_reader(paths, tmp_path: Path) -> None:
    engine = Engine(paths, embedder=FakeEmbedder(), backend=EchoBackend(reply="ok"))
    try:
        engine.ingest([write_records(tmp_path / "records")], collection="records")
        engine.ask("What is the version of beta?", AskOptions(collection="records"))
        assert engine.backend().requests[-1].adapter is None
        assert READER not in engine.adapters.names()
    finally:
        engine.close()


@pytest.mark.slow
def test_the_bundled_reader_reads_passages_the_bare_model_does_not(paths, embedder, tmp_path):
    assert bundled(READER, "smollm2-135m") is not None
    docs = write_records(tmp_path / "docs")
    for page in ("fold", "head", "printenv", "tty", "tac"):  # look-alike pages distract
        (docs / f"{page}.txt").write_text((MAN / f"{page}.txt").read_text())
    engine = Engine(paths, embedder=embedder)
    try:
        engine.ingest([docs], collection="docs")
        scores = {}
        for reader in (True, False):
            right = short = cited = 0
            for question, gold, source in ASKED:
                opts = AskOptions(collection="docs", k=3, max_tokens=48, reader=reader)
                answer = engine.ask(question, opts)
                assert answer.adapter == (READER if reader else None)
                right += accuracy(answer.answer, gold)
                short += concise(answer.answer, gold)
                cited += [Path(c.source).name for c in answer.citations] == [source]
            scores[reader] = (right, short, cited)
        assert engine.adapters.get(READER).base_model == "smollm2-135m"
    finally:
        engine.close()
    (right, short, cited), (bare_right, bare_short, _) = scores[True], scores[False]
    assert right >= len(ASKED) - 1 and short >= len(ASKED) - 1 and cited >= len(ASKED) - 1
    assert short > bare_short and right >= bare_right


def test_a_new_release_s_reader_replaces_the_one_registered_from_the_last(
    paths, tmp_path, monkeypatch
):
    """The bundled reader is registered on first use; a release that ships new weights must
    not be shadowed by the copy the state folder registered from the release before, whether
    that release marked it `bundled` or (as releases before the mark did) `added` with weights
    known by hash. A reader the user trained or added under the same name stays theirs."""
    from types import SimpleNamespace

    from safetensors.torch import load_file, save_file

    from outweigh.adapters.bundled import EARLIER
    from outweigh.adapters.registry import sha256_of
    from outweigh.adapters.validate import WEIGHTS

    shipped = bundled(READER, "smollm2-135m")
    assert shipped is not None
    older = tmp_path / "older"
    older.mkdir()
    (older / "adapter_config.json").write_bytes((shipped / "adapter_config.json").read_bytes())
    weights = load_file(shipped / WEIGHTS)
    save_file({k: v * 0.5 for k, v in weights.items()}, older / WEIGHTS)
    model = SimpleNamespace(name="smollm2-135m", adapters=object())
    now = sha256_of(shipped / WEIGHTS)
    # (source, the earlier releases' hashes, whether the registered copy is kept). Releases
    # before the `bundled` source registered their copy as `added`: known by hash.
    cases = [
        ("bundled", {"0" * 64}, False),
        ("added", {"0" * 64}, True),
        ("added", {sha256_of(older / WEIGHTS)}, False),
    ]
    for source, earlier, kept in cases:
        monkeypatch.setitem(EARLIER, READER, frozenset(earlier))
        with Engine(paths, embedder=FakeEmbedder()) as engine:
            engine.adapters.add(older, READER, base="smollm2-135m", source=source)
            before = engine.adapters.get(READER).sha256
            assert engine._reader(model, READER) == READER
            after = engine.adapters.get(READER)
            assert (after.sha256 == before) is kept
            assert (after.sha256 == now) is not kept
            engine.adapters.remove(READER)


def test_the_reader_s_margin_for_dont_know_reaches_the_request(
    paths, embedder, tmp_path, monkeypatch
) -> None:
    """The bundled reader says "I don't know" only where it is surer of it than of any answer
    by the margin measured for it (`outweigh.json`), or by `$OUTWEIGH_READER_MARGIN`: a
    bias on how that answer begins, at the first token, on passages only. A margin that is
    not a number is one line naming the variable."""
    from outweigh.adapters.bundled import abstain_margin
    from outweigh.adapters.reader import DONT_KNOW
    from outweigh.errors import InputError
    from outweigh.models.options import LoadOptions

    opts = AskOptions(collection="records", k=3, max_tokens=16, memory=False)
    load = LoadOptions(backend="llamacpp", slots=1)
    with Engine(paths, embedder=embedder, load=load) as engine:
        token = engine.backend().first_token(DONT_KNOW)
        engine.ingest([write_records(tmp_path / "records")], collection="records")
        ask = [{"role": "user", "content": "What is the version of beta?"}]
        shipped = abstain_margin(READER, "smollm2-135m")
        request = engine.prepare(ask, opts).request
        assert request.adapter == READER
        assert request.first_token_bias == ({token: -shipped} if shipped else {})
        monkeypatch.setenv("OUTWEIGH_READER_MARGIN", "2.5")
        assert engine.prepare(ask, opts).request.first_token_bias == {token: -2.5}
        bare = AskOptions(collection="records", rag=False, memory=False, max_tokens=16)
        assert engine.prepare(ask, bare).request.first_token_bias == {}
        monkeypatch.setenv("OUTWEIGH_READER_MARGIN", "lots")
        with pytest.raises(InputError, match=r"^OUTWEIGH_READER_MARGIN='lots': give a number"):
            engine.prepare(ask, opts)


@pytest.mark.slow
def test_a_reading_that_gives_nothing_asked_is_i_dont_know(paths, embedder, tmp_path) -> None:
    """patch's manual names --fuzz and not its default: the reader answers "--fuzz [1]", the
    option asked about, cited. Every door says "I don't know" instead, with no citation,
    the stream in one piece; an answer that gives what is asked is left as read."""
    from outweigh.adapters.reader import DONT_KNOW

    docs = tmp_path / "docs"
    docs.mkdir()
    page = EXAMPLES / "suite-info" / "docs" / "diffutils-patch-options.txt"
    (docs / page.name).write_text(page.read_text())
    ask = "What is the default value of the --fuzz option of patch?"
    chat = [{"role": "user", "content": ask}]
    opts = AskOptions(collection="docs", k=3, max_tokens=48, memory=False)
    with Engine(paths, embedder=embedder) as engine:
        engine.ingest([docs], collection="docs")
        prepared = engine.prepare(chat, opts)
        assert prepared.request.adapter == READER
        assert prepared.backend.generate(prepared.request).text.startswith("--fuzz")
        answer = engine.ask(ask, opts)
        assert (answer.answer, answer.citations) == (DONT_KNOW, [])
        _, stream = engine.stream(chat, opts)
        assert list(stream) == [DONT_KNOW]
        given = engine.ask("Which option of patch sets the maximum fuzz factor?", opts)
        assert "--fuzz" in given.answer and given.citations


@pytest.mark.slow
@pytest.mark.parametrize(
    ("pages", "ask", "read", "kept"),
    [
        # The placeholder wget's manual writes for the option's argument, not a default.
        (
            ["suite-info/docs/wget-logging-and-input-file-options.txt"],
            "What is the default value of the --metalink-index option of wget?",
            "NUMBER",
            ("Which wget option sets the Metalink metaurl ordinal?", "--metalink-index"),
        ),
        # The name signing the entry above Issue #4008, which has none of its own.
        (
            ["suite-log/docs/idlelib-news-3.1b1.txt"],
            "Who wrote the patch for Issue #4008 in IDLE 3.1b1?",
            "Amaury Forgeot",
            ("Who wrote the patch for Issue #5707 in IDLE 3.1b1?", "Amaury Forgeot"),
        ),
        # Diffutils' version, for the manual of Coreutils, which gives none.
        (
            ["suite-info/docs/coreutils-introduction.txt", "suite-info/docs/diffutils-top.txt"],
            "Which version of GNU Coreutils does its Texinfo manual document?",
            "3.8",
            ("Which version of GNU Diffutils does its Texinfo manual document?", "3.8"),
        ),
        # Findutils' version, for ed's manual: "ed", an everyday word, begins a file name.
        (
            ["suite-info/docs/find-top.txt", "suite-info/docs/ed-overview.txt"],
            "Which version of GNU ed does its Texinfo manual document?",
            "4.9.0",
            ("Which version of GNU Findutils does its Texinfo manual document?", "4.9.0"),
        ),
    ],
)
def test_a_reading_the_passages_do_not_hold_up_is_i_dont_know(
    paths, embedder, tmp_path, pages: list[str], ask: str, read: str, kept: tuple[str, str]
) -> None:
    """The reader copies a value of the right look from beside the answer the passage does not
    have; `ask` says "I don't know" with no citation. The question whose answer is that
    value gets it, cited."""
    from outweigh.adapters.reader import DONT_KNOW

    with _over(paths, embedder, tmp_path, pages) as (engine, opts):
        assert _reading(engine, ask, opts).startswith(read)
        answer = engine.ask(ask, opts)
        assert (answer.answer, answer.citations) == (DONT_KNOW, [])
        given = engine.ask(kept[0], opts)
        assert kept[1] in given.answer and given.citations


@pytest.mark.slow
def test_a_question_that_names_nothing_the_reader_cannot_read_is_answered_bare(
    paths, embedder, tmp_path
) -> None:
    """ "How many days are in a week?" passes the gate over `date`'s page (days, weeks), and the
    reader copies "00..53", the range of week numbers. The question names nothing of the page,
    so it is answered as the bare model answers it, uncited, and streamed as it is decoded,
    with no second reading of the page. A question that names the page still gets the
    reader's cited answer."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("date.txt", "sleep.txt"):
        (docs / name).write_text((MAN / name).read_text())
    opts = AskOptions(collection="docs", k=3, max_tokens=48, memory=False)
    ask = "How many days are in a week?"
    chat = [{"role": "user", "content": ask}]
    with Engine(paths, embedder=embedder) as engine:
        engine.ingest([docs], collection="docs")
        prepared = engine.prepare(chat, opts)
        assert prepared.request.adapter == READER and prepared.fallback is not None
        assert prepared.backend.generate(prepared.request).text.startswith("00..53")
        # No second reading: it would give "7 [1]", cited to the page.
        assert prepared.again("00..53 [1]", "I don't know: the context does not say.") is None
        bare = prepared.backend.generate(prepared.fallback).text
        answer = engine.ask(ask, opts)
        assert (answer.answer, answer.citations) == (bare, [])
        assert "7" in answer.answer and "[" not in answer.answer
        _, stream = engine.stream(chat, opts)
        pieces = list(stream)
        assert "".join(pieces) == bare and len(pieces) > 1
        utc = "Which option of date prints the time in UTC?"
        assert engine.prepare([{"role": "user", "content": utc}], opts).fallback is None
        named = engine.ask(utc, opts)
        assert "--utc" in named.answer and named.citations


@pytest.mark.slow
def test_the_reader_reads_a_readmes_licence_and_copyright_lines(paths, embedder, tmp_path) -> None:
    """A README's last section names its licence in a sentence and its holder on a copyright
    line, over a licence's boilerplate in which every line says "License", beside manual
    pages with copyright lines of their own. The reader names the licence, cited. Asked for
    the holder three ways, it names Ana Lima at least once and the pages' Free Software
    Foundation never: where it does not read the line it says "I don't know"."""
    from tests.retrieval.test_select import WIDGET_README

    from outweigh.adapters.reader import DONT_KNOW

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "widget-README.md").write_text(WIDGET_README)
    for page in ("tac", "tty"):  # other documents to choose from
        (docs / f"{page}.txt").write_text((MAN / f"{page}.txt").read_text())
    opts = AskOptions(collection="docs", k=3, max_tokens=48, memory=False)
    with Engine(paths, embedder=embedder) as engine:
        engine.ingest([docs], collection="docs")
        licence = engine.ask("Under what license is widget distributed?", opts)
        assert "Apache License" in licence.answer
        assert [Path(c.source).name for c in licence.citations] == ["widget-README.md"]
        holders = [
            engine.ask(f"{ask} widget?", opts).answer
            for ask in (
                "Who holds the copyright of",
                "Who is the copyright holder of",
                "Whose copyright notice appears in",
            )
        ]
        assert any("Ana Lima" in a for a in holders)
        assert all("Ana Lima" in a or a == DONT_KNOW for a in holders), holders


@pytest.mark.slow
def test_a_reading_the_check_turns_down_is_read_again(paths, embedder, tmp_path) -> None:
    """Asked for the default of xargs' --max-procs over the Findutils manual's section, the
    reader first gives the option's own name back. The check turns that down, and the reader
    reads once more with that first token barred (`Prepared.again`): the default the manual
    writes, "1", cited, whole and streamed alike. A reading the check keeps is not read
    again."""
    from outweigh.adapters.reader import DONT_KNOW

    info = EXAMPLES / "suite-info" / "docs"
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("find-xargs-options.txt", "coreutils-nl-invocation.txt", "grep-exit-status.txt"):
        (docs / name).write_text((info / name).read_text())
    opts = AskOptions(collection="docs", k=3, max_tokens=48, memory=False)
    ask = "What is the default for the --max-procs option of xargs?"
    chat = [{"role": "user", "content": ask}]
    with Engine(paths, embedder=embedder) as engine:
        engine.ingest([docs], collection="docs")
        prepared = engine.prepare(chat, opts)
        assert prepared.check is not None
        raw = prepared.backend.generate(prepared.request).text
        assert raw.startswith("--max-procs") and prepared.check(raw) == DONT_KNOW
        assert prepared.again(raw, DONT_KNOW) is not None
        answer = engine.ask(ask, opts)
        assert answer.answer.startswith("1") and answer.citations
        assert [Path(c.source).name for c in answer.citations] == ["find-xargs-options.txt"]
        _, stream = engine.stream(chat, opts)
        assert "".join(stream) == answer.answer
        kept = "What is the exit status of grep when an error occurred?"
        again = engine.prepare([{"role": "user", "content": kept}], opts)
        read = again.backend.generate(again.request).text
        assert again.check is not None and again.check(read) == read
        assert again.again(read, read) is None


@pytest.mark.slow
@pytest.mark.parametrize(
    ("pages", "ask", "read", "term", "cited"),
    [
        # The option's description copied back, in Russian.
        (
            ["suite-ru/docs/pstree.1--t~2.txt", "suite-ru/docs/pstree.1--a.txt"],
            "Как в pstree скрыть нити и оставить только процессы?",
            "Скрывать нити",
            "pstree -T",
            "pstree.1--t~2.txt",
        ),
        # The program for its option.
        (
            ["suite-man/docs/mkdir.txt", "suite-man/docs/cp.txt"],
            "How do I make directories with parents as needed?",
            "mkdir [1]",
            "mkdir -p, --parents",
            "mkdir.txt",
        ),
    ],
    ids=["russian-description-copied", "program-for-its-option"],
)
def test_a_question_that_describes_a_term_is_answered_with_it(
    paths, embedder, tmp_path, pages: list[str], ask: str, read: str, term: str, cited: str
) -> None:
    """The reader answers a question that describes an option in other words with the
    description, or with the program; the answer is the option, cited."""
    with _over(paths, embedder, tmp_path, pages) as (engine, opts):
        assert _reading(engine, ask, opts).startswith(read)
        answer = engine.ask(ask, opts)
        assert answer.answer.startswith(term)
        assert [Path(c.source).name for c in answer.citations] == [cited]


@contextmanager
def _over(paths, embedder, tmp_path: Path, pages: list[str]) -> Iterator[tuple[Engine, AskOptions]]:
    """An engine over a collection of the examples' `pages`, and the options to ask it."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for page in pages:
        source = EXAMPLES / page
        (docs / source.name).write_text(source.read_text())
    with Engine(paths, embedder=embedder) as engine:
        engine.ingest([docs], collection="docs")
        yield engine, AskOptions(collection="docs", k=3, max_tokens=48, memory=False)


def _reading(engine: Engine, ask: str, opts: AskOptions) -> str:
    """The reader's own first reading of `ask`, before any check."""
    prepared = engine.prepare([{"role": "user", "content": ask}], opts)
    return prepared.backend.generate(prepared.request).text


FIELDS = {
    "registry-api.md": """# Registry API
## Owners
### Owners: List
- Endpoint: /api/v1/crates/{name}/owners
- Method: GET
- Authorization: Included
The owners endpoint returns the users and teams that own the crate.
### Owners: Add
- Endpoint: /api/v1/crates/{name}/owners
- Method: PUT
- Authorization: Included
A PUT request invites the users named in its body to own the crate.
""",
    "targets.md": """# armv5te-none-eabi
- Tier: 3
- Library Support: core and alloc (bare-metal, #![no_std])

Bare-metal target for any CPU in the Armv5TE architecture family.

# thumbv7em-none-eabi
- Tier: 2
- Library Support: core only (#![no_std])

Bare-metal target for the Cortex-M4 and Cortex-M7 processors.
""",
}


@pytest.mark.parametrize(
    ("ask", "read", "value", "cited"),
    [
        # Another field's value of the unit the question names: the endpoint for the method.
        ("What is the method of Owners: Add?", "/api/v1/crates", "PUT", "registry-api.md"),
        # Nothing the question asks: a heading's mark.
        (
            "What is the library support of thumbv7em-none-eabi?",
            "#",
            "core only (#![no_std])",
            "targets.md",
        ),
    ],
    ids=["another-field", "a-heading-mark"],
)
def test_a_question_that_names_a_field_is_answered_with_its_value(
    paths, embedder, tmp_path, ask: str, read: str, value: str, cited: str
) -> None:
    """Every endpoint has a "Method:" line and every target a "Library Support:" one: the
    answer is the value of the field under the unit the question names, cited."""
    _read_then_answered(paths, embedder, tmp_path, FIELDS, ask, read, value, cited)


def _read_then_answered(
    paths, embedder, tmp_path, pages: dict[str, str], ask: str, read: str, value: str, cited: str
) -> None:
    """The reader's own first reading of `ask` over `pages` (file name -> text) begins with
    `read`, and the engine answers `value` instead, citing the page `cited`."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in pages.items():
        (docs / name).write_text(text)
    with Engine(paths, embedder=embedder) as engine:
        engine.ingest([docs], collection="docs")
        opts = AskOptions(collection="docs", k=3, max_tokens=48, memory=False)
        reading, answer = _reading(engine, ask, opts), engine.ask(ask, opts)
    assert reading.startswith(read)
    assert answer.answer == f"{value} [1]"
    assert [Path(c.source).name for c in answer.citations] == [cited]


MOTOR = """# x86_64-unknown-motor

Tier: 3

[Motor OS](https://github.com/moturus/motor-os) is a new operating system for virtualized
environments.

## Target maintainers

[@lasiotus](https://github.com/lasiotus)

## Building the target toolchain

Motor OS target toolchain can be
[built using x.py](https://rustc-dev-guide.rust-lang.org/building/how-to-build-and-run.html).

## Testing

Cross-compiled Rust binaries can be run in Motor OS VMs, as described in the
[build doc](https://github.com/moturus/motor-os/blob/main/docs/build.md) and the
[Hello Motor OS](https://github.com/moturus/motor-os/blob/main/docs/recipes/hello-motor-os.md)
example.
"""


@pytest.mark.parametrize(
    ("ask", "read", "address"),
    [
        # Another link of the page, on the same line; the question's everyday words alone
        # would not pass the relevance floor, the run of the page's words it quotes does.
        (
            "Where online is “build doc”?",
            "https://github.com/moturus/motor-os/blob/main/docs/recipes/hello-motor-os.md",
            "https://github.com/moturus/motor-os/blob/main/docs/build.md",
        ),
        # A piece of the address.
        (
            "Where online is “Hello Motor OS”?",
            "https://gith",
            "https://github.com/moturus/motor-os/blob/main/docs/recipes/hello-motor-os.md",
        ),
    ],
    ids=["another-link", "a-piece"],
)
def test_a_link_asked_for_by_its_text_is_answered_with_its_address(
    paths, embedder, tmp_path, ask: str, read: str, address: str
) -> None:
    page = "platform-support-motor.md"
    _read_then_answered(paths, embedder, tmp_path, {page: MOTOR}, ask, read, address, page)


PEOPLE = {
    "Module-Metadata.txt": """NAME
    Module::Metadata - Gather package and POD information from perl module files

AUTHOR
    Original code from Module::Build::ModuleInfo by Ken Williams
    <kwilliams@cpan.org>, Randy W. Sims <RandyS@ThePierianSpring.org>

CONTRIBUTORS
    *   Matt S Trout <mst@shadowcat.co.uk>
    *   Chris Nehren <apeiron@cpan.org>
    *   Chris 'BinGOs' Williams <chris@bingosnet.co.uk>
    *   Kent Fredric <kentnl@cpan.org>
""",
    "HTTP-Tiny.txt": """NAME
    HTTP::Tiny - A small, simple, correct HTTP/1.1 client

CONTRIBUTORS
    *   James E Keenan <jkeenan@cpan.org>
    *   Serguei Trouchelle <stro@cpan.org>
    *   Syohei YOSHIDA <syohex@gmail.com>
""",
}


@pytest.mark.parametrize(
    ("ask", "read", "address", "page"),
    [
        # The last contributor's address for the second's, and the next one's.
        (
            "Module-Metadata: what is Chris Nehren's e-mail?",
            "kentnl@cpan.org",
            "apeiron@cpan.org",
            "Module-Metadata.txt",
        ),
        (
            "What is the e-mail address of Serguei Trouchelle in HTTP-Tiny?",
            "syohex@gmail.com",
            "stro@cpan.org",
            "HTTP-Tiny.txt",
        ),
    ],
    ids=["the-last-one", "the-next-one"],
)
def test_a_named_person_s_address_is_the_one_written_beside_the_name(
    paths, embedder, tmp_path, ask: str, read: str, address: str, page: str
) -> None:
    _read_then_answered(paths, embedder, tmp_path, PEOPLE, ask, read, address, page)
