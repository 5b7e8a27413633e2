"""`outweigh adapter train | add | list | show | rm | merge | export`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from outweigh.cli import _load
from outweigh.cli._app import app, console, console_err
from outweigh.settings import DEFAULT_MODEL

adapter_app = typer.Typer(
    help="Train, register, mix, merge and export LoRA adapters.", no_args_is_help=True
)
app.add_typer(adapter_app, name="adapter")


@adapter_app.command("train")
def train(
    data: Path | None = typer.Argument(
        None, help='JSONL of {"messages": [...]} or {"prompt", "completion"}.'
    ),
    name: str = typer.Option(..., "--name", help="Name to register the adapter under."),
    base: str = typer.Option(
        DEFAULT_MODEL, "--base", help="Base model: catalog name, dir or hub id."
    ),
    rank: int = typer.Option(16, "--rank", help="LoRA rank r."),
    alpha: float | None = typer.Option(None, "--alpha", help="LoRA alpha [default: 2 x rank]."),
    targets: str = typer.Option(
        "q_proj,k_proj,v_proj,o_proj", "--targets", help="Modules to wrap."
    ),
    epochs: int = typer.Option(1, "--epochs"),
    lr: float = typer.Option(2e-3, "--lr", help="Peak learning rate."),
    max_steps: int | None = typer.Option(None, "--max-steps", help="Steps; overrides --epochs."),
    batch_size: int = typer.Option(8, "--batch-size"),
    fresh: bool = typer.Option(False, "--fresh", help="Ignore a checkpoint of an interrupted run."),
    method: str = typer.Option(
        "lora", "--method", help="lora, or qlora (nf4 base, paged 8-bit AdamW; bitsandbytes)."
    ),
    device: str | None = _load.DEVICE,
    dtype: str | None = _load.DTYPE,
    grad_checkpointing: bool | None = typer.Option(
        None,
        "--grad-checkpointing/--no-grad-checkpointing",
        help="Recompute activations in backward [default: on with CUDA, off on CPU].",
    ),
    grad_accum: int = typer.Option(
        1, "--grad-accum", help="Run each step's batch in this many parts (less memory)."
    ),
    max_length: int = typer.Option(512, "--max-length", help="Tokens per row; longer are cut."),
    start_from: str | None = typer.Option(
        None,
        "--from",
        metavar="ADAPTER",
        help="Start from this adapter's weights (registered name or PEFT folder) and go on "
        "training it on DATA; its rank, alpha and targets are kept.",
    ),
    reader: str | None = typer.Option(
        None,
        "--reader",
        help="Instead of DATA: train a reader on questions this collection's own text "
        "answers (Key: value lines, manual pages, and the names, dates, versions, URLs and "
        "e-mail addresses of any text), asked over retrieved passages (RAFT).",
    ),
    reader_rows: int = typer.Option(600, "--reader-rows", help="Rows to build for --reader."),
    held_out: Path | None = typer.Option(
        None,
        "--held-out",
        metavar="SUITE",
        help="With --reader: ask nothing about the documents this suite holds out "
        "(made by outweigh eval SUITE --make-from COLLECTION).",
    ),
    question_writer: str | None = typer.Option(
        None,
        "--question-writer",
        metavar="MODEL",
        help="With --reader: this model also writes questions from passages (a quarter as "
        "many as rows); kept only where its answer is in the passage word for word.",
    ),
    upstream: str | None = typer.Option(
        None,
        "--upstream",
        metavar="URL",
        help="With --question-writer: the writer runs on this OpenAI-compatible server.",
    ),
) -> None:
    """Train a LoRA adapter (loss on assistant tokens only) and register it when it finishes."""
    from outweigh.adapters import TrainConfig, TrainProgress
    from outweigh.cli._progress import detail_bar
    from outweigh.engine import Engine
    from outweigh.errors import InputError

    if (data is None) == (reader is None):
        raise InputError("give training DATA (a JSONL file) or --reader COLLECTION, one of them")
    if held_out is not None and reader is None:
        raise InputError(
            "--held-out goes with --reader COLLECTION: it names the documents reader rows skip"
        )
    if question_writer is not None and reader is None:
        raise InputError("--question-writer goes with --reader COLLECTION: it writes its rows")
    if upstream is not None and question_writer is None:
        raise InputError("--upstream goes with --question-writer MODEL: the writer runs there")
    if reader is not None:
        data = _reader_rows(reader, name, reader_rows, held_out, question_writer, upstream)
    assert data is not None

    load = _load.load_options(device, dtype)
    config = TrainConfig(
        base=base,
        rank=rank,
        alpha=alpha,
        targets=tuple(t.strip() for t in targets.split(",") if t.strip()),
        epochs=epochs,
        lr=lr,
        max_steps=max_steps,
        batch_size=batch_size,
        resume=not fresh,
        method=method,
        device=load.device,
        dtype=load.dtype,
        grad_checkpointing=grad_checkpointing,
        grad_accum=grad_accum,
        max_length=max_length,
        start_from=start_from,
    )
    with detail_bar(f"train {name}", transient=False) as update, Engine() as engine:
        update(detail=f"loading {base}")

        def on_step(p: TrainProgress) -> None:
            val = f"  val {p.val_loss:.3f}" if p.val_loss is not None else ""
            vram = f"  {p.peak_vram_bytes / 2**30:.1f} GiB peak" if p.peak_vram_bytes else ""
            detail = f"loss {p.loss:.3f}{val}  {p.tokens_per_s:,.0f} tok/s{vram}"
            update(completed=p.step, total=p.total, detail=detail)

        try:
            info = engine.train_adapter(data, name, config, progress=on_step)
        except KeyboardInterrupt:
            console_err.print("[yellow]stopped; run the same command again to resume[/]")
            raise
    m = info.metrics
    console.print(
        f"[bold]{info.name}[/]: {int(m.get('steps', 0))} steps in {m.get('seconds', 0):.0f} s, "
        f"train loss {m.get('train_loss', float('nan')):.3f}"
        + (f", val loss {m['val_loss']:.3f}" if "val_loss" in m else "")
    )


def _reader_rows(
    collection: str,
    name: str,
    rows: int,
    held_out: Path | None,
    writer: str | None = None,
    upstream: str | None = None,
) -> Path:
    """Build and write the --reader rows, skipping the documents a suite holds out, with the
    questions `writer` writes from passages; the JSONL path they went to."""
    from outweigh.adapters.reader import write
    from outweigh.cli._progress import detail_bar
    from outweigh.engine import Engine
    from outweigh.errors import InputError
    from outweigh.eval import held_out_of

    if rows < 1:
        raise InputError("`--reader-rows` must be at least 1")
    with Engine.upstream(upstream, writer) if upstream else Engine() as engine:
        skip = frozenset() if held_out is None else held_out_of(engine, held_out, collection)
        with detail_bar(f"reader rows from {collection}") as update:
            data = engine.reader_data(
                collection,
                rows,
                on_row=lambda i, n: update(completed=i, total=n, detail="asking"),
                skip=skip,
                writer=writer,
                on_written=lambda i, n: update(
                    completed=i, total=n, detail=f"{writer} writing questions"
                ),
            )
    path = write(data, engine.paths.adapters_dir / ".reader" / f"{name}.jsonl")
    skipped = f", {len(skip)} held-out documents skipped" if skip else ""
    console.print(
        f"{len(data.rows)} reader rows from {data.facts} facts in {collection!r}{skipped} "
        f"({data.absent} without the gold passage; by kind: "
        + ", ".join(f"{k} {n}" for k, n in data.kinds.items())
        + f"): {path}"
        + (f"; {writer} wrote the {data.kinds.get('written', 0)} `written` rows" if writer else ""),
        highlight=False,
    )
    return path


@adapter_app.command("add")
def add(
    path: Path = typer.Argument(
        ..., help="A PEFT LoRA directory (adapter_config.json + safetensors)."
    ),
    name: str = typer.Option(..., "--name", help="Name to register it under."),
    base: str | None = typer.Option(
        None, "--base", help="Its base model [default: from its config]."
    ),
) -> None:
    """Validate and copy an existing PEFT adapter into the registry."""
    from outweigh.engine import Engine

    with Engine() as engine:
        info = engine.add_adapter(path, name, base)
    console.print(f"added [bold]{info.name}[/] (base {info.base_model}, rank {info.rank})")


@adapter_app.command("list")
def list_adapters(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Registered adapters."""
    from rich.table import Table

    from outweigh.engine import Engine

    with Engine() as engine:
        infos = engine.adapter_list()
    if as_json:
        print(json.dumps([i.to_dict() for i in infos], indent=2))
        return
    table = Table("name", "base", "rank", "targets", "size", "source", "created")
    for i in infos:
        size = f"{i.size_bytes / 1e6:.1f} MB"
        table.add_row(
            i.name, i.base_model, str(i.rank), ",".join(i.targets), size, i.source, i.created
        )
    console.print(table)


