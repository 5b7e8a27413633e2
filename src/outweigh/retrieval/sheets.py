"""Where a spreadsheet passage's rows are: the cell range of a chunk's table rows, as a
spreadsheet names it ("Budget!A120:D160").

kreuzberg writes each sheet as `## <name>` over one Markdown table, a line per row of the
sheet's used range, in order, blank rows inside it kept as rows of empty cells; it drops the
empty rows above and columns left of the first cell that holds a value (checked on files that
openpyxl wrote with leading blank rows and columns). So the table's first line is the used
range's first row, and its k-th row line (after the `| --- |` rule) is k rows below that.
An .xlsx names its used range in each worksheet's `<dimension ref="B3:D40"/>`; where that
range has as many rows and columns as the table, the table starts at its top-left cell. Where
they differ (no `<dimension>`, or cells that hold only a style), the range is left out
rather than guessed: a wrong cell range would be a false citation. An .ods has no such
element, so an .ods passage names only its sheet.
"""

from __future__ import annotations

import bisect
import re
import zipfile
import zlib
from io import BytesIO

from outweigh.retrieval.tables import Table

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_PKG = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\s+ref="([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?"')

HEAD_BYTES = 1 << 16
"""How much of a worksheet's XML is searched for `<dimension>`: it comes before the cells
(ECMA-376 part 1, §18.3.1.99), after at most a `<sheetPr>`; the cells are not read."""


def column(n: int) -> str:
    """The letters of 1-based column `n`: 1 is A, 27 is AA."""
    letters = ""
    while n:
        n, r = divmod(n - 1, 26)
        letters = chr(ord("A") + r) + letters
    return letters


def _number(letters: str) -> int:
    n = 0
    for c in letters:
        n = n * 26 + ord(c) - ord("A") + 1
    return n


def used_ranges(data: bytes) -> dict[str, tuple[int, int, int, int]]:
    """Each worksheet's used range in an .xlsx, by sheet name: (first row, first column, rows,
    columns), 1-based. A sheet without a readable `<dimension>` is left out.
    `guard.check_container` has already refused entity declarations and zip bombs."""
    from xml.etree import ElementTree

    out: dict[str, tuple[int, int, int, int]] = {}
    try:
        with zipfile.ZipFile(BytesIO(data)) as z:
            book = ElementTree.fromstring(z.read("xl/workbook.xml"))
            rels = ElementTree.fromstring(z.read("xl/_rels/workbook.xml.rels"))
            targets = {r.get("Id"): r.get("Target", "") for r in rels.iter(_PKG)}
            names = set(z.namelist())
            for sheet in book.iter(f"{_MAIN}sheet"):
                target = targets.get(sheet.get(_REL), "")
                part = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
                if part not in names:
                    continue
                with z.open(part) as f:
                    found = _DIMENSION.search(f.read(HEAD_BYTES))
                if found:
                    a, r1, b, r2 = (g.decode() if g else None for g in found.groups())
                    first, last = _number(a or "A"), _number(b or a or "A")
                    top, bottom = int(r1 or 1), int(r2 or r1 or 1)
                    out[sheet.get("name", "")] = (top, first, bottom - top + 1, last - first + 1)
    except (KeyError, ValueError, OSError, zipfile.BadZipFile, zlib.error, ElementTree.ParseError):
        return {}  # kreuzberg read the file; a range it cannot vouch for is left out
    return out


def width(table: Table, text: str) -> int:
    """How many columns `table` has: the cells of its header row."""
    head = text[table.lines[0] : table.lines[1]].strip()
    return len(re.split(r"(?<!\\)\|", head)) - 2


def origin(
    table: Table, text: str, used: tuple[int, int, int, int] | None
) -> tuple[int, int] | None:
    """(row, column) of `table`'s top-left cell, when the sheet's used range `used` has its
    shape (rows: the header and each row line; columns: the header's cells); else None."""
    if used is None:
        return None
    top, left, rows, cols = used
    return (top, left) if rows == len(table.lines) - 1 and cols == width(table, text) else None


def cell_range(table: Table, text: str, at: tuple[int, int], start: int, end: int) -> str | None:
    """The cells of the table rows whose lines start within [start, end), e.g. "A120:D160";
    `at` is the table's top-left cell. None when the span holds none of its rows."""
    lo = bisect.bisect_left(table.lines, start)
    hi = bisect.bisect_left(table.lines, end) - 1
    lo, hi = (2 if lo == 1 else lo), (0 if hi == 1 else hi)  # line 1 is the rule
    if lo > hi:
        return None
    row0, col0 = at
    # Line 0 is the header (the range's first row), line 1 the rule, line k >= 2 row k - 1.
    first, last = (row0 + (i - 1 if i else 0) for i in (lo, hi))
    right = column(col0 + width(table, text) - 1)
    return f"{column(col0)}{first}:{right}{last}"
