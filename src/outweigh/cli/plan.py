"""`outweigh plan`: does MODEL fit on a GPU, what do RAG context and LoRA adapters cost, and (with
`--train`) what does training a LoRA or QLoRA of it take?

A thin shell over `outweigh.plan.plan` / `compare`. Counts are taken as text so that `16k` works
and every bad value comes back as one `error:` line from the library, not a usage screen.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from outweigh.cli._app import app, console

if TYPE_CHECKING:  # annotations only; the planner is imported inside the command
    from outweigh.plan import Comparison, GpuFit, Plan, TrainFit, TrainPlan

_HELP_MODEL = (
    "Catalog name (qwen2.5-32b, llama-3.1-70b, smollm2-135m, ...), path to a config.json, or a "
    "model folder. MODEL:QUANT picks a weight format per model (e.g. llama-3.1-70b:awq)."
)


_OVERHEAD = {
    "transformers": "CUDA context + 5% allocator slack",
    "vllm": "CUDA context + CUDA graphs",
    "llamacpp": "CUDA context",
}


_FOOTNOTE = "GB = 10^9 bytes; * = capped by the model's max_position_embeddings"


def _size(n: float, digits: int = 2) -> str:
    """Bytes in decimal units, as GPU memory is marketed (1 GB = 10^9 bytes)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:,.{digits}f} {unit}"
    return f"{n:,.0f} B"


def _params(n: int) -> str:
    return f"{n / 1e9:.2f}B" if n >= 1e9 else f"{n / 1e6:.1f}M"


def _yes(ok: bool) -> str:
    return "[green]yes[/]" if ok else "[red]no[/]"


def _max_context(fit: GpuFit) -> str:
    return f"{fit.max_context:,}" + ("*" if fit.max_context_limit == "model" else "")


def _show_plan(p: Plan) -> None:
    from rich.table import Table

    s, b = p.spec, p.breakdown
    engine = s.engine if s.engine != "transformers" else f"{s.engine}/{s.attention}"
    published = f", published {p.published_params / 1e9:.3g}B" if p.published_params else ""
    console.print(
        f"[bold]{p.model}[/] ({p.architecture}, {p.source}): {_params(p.params_total)} params"
        f"{published}; {s.quant} weights, {p.kv_dtype} KV, {engine}",
        highlight=False,
    )
    per_adapter = b.lora // s.loras if s.loras else 0
    kib = p.kv_bytes_per_token / 1024
    rows = [
        ("weights", b.weights, f"{s.quant}, {_params(p.params_total)} params"),
        ("LoRA", b.lora, f"{s.loras} x rank {s.lora_rank}, {_size(per_adapter)} each"),
        ("KV conversation", b.kv_context, f"{s.context:,} tok x {s.batch} seq, {kib:,.0f} KiB/tok"),
        ("KV RAG", b.kv_rag, f"{s.rag_chunks} chunks x {s.chunk_tokens} = {s.rag_tokens:,} tok"),
        (
            "activations",
            b.activations,
            "prefill peak" + ("" if s.engine != "transformers" else f", {s.attention}"),
        ),
        ("overhead", b.overhead, _OVERHEAD[s.engine]),
    ]
    where = f" on {p.gpus[0].gpu}" if len(p.gpus) == 1 else ""
    table = Table("", "size", "", title=f"memory{where}", title_justify="left")
    for name, n, note in rows:
        table.add_row(name, _size(n), note)
    table.add_row("[bold]total[/]", f"[bold]{_size(b.total)}[/]", "")
    if len(p.gpus) == 1:
        fit = p.gpus[0]
        table.add_row("GPU memory", _size(fit.memory_bytes), f"{fit.memory_bytes >> 20:,} MiB")
        if fit.reserved_bytes:
            table.add_row("reserved", _size(fit.reserved_bytes), "vLLM / macOS share")
        verdict = "[green]fits[/]" if fit.fits else "[red]does not fit[/]"
        table.add_row("free", _size(fit.free_bytes), verdict)
        table.add_row("max context", _max_context(fit), f"tokens at batch {s.batch}")
        table.add_row("max batch", f"{fit.max_batch:,}", f"at {s.context + s.rag_tokens:,} tokens")
        bandwidth = f"{fit.bandwidth_bytes_per_s / 1e9:,.0f} GB/s / bytes per step"
        table.add_row("decode ceiling", f"{fit.decode_tokens_per_s:,.1f} tok/s", bandwidth)
        console.print(table)
    else:
        console.print(table)
        gpus = Table("gpu", "usable", "free", "fits", "max ctx", "max batch", "tok/s")
        for fit in p.gpus:
            usable = _usable(fit)
            gpus.add_row(
                fit.gpu,
                usable,
                _size(fit.free_bytes, 1),
                _yes(fit.fits),
                _max_context(fit),
                f"{fit.max_batch:,}",
                f"{fit.decode_tokens_per_s:,.1f}",
            )
        console.print(gpus)
    _footer(p.notes)


def _usable(fit: GpuFit | TrainFit) -> str:
    """What the GPU leaves for the workload, after the engine's reserve."""
    return _size(fit.memory_bytes - fit.reserved_bytes, 1)


