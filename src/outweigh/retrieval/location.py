"""Where a passage is in its document: PDF page, slide, sheet, section heading path, mail
subject and date. A loader marks where each part of a document's text starts
(`Document.marks`); a chunk takes the location in force at its first character, and the
Markdown headings above it as its section path. Stored with the chunk as JSON, carried by
citations, shown as "report.pdf, p. 12, §3.2 Budget"."""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import asdict, dataclass, field, replace

from outweigh.retrieval.sheets import cell_range
from outweigh.retrieval.structure import MD_HEADING, block_at, code_blocks
from outweigh.retrieval.tables import Table, tables

SECTION_CHARS = 80
"""A heading longer than this is cut in the section path: a label, not a paragraph."""


@dataclass(frozen=True)
class Location:
    """One passage's place in its document; every field is optional, as formats differ."""

    page: int | None = None
    """1-based PDF page (the last page too, as `last_page`, when a passage spans pages)."""
    last_page: int | None = None
    slide: int | None = None
    """1-based slide of a presentation."""
    sheet: str | None = None
    """Worksheet name of a spreadsheet."""
    cells: str | None = None
    """The cell range of a sheet passage's rows, e.g. "A120:D160" (`sheets.py`)."""
    section: list[str] | None = None
    """Heading path from the document's top, e.g. ["3 Costs", "3.2 Budget"]."""
    subject: str | None = None
    """Mail subject."""
    date: str | None = None
    """Mail date, as its Date header has it."""

    def to_dict(self) -> dict[str, object]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def to_json(self) -> str | None:
        d = self.to_dict()
        return json.dumps(d, ensure_ascii=False) if d else None

    def label(self) -> str:
        """The place in words: "p. 12, §3.2 Budget", "slide 3", "sheet Costs", a mail's
        subject and date; empty when nothing is known."""
        parts = []
        if self.page is not None:
            pages = self.last_page not in (None, self.page)
            parts.append(f"pp. {self.page}–{self.last_page}" if pages else f"p. {self.page}")
        if self.slide is not None:
            parts.append(f"slide {self.slide}")
        if self.sheet and self.cells:
            parts.append(f"{_sheet_ref(self.sheet)}!{self.cells}")
        elif self.sheet:
            parts.append(f"sheet {self.sheet}")
        if self.subject:
            parts.append(f"“{self.subject}”")
        if self.date:
            parts.append(self.date)
        if self.section and self.section[-1] != self.sheet:
            parts.append(f"§{self.section[-1]}")
        return ", ".join(parts)


def _sheet_ref(name: str) -> str:
    """A sheet's name as a spreadsheet formula writes it: quoted, its quotes doubled, unless
    it is letters, digits and underscores ("Budget!A1", "'Q3 plan'!A1")."""
    return name if re.fullmatch(r"\w+", name) else "'" + name.replace("'", "''") + "'"


def from_json(raw: str | None) -> Location | None:
    """A stored location; None for a chunk stored before locations were (or with none)."""
    if not raw:
        return None
    data = json.loads(raw)
    known = {k: v for k, v in data.items() if k in Location.__dataclass_fields__}
    return Location(**known)


@dataclass
class Document:
    """A document's text and where each of its parts starts."""

    text: str
    marks: list[tuple[int, Location]] = field(default_factory=list)
    """(character offset, location from there on), sorted by offset."""
    grids: dict[int, tuple[int, int]] = field(default_factory=dict)
    """For a sheet's mark (by its offset), the (row, column) of its table's top-left cell in
    the worksheet, 1-based: a passage of its rows is then located by cell range."""

    def locations(self, spans: list[tuple[int, int]]) -> list[Location | None]:
        """The location of each (start, end) character span of `text`."""
        starts = [m[0] for m in self.marks]
        found = MD_HEADING.finditer(self.text)
        blocks = code_blocks(self.text)  # "# install it" in a block of code heads nothing
        headings = [(m.start(), len(m.group(1)), m.group(2)) for m in found]
        headings = [h for h in headings if block_at(blocks, h[0]) is None]
        at = [h[0] for h in headings]
        paths = _paths(headings)
        grid = tables(self.text) if self.grids else []
        ends = [t.end for t in grid]
        out: list[Location | None] = []
        for start, end in spans:
            i = bisect.bisect_right(starts, start) - 1
            loc = self.marks[i][1] if i >= 0 else Location()
            if i >= 0 and self.marks[i][0] in self.grids:
                cells = _cells(self.text, grid, ends, self.grids[self.marks[i][0]], start, end)
                loc = replace(loc, cells=cells)
            if loc.page is not None:
                j = bisect.bisect_right(starts, max(start, end - 1)) - 1
                last = self.marks[j][1].page if j >= 0 else None
                loc = replace(loc, last_page=last if last != loc.page else None)
            # The heading path in force at the span's start: or its first heading, when a
            # span starts just before one (a chunk that opens on a blank line).
            k = bisect.bisect_right(at, start) - 1
            if k + 1 < len(at) and not self.text[start : at[k + 1]].strip():
                k += 1
            path = paths[k] if k >= 0 else []
            if path:
                loc = replace(loc, section=path)
            out.append(loc if loc.to_dict() else None)
        return out


def _cells(
    text: str, grid: list[Table], ends: list[int], at: tuple[int, int], start: int, end: int
) -> str | None:
    """The cell range of the rows of the first table of `grid` (in order, `ends` their ends)
    that ends after `start`, which [start, end) holds."""
    i = bisect.bisect_right(ends, start)
    if i == len(grid) or grid[i].lines[0] >= end:
        return None
    return cell_range(grid[i], text, at, start, end)


def _paths(headings: list[tuple[int, int, str]]) -> list[list[str]]:
    """Each heading's path from the top: the last heading of each higher level, then it."""
    path: list[tuple[int, str]] = []
    out = []
    for _, level, title in headings:
        while path and path[-1][0] >= level:
            path.pop()
        path.append((level, title.replace("\\", "")[:SECTION_CHARS]))
        out.append([t for _, t in path])
    return out


def normalise(text: str) -> str:
    """Line ends as \\n, runs of spaces and tabs as one space, blank-line runs as one."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[ \t\f\v]+", " ", text)
    return re.sub(r"\n\s*\n+", "\n\n", text).strip()
