"""How many of the questions `outweigh eval SUITE --make-from COLLECTION` writes are fit to ask.

A made suite is how a user learns whether the reader reads their documents, and the same
miner writes the rows a reader is trained on. A question is fit when a reader of the
documents could tell what it asks without the line it was mined from, and its answer is what
the documents say to it: "Owners: Remove: what is its method?" -> DELETE is;
"What windows does reference-registry-authentication have?" and a version copied out of an
example's code are not.

The judgements are a person's, one per question, in `benchmarks/data/mined-*.jsonl`
(`{"question", "answer", "kind", "good"}`); this script counts them, by kind:

    python benchmarks/bench_mining.py benchmarks/data/mined-*.jsonl

To judge a suite made anew (after a change to `adapters/mining.py`), give it with the labels
of the last one: the questions they do not cover are printed, to be judged and added.

    python benchmarks/bench_mining.py --suite my-suite \
        --labels benchmarks/data/mined-cargo-after.jsonl

The suites judged (60 questions each, `--limit 60`, seed 0):
- cargo: the Cargo book as HTML, from a Rust toolchain, one file per page with its folders
  joined by "-" (`--html-book`), then `outweigh ingest DIR --collection cargo`:

      python benchmarks/bench_mining.py --html-book \
          ~/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/share/doc/rust/html/cargo cargo-docs

- readme and log: the documents of `examples/suite-readme` and `examples/suite-log`;
- rustc: the rustc book, as the Cargo book (`.../html/rustc`), judged once, after the
  miner's changes, which were made reading the other three.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def report(path: Path) -> str:
    rows = _rows(path)
    good = sum(r["good"] for r in rows)
    kinds = Counter(r["kind"] for r in rows)
    fit = Counter(r["kind"] for r in rows if r["good"])
    by_kind = ", ".join(f"{k} {fit[k]}/{n}" for k, n in sorted(kinds.items()))
    return f"{path.name}: {good}/{len(rows)} = {good / len(rows):.2f} fit ({by_kind})"


def unjudged(suite: Path, labels: Path) -> list[str]:
    judged = {r["question"] for r in _rows(labels)}
    asked = _rows(suite / "questions.jsonl")
    fresh = [q for q in asked if q["question"] not in judged]
    return [f"{q['kind']} | {q['question']} => {q['answers'][0]}" for q in fresh]


def html_book(book: Path, out: Path) -> int:
    """Copy an mdBook's pages into `out`, one file each, its folders joined by "-"
    (`commands/cargo-add.html` -> `commands-cargo-add.html`), without the whole-book print
    page, the table of contents and the 404 page; how many were copied."""
    out.mkdir(parents=True, exist_ok=True)
    pages = [p for p in sorted(book.rglob("*.html")) if p.name not in _NOT_PAGES]
    for page in pages:
        (out / "-".join(page.relative_to(book).parts)).write_bytes(page.read_bytes())
    return len(pages)


_NOT_PAGES = frozenset({"print.html", "toc.html", "404.html"})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("labels", nargs="*", type=Path, help="judged questions, one JSON line each")
    ap.add_argument("--suite", type=Path, help="a suite made anew, to list what is not judged")
    ap.add_argument("--labels", dest="against", type=Path, help="with --suite: the judgements")
    ap.add_argument("--html-book", nargs=2, type=Path, metavar=("BOOK", "OUT"), help="copy pages")
    args = ap.parse_args()
    for path in [*args.labels, args.suite, args.against, *(args.html_book or [])[:1]]:
        if path is not None and not path.exists():
            ap.error(f"{path}: no such file or folder")
    if args.html_book:
        print(f"{html_book(*args.html_book)} pages copied to {args.html_book[1]}")
    for path in args.labels:
        print(report(path))
    if args.suite is not None:
        if args.against is None:
            ap.error("--suite goes with --labels FILE")
        for line in unjudged(args.suite, args.against):
            print(line)


if __name__ == "__main__":
    main()
