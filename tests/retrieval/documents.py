"""Real documents of every kind `outweigh ingest` reads, written from given text by the real
writer libraries (python-docx, python-pptx, openpyxl, odfpy, ebooklib, the email stdlib,
Pillow + reportlab for a scanned page): no binary fixtures. The benchmarks build theirs here too.

Each builder takes `sections`: (heading, paragraphs) pairs, e.g. a man page's NAME,
DESCRIPTION and OPTIONS, and writes them with the format's own structure (a heading style, a
slide, a sheet, a chapter, a mail).
"""

from __future__ import annotations

import email.utils
import io
import mailbox
import re
from email.message import EmailMessage
from pathlib import Path

Sections = list[tuple[str, list[str]]]

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
"""Debian's fonts-dejavu: Latin and Cyrillic glyphs, for the rendered (scanned) pages."""


def man_sections(text: str, limit: int = 6) -> Sections:
    """A man page's text as sections: a line in capitals at the margin is a heading, the
    paragraphs under it its body (whitespace folded)."""
    sections: Sections = []
    for block in re.split(r"\n(?=[A-Z][A-Z ]+\n)", text.strip()):
        head, _, body = block.partition("\n")
        paras = [" ".join(p.split()) for p in re.split(r"\n\s*\n", body) if p.strip()]
        if paras:
            sections.append((head.strip().title(), paras))
    return sections[:limit]


def docx(
    path: Path, sections: Sections, table: list[list[str]] | None = None, title: str = ""
) -> Path:
    """Sections under Word's Heading 1 style, or Heading 2 under a Heading 1 `title`."""
    import docx as python_docx

    doc = python_docx.Document()
    if title:
        doc.add_heading(title, level=1)
    for head, paras in sections:
        doc.add_heading(head, level=2 if title else 1)
        for p in paras:
            doc.add_paragraph(p)
    if table:
        t = doc.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, cell in enumerate(row):
                t.cell(r, c).text = cell
    doc.save(path)
    return path


def pptx(path: Path, sections: Sections) -> Path:
    """One slide per section: its heading the title, its paragraphs the body."""
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    for head, paras in sections:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = head
        body = slide.placeholders[1].text_frame
        body.text = paras[0]
        for p in paras[1:]:
            body.add_paragraph().text = p
        slide.shapes.add_textbox(Inches(0), Inches(7), Inches(1), Inches(0.3))
    deck.save(path)
    return path


def xlsx(path: Path, sheets: dict[str, list[list[str]]]) -> Path:
    """One sheet per entry; the first row of each is its header."""
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def csv(path: Path, rows: list[list[str]]) -> Path:
    import csv as stdlib_csv

    with path.open("w", newline="", encoding="utf-8") as f:
        stdlib_csv.writer(f).writerows(rows)
    return path


def odt(path: Path, sections: Sections, title: str = "") -> Path:
    """Sections as outline-level-1 headings, or level 2 under a level-1 `title`."""
    from odf.opendocument import OpenDocumentText
    from odf.text import H, P

    doc = OpenDocumentText()
    if title:
        doc.text.addElement(H(outlinelevel=1, text=title))
    for head, paras in sections:
        doc.text.addElement(H(outlinelevel=2 if title else 1, text=head))
        for p in paras:
            doc.text.addElement(P(text=p))
    doc.save(str(path))
    return path


def ods(path: Path, sheets: dict[str, list[list[str]]]) -> Path:
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    doc = OpenDocumentSpreadsheet()
    for name, rows in sheets.items():
        table = Table(name=name)
        for row in rows:
            tr = TableRow()
            for value in row:
                cell = TableCell(valuetype="string")
                cell.addElement(P(text=value))
                tr.addElement(cell)
            table.addElement(tr)
        doc.spreadsheet.addElement(table)
    doc.save(str(path))
    return path


def odp(path: Path, sections: Sections) -> Path:
    """One page (slide) per section, its heading and paragraphs in text frames."""
    from odf.draw import Frame, Page, TextBox
    from odf.opendocument import OpenDocumentPresentation
    from odf.style import MasterPage, PageLayout
    from odf.text import P

    doc = OpenDocumentPresentation()
    layout = PageLayout(name="layout")
    doc.automaticstyles.addElement(layout)
    master = MasterPage(name="master", pagelayoutname=layout)
    doc.masterstyles.addElement(master)
    for i, (head, paras) in enumerate(sections, start=1):
        page = Page(name=f"slide{i}", masterpagename=master)
        frame = Frame(width="25cm", height="15cm", x="1cm", y="1cm")
        box = TextBox()
        for line in [head, *paras]:
            box.addElement(P(text=line))
        frame.addElement(box)
        page.addElement(frame)
        doc.presentation.addElement(page)
    doc.save(str(path))
    return path


