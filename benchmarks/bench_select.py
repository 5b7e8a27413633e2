"""Does context selection keep the page a question names, when pages that only mention it
ranked above it? Over every page of `examples/suite-man` whose name another page's SEE ALSO
gives, ask "What does the X command do, in one line?" with up to two such neighbours (their
last 1000 characters, which hold the SEE ALSO line) ranked above X's first 1000 characters,
and count how often X's passage comes first. Real pages, the real embedder.

Run: .venv/bin/python benchmarks/bench_select.py
"""

from __future__ import annotations

import re
from pathlib import Path

from outweigh.embed import SentenceTransformerEmbedder
from outweigh.retrieval.hybrid import Hit
from outweigh.retrieval.select import Selection, select

MAN = Path(__file__).resolve().parents[1] / "examples" / "suite-man" / "docs"


def main() -> None:
    pages = {p.stem: p.read_text() for p in sorted(MAN.glob("*.txt"))}
    embedder = SentenceTransformerEmbedder()
    kept = asked = 0
    for name, text in pages.items():
        mention = re.compile(rf"\b{re.escape(name)}\(1\)")
        neighbours = [o for o, t in pages.items() if o != name and mention.search(t[-1500:])]
        if not neighbours:
            continue
        given = [
            Hit(i, f"/docs/{o}.txt", pages[o][-1000:], 0.03, i + 1, i + 1)
            for i, o in enumerate(neighbours[:2])
        ]
        given.append(Hit(9, f"/docs/{name}.txt", text[:1000], 0.02, 3, 3))
        got = select(
            f"What does the {name} command do, in one line?", given, embedder, Selection(), 3
        )
        asked += 1
        if got[0].source == f"/docs/{name}.txt":
            kept += 1
        else:
            print(f"lost {name}: {[Path(h.source).stem for h in got]}")
    print(f"the named page first: {kept} of {asked}")


if __name__ == "__main__":
    main()
