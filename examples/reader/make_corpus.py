"""Write the reader adapter's training corpus: installed Python packages' metadata and manual
pages of packages the eval suites do not use, as text.

Every `*.dist-info/METADATA` (and `*.egg-info/PKG-INFO`) of the Python environments on the
machine becomes `OUT/python/<name>.txt`: its header fields (Name, Version, Summary, Author,
Maintainer, License, Home-page, Project-URL ...) without the long lists of classifiers and
requirements, then the first lines of the package's description. These are real `Key: value`
records with a prose tail, the shape of much documentation metadata.

With `--man` (the default list is `MAN_PACKAGES`), the section-1 manual pages of those dpkg
packages are rendered to 80-column text as `OUT/man/<page>.txt`. None of them belongs to a
package examples/suite-man draws from, so the suite's pages stay held out; a page of the same
name as a suite page is skipped too.

With `--prose`, each package's description (its README, often with a changelog, tables and
lists, in Markdown or reStructuredText) becomes `OUT/readme/<name>.md`, at most
`PROSE_CHARS` of it, and its license and authors files `OUT/license/<name>.txt`: prose of
other shapes, read for typed values (dates, people, e-mail addresses, URLs, versions) by
`outweigh.adapters.reader.prose_facts`.

None of it is an eval suite, the bundled handbook, the project's own text, anything under
/usr/share/doc, or a Debian package record.

    python examples/reader/make_corpus.py OUT [--site DIR ...]
    python examples/reader/make_corpus.py OUT --man git-man openssl ...
    outweigh ingest OUT --collection reader-corpus
    outweigh adapter train --reader reader-corpus --name reader

Deterministic for a given set of installed packages (sorted; one file per package name).
"""

from __future__ import annotations

import argparse
import re
import site
import subprocess
import sys
from pathlib import Path

# Pages are rendered exactly as the suite's are, by the suite's own builder.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "suite-man"))
from make_suite import MAX_PAGE_CHARS, pages, render

DROP = frozenset({"classifier", "requires-dist", "provides-extra", "dynamic", "license-file"})
"""Fields that repeat dozens of times per package and name no fact worth asking about."""

DESCRIPTION_LINES = 12
"""Lines of the package description kept after the header: some prose around the fields."""

MAN_PACKAGES = (
    "git-man",
    "openssl",
    "dpkg-dev",
    "dpkg",
    "perl",
    "systemd",
    "openssh-client",
    "gnupg-utils",
    "gpg",
    "valgrind",
    "postgresql-common",
    "x11-utils",
    "fontconfig",
    "icu-devtools",
    "libc-bin",
    "e2fsprogs",
    "bsdextrautils",
    "psmisc",
    "wget",
    "curl",
    "zstd",
    "zip",
    "unzip",
    "patch",
    "jq",
    "strace",
    "tmux",
)
"""dpkg packages whose section-1 pages go in with `--man`: none is a package that
examples/suite-man draws from (coreutils, util-linux, procps, grep, sed, ...)."""


def sites(extra: list[Path]) -> list[Path]:
    found = [Path(p) for p in (*site.getsitepackages(), site.getusersitepackages())]
    found += [Path("/usr/lib/python3/dist-packages"), *extra]
    return sorted({p for p in found if p.is_dir()})


def record(meta: Path) -> tuple[str, str] | None:
    text = meta.read_text("utf-8", "replace")
    head, _, body = text.partition("\n\n")
    name = re.search(r"^Name:\s*(\S+)", head, re.M)
    if name is None:
        return None
    lines = [ln for ln in head.splitlines() if ln.split(":", 1)[0].strip().lower() not in DROP]
    lines = [ln for ln in lines if not ln.startswith((" ", "\t"))]  # folded long values
    prose = [ln.rstrip() for ln in body.splitlines() if ln.strip()][:DESCRIPTION_LINES]
    out = "\n".join(lines).strip() + "\n"
    if prose:
        out += "\n" + "\n".join(prose) + "\n"
    return name[1].lower().replace("_", "-"), out


