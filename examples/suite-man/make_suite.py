"""Build examples/suite-man: real manual pages rendered to text, and questions about them.

The pages are the man(1) pages of a few Debian packages installed on the build machine
(coreutils, util-linux, procps, the compressors, binutils, findutils, grep, sed, ...),
rendered by man-db/groff to plain 80-column text. The questions ask what only the page
knows: who wrote a program, where its full documentation lives, which release of its
package the page documents, which long option a one-line description belongs to, and the
one-line NAME summary. A bare model cannot know these; a reader must also pick the right
page among many look-alikes (a hundred coreutils pages share their layout, licence text
and version line).

    python examples/suite-man/make_suite.py [--out examples/suite-man]

Deterministic for a given set of installed pages: packages, pages and questions are
sorted, and the question order is a seeded shuffle, so `--limit N` takes a mix of kinds.
The committed docs/*.txt are what the suite measures; rerunning on another machine
regenerates them from that machine's pages.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
from collections import Counter
from pathlib import Path

PACKAGES = (
    "coreutils",
    "util-linux",
    "procps",
    "gzip",
    "bzip2",
    "xz-utils",
    "binutils-common:amd64",
    "binutils-x86-64-linux-gnu",
    "findutils",
    "grep",
    "sed",
    "tar",
    "diffutils",
    "gettext",
    "groff-base",
    "man-db",
    "ncurses-bin",
    "less",
    "make",
)
"""dpkg packages whose section-1 pages make the suite: GNU and util-linux tools, whose
pages share layouts (the distractors) and carry authors, URLs and versions (the answers)."""

MAX_PAGE_CHARS = 20_000
"""Longer rendered pages are skipped: they cost ingest time and add few questions."""

SEED = 0

_FOOTER = re.compile(r"^(?P<source>\S.*?\S)\s{2,}(?P<date>\S.*?\S)\s{2,}(?P<title>\S+\(1\))\s*$")
_VERSIONED = re.compile(r"^(?P<package>.*?)\s+v?(?P<version>\d+(?:\.\d+)+\S*)$")
_WRITTEN = re.compile(r"Written\s+by\s+(?P<names>[^.<]+?)\.(?:\s|$)", re.S)
_OPTION = re.compile(
    r"^ {7}(?:-\w(?: \w+)?,\s+)?(?P<long>--[a-z][a-z0-9-]+)(?:\[?=\S+)?\s*$\n"
    r"(?P<desc>(?: {14}\S[^\n]*\n)+)",
    re.M,
)
_URL = re.compile(r"Full documentation\s+<(?P<url>https?://\S+?)>")
_NAME = re.compile(r"^NAME\n\s+(?P<names>[^\n]+?)\s+-\s+(?P<what>[^\n]+(?:\n {7}\S[^\n]+)*)", re.M)


def pages(package: str) -> list[Path]:
    """The section-1 pages dpkg lists for `package` (`pkg` or `pkg:arch`), sorted."""
    listing = Path("/var/lib/dpkg/info") / f"{package}.list"
    if not listing.is_file():  # a Multi-Arch package's list is named pkg:arch.list
        listing = next(Path("/var/lib/dpkg/info").glob(f"{package}:*.list"), listing)
    if not listing.is_file():
        return []
    out = []
    for line in listing.read_text().splitlines():
        p = Path(line)
        if line.startswith("/usr/share/man/man1/") and p.is_file() and not p.is_symlink():
            out.append(p)
    return sorted(out)


def render(page: Path) -> str:
    env = {**os.environ, "MANWIDTH": "80", "LC_ALL": "C.UTF-8", "MAN_KEEP_FORMATTING": ""}
    raw = subprocess.run(
        ["man", "-E", "ascii", "--nh", "--nj", "-l", str(page)],
        capture_output=True,
        env=env,
        check=True,
    ).stdout
    text = subprocess.run(["col", "-bx"], input=raw, capture_output=True, check=True).stdout
    lines = [ln.rstrip() for ln in text.decode("ascii", "replace").splitlines()]
    return "\n".join(lines).strip() + "\n"


def authors(names: str) -> list[str]:
    parts = re.split(r",\s*(?:and\s+)?|\s+and\s+", " ".join(names.split()))
    full = re.compile(r"[A-Z][\w'.-]+(?: [A-Z][\w'.-]+)+")
    return [p.strip() for p in parts if full.fullmatch(p.strip())]


def questions(cmd: str, text: str, package: str) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    src = f"{cmd}.txt"
    if m := _WRITTEN.search(text):
        names = authors(m["names"])
        if names:
            out.append(
                {
                    "question": f"Who wrote the {cmd} program?",
                    "answers": names,
                    "source": src,
                    "kind": "author",
                }
            )
    if m := _URL.search(text):
        out.append(
            {
                "question": f"Where is the full documentation for {cmd} online?",
                "answers": [m["url"]],
                "source": src,
                "kind": "url",
            }
        )
    last = text.rstrip().splitlines()[-1]
    if (f := _FOOTER.match(last)) and (v := _VERSIONED.match(f["source"])):
        out.append(
            {
                "question": f"Which version of {v['package']} does the {cmd} manual page document?",
                "answers": [v["version"]],
                "source": src,
                "kind": "version",
            }
        )
    if m := _NAME.search(text):
        what = " ".join(m["what"].split()).rstrip(".")
        if 3 <= len(what.split()) <= 9:
            out.append(
                {
                    "question": f"What does the {cmd} command do, in one line?",
                    "answers": [what],
                    "source": src,
                    "kind": "summary",
                }
            )
    for m in _OPTION.finditer(text):
        desc = " ".join(m["desc"].split()).rstrip(".")
        after = text[m.end() :].lstrip("\n")
        if after.startswith(" " * 14):  # the description goes on past a blank line
            continue
        if m["long"] in ("--help", "--version") or not 3 <= len(desc.split()) <= 14:
            continue
        out.append(
            {
                "question": f"Which option of {cmd} does this: {desc}?",
                "answers": [m["long"]],
                "source": src,
                "kind": "option",
                "desc": desc,
            }
        )
    return out


def main() -> None:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=here)
    args = parser.parse_args()
    docs = args.out / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    for old in docs.glob("*.txt"):
        old.unlink()
    rows: list[dict[str, object]] = []
    seen: set[str] = set()
    for package in PACKAGES:
        for page in pages(package):
            cmd = page.name.split(".1")[0]
            if cmd in seen or not re.fullmatch(r"[\w.+-]+", cmd):
                continue
            text = render(page)
            if len(text) > MAX_PAGE_CHARS:
                continue
            seen.add(cmd)
            (docs / f"{cmd}.txt").write_text(text, "utf-8")
            rows += questions(cmd, text, package)
    # An option description shared by several pages ("display this help") names no one page.
    shared = Counter(str(r.get("desc")) for r in rows if r["kind"] == "option")
    rows = [r for r in rows if r["kind"] != "option" or shared[str(r["desc"])] == 1]
    rng = random.Random(SEED)
    by_kind: dict[str, list[dict[str, object]]] = {}
    for r in rows:
        by_kind.setdefault(str(r["kind"]), []).append(r)
    # One option question per page at most, so option lists do not swamp the suite.
    options: dict[str, dict[str, object]] = {}
    for r in by_kind.get("option", []):
        options.setdefault(str(r["source"]), r) if rng.random() < 0.5 else None
    by_kind["option"] = sorted(options.values(), key=lambda r: str(r["source"]))
    quota = {"author": 45, "url": 40, "version": 40, "summary": 40, "option": 45}
    chosen: list[dict[str, object]] = []
    for kind, items in sorted(by_kind.items()):
        chosen += rng.sample(items, min(quota.get(kind, 0), len(items)))
    rng.shuffle(chosen)
    with (args.out / "questions.jsonl").open("w", encoding="utf-8") as f:
        for r in chosen:
            line = {"question": r["question"], "answers": r["answers"], "source": r["source"]}
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    kinds = Counter(str(r["kind"]) for r in chosen)
    print(f"{len(seen)} pages, {len(chosen)} questions: {dict(sorted(kinds.items()))}")


if __name__ == "__main__":
    main()
