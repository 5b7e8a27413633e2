"""Presenting an `EvalResult`: JSON, a grouped bar chart PNG, a markdown report, and the numbers
behind the terminal table (`shown`, `fmt`, `best`; cli/eval.py draws it).

Every file is written whole or not at all (a temp file renamed into place), and output paths
are checked with `check_output` before the run, so a typo in `--plot` never costs a finished
evaluation.
"""

from __future__ import annotations

import json
import os
import tempfile
import textwrap
from pathlib import Path

from outweigh.errors import InputError
from outweigh.eval.metrics import METRICS, Metric
from outweigh.eval.results import JUDGE_TRUST, EvalResult, Record
from outweigh.eval.spec import parse_spec
from outweigh.eval.vram import BASIS

MISSES_PER_CONFIG = 5
"""Worst misses listed per config in the markdown report: enough to see a pattern."""

_BARE = ("#9e9e9e", "#616161", "#bdbdbd", "#424242")
"""Greys for configs without augmentation, so the augmented (coloured) ones stand out."""
_AUGMENTED = ("#1e88e5", "#43a047", "#fb8c00", "#8e24aa", "#e53935", "#00acc1")
COUNTS = ("judge_questions", "judge_unparsed")
"""Metrics that count questions or replies: shown as whole numbers."""
_SHORT = {"retrieval_recall_at_k": "recall@k", "citation_accuracy": "citations"}
"""Chart tick labels where the metric key is too long for a tick."""


# -- numbers -----------------------------------------------------------------------------------
def shown(result: EvalResult) -> list[Metric]:
    """Metrics that have a value for at least one config (a suite without style has no
    style_adherence; a CPU run has no peak_vram_mb)."""
    return [
        metric
        for metric in METRICS
        if any(r.get(metric.key) is not None for r in result.results.values())
    ]


def fmt(metric: Metric, value: float | None) -> str:
    """A cell: rates, counts per answer and seconds with 2 decimals, throughput with 1,
    memory in whole MiB."""
    if value is None:
        return "-"
    if metric.key in COUNTS:
        return f"{value:.0f}"
    if metric.key == "vram_gb":
        return f"{value:.2f}"
    if metric.key == "accuracy_per_gb":
        return f"{value:.3g}"  # 0.8 / 70 GB is 0.0114: two decimals would say 0.01
    if metric.fraction or metric.part == "facts" or metric.key.endswith("_s"):
        return f"{value:.2f}"
    if metric.key == "tokens_per_s":
        return f"{value:.1f}"
    return f"{value:,.0f}"


def best(result: EvalResult, metric: Metric) -> set[str]:
    """Configs holding the best value of `metric` (ties all count)."""
    values = {c: r[metric.key] for c, r in result.results.items() if r.get(metric.key) is not None}
    if (
        metric.higher_is_better is None or len(set(values.values())) < 2
    ):  # one config, or all equal: nothing stands out
        return set()
    top = max(values.values()) if metric.higher_is_better else min(values.values())
    return {c for c, v in values.items() if v == top}


def headline(result: EvalResult) -> str | None:
    """The small augmented config against its strongest rival (`EvalResult.comparison`), in
    one line, on accuracy with its 95% interval (and concise_accuracy beside it); None when
    the run has no such pair.

    It says "outweighs" (or "does not outweigh") only when the exact McNemar test on the
    questions both answered finds the difference significant (`eval.stats`), and
    "indistinguishable on N questions" otherwise. Both sides show total and non-embedding
    parameters, since a big vocabulary can make a model "bigger" with no more of the network
    that reads.
    """
    cmp = result.comparison()
    if cmp is None:
        return None
    small, rival, p = cmp.small, cmp.rival, cmp.paired
    a = f"{cmp.small_accuracy:.2f}{_ci(result, small, 'accuracy')}"
    b = f"{cmp.rival_accuracy:.2f}{_ci(result, rival, 'accuracy')}"
    test = f"McNemar p={p.p_value:.2g}"
    if cmp.verdict == "indistinguishable":
        line = (
            f"{small} ({_sizes(result, small)}) and its strongest rival {rival} "
            f"({_sizes(result, rival)}) are indistinguishable on {p.questions} questions: "
            f"accuracy {a} vs {b} ({test})"
        )
    else:
        line = (
            f"{small} ({_sizes(result, small)}) {cmp.verdict} its strongest rival {rival} "
            f"({_sizes(result, rival)}) on accuracy: {a} vs {b} ({test}, {p.questions} questions)"
        )
    ca, cb = (result.results[c].get("concise_accuracy") for c in (small, rival))
    if ca is not None and cb is not None:
        line += f" (concise_accuracy {ca:.2f} vs {cb:.2f})"
    return line