def _footer(notes: tuple[str, ...] = ()) -> None:
    console.print(_FOOTNOTE, highlight=False)
    for note in notes:
        console.print(f"note: {note}", highlight=False)


def _seq(fit: TrainFit) -> str:
    return f"{fit.max_seq_len:,}" + ("*" if fit.max_seq_len_limit == "model" else "")


def _show_train_plan(p: TrainPlan) -> None:
    from rich.table import Table

    s, b = p.spec, p.breakdown
    ckpt = "with" if s.grad_checkpointing else "without"
    console.print(
        f"[bold]{p.model}[/] ({p.architecture}): {s.train} training, {_params(p.params_total)} "
        f"params, rank {s.lora_rank} on {','.join(s.lora_targets)}: "
        f"{p.trainable_params:,} trainable; {s.batch} x {s.seq_len:,} tokens, {ckpt} "
        "gradient checkpointing",
        highlight=False,
    )
    rows = [
        ("base weights", b.weights, p.weights_dtype),
        ("LoRA weights", b.lora, f"{p.adapter_dtype}, {p.trainable_params:,} params"),
        ("gradients", b.gradients, f"{p.adapter_dtype}, LoRA only (the base is frozen)"),
        ("optimizer", b.optimizer, p.optimizer),
        ("activations", b.activations, f"{p.compute_dtype}, saved for backward"),
        ("logits + loss", b.logits, f"{p.compute_dtype} logits, fp32 upcast and log-softmax"),
        ("overhead", b.overhead, _OVERHEAD["transformers"]),
    ]
    table = Table("", "size", "", title="memory of one training step", title_justify="left")
    for name, n, note in rows:
        table.add_row(name, _size(n), note)
    table.add_row("[bold]total[/]", f"[bold]{_size(b.total)}[/]", "")
    console.print(table)
    gpus = Table("gpu", "usable", "free", "fits", "max seq (batch 1)", f"max batch @ {s.seq_len:,}")
    for fit in p.gpus:
        gpus.add_row(
            fit.gpu,
            _usable(fit),
            _size(fit.free_bytes, 1),
            _yes(fit.fits),
            _seq(fit),
            f"{fit.max_batch:,}",
        )
    console.print(gpus)
    _footer(p.notes)


def _show_train_comparison(c: Comparison) -> None:
    from rich.table import Table

    for first in c.plans[0].gpus:
        usable = _usable(first)
        table = Table(title=f"training on {first.gpu}: {usable} usable", title_justify="left")
        for name in ("model", "weights", "total", "free", "fits", "max seq", "max batch"):
            table.add_column(name, justify="left" if name == "model" else "right", no_wrap=True)
        for p in c.plans:
            fit = next(f for f in p.gpus if f.gpu == first.gpu)
            table.add_row(
                p.label,
                _size(p.breakdown.weights, 1),
                _size(p.total_bytes, 1),
                _size(fit.free_bytes, 1),
                _yes(fit.fits),
                _seq(fit),  # type: ignore[arg-type]
                f"{fit.max_batch:,}",
            )
        console.print(table)
        best = c.best.get(first.gpu, "")
        pick = f"[bold]{best}[/], with the longest sequence" if best else "none fits"
        console.print(f"best on {first.gpu}: {pick}", highlight=False)
    console.print(_FOOTNOTE, highlight=False)


def _show_comparison(c: Comparison) -> None:
    from rich.table import Table

    def gb(n: int) -> str:
        return f"{n / 1e9:,.1f}"

    for first in c.plans[0].gpus:
        usable = _usable(first)
        title = f"on {first.gpu}: {usable} usable; sizes in GB"
        table = Table(title=title, title_justify="left")
        table.add_column("model", no_wrap=True)
        for name in ("weights", "total", "free", "fits", "max ctx", "batch", "tok/s"):
            table.add_column(name, justify="right", no_wrap=True)
        for p in c.plans:
            fit = next(f for f in p.gpus if f.gpu == first.gpu)
            table.add_row(
                p.label,
                gb(p.breakdown.weights),
                gb(p.total_bytes),
                gb(fit.free_bytes),
                _yes(fit.fits),
                _max_context(fit),
                f"{fit.max_batch:,}",
                f"{fit.decode_tokens_per_s:,.1f}",
            )
        console.print(table)
        best = c.best.get(first.gpu, "")
        pick = f"[bold]{best}[/], with the most room for context" if best else "none fits"
        console.print(f"best on {first.gpu}: {pick}", highlight=False)
    console.print(_FOOTNOTE, highlight=False)