def epub(path: Path, sections: Sections, title: str = "Manual") -> Path:
    """One chapter per section."""
    from html import escape

    from ebooklib import epub as ebook

    book = ebook.EpubBook()
    book.set_identifier(f"outweigh-{path.stem}")
    book.set_title(title)
    book.set_language("en")
    chapters = []
    for i, (head, paras) in enumerate(sections, start=1):
        ch = ebook.EpubHtml(title=head, file_name=f"ch{i}.xhtml", lang="en")
        body = "".join(f"<p>{escape(p)}</p>" for p in paras)
        ch.content = f"<html><body><h1>{escape(head)}</h1>{body}</body></html>"
        book.add_item(ch)
        chapters.append(ch)
    book.toc = chapters
    book.spine = ["nav", *chapters]
    book.add_item(ebook.EpubNcx())
    book.add_item(ebook.EpubNav())
    ebook.write_epub(str(path), book)
    return path


def rtf(path: Path, sections: Sections) -> Path:
    """RTF by hand (no maintained writer library): \\b headings, \\par paragraphs, non-ASCII
    as \\uN? escapes as the RTF 1.9 spec has them."""

    def esc(s: str) -> str:
        s = s.replace("\\", "\\\\").replace("{", "\\{").replace("}", "\\}")
        return "".join(c if ord(c) < 128 else f"\\u{ord(c) - (ord(c) > 32767) * 65536}?" for c in s)

    body = "".join(
        f"{{\\b {esc(h)}\\b0}}\\par\n" + "".join(f"{esc(p)}\\par\n" for p in paras)
        for h, paras in sections
    )
    path.write_text("{\\rtf1\\ansi\\deff0{\\fonttbl{\\f0 Times;}}\n" + body + "}", "ascii")
    return path


def mail(subject: str, body: str, date: str = "Mon, 03 Mar 2025 10:00:00 +0000") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Ops <ops@example.org>"
    msg["To"] = "team@example.org"
    msg["Subject"] = subject
    msg["Date"] = date
    msg["Message-ID"] = email.utils.make_msgid(domain="example.org")
    msg.set_content(body)
    return msg


def eml(path: Path, subject: str, body: str) -> Path:
    path.write_bytes(bytes(mail(subject, body)))
    return path


def mbox(path: Path, messages: list[tuple[str, str]]) -> Path:
    box = mailbox.mbox(str(path), create=True)
    for i, (subject, body) in enumerate(messages):
        box.add(mail(subject, body, f"Tue, {4 + i:02d} Mar 2025 09:30:00 +0000"))
    box.flush()
    box.close()
    return path


def page_image(lines: list[str], size: int = 28, width: int = 2480):
    """A page (A4 at 300 dpi wide) of `lines` drawn in DejaVu Sans, black on white, as a
    scanner would give it: a PIL image."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(FONT, size * 300 // 72 // 3)
    step = int(font.size * 1.6)
    img = Image.new("L", (width, max(3508, 300 + step * len(lines))), 255)
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((200, 200 + i * step), line, font=font, fill=0)
    return img


def scanned_pdf(path: Path, pages: list[list[str]]) -> Path:
    """A PDF of page images only (no text layer): what a scanner writes."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    for lines in pages:
        buf = io.BytesIO()
        page_image(lines).save(buf, format="PNG")
        c.drawImage(ImageReader(io.BytesIO(buf.getvalue())), 0, 0, *A4)
        c.showPage()
    c.save()
    return path


def text_pdf(path: Path, sections: Sections) -> Path:
    """A PDF with a text layer, one section per page, in DejaVu Sans (Cyrillic too)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(TTFont("DejaVu", FONT))
    c = canvas.Canvas(str(path), pagesize=A4)
    for head, paras in sections:
        y = 800
        c.setFont("DejaVu", 14)
        c.drawString(60, y, head)
        c.setFont("DejaVu", 10)
        for p in paras:
            for line in wrap(p, 95):
                y -= 14
                if y < 60:
                    break
                c.drawString(60, y, line)
        c.showPage()
    c.save()
    return path


def wrap(text: str, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return [*lines, line] if line else lines
