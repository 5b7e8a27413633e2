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
- pod: the documentation of the Perl modules installed with Perl (not Debian's own `Dpkg`,
  `Debconf` and `Debian` modules), as `pod2text` writes it, one file a module, where it
  names an e-mail address (`--pod`), then `outweigh ingest DIR --collection pod`; not
  judged, its e-mail questions are measured in docs/benchmarks-eval.md:

      python benchmarks/bench_mining.py --pod pod-docs /usr/share/perl/5.36.0 \
          /usr/lib/x86_64-linux-gnu/perl/5.36.0 /usr/lib/x86_64-linux-gnu/perl-base
- rustc: the rustc book, as the Cargo book (`.../html/rustc`), judged once, after the
  miner's changes, which were made reading the other three.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
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
_NOT_PERL = frozenset({"Dpkg", "Debconf", "Debian"})
"""Debian's own modules: they document Debian's packages, which held-out checks read."""
_EMAIL = re.compile(rb"[\w.+-]+@[\w-]+\.[A-Za-z]{2,}")


def pod(out: Path, roots: list[Path]) -> int:
    """Write the documentation of each Perl module under `roots` (`.pm` and `.pod` files with
    a `=head1`) that names an e-mail address into `out`, as `pod2text` renders it, one file
    a module named by its path under its root ("Module/Metadata.pm" -> "Module-Metadata.txt",
    the first root's where two hold one name), between 800 bytes and 60 kB; how many were
    written."""
    out.mkdir(parents=True, exist_ok=True)
    written: set[str] = set()
    for root in roots:
        for path in sorted(p for p in root.rglob("*") if p.suffix in (".pm", ".pod")):
            parts = path.relative_to(root).with_suffix("").parts
            name = "-".join(parts) + ".txt"
            if _NOT_PERL & set(parts) or name in written or not path.is_file():
                continue
            raw = path.read_bytes()
            if b"\n=head1" not in raw or not _EMAIL.search(raw):
                continue
            run = subprocess.run(
                ["pod2text", "--utf8", str(path)], capture_output=True, check=False
            )
            if 800 <= len(run.stdout) <= 60_000:
                (out / name).write_bytes(run.stdout)
                written.add(name)
    return len(written)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("labels", nargs="*", type=Path, help="judged questions, one JSON line each")
    ap.add_argument("--suite", type=Path, help="a suite made anew, to list what is not judged")
    ap.add_argument("--labels", dest="against", type=Path, help="with --suite: the judgements")
    ap.add_argument("--html-book", nargs=2, type=Path, metavar=("BOOK", "OUT"), help="copy pages")
    ap.add_argument("--pod", nargs="+", type=Path, metavar="OUT ROOT", help="Perl modules' docs")
    args = ap.parse_args()
    given = [*(args.html_book or [])[:1], *(args.pod or [])[1:]]
    for path in [*args.labels, args.suite, args.against, *given]:
        if path is not None and not path.exists():
            ap.error(f"{path}: no such file or folder")
    if args.html_book:
        print(f"{html_book(*args.html_book)} pages copied to {args.html_book[1]}")
    if args.pod:
        if shutil.which("pod2text") is None:
            ap.error("--pod needs pod2text (Perl's own; Debian: apt-get install perl)")
        if len(args.pod) < 2:
            ap.error("--pod OUT ROOT [ROOT ...]: the folder to write, then Perl's folders")
        print(f"{pod(args.pod[0], args.pod[1:])} modules' documentation written to {args.pod[0]}")
    for path in args.labels:
        print(report(path))
    if args.suite is not None:
        if args.against is None:
            ap.error("--suite goes with --labels FILE")
        for line in unjudged(args.suite, args.against):
            print(line)


if __name__ == "__main__":
    main()
