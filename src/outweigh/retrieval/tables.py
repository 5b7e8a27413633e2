"""The Markdown tables of a text: a header row, its `| --- |` rule, then its rows, as
kreuzberg writes the tables of sheets, CSV and Word files. The chunker repeats a table's
header in every chunk (`chunking`), and a citation into a sheet names the cells it rests on
(`location`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_RULE_CELLS = re.compile(r"\|[ \t:|-]*\|")
"""A table's rule line, `| --- | :-: |`: one character class between the outer bars, so a
hostile 10 MB line of dashes costs one linear scan, not a backtracking search."""


@dataclass(frozen=True)
class Table:
    """A Markdown table in a text: a header row, its `| --- |` rule, then its rows."""

    lines: list[int]
    """Character offset of each of its lines: the header row, the rule, then each row."""
    end: int
    """Offset just past its last line (its newline not included)."""

    @property
    def head_end(self) -> int:
        """Offset just past the rule line: `text[lines[0]:head_end]` is the header and rule."""
        return self.lines[2] - 1 if len(self.lines) > 2 else self.end

    @property
    def body(self) -> int:
        """Offset of its first row, or `end` when it has none."""
        return self.lines[2] if len(self.lines) > 2 else self.end


def _is_row(line: str) -> bool:
    s = line.strip()
    return len(s) >= 2 and s[0] == "|" and s[-1] == "|"


def tables(text: str) -> list[Table]:
    """The Markdown tables of `text` in order: runs of `|`-bounded lines whose second line is
    a rule (`| --- |`), as kreuzberg writes the tables of sheets, CSV and Word files."""
    if "|" not in text:
        return []
    lines = text.split("\n")
    starts = [0] * len(lines)
    for i in range(1, len(lines)):
        starts[i] = starts[i - 1] + len(lines[i - 1]) + 1
    out: list[Table] = []
    i = 0
    while i + 1 < len(lines):
        rule = lines[i + 1].strip()
        if _is_row(lines[i]) and "---" in rule and _RULE_CELLS.fullmatch(rule):
            j = i + 2
            while j < len(lines) and _is_row(lines[j]):
                j += 1
            out.append(Table(starts[i:j], starts[j - 1] + len(lines[j - 1])))
            i = j
        else:
            i += 1
    return out
