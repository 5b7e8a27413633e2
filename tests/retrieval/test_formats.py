"""Every document kind `ingest` reads, built here from the man pages of examples/suite-man by
each format's own writer library, ingested together with the rest of the suite's pages; each
is found by search, and each passage knows where it is (page, slide, sheet, section, mail)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from outweigh.engine import AskOptions, Engine
from outweigh.retrieval import ingest
from outweigh.retrieval.hybrid import HybridSearcher
from outweigh.retrieval.loaders import read_document
from outweigh.retrieval.location import Document, Location
from outweigh.retrieval.store import Store
from outweigh.testing import EchoBackend, FakeEmbedder

from . import documents as build

MAN = Path(__file__).resolve().parents[2] / "examples" / "suite-man" / "docs"

needs_tesseract = pytest.mark.skipif(
    shutil.which("tesseract") is None, reason="tesseract-ocr is not installed (make tesseract)"
)


def man(page: str) -> build.Sections:
    return build.man_sections((MAN / f"{page}.txt").read_text("utf-8"))


def table(page: str) -> list[list[str]]:
    """A man page as a two-column table under a header row."""
    return [["Section", "Text"], *([h, " ".join(ps)] for h, ps in man(page))]


KINDS = {
    # file name: (man page, how it is built, the location its NAME passage has)
    "bzip2.docx": ("bzip2", lambda p: build.docx(p, man("bzip2")), {"section": ["Name"]}),
    "base64.pptx": ("base64", lambda p: build.pptx(p, man("base64")), {"slide": 1}),
    "ar.xlsx": ("ar", lambda p: build.xlsx(p, {"Options": table("ar")}), {"sheet": "Options"}),
    "basenc.csv": ("basenc", lambda p: build.csv(p, table("basenc")), {}),
    "arch.odt": ("arch", lambda p: build.odt(p, man("arch")), {"section": ["Name"]}),
    "basename.ods": (
        "basename",
        lambda p: build.ods(p, {"Pages": table("basename")}),
        {"sheet": "Pages"},
    ),
    "apropos.odp": ("apropos", lambda p: build.odp(p, man("apropos")), {"slide": None}),
    "addr2line.epub": ("addr2line", lambda p: build.epub(p, man("addr2line")), {}),
    "b2sum.rtf": ("b2sum", lambda p: build.rtf(p, man("b2sum")), {}),
    "bzgrep.eml": (
        "bzgrep",
        lambda p: build.eml(p, "bzgrep manual", " ".join(man("bzgrep")[0][1])),
        {"subject": "bzgrep manual"},
    ),
    "captoinfo.mbox": (
        "captoinfo",
        lambda p: build.mbox(
            p, [("Weekly notes", "Nothing new."), ("captoinfo", " ".join(man("captoinfo")[0][1]))]
        ),
        {"subject": "captoinfo", "date": "Wed, 05 Mar 2025 09:30:00 +0000"},
    ),
    "du.pdf": (
        "du",
        lambda p: build.text_pdf(p, [("Cover", ["An empty first page."]), *man("du")]),
        {"page": 2},
    ),
}


def name_line(page: str) -> str:
    """The man page's NAME paragraph: a phrase that only its own document holds."""
    return man(page)[0][1][0]


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """One file of each kind, beside the suite's other man pages as plain text."""
    root = tmp_path_factory.mktemp("formats")
    used = {page for page, _, _ in KINDS.values()}
    for txt in sorted(MAN.glob("*.txt"))[:40]:
        if txt.stem not in used:
            shutil.copy(txt, root / txt.name)
    for name, (_, make, _) in KINDS.items():
        make(root / name)
    return root


def test_each_kind_is_ingested_found_and_located(folder, paths):
    store = Store(paths)
    embedder = FakeEmbedder()
    report = ingest([folder], store, embedder, "c")
    assert report.failed == []
    searcher = HybridSearcher(store, embedder)
    for name, (page, _, where) in KINDS.items():
        [hit] = searcher.search(name_line(page), "c", k=1, mode="bm25")
        assert Path(hit.source).name == name
        found = hit.location.to_dict() if hit.location else {}
        # None: the key must be there, whatever its value (a chunk may start a slide later).
        assert all(k in found and v in (None, found[k]) for k, v in where.items()), (name, found)


def test_a_table_row_keeps_its_header(folder):
    doc = read_document(folder / "ar.xlsx", 2**20)
    lines = doc.text.splitlines()
    header = lines.index("| Section | Text |")
    assert lines[header + 1].startswith("| ---")
    assert any(line.startswith("| Name | ar - create") for line in lines[header + 2 :])


