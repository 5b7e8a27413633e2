"""How sure the reader must be before it says "I don't know": the trade-off between
abstaining on questions the documents do not answer and abstaining on ones they do.

For every question of each suite, the context is what `outweigh ask` builds (`Engine.turn`:
retrieval, selection, the bundled reader). One forward pass gives the reader's margin for
abstaining at the first answer token: the logit of "I" (how `DONT_KNOW` begins) over the best
other token. One greedy answer is generated with the first token the best *other* one. With a
bias of -t on "I" at the first token, the reader abstains exactly where its margin is above t
and gives that other answer elsewhere, so one pass yields the whole curve:

    python benchmarks/bench_abstain.py --suite examples/suite-log --suite examples/suite-info \
        --suite examples/suite-readme [--limit N] [--json abstain.json] [--plot abstain.png]
    python benchmarks/bench_abstain.py --from abstain.json --plot docs/img/abstain.png

Per suite and threshold t: accuracy (answerable right, unanswerable declined with no
citation), abstention on the unanswerable questions, false abstention on the answerable
ones, all of what the user is shown: each answer goes through the engine's answer check
(`checked_reading`), is read again where the check turns it down (`Prepared.again`: a
choice among the values its passages write, else up to `READINGS` readings), and, where
that leaves "I don't know" to a question that names nothing of its passages, is the bare
answer. t=0 is the reader with no bias. It runs the transformers copy of the model
(llama.cpp does not expose logits through the batcher); answers can differ from the GGUF's
in a few places, so a chosen t is checked with `outweigh eval` before it is reported.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
THRESHOLDS = (-2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, math.inf)


def margins(suite_dir: Path, limit: int | None, k: int, max_tokens: int) -> list[dict]:
    """Per question: its kind, whether it is answerable, the reader's margin for "I", the
    answer given when "I" may not come first, and whether that answer is right."""
    import torch

    from outweigh.adapters.reader import DONT_KNOW
    from outweigh.engine import AskOptions, Engine
    from outweigh.engine.turn import READINGS
    from outweigh.eval import load_suite
    from outweigh.eval import metrics as m
    from outweigh.models.options import LoadOptions
    from outweigh.settings import Paths

    suite = load_suite(suite_dir)
    questions = suite.questions[:limit] if limit else suite.questions
    home = Path(tempfile.mkdtemp(prefix="abstain-"))
    out = []
    with Engine(Paths(home), load=LoadOptions(backend="transformers")) as engine:
        assert suite.docs is not None
        engine.ingest([suite.docs], "suite")
        backend = engine.backend()
        tok = backend.tokenizer
        first = tok.encode(DONT_KNOW, add_special_tokens=False)[0]
        for q in questions:
            opts = AskOptions(
                collection="suite", rag=True, k=k, max_tokens=max_tokens, memory=False
            )
            turn = engine.turn([{"role": "user", "content": q.question}], opts)
            prepared = turn.prepared
            request = turn.request
            margin = -math.inf
            if turn.citations and request.adapter is not None:
                inputs = backend._inputs(request)
                with torch.inference_mode():
                    model = backend.model_for(request)
                    logits = model(**inputs).logits[0, -1].float()
                    top = logits[first].item()
                    logits[first] = -math.inf
                    other = int(logits.argmax())
                    margin = top - logits[other].item()
                    ids = torch.cat([inputs["input_ids"], torch.tensor([[other]])], dim=1)
                    mask = torch.ones_like(ids)
                    gen = model.generate(
                        input_ids=ids,
                        attention_mask=mask,
                        max_new_tokens=max_tokens - 1,
                        do_sample=False,
                        pad_token_id=tok.pad_token_id,
                    )
                raw = tok.decode(gen[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
            else:  # no passage bears on it: the bare model answers, no reader, no margin
                raw = backend.generate(request).text
            # What every door shows: the answer check, further readings where it turns the
            # answer down (at the shipped margin), then the bare answer where the checked
            # answer is "I don't know" and the question names nothing of its passages.
            checked = prepared.check(raw) if prepared.check else raw
            again = None
            for _ in range(READINGS - 1):  # read again while the check turns it down
                if (again := prepared.again(raw, checked, again)) is None:
                    break
                raw = backend.generate(again).text
                checked = prepared.check(raw)
            bare = None
            if prepared.fallback is not None:
                bare = backend.generate(prepared.fallback).text
            shown = {"answer": checked, "idk": DONT_KNOW}
            out.append(
                {
                    "line": q.line,
                    "kind": q.kind,
                    "abstain": q.abstain,
                    "margin": margin,
                    "raw": raw,
                    "answer": checked,
                    "bare": bare,
                    **{
                        f"{key}_{field}": value
                        for key, text in shown.items()
                        for field, value in outcome(text, bare, turn, q, m).items()
                    },
                }
            )
    return out


def outcome(text: str, bare: str | None, turn, q, m) -> dict:
    """Whether `text` (the checked answer, or the reader's "I don't know") is right and
    declines, after the engine's bare fallback where it applies."""
    uncited = False
    if bare is not None and m.abstains(text):
        text, uncited = bare, True
    cited = not uncited and bool(turn.cited(text))
    right = (m.abstains(text) and not cited) if q.abstain else m.accuracy(text, q.answers)
    return {"right": bool(right), "declines": bool(m.abstains(text))}


def curve(rows: list[dict]) -> list[dict]:
    """Accuracy, abstention and false abstention at each threshold."""
    points = []
    for t in THRESHOLDS:
        right = declined = false = 0
        unanswerable = [r for r in rows if r["abstain"]]
        answerable = [r for r in rows if not r["abstain"]]
        for r in rows:
            key = "idk" if r["margin"] > t else "answer"
            if r["abstain"]:
                ok = r[f"{key}_right"]
                right += ok
                declined += ok
            else:
                right += r[f"{key}_right"]
                false += r[f"{key}_declines"]
        points.append(
            {
                "t": t,
                "accuracy": right / len(rows),
                "abstention": declined / len(unanswerable) if unanswerable else None,
                "false_abstention": false / len(answerable) if answerable else None,
            }
        )
    return points


def table(name: str, rows: list[dict], points: list[dict]) -> None:
    answerable = sum(not r["abstain"] for r in rows)
    print(f"\n{name} ({answerable} answerable, {len(rows) - answerable} unanswerable)")
    print("| t | accuracy | abstention | false abstention |\n|---|---:|---:|---:|")

    def f(x: float | None) -> str:
        return "-" if x is None else f"{x:.2f}"

    for p in points:
        cells = (f(p["accuracy"]), f(p["abstention"]), f(p["false_abstention"]))
        print(f"| {p['t']:g} | " + " | ".join(cells) + " |")


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4))
    for name, r in results.items():
        pts = [p for p in r["curve"] if p["abstention"] is not None]
        xs = [p["false_abstention"] for p in pts]
        ax.plot(xs, [p["abstention"] for p in pts], marker="o", label=name)
        for p, x in zip(pts, xs, strict=True):
            if p["t"] in (0.0, 1.0, 2.0):
                ax.annotate(f"t={p['t']:g}", (x, p["abstention"]), fontsize=7)
    # The target: at least 0.80 declined, at most 0.10 falsely (top left of the lines).
    ax.axhline(0.8, color="grey", linestyle="--", linewidth=0.8)
    ax.axvline(0.1, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xlabel('"I don\'t know" to answerable questions')
    ax.set_ylabel('"I don\'t know" to unanswerable questions')
    ax.set_title("The reader's abstention as its margin t rises")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", type=Path, action="append", default=[])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("-k", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--plot", type=Path, default=None)
    parser.add_argument(
        "--from",
        dest="saved",
        type=Path,
        default=None,
        help="Print and plot a --json of an earlier run instead of running.",
    )
    args = parser.parse_args()
    if args.saved:
        results = json.loads(args.saved.read_text("utf-8"))
    else:
        results = {}
        for suite in args.suite:
            rows = margins(suite, args.limit, args.k, args.max_tokens)
            results[suite.name] = {"rows": rows, "curve": curve(rows)}
    for name, r in results.items():
        table(name, r["rows"], r["curve"])
    if args.json and not args.saved:
        args.json.write_text(json.dumps(results, indent=1, default=str), "utf-8")
    if args.plot:
        plot(results, args.plot)


if __name__ == "__main__":
    main()
