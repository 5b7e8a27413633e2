"""The reader and its answer check on package records, one file each or all in one file.

Writes the `METADATA` record of each of the first `--packages` Python distributions
installed beside outweigh (sorted by name; their `Key: value` header, not the description)
into a collection, one file each, and asks up to four questions of each: its version, its
author (a name without an e-mail address), the Python versions it requires, its home page.
Each is asked once through `Engine.ask` (`+rag`, the bundled reader, greedy, max_tokens 48,
k=3). Prints the accuracy of the reader's raw answers and of the answers after the check
(`retrieval.answers.holds_up`, what every door shows), and lists each right answer the
check turned down. `--one-file` writes them all into one file, a blank line between
records, as a package index or a status file holds them. These are not Debian's package
records.

    python benchmarks/bench_records_check.py [--packages 120] [--limit 80] [--one-file]
"""

from __future__ import annotations

import argparse
import email
import os
import tempfile
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("OUTWEIGH_MODELS_DIR", str(ROOT / ".cache" / "models"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def records(docs: Path, packages: int, one_file: bool = False) -> list[tuple[str, list[str]]]:
    """Write the records into `docs`, one file each or all in `records.txt` (`one_file`, a
    blank line between them); the questions they answer, with their gold answers."""
    dists = sorted(metadata.distributions(), key=lambda d: d.metadata["Name"].lower())
    questions: list[tuple[str, list[str]]] = []
    written: list[str] = []
    for dist in dists[:packages]:
        header = (dist.read_text("METADATA") or "").split("\n\n")[0]
        record = email.message_from_string(header)
        name = record.get("Name")
        if not name:
            continue
        written.append(header)
        if not one_file:
            (docs / f"{name}-METADATA.txt").write_text(header)
        if version := record.get("Version"):
            questions.append((f"Which version of {name} is described?", [version]))
        author = record.get("Author") or ""
        if author and len(author) < 60 and "@" not in author:
            questions.append((f"Who is the author of {name}?", [author]))
        if python := record.get("Requires-Python"):
            questions.append((f"Which Python versions does {name} require?", [python]))
        home = record.get("Home-page") or ""
        if home.startswith("http"):
            questions.append((f"What is the home page URL of {name}?", [home]))
    if one_file:
        (docs / "records.txt").write_text("\n\n".join(written) + "\n")
    return questions


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--packages", type=int, default=120)
    ap.add_argument("--limit", type=int, default=80)
    ap.add_argument("--one-file", action="store_true", help="all records in one file")
    args = ap.parse_args()

    import outweigh.engine.answering as answering
    from outweigh.engine import AskOptions, Engine
    from outweigh.eval.metrics import accuracy
    from outweigh.settings import Paths

    checked_reading = answering.checked_reading
    raw: dict[str, str] = {}

    def record_raw(question: str, passages: list, leads: frozenset[str], answer: str) -> str:
        raw[question] = answer
        return checked_reading(question, passages, leads, answer)

    answering.checked_reading = record_raw  # what the reader wrote, before the check
    with tempfile.TemporaryDirectory() as tmp:
        docs = Path(tmp) / "docs"
        docs.mkdir()
        questions = records(docs, args.packages, args.one_file)[: args.limit]
        files = len(list(docs.iterdir()))
        right_raw = right_checked = 0
        with Engine(Paths(Path(tmp) / "home")) as engine:
            engine.ingest([docs], collection="records")
            opts = AskOptions(collection="records", k=3, max_tokens=48, memory=False)
            for question, gold in questions:
                answer = engine.ask(question, opts).answer
                read = raw.get(question, answer)
                right_raw += bool(accuracy(read, gold))
                right_checked += bool(accuracy(answer, gold))
                if accuracy(read, gold) and not accuracy(answer, gold):
                    print(f"turned down: {question} -> {read!r}")
    n = len(questions)
    print(f"{n} questions over {files} file(s)")
    print(f"reader's answers {right_raw / n:.3f}, checked {right_checked / n:.3f}")


if __name__ == "__main__":
    main()