def man_rows(pages: int = 60) -> list[list[object]]:
    """The first sentence-worth of each section of `pages` man pages, one row each, with its
    word count as a number: a few hundred rows of real text under a header."""
    rows: list[list[object]] = [["Page", "Section", "Words", "Opening"]]
    for txt in sorted(MAN.glob("*.txt"))[:pages]:
        for head, paras in man(txt.stem):
            words = " ".join(paras).split()
            rows.append([txt.stem, head, len(words), " ".join(words[:12])])
    return rows


def test_a_late_row_of_a_long_sheet_is_found_with_its_header(tmp_path, paths):
    rows = man_rows()
    build.xlsx(tmp_path / "pages.xlsx", {"Pages": rows})
    store = Store(paths)
    embedder = FakeEmbedder()
    report = ingest([tmp_path], store, embedder, "c")
    assert report.failed == [] and report.chunks > 10
    assert len(rows) > 250
    openings = [r[3] for r in rows]
    # A row near the end whose words no other row has (gprofng's pages share sections).
    late = next(r for r in rows[-40:] if openings.count(r[3]) == 1)
    question = f"What does the {late[1]} of {late[0]} say? {late[3]}"
    [hit] = HybridSearcher(store, embedder).search(question, "c", k=1)
    lines = hit.text.splitlines()
    assert lines[:2] == ["| Page | Section | Words | Opening |", "| --- | --- | --- | --- |"]
    assert f"| {late[0]} | {late[1]} | {late[2]} | {late[3]} |" in lines
    # Its citation names the sheet and the cells of its rows; the late row is among them.
    assert hit.location is not None and hit.location.sheet == "Pages"
    first, last = (int(c.lstrip("ABCD")) for c in hit.location.cells.split(":"))
    assert hit.location.label() == f"Pages!A{first}:D{last}"
    assert first <= rows.index(late) + 1 <= last


def cell_text(value: object) -> str:
    return "" if value is None else str(value)


def test_each_chunk_of_a_sheet_names_the_cells_of_its_rows(tmp_path):
    """Every chunk's cell range holds exactly the rows its text shows, read back by openpyxl,
    on a sheet that starts at A1 and on one whose table starts at C4 (blank rows above it,
    blank columns left of it, a blank row inside it)."""
    from openpyxl import Workbook, load_workbook

    from outweigh.retrieval.ingest import chunk_document
    from outweigh.retrieval.location import from_json

    rows = man_rows(40)
    book = Workbook()
    book.active.title = "Pages"
    for row in rows:
        book.active.append(row)
    late = book.create_sheet("Late start")
    for r, row in enumerate([*rows[:60], [None] * 4, *rows[60:120]], start=4):
        for c, value in enumerate(row, start=3):
            late.cell(r, c, value)
    book.save(tmp_path / "pages.xlsx")
    doc = read_document(tmp_path / "pages.xlsx", 2**22)
    pending = chunk_document(
        tmp_path / "pages.xlsx", "s", doc, 1, None, FakeEmbedder(), chunk_tokens=120, overlap=20
    )
    assert pending is not None
    sheets = load_workbook(tmp_path / "pages.xlsx")
    seen = set()
    for (text, start, end), where in zip(pending.chunks, pending.locations, strict=True):
        loc = from_json(where)
        assert loc is not None and loc.sheet and loc.cells, text[:80]
        seen.add(loc.sheet)
        want = [
            " ".join(("| " + " | ".join(cell_text(c.value) for c in row) + " |").split())
            for row in sheets[loc.sheet][loc.cells]
        ]
        own = doc.text[start:end].splitlines()  # the chunk's own rows, not a repeated header
        # Markdown escapes (`\\|`, `\\<`) undone, as a reader of the cells sees them.
        got = [re.sub(r"\\(\W)", r"\1", x) for x in own if x.startswith("|") and "| ---" not in x]
        # The rows whose lines start in the chunk; the last may be cut where the chunk ends.
        assert len(got) == len(want) and got[:-1] == want[:-1], (loc.label(), text[:120])
        assert want[-1].startswith(got[-1])
        quoted = loc.sheet if loc.sheet == "Pages" else f"'{loc.sheet}'"
        assert loc.label() == f"{quoted}!{loc.cells}"
    assert seen == {"Pages", "Late start"}


