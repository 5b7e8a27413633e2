"""When retrieval applies: how close the best passage is to questions about the collection,
to questions it does not answer, and to questions about something else entirely.

Each suite's documents are ingested into a collection of their own; every question is
retrieved and selected as `outweigh ask` does (`Selection()` without its floor), and the
best passage's `Hit.relevance` (the highest cosine between the question and one of its
lines) is kept. Off-topic questions (`examples/offtopic`) are asked over every collection.
Prints, per threshold, the share of each kind of question that would keep its passages, and
the threshold `Selection.floor` takes: the highest that keeps at least `KEEP` of the
answerable questions of every suite, chosen without looking at the off-topic ones. Then, at
that floor, the share of each kind that keeps its passages once the word check
(`bearing.shares_a_word`: a word of the question, not a number, on the passages) is added,
and then the everyday-word check (`bearing.names_them`): a question that names nothing of its
documents but everyday words must reach `Embedder.common_floor`, chosen the same way: the
highest at which this check keeps `KEEP` of what the other two keep, of every suite's
answerable questions and of the plain questions (`PLAIN`) whose answering page they find.
Writes a picture of the trade-off with `--plot`.

    python benchmarks/bench_gate.py [--plot docs/img/gate.png] [--suite examples/suite-man ...]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUITES = ("suite-man", "suite", "suite-ru", "suite-log", "suite-info", "suite-readme")
PLAIN = ("suite-man", ROOT / "examples" / "plain-man" / "questions.jsonl")
"""Questions about manual pages in everyday words that do not name the program ("How can I
follow a file as it grows?"), each with its answers and the page that holds them, asked over
suite-man (and by `outweigh eval examples/plain-man --docs examples/suite-man/docs`)."""
KEEP = 0.99
"""Share of each suite's answerable questions the chosen floor must keep."""


def _questions(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def _share(kept: float | None) -> float:
    """A share kept, where a suite with no such question keeps them all (and one that
    keeps none of its questions keeps 0, not "none to keep")."""
    return 1.0 if kept is None else kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", type=Path, action="append", default=None)
    parser.add_argument("--offtopic", type=Path, default=ROOT / "examples/offtopic")
    parser.add_argument("--plot", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--from-json", type=Path, default=None, help="redraw a --json run")
    args = parser.parse_args()
    if args.from_json is not None:
        saved = json.loads(args.from_json.read_text())
        report(
            saved["scores"],
            args,
            {},
            {},
            saved.get("words", {}),
            saved.get("names", {}),
            saved.get("right", []),
        )
        return
    suites = args.suite or [
        ROOT / "examples" / s for s in SUITES if (ROOT / "examples" / s).is_dir()
    ]
    offtopic = [q["question"] for q in _questions(args.offtopic / "questions.jsonl")]
    os.environ["OUTWEIGH_HOME"] = tempfile.mkdtemp(prefix="outweigh-gate-")

    from outweigh.engine import Engine
    from outweigh.retrieval.bearing import names_them, shares_a_word
    from outweigh.retrieval.select import Selection, expand, select

    how = replace(Selection(), floor=0.0)
    from outweigh.eval.metrics import normalize

    reach: dict[str, list[bool]] = {}
    chars: dict[str, list[int]] = {}
    scores: dict[str, dict[str, list[float]]] = {}
    words: dict[str, dict[str, list[bool]]] = {}
    names: dict[str, dict[str, list[bool]]] = {}
    right: list[bool] = []  # the plain questions whose answering page is among the passages
    with Engine() as engine:
        for suite in suites:
            name = suite.name
            engine.ingest([suite / "docs"], collection=name)
            coll = engine.store.collection(name)
            engine.sync_index(name)
            rows = _questions(suite / "questions.jsonl")
            groups = {
                "answerable": [q["question"] for q in rows if not q.get("abstain")],
                "unanswerable": [q["question"] for q in rows if q.get("abstain")],
                "offtopic": offtopic,
            }
            plain = _questions(PLAIN[1]) if name == PLAIN[0] and PLAIN[1].is_file() else []
            if plain:
                groups["plain"] = [q["question"] for q in plain]
            pages = {q["question"]: q["source"] for q in plain}
            scores[name] = {}
            words[name] = {}
            names[name] = {}
            answers = {q["question"]: q.get("answers", []) for q in rows}
            for group, questions in groups.items():
                got = []
                shared = []
                named = []
                for q in questions:
                    hits = engine.searcher.search_in(coll, q, how.candidates)
                    read = expand(engine.store, q, hits, how)
                    picked = select(q, read, engine.embedder, how, 3)
                    got.append(max((h.relevance or 0.0 for h in picked), default=0.0))
                    shared.append(bool(picked) and shares_a_word(q, picked))
                    named.append(names_them(q, read))
                    if group == "plain":
                        right.append(any(Path(h.source).name == pages[q] for h in picked))
                    if group == "answerable":
                        shown = normalize(" ".join(h.excerpt or h.text for h in picked))
                        reach.setdefault(name, []).append(
                            any(normalize(a) in shown for a in answers[q])
                        )
                        chars.setdefault(name, []).append(len(shown))
                scores[name][group] = got
                words[name][group] = shared
                names[name][group] = named
            print(
                name,
                {
                    g: (len(v), round(statistics.median(v), 3) if v else None)
                    for g, v in scores[name].items()
                },
                file=sys.stderr,
            )
    report(scores, args, reach, chars, words, names, right)


def report(
    scores: dict[str, dict[str, list[float]]],
    args: argparse.Namespace,
    reach: dict[str, list[bool]],
    chars: dict[str, list[int]],
    words: dict[str, dict[str, list[bool]]],
    names: dict[str, dict[str, list[bool]]],
    right: list[bool],
) -> None:
    """The trade-off table, the chosen floor, and the picture."""
    top = max(v for s in scores.values() for g in s.values() for v in g)
    step = 0.05 if top <= 1.0 else 0.1
    grid = [round(step * i, 2) for i in range(0, int(top / step) + 1)]

    def kept(values: list[float], t: float) -> float | None:
        return sum(v >= t for v in values) / len(values) if values else None

    floor = max(
        t
        for t in [x / 100 for x in range(0, int(top * 100) + 1)]
        if all(_share(kept(s["answerable"], t)) >= KEEP for s in scores.values())
    )
    print(f"| threshold | {' | '.join(f'{n} answerable / off-topic kept' for n in scores)} |")
    print("|---" * (len(scores) + 1) + "|")
    for t in sorted({*grid, floor}):
        cells = []
        for s in scores.values():
            a, o = kept(s["answerable"], t), kept(s["offtopic"], t)
            cells.append(f"{a:.2f} / {o:.2f}")
        mark = " (floor)" if t == floor else ""
        print(f"| {t:.2f}{mark} | {' | '.join(cells)} |")
    for name in reach:
        print(
            f"{name}: answer in the passages {sum(reach[name]) / len(reach[name]):.2f}, "
            f"median passage chars {statistics.median(chars[name]):.0f}"
        )
    print(f"\nfloor keeping >= {KEEP} of every suite's answerable questions: {floor:.2f}")
    if words:
        print(f"\nat {floor:.2f}, kept by the floor alone -> with the word check too")
        print("| suite | answerable | unanswerable | off-topic |")
        print("|---|---|---|---|")
        for name, s in scores.items():
            cells = []
            for group in ("answerable", "unanswerable", "offtopic"):
                rel, shared = s.get(group, []), words[name].get(group, [])
                if not rel:
                    cells.append("-")
                    continue
                alone = sum(v >= floor for v in rel) / len(rel)
                both = sum(v >= floor and w for v, w in zip(rel, shared, strict=True)) / len(rel)
                cells.append(f"{alone:.2f} -> {both:.2f}")
            print(f"| {name} | {' | '.join(cells)} |")
    if names:
        from outweigh.embed import RELEVANCE_FLOOR

        everyday(scores, words, names, right, RELEVANCE_FLOOR)
    if args.json:
        args.json.write_text(
            json.dumps(
                {"floor": floor, "scores": scores, "words": words, "names": names, "right": right},
                indent=1,
            )
        )
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4))
        ts = [x / 100 for x in range(0, int(top * 100) + 1)]
        for i, (name, s) in enumerate(scores.items()):
            color = f"C{i}"
            ax.plot(ts, [kept(s["answerable"], t) for t in ts], color=color, label=f"{name}")
            ax.plot(ts, [kept(s["offtopic"], t) for t in ts], "--", color=color)
        ax.plot([], [], "k-", label="answerable (solid)")
        ax.plot([], [], "k--", label="off-topic (dashed)")
        ax.axvline(floor, color="grey", lw=0.8)
        ax.set_xlabel("floor (Hit.relevance of the best passage)")
        ax.set_ylabel("share of questions that keep their passages")
        ax.legend(fontsize=6)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)


