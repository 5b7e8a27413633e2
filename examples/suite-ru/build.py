"""Build examples/suite-ru/docs/ from the Russian man pages of this machine.

Each document is one option (or the NAME line) of one manual page in /usr/share/man/ru whose
description is Russian: real Russian technical text, translated by the Debian and upstream
translation teams (shadow, man-db, psmisc, vim). Partly translated pages keep their English
paragraphs; those are left out, so every document is at least 80% Cyrillic letters.

    python examples/suite-ru/build.py [--man /usr/share/man/ru] [--out examples/suite-ru/docs]

The questions are written by hand against these documents, in questions.tsv (gold document,
answer, question); many use other word forms than their document (падеж, число, вид), as a
user asks. The script writes questions.jsonl from it, accepting every spelling of the option
that the document's header gives (-k and --kill). Rerunning it on the same man pages rewrites
the same files.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
from pathlib import Path

from outweigh.eval.metrics import normalize

MIN_CYRILLIC = 0.8
"""Share of letters that must be Cyrillic for a description to count as Russian."""
MIN_WORDS = 6
"""Shorter descriptions ("Смотрите далее") say too little to ask about."""


def render(page: Path) -> str:
    """The page as plain text, through man-db's formatter (groff), 90 columns wide."""
    env = dict(os.environ, MANWIDTH="90", LANG="C.UTF-8", MAN_KEEP_FORMATTING="0")
    out = subprocess.run(
        ["man", "-l", str(page)], capture_output=True, text=True, env=env, check=True
    ).stdout
    return re.sub(r".\x08", "", out)  # overstrike bold/underline


def cyrillic_share(text: str) -> float:
    letters = [ch for ch in text if ch.isalpha()]
    return sum("а" <= ch.lower() <= "я" or ch in "ёЁ" for ch in letters) / max(len(letters), 1)


def entries(text: str) -> list[tuple[str, str]]:
    """(header, description) of each option of the page, and ("NAME", line) for the title."""
    lines = text.splitlines()
    out: list[tuple[str, str]] = []
    header: str | None = None
    body: list[str] = []

    def flush() -> None:
        if header is not None and body:
            out.append((header, " ".join(" ".join(body).split())))

    for i, line in enumerate(lines):
        if line.strip() == "НАЗВАНИЕ" and i + 1 < len(lines):
            out.append(("NAME", lines[i + 1].strip()))
        if re.match(r"^ {7}-\S", line):
            flush()
            # A short option may carry its description on the same line: "-a     Показывать".
            head, *inline = re.split(r"\s{2,}", line.strip(), maxsplit=1)
            header, body = head, inline
        elif header is not None and (line.startswith("\t") or line.startswith(" " * 8)):
            body.append(line.strip())
        elif header is not None and line and not line.startswith(" "):
            flush()
            header, body = None, []
    flush()
    return out


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "x"


def main() -> None:
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--man", type=Path, default=Path("/usr/share/man/ru"))
    ap.add_argument("--out", type=Path, default=here / "docs")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    written = 0
    seen: set[Path] = set()
    said: set[str] = set()
    # Symlinked pages (vi, view, ex -> vim) come last, so a description shared by several
    # pages (apropos and whatis too) is kept once, under the first real page that says it.
    pages = sorted(args.man.glob("man*/*.gz"), key=lambda p: (p.is_symlink(), p.name))
    for page in pages:
        name = page.name.removesuffix(".gz")
        command, section = name.rsplit(".", 1)
        for header, desc in entries(render(page)):
            if cyrillic_share(desc) < MIN_CYRILLIC or len(desc.split()) < MIN_WORDS:
                continue
            if desc in said:
                continue
            said.add(desc)
            if header == "NAME":
                path = args.out / f"{slug(command)}.{section}--name.txt"
                text = f"{command}({section})\n\n{desc}\n"
            else:
                words = header.replace(",", " ").split()  # the long form names the file
                first = next((w for w in words if w.startswith("--")), words[0])
                path = args.out / f"{slug(command)}.{section}--{slug(first)}.txt"
                text = f"{command}({section}), параметр {header}\n\n{desc}\n"
            n = 2
            while path in seen:  # an option listed twice on one page (two sections)
                path = path.with_name(f"{path.stem.rsplit('~', 1)[0]}~{n}.txt")
                n += 1
            seen.add(path)
            path.write_text(text, encoding="utf-8")
            written += 1
    print(f"{written} documents in {args.out}")
    n = write_questions(here / "questions.tsv", args.out, here / "questions.jsonl")
    print(f"{n} questions in {here / 'questions.jsonl'}")


def write_questions(tsv: Path, docs: Path, out: Path) -> int:
    """questions.jsonl from the hand-written questions.tsv; every gold document must exist."""
    lines = []
    for n, row in enumerate(tsv.read_text(encoding="utf-8").splitlines(), start=1):
        source, answer, question = row.split("\t")
        doc = docs / source
        if not doc.is_file():
            raise SystemExit(f"{tsv} line {n}: no document {source}")
        header = doc.read_text(encoding="utf-8").splitlines()[0]
        spellings = re.findall(r"(?<![\w-])(--?[\w-]+)", header.split("параметр ")[-1])
        answers = [answer] + [s for s in spellings if s != answer and answer.startswith("-")]
        # The eval scores answers after dropping punctuation and articles, so "-a" would be
        # empty; such a flag is asked for with its command ("pstree -a").
        command = source.split(".")[0]
        answers = [a if normalize(a) else f"{command} {a}" for a in answers]
        row = {"question": question, "answers": answers, "source": source}
        lines.append(json.dumps(row, ensure_ascii=False))
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


if __name__ == "__main__":
    main()