@adapter_app.command("show")
def show(name: str, as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """One adapter: base, rank, alpha, targets, size, created, training figures."""
    from outweigh.engine import Engine

    with Engine() as engine:
        d = engine.adapter_info(name).to_dict()
        d["path"] = str(engine.adapter_path(name))
    if as_json:
        print(json.dumps(d, indent=2))
        return
    for key, value in d.items():
        if isinstance(value, list):
            value = ", ".join(map(str, value))
        elif isinstance(value, dict):
            value = ", ".join(f"{k}={v:g}" for k, v in value.items()) or "-"
        console.print(f"[bold]{key:>24}[/]  {value}", highlight=False, soft_wrap=True)


@adapter_app.command("rm")
def rm(name: str) -> None:
    """Unregister an adapter and delete its files."""
    from outweigh.engine import Engine

    with Engine() as engine:
        engine.remove_adapter(name)
    console.print(f"removed {name}")


@adapter_app.command("merge")
def merge(
    spec: str = typer.Argument(..., help="Adapter name, or a mix like a:0.7,b:0.3."),
    out: Path = typer.Option(..., "--out", help="New directory for the merged model."),
) -> None:
    """Fold an adapter into the base weights and save a full model (load it with --model DIR)."""
    from outweigh.engine import Engine

    with Engine() as engine, console.status(f"merging {spec}"):
        where = engine.merge_adapter(spec, out)
    console.print(f"merged model at {where}; use it with:", highlight=False)
    print(f"  outweigh ask --model {where} ...")  # plain print: never wrapped, copy-pasteable


@adapter_app.command("export")
def export(
    name: str,
    target: str = typer.Option("vllm", "--for", help="Runtime to export for: vllm."),
    out: Path = typer.Option(..., "--out", help="New directory to write."),
) -> None:
    """Write an adapter for another runtime, and print the command that serves it."""
    from outweigh.engine import Engine

    with Engine() as engine:
        result = engine.export_adapter(name, out, target)
    console.print(f"wrote {result.path}; serve it with:", highlight=False)
    print(f"  {result.command}")  # plain print: never wrapped, copy-pasteable