PROSE_CHARS = 24_000
"""Most of a package description kept: the README's first sections and changelog."""
SKIP = frozenset({"outweigh"})
"""Packages whose text is this project's own."""
_KIND_PART = re.compile(r"-(?:readme|license|changelog|news|history).*$", re.I)
"""A suite document's name past its package's: `charset-normalizer-README-part1` ->
`charset-normalizer`, the package whose README and records the corpus leaves out."""


def prose(out: Path, roots: list[Path], skip: frozenset[str] | set[str] = SKIP) -> None:
    """Each package's description and license files, one document per package, but none of
    a package named in `skip`."""
    readmes: dict[str, str] = {}
    licenses: dict[str, str] = {}
    for root in roots:
        for meta in sorted(root.glob("*.dist-info/METADATA")):
            text = meta.read_text("utf-8", "replace")
            head, _, body = text.partition("\n\n")
            name = re.search(r"^Name:\s*(\S+)", head, re.M)
            if name is None:
                continue
            key = name[1].lower().replace("_", "-")
            if key in skip or key in readmes:
                continue
            if len(body.strip()) > 400:
                readmes[key] = body.strip()[:PROSE_CHARS] + "\n"
            files = sorted(
                p
                for pattern in ("licenses/*", "LICENSE*", "LICENCE*", "AUTHORS*", "NOTICE*")
                for p in meta.parent.glob(pattern)
                if p.is_file()
            )
            if files:
                licenses[key] = "\n\n".join(p.read_text("utf-8", "replace") for p in files)
    for folder, docs, suffix in (("readme", readmes, ".md"), ("license", licenses, ".txt")):
        (out / folder).mkdir(exist_ok=True)
        for key, text in sorted(docs.items()):
            (out / folder / f"{key}-{folder}{suffix}").write_text(text[:PROSE_CHARS], "utf-8")
    print(f"{len(readmes)} READMEs, {len(licenses)} license files -> {out}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--site", type=Path, action="append", default=[])
    parser.add_argument(
        "--man", nargs="*", default=None, help="dpkg packages whose man(1) pages to add"
    )
    parser.add_argument(
        "--held-out", type=Path, action="append", default=[], help="a suite's docs/ to skip"
    )
    parser.add_argument("--prose", action="store_true", help="add READMEs and license files")
    args = parser.parse_args()
    for folder in args.held_out:
        if not folder.is_dir():
            parser.error(f"--held-out {folder} is not a folder; give the suite's docs/")
    held = {p.stem for folder in args.held_out for p in folder.iterdir() if p.is_file()}
    skip = SKIP | {_KIND_PART.sub("", stem).lower().replace("_", "-") for stem in held}
    args.out.mkdir(parents=True, exist_ok=True)
    written: dict[str, str] = {}
    for root in sites(args.site):
        metas = sorted([*root.glob("*.dist-info/METADATA"), *root.glob("*.egg-info/PKG-INFO")])
        for meta in metas:
            got = record(meta)
            if got is not None and got[0] not in written and got[0] not in skip:
                written[got[0]] = got[1]
    (args.out / "python").mkdir(exist_ok=True)
    for name, text in sorted(written.items()):
        (args.out / "python" / f"{name}.txt").write_text(text, "utf-8")
    print(f"{len(written)} packages -> {args.out}", file=sys.stderr)
    if args.prose:
        prose(args.out, sites(args.site), skip)
    if args.man is None:
        return
    written_pages = 0
    (args.out / "man").mkdir(exist_ok=True)
    for package in args.man or MAN_PACKAGES:
        for page in pages(package):
            cmd = page.name.split(".1")[0]
            if cmd in held or not re.fullmatch(r"[\w.+-]+", cmd):
                continue
            try:
                text = render(page)
            except subprocess.CalledProcessError:
                continue
            if len(text) <= MAX_PAGE_CHARS:
                (args.out / "man" / f"{cmd}.txt").write_text(text, "utf-8")
                written_pages += 1
    print(f"{written_pages} manual pages -> {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