def test_a_section_path_is_the_headings_above():
    text = "# 3 Costs\n\nIntro.\n\n## 3.2 Budget\n\nThe budget is 12 k.\n\n# 4 Risks\n\nNone."
    doc = Document(text, [(0, Location(page=12))])
    at = text.index("The budget")
    [loc] = doc.locations([(at, at + 10)])
    assert loc is not None and loc.section == ["3 Costs", "3.2 Budget"]
    assert loc.label() == "p. 12, §3.2 Budget"
    [after] = doc.locations([(text.index("None"), len(text))])
    assert after is not None and after.section == ["4 Risks"]
    # A shell comment in a block of code heads no section.
    code = "## Install\n\n```sh\n# fetch the sources\ngit clone x\n```\n\nThen build."
    [built] = Document(code, [(0, Location())]).locations([(code.index("Then"), len(code))])
    assert built is not None and built.section == ["Install"]


@pytest.mark.parametrize("kind", ["docx", "odt"])
def test_word_and_odf_heading_styles_are_the_citations_section_path(kind, tmp_path, paths):
    """Word's Heading 1/2 styles (python-docx `add_heading`) and ODF outline levels come out
    of kreuzberg as `#`/`##` lines, so a passage's citation names its heading path."""
    sections = man("bzip2")
    head, paras = sections[2]
    assert len(paras) > 1  # a paragraph late in the section: its chunk starts inside it
    getattr(build, kind)(tmp_path / f"bzip2.{kind}", sections, title="bzip2 manual")
    store = Store(paths)
    ingest([tmp_path], store, FakeEmbedder(), "c", chunk_tokens=60, overlap=10)
    [hit] = HybridSearcher(store, FakeEmbedder()).search(paras[-1], "c", k=1, mode="bm25")
    assert hit.location is not None and hit.location.section == ["bzip2 manual", head]
    assert hit.location.label() == f"§{head}"


def test_an_older_db_upgrades_and_its_chunks_have_no_location(paths, tmp_path):
    import sqlite3

    from outweigh.db import connect, migrate
    from outweigh.retrieval.schema import MIGRATIONS

    conn = connect(paths.db)
    migrate(conn, "retrieval", MIGRATIONS[:5])  # the schema before locations
    conn.close()
    (tmp_path / "a.md").write_text("# Title\n\nThe dock code is KX-19.")
    store = Store(paths)
    ingest([tmp_path / "a.md"], store, FakeEmbedder(), "c")
    [hit] = HybridSearcher(store, FakeEmbedder()).search("dock code", "c", k=1, mode="bm25")
    assert hit.location is not None and hit.location.section == ["Title"]
    with sqlite3.connect(paths.db) as raw:
        assert "location" in {r[1] for r in raw.execute("PRAGMA table_info(chunks)")}


@needs_tesseract
def test_ask_json_on_a_scanned_pdf_cites_its_page(paths, tmp_path):
    lines = build.wrap(" ".join(man("cut")[2][1]), 60)  # its DESCRIPTION
    build.scanned_pdf(
        tmp_path / "scan.pdf",
        [["Contents", "Cover page of the cut manual."], lines],
    )
    engine = Engine(paths, embedder=FakeEmbedder(), backend=EchoBackend(reply=lines[0]))
    report = engine.ingest([tmp_path], "scans")
    assert report.failed == [] and report.files == 1
    question = "What does cut print from each file?"
    answer = engine.ask(question, AskOptions(collection="scans", memory=False))
    [cited] = answer.to_dict()["citations"]
    assert cited["location"]["page"] == 2 and cited["where"].startswith("p. 2")


RUSSIAN = Path(__file__).resolve().parents[2] / "examples" / "suite-ru" / "docs"


@needs_tesseract
@pytest.mark.parametrize("language", ["en", "ru"])
def test_ocr_of_a_rendered_page_finds_its_words(tmp_path, language):
    import re

    if language == "en":
        text = " ".join(" ".join(ps) for _, ps in man("cut")[2:4])
    else:
        files = sorted(RUSSIAN.glob("*.txt"))[:12]
        text = " ".join(f.read_text("utf-8") for f in files)
    lines = build.wrap(text, 60)[:40]
    build.scanned_pdf(tmp_path / "page.pdf", [lines])
    read = read_document(tmp_path / "page.pdf", 2**20).text

    def words(s: str) -> list[str]:
        return re.findall(r"[^\W_]{3,}", s.lower())

    want, got = words(" ".join(lines)), set(words(read))
    found = sum(w in got for w in want) / len(want)
    assert len(want) > 150 and found >= 0.95, found
