"""What answering with the term a question describes (`retrieval.terms`), with the field it
names and with the link it asks for (`retrieval.fields`) costs. Per question of each example
suite, `replace_reading`, `field_reading` and `link_reading` each run over three whole pages
(the gold page and the next two of its suite, whole pages being more text than the excerpts
the engine passes), against an answer that names nothing; the median and the largest time
of `--rounds` calls per question, per suite. No model is loaded: the cost is parsing the
pages' terms, fields and links and matching stems.

Run: .venv/bin/python benchmarks/bench_terms.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from outweigh.prompt import Citation
from outweigh.retrieval.fields import field_reading, link_reading
from outweigh.retrieval.terms import replace_reading

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SUITES = {
    "man pages": ("suite-man", "suite-man"),
    "Russian man pages": ("suite-ru", "suite-ru"),
    "plain man questions": ("plain-man", "suite-man"),
    "Texinfo manuals": ("suite-info", "suite-info"),
    "changelogs": ("suite-log", "suite-log"),
    "READMEs": ("suite-readme", "suite-readme"),
}
"""Suite name -> (its questions' folder, its documents' folder)."""


def passages(docs: Path, gold: str) -> list[Citation]:
    """The gold page and the next two pages of `docs`, whole, as the prompt's passages."""
    names = sorted(p.name for p in docs.iterdir())
    at = names.index(gold) if gold in names else 0
    pages = [names[(at + i) % len(names)] for i in range(3)]
    out = []
    for n, name in enumerate(pages, 1):
        text = (docs / name).read_text()
        out.append(Citation(n, str(docs / name), n, text, 1.0, text))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    for label, (suite, docs) in SUITES.items():
        lines = (EXAMPLES / suite / "questions.jsonl").read_text().splitlines()
        questions = [json.loads(line) for line in lines]
        checks = {
            "term": lambda q, cited: replace_reading("x [1]", q, cited),
            "field": lambda q, cited: field_reading("x [1]", q, cited, True),
            "link": lambda q, cited: link_reading("x [1]", q, cited, True),
        }
        times: dict[str, list[float]] = {name: [] for name in checks}
        for q in questions:
            cited = passages(EXAMPLES / docs / "docs", q.get("source", ""))
            for name, check in checks.items():
                runs = []
                for _ in range(args.rounds):
                    start = time.perf_counter()
                    check(q["question"], cited)
                    runs.append(time.perf_counter() - start)
                times[name].append(statistics.median(runs) * 1000)
        print(
            f"{label} ({len(questions)} questions): "
            + "; ".join(
                f"{name} median {statistics.median(t):.2f} ms, largest {max(t):.2f} ms"
                for name, t in times.items()
            )
        )


if __name__ == "__main__":
    main()