def everyday(
    scores: dict[str, dict[str, list[float]]],
    words: dict[str, dict[str, list[bool]]],
    names: dict[str, dict[str, list[bool]]],
    right: list[bool],
    floor: float,
) -> None:
    """At the shipped `floor`, the common floor: the highest at which the everyday-word check
    keeps `KEEP` of the questions the floor and the word check keep, among every suite's
    answerable questions and the plain ones whose answering page is among the passages
    (chosen without looking at the off-topic ones); and what each kind keeps."""

    def kept(name: str, group: str, t: float, only: list[bool] | None = None) -> float | None:
        rel = scores[name].get(group, [])
        also = only or [True] * len(rel)
        rows = zip(rel, words[name][group], names[name][group], also, strict=True)
        picked = [(v, w, n) for v, w, n, o in rows if o]
        if not picked:
            return None
        return sum(v >= floor and w and (n or v >= t) for v, w, n in picked) / len(picked)

    checks = [(name, "answerable", None) for name in scores]
    if right:
        checks.append((PLAIN[0], "plain", right))

    def keeps(t: float) -> bool:
        return all(
            _share(kept(n, g, t, o)) >= KEEP * _share(kept(n, g, floor, o)) for n, g, o in checks
        )

    common = max(t for t in [x / 100 for x in range(int(floor * 100), 101)] if keeps(t))
    print(f"\ncommon floor keeping >= {KEEP} of what the other checks keep: {common:.2f}")
    print(f"at {floor:.2f}, with the word check -> with the everyday-word check at {common:.2f}")
    print("| suite | answerable | unanswerable | off-topic | plain (right page / all) |")
    print("|---|---|---|---|---|")
    for name in scores:
        cells = []
        for group in ("answerable", "unanswerable", "offtopic"):
            before, after = kept(name, group, floor), kept(name, group, common)
            cells.append("-" if before is None else f"{before:.2f} -> {after:.2f}")
        plain = "-"
        if name == PLAIN[0] and right:
            plain = " / ".join(
                f"{kept(name, 'plain', floor, o):.2f} -> {kept(name, 'plain', common, o):.2f}"
                for o in (right, None)
            )
        print(f"| {name} | {' | '.join(cells)} | {plain} |")


if __name__ == "__main__":
    main()