@app.command("plan")
def plan(
    models: list[str] = typer.Argument(..., metavar="MODEL[:QUANT]...", help=_HELP_MODEL),
    gpu: list[str] = typer.Option(
        [], "--gpu", "-g", help="GPU to fit on; repeat for several. Default: all."
    ),
    quant: str = typer.Option(
        "bf16", "--quant", "-q", help="Weights: bf16 fp16 fp32 fp8 int8 awq gptq q4_k_m q4_1 q8_0."
    ),
    kv_dtype: str = typer.Option("auto", "--kv-dtype", help="KV cache: auto bf16 fp16 fp32 fp8."),
    context: str = typer.Option(
        "4096", "--context", "-c", help="Conversation tokens per sequence (16k = 16384)."
    ),
    batch: str = typer.Option(
        "auto",
        "--batch",
        "-b",
        help="Sequences served at once; auto: 1, or with --engine llamacpp the slots "
        "`outweigh serve` decodes together ($OUTWEIGH_LLAMA_SLOTS, 8), each a whole context.",
    ),
    loras: str = typer.Option("0", "--loras", help="LoRA adapters loaded at once."),
    lora_rank: str = typer.Option("16", "--lora-rank", help="Rank of each adapter."),
    lora_targets: list[str] = typer.Option(
        ["all-linear"],
        "--lora-targets",
        help="Modules adapters wrap: all-linear or names (q_proj,v_proj).",
    ),
    rag_chunks: str = typer.Option(
        "0", "--rag-chunks", help="Retrieved chunks added to each sequence."
    ),
    chunk_tokens: str = typer.Option("512", "--chunk-tokens", help="Tokens per retrieved chunk."),
    engine: str = typer.Option("transformers", "--engine", help="transformers, vllm or llamacpp."),
    attention: str = typer.Option(
        "sdpa", "--attention", help="eager, sdpa or flash (transformers)."
    ),
    gpu_memory_utilization: str = typer.Option(
        "0", "--gpu-memory-utilization", help="vLLM's share of the GPU; 0 = its default, 0.9."
    ),
    compare: bool = typer.Option(
        False, "--compare", help="Plan several MODEL[:QUANT] side by side."
    ),
    plot: Path | None = typer.Option(
        None, "--plot", help="Also write a PNG chart of the plan(s) here."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print JSON with stable keys instead of tables."
    ),
    train: str | None = typer.Option(
        None, "--train", help="Plan a training step instead: lora or qlora."
    ),
    seq_len: str | None = typer.Option(
        None, "--seq-len", help="Tokens per training row, with --train [default: 4096]."
    ),
    grad_checkpointing: bool = typer.Option(
        True,
        "--grad-checkpointing/--no-grad-checkpointing",
        help="Training with gradient checkpointing.",
    ),
) -> None:
    """Does MODEL fit, and what do weights, LoRA, KV (conversation and RAG) and activations cost?"""
    import json

    from outweigh.errors import InputError
    from outweigh.plan import PlanSpec, parse_tokens, split_model_quant, train_plan
    from outweigh.plan import compare as do_compare
    from outweigh.plan import plan as do_plan
    from outweigh.plan.spec import parse_fraction

    if len(models) > 1 and not compare:
        raise InputError("give one MODEL, or `--compare` with several MODEL[:QUANT]")
    if seq_len is not None and not train:
        raise InputError("`--seq-len` is for training; add `--train lora|qlora` or use --context")
    if train and plot is not None:
        raise InputError("`--plot` draws serving plans; drop it with `--train`")
    if train and seq_len is not None:
        context = seq_len
    targets = tuple(t.strip() for arg in lora_targets for t in arg.split(",") if t.strip())
    specs = []
    for text in models:
        model, q = split_model_quant(text, quant)
        specs.append(
            PlanSpec(
                model=model,
                quant=q,
                kv_dtype=kv_dtype,
                context=parse_tokens(context, "--seq-len" if train else "--context"),
                batch=_batch(batch, engine, train),
                loras=parse_tokens(loras, "--loras"),
                lora_rank=parse_tokens(lora_rank, "--lora-rank"),
                lora_targets=targets,
                rag_chunks=parse_tokens(rag_chunks, "--rag-chunks"),
                chunk_tokens=parse_tokens(chunk_tokens, "--chunk-tokens"),
                engine=engine,
                attention=attention,
                gpus=tuple(gpu),
                gpu_memory_utilization=parse_fraction(
                    gpu_memory_utilization, "--gpu-memory-utilization"
                ),
                train=train or "",
                grad_checkpointing=grad_checkpointing,
            )
        )
    if compare:
        result = do_compare(specs)
        plans = list(result.plans)
    elif train:
        result = train_plan(specs[0])
        plans = [result]
    else:
        result = do_plan(specs[0])
        plans = [result]
    if plot is not None:
        from outweigh.plan.plot import compare_png

        compare_png(plans, plot)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
    elif compare:
        (_show_train_comparison if train else _show_comparison)(result)
    elif train:
        _show_train_plan(result)
    else:
        _show_plan(result)
    if plot is not None and not as_json:
        console.print(f"plot: {plot}", highlight=False)


def _batch(text: str, engine: str, train: str | None) -> int:
    """`--batch`: `auto` is what the plan's engine allocates for. llama.cpp sizes its cache
    for every slot up front (`n_ctx` = slots x context), so a plan for `outweigh serve` on it
    counts the slots it serves with; other engines and training plan one sequence."""
    from outweigh.plan import parse_tokens

    if text.strip().lower() != "auto":
        return parse_tokens(text, "--batch")
    if engine == "llamacpp" and not train:
        from outweigh.settings import llama_slots

        return llama_slots()
    return 1