def judge_line(result: EvalResult) -> str | None:
    """When to trust the `--judge`, and each config's kappa against it; None without one."""
    if result.options.judge is None:
        return None
    kappas = []
    for c in result.configs:
        kappa = result.results[c].get("judge_kappa")
        n = result.results[c].get("judge_questions") or 0
        shown = "undefined" if kappa is None else f"{kappa:.2f}"
        kappas.append(f"{c} {shown} on {n:.0f}")
    return f"judge {result.options.judge}: {JUDGE_TRUST} (kappa: {'; '.join(kappas)})"


def vram_lines(result: EvalResult) -> list[str]:
    """How `vram_gb` was planned, and why a config has none."""
    if not any(result.results[c].get("vram_gb") is not None for c in result.configs) and (
        not result.vram_notes
    ):
        return []
    lines = [
        f"vram_gb is planned by outweigh plan: {BASIS}; +rag adds -k chunks, +lora one adapter"
    ]
    lines += [f"{c}: {note}" for c, note in result.vram_notes.items()]
    return lines


def _ci(result: EvalResult, config: str, key: str) -> str:
    """ " [0.58, 1.00]", the 95% interval of a rate, or "" when it has none."""
    ci = result.intervals.get(config, {}).get(key)
    return "" if ci is None else f" [{ci[0]:.2f}, {ci[1]:.2f}]"


def cell(result: EvalResult, config: str, metric: Metric) -> tuple[str, str]:
    """A table cell: the value (`fmt`) and its 95% interval as "0.58-1.00" ("" without one)."""
    ci = result.intervals.get(config, {}).get(metric.key)
    interval = "" if ci is None else f"{ci[0]:.2f}–{ci[1]:.2f}"
    return fmt(metric, result.results[config].get(metric.key)), interval


def _sizes(result: EvalResult, config: str) -> str:
    """ "135M, 106M non-embedding", or only the total when the split is unknown."""
    total = _params(result.params.get(config, 0))
    inner = result.non_embedding_params.get(config, 0)
    return total if inner <= 0 else f"{total}, {_params(inner)} non-embedding"


def params_rows(result: EvalResult) -> list[tuple[str, list[str]]]:
    """Rows for the table's head: each config's model size, total and non-embedding."""
    rows = [("params", [_params(result.params.get(c, 0)) for c in result.configs])]
    if any(result.non_embedding_params.get(c, 0) > 0 for c in result.configs):
        inner = [result.non_embedding_params.get(c, 0) for c in result.configs]
        rows.append(("non-embedding params", [_params(n) if n > 0 else "-" for n in inner]))
    used = {
        c: sorted({r.adapter for r in result.records if r.config == c and r.adapter})
        for c in result.configs
    }
    if any(used.values()):
        # A bundled reader the engine chose is part of the answer; the table says so.
        rows.append(("adapters that answered", [", ".join(used[c]) or "-" for c in result.configs]))
    return rows


def _params(n: int) -> str:
    return "size unknown" if n <= 0 else f"{n / 1e9:.1f}B" if n >= 1e9 else f"{n / 1e6:.0f}M"


# -- files -------------------------------------------------------------------------------------
def check_output(path: str | Path | None, flag: str, suffix: str) -> Path | None:
    """Validate an output path before the run: right suffix, an existing folder, not a folder."""
    if path is None:
        return None
    p = Path(path).expanduser()
    if p.suffix.lower() != suffix:
        raise InputError(f"`{flag}` must end in {suffix}; got {p.name!r}")
    if p.is_dir():
        raise InputError(f"`{flag}` {p} is a folder; give a file name ending in {suffix}")
    if not p.parent.is_dir():
        raise InputError(f"`{flag}`: folder {p.parent} does not exist; create it first")
    if not os.access(p.parent, os.W_OK):
        raise InputError(f"`{flag}`: folder {p.parent} is not writable")
    return p


