"""Write the reader adapter's training corpus: installed Python packages' metadata, as text.

Every `*.dist-info/METADATA` (and `*.egg-info/PKG-INFO`) of the Python environments on the
machine becomes `OUT/<name>.txt`: its header fields (Name, Version, Summary, Author,
Maintainer, License, Home-page, Project-URL ...) without the long lists of classifiers and
requirements, then the first lines of the package's description. These are real `Key: value`
records with a prose tail, the shape of much documentation metadata, and they are neither
the eval suites, nor the bundled handbook, nor Debian package records.

    python examples/reader/make_corpus.py OUT [--site DIR ...]
    outweigh ingest OUT --collection reader-corpus
    outweigh adapter train --reader reader-corpus --name reader

Deterministic for a given set of installed packages (sorted; one file per package name).
"""

from __future__ import annotations

import argparse
import re
import site
import sys
from pathlib import Path

DROP = frozenset({"classifier", "requires-dist", "provides-extra", "dynamic", "license-file"})
"""Fields that repeat dozens of times per package and name no fact worth asking about."""

DESCRIPTION_LINES = 12
"""Lines of the package description kept after the header: some prose around the fields."""


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--site", type=Path, action="append", default=[])
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    written: dict[str, str] = {}
    for root in sites(args.site):
        metas = sorted([*root.glob("*.dist-info/METADATA"), *root.glob("*.egg-info/PKG-INFO")])
        for meta in metas:
            got = record(meta)
            if got is not None and got[0] not in written:
                written[got[0]] = got[1]
    for name, text in sorted(written.items()):
        (args.out / f"{name}.txt").write_text(text, "utf-8")
    print(f"{len(written)} packages -> {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