def _write(path: Path, data: bytes) -> Path:
    """Write whole or not at all: a temp file in the same folder, renamed over the target."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(result: EvalResult, path: str | Path) -> Path:
    """`{"suite", "results": {config: {metric: value}}, "per_question": [...], ...}`."""
    text = json.dumps(result.to_dict(), ensure_ascii=False, indent=2) + "\n"
    return _write(Path(path), text.encode("utf-8"))


def write_plot(result: EvalResult, path: str | Path) -> Path:
    """A grouped bar chart PNG: quality metrics by config on the left, latency on the right.

    Bare configs are grey and augmented ones coloured, so "small + augmentation" against
    "bigger bare" reads at a glance. Drawn on a bare `Figure` with the Agg canvas: no pyplot
    global state and no display needed.
    """
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    quality = [x for x in shown(result) if x.fraction and x.higher_is_better]
    configs = result.configs
    colors = _colors(configs)
    fig = Figure(figsize=(3.2 + 1.5 * max(len(quality), 1), 5.0), dpi=110)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2, gridspec_kw={"width_ratios": [max(len(quality), 1) * 1.2, 1.3]})
    left, right = axes
    width = 0.8 / max(len(configs), 1)
    for i, config in enumerate(configs):
        xs = [j + (i - (len(configs) - 1) / 2) * width for j in range(len(quality))]
        values = [result.results[config].get(x.key) for x in quality]
        hatch = None if parse_spec(config).augmented else "//"
        # 95% bootstrap intervals as error bars; none (0, 0) where a rate has no interval.
        cis = [result.intervals.get(config, {}).get(x.key) for x in quality]
        err = [
            [
                0.0 if ci is None or v is None else max(v - ci[0], 0.0)
                for v, ci in zip(values, cis, strict=True)
            ],
            [
                0.0 if ci is None or v is None else max(ci[1] - v, 0.0)
                for v, ci in zip(values, cis, strict=True)
            ],
        ]
        bars = left.bar(
            xs,
            [v or 0.0 for v in values],
            width,
            label=config,
            color=colors[config],
            hatch=hatch,
            yerr=err,
            capsize=2,
            error_kw={"elinewidth": 0.8, "ecolor": "#333333"},
        )
        # "n/a" rather than an empty slot that reads as a score of 0 (e.g. recall without +rag).
        labels = ["n/a" if v is None else f"{v:.2f}" for v in values]
        left.bar_label(bars, labels, fontsize=6, padding=1)
    ticks = [textwrap.fill(_SHORT.get(x.key, x.key).replace("_", " "), 10) for x in quality]
    left.set_xticks(range(len(quality)), ticks, fontsize=8)
    left.set_ylim(0, 1.12)
    left.set_ylabel("rate, 95% interval (higher is better)")
    left.set_title("quality", fontsize=10)
    left.grid(axis="y", alpha=0.3)
    lat = [result.results[c].get("latency_p50_s") or 0.0 for c in configs]
    bars = right.bar(range(len(configs)), lat, 0.7, color=[colors[c] for c in configs])
    right.bar_label(bars, [f"{v:.2f}" for v in lat], fontsize=6, padding=1)
    right.set_xticks(range(len(configs)), [str(i + 1) for i in range(len(configs))], fontsize=8)
    right.set_xlabel("config (legend order)", fontsize=8)
    right.set_ylabel("seconds per answer, p50 (lower is better)")
    right.set_title("latency", fontsize=10)
    right.grid(axis="y", alpha=0.3)
    fig.legend(loc="lower center", ncol=min(len(configs), 2), fontsize=8, frameon=False)
    fig.suptitle(headline(result) or f"eval of {result.suite}", fontsize=9)
    fig.tight_layout(rect=(0, 0.06 + 0.04 * ((len(configs) + 1) // 2), 1, 0.95))
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return _write(Path(path), buf.getvalue())


def _colors(configs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    bare = aug = 0
    for c in configs:
        if parse_spec(c).augmented:
            out[c] = _AUGMENTED[aug % len(_AUGMENTED)]
            aug += 1
        else:
            out[c] = _BARE[bare % len(_BARE)]
            bare += 1
    return out


def write_markdown(result: EvalResult, path: str | Path, plot: str | Path | None = None) -> Path:
    """The table, the chart (linked relative to the report), the worst misses, and where
    retrieval hurt."""
    out = Path(path)
    return _write(out, markdown(result, out.parent, plot).encode("utf-8"))


def markdown(result: EvalResult, folder: Path | None = None, plot: str | Path | None = None) -> str:
    """The markdown report as text; `folder` is where it will live, to link the chart."""
    o = result.options
    lines = [
        f"# Eval of `{result.suite}`",
        "",
        f"{len(result.configs)} configs in {result.seconds:.0f} s; greedy, seed {o.seed}, "
        f"k={o.k}, max_tokens={o.max_tokens}" + (f", limit {o.limit}" if o.limit else "") + ".",
        "",
    ]
    if (h := headline(result)) is not None:
        lines += [f"**{h}**", ""]
    metrics = shown(result)
    lines += ["| metric | " + " | ".join(f"`{c}`" for c in result.configs) + " |"]
    lines += ["|---|" + "---:|" * len(result.configs)]
    lines += [f"| {name} | " + " | ".join(cells) + " |" for name, cells in params_rows(result)]
    for metric in metrics:
        winners = best(result, metric)
        cells = []
        for c in result.configs:
            value, interval = cell(result, c, metric)
            value = f"**{value}**" if c in winners else value
            cells.append(f"{value} ({interval})" if interval else value)
        lines.append(f"| {metric.key} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Best value per metric in bold; `-` means the metric does not apply; in brackets, the "
        "rate's 95% bootstrap interval over the questions.",
        "",
    ]
    if (jl := judge_line(result)) is not None:
        lines += [f"The {jl}.", ""]
    if notes := vram_lines(result):
        lines += [f"- {_cell(n, 400)}" for n in notes] + [""]
    lines += [f"- `{x.key}` ({x.part}): {x.help}" for x in metrics]
    if plot is not None:
        p = Path(plot)
        link = os.path.relpath(p.resolve(), folder.resolve()) if folder else str(p)
        lines += ["", f"![{result.suite}]({Path(link).as_posix()})"]
    if kinds := result.by_kind():
        lines += ["", "## By kind of question", ""]
        lines += ["| kind | " + " | ".join(f"`{c}`" for c in result.configs) + " |"]
        lines += ["|---|" + "---:|" * len(result.configs)]
        for kind, row in kinds.items():
            cells = ["-" if row[c] is None else f"{row[c]:.2f}" for c in result.configs]
            lines.append(f"| {kind} | " + " | ".join(cells) + " |")
        lines += ["", "Accuracy; for `unanswerable` questions, abstention."]
    lines += ["", "## Worst misses", ""]
    any_miss = False
    for config in result.configs:
        misses = _worst(result.records, config)
        if not misses:
            continue
        any_miss = True
        lines += [f"### `{config}`", "", "| part | prompt | expected | answer |", "|---" * 4 + "|"]
        lines += [
            f"| {r.part} | {_cell(r.prompt)} | {_cell(' / '.join(r.expected))} | "
            f"{_cell(r.answer)} |"
            for r in misses
        ]
        lines.append("")
    if not any_miss:
        lines += ["Every config answered everything right.", ""]
    lines += ["## Where retrieval hurt", ""]
    hurt = result.retrieval_hurt()
    if not hurt:
        lines.append("No question went from right without retrieval to wrong with it.")
    else:
        lines += ["| question | gold | without | with retrieval | retrieved |", "|---" * 5 + "|"]
        for h in hurt:
            lines.append(
                f"| {_cell(h.right.prompt)} | {_cell(' / '.join(h.right.expected))} | "
                f"`{h.without}`: {_cell(h.right.answer)} | `{h.with_rag}`: "
                f"{_cell(h.wrong.answer)} | {_cell(', '.join(h.wrong.retrieved))} |"
            )
    return "\n".join(lines) + "\n"


def _worst(records: list[Record], config: str) -> list[Record]:
    """Misses of one config, facts with the lowest F1 first, then style and memory."""
    order = {"facts": 0, "memory": 1, "style": 2}
    misses = [r for r in records if r.config == config and not r.correct]
    misses.sort(key=lambda r: (order[r.part], r.f1 or 0.0, r.line))
    return misses[:MISSES_PER_CONFIG]


def _cell(text: str, limit: int = 160) -> str:
    """One markdown table cell: one line, pipes escaped, long answers cut."""
    flat = " ".join(text.split()).replace("|", "\\|")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
