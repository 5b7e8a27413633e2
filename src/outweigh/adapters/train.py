"""LoRA training on a JSONL of conversations: a plain torch loop over a PEFT model.

`train_adapter` loads a private copy of the base model, wraps it with `get_peft_model`, and
runs AdamW over the LoRA weights only (Hu et al. 2021, "LoRA", arxiv.org/abs/2106.09685).
`method="qlora"` loads the base in nf4 with double quantization and bf16 compute, and steps
with bitsandbytes' paged 8-bit AdamW (Dettmers et al. 2023, "QLoRA", arxiv.org/abs/2305.14314).
A plain loop rather than transformers' Trainer: it is short, runs the same on CPU and GPU,
and lets the loss skip the vocabulary projection for every token that has no label.

- A slice of the rows is held out and scored after each epoch (validation loss).
- Every `checkpoint_every` steps, and on Ctrl-C, the LoRA weights and the AdamW moments go
  to `adapters/.checkpoints/NAME/`, as safetensors; a rerun of the same command on the same
  data resumes there and takes the same steps an uninterrupted run would.
- Gradient checkpointing (on by default on CUDA) recomputes each layer in the backward pass
  instead of keeping its activations; gradient accumulation runs a step's batch in parts.
- Only a finished run registers the adapter (a staging directory moved into place, then one
  row inserted), so an interrupted run never leaves a usable-looking half adapter.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from outweigh.adapters.checkpoint import (
    Start,
    drop_checkpoint,
    load_start,
    restore,
    save_checkpoint,
    start_from,
)
from outweigh.adapters.data import IGNORE, Example, collate, encode, read_rows
from outweigh.adapters.registry import AdapterInfo, AdapterRegistry
from outweigh.errors import InputError
from outweigh.generate.lora import PEFT_NOISE
from outweigh.models.options import LoadOptions, require_bitsandbytes
from outweigh.settings import DEFAULT_MODEL, Paths

if TYPE_CHECKING:
    import torch

METHODS = ("lora", "qlora")
"""`--method` choices: LoRA over the base in `--dtype`, or QLoRA over an nf4 base."""

DEFAULT_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")
"""Attention projections: the original LoRA recipe (Hu et al. 2021, sec. 7.1), and enough to
learn a style; add gate_proj, up_proj, down_proj for knowledge-heavy data."""


@dataclass
class TrainConfig:
    """How to train one adapter. Defaults train the example style set in ~2-3 min on 2 cores."""

    base: str = DEFAULT_MODEL
    """Base model: a catalog name, a local HF dir or a hub id."""
    rank: int = 16
    """LoRA rank r (`--rank`): the width of the update; 8-16 suits style, more for knowledge."""
    alpha: float | None = None
    """LoRA alpha (`--alpha`); the update is scaled by alpha / rank. Unset: 2 x rank."""
    targets: tuple[str, ...] = DEFAULT_TARGETS
    """Module names to wrap (`--targets q_proj,v_proj`)."""
    dropout: float = 0.05
    """Dropout on the LoRA input during training."""
    epochs: int = 1
    """Passes over the training rows (`--epochs`)."""
    max_steps: int | None = None
    """Optimizer steps (`--max-steps`); overrides epochs when set, as in transformers."""
    lr: float = 2e-3
    """Peak learning rate (`--lr`). LoRA takes ~10x full fine-tuning's: the update starts at
    zero and has few parameters."""
    batch_size: int = 8
    """Rows per optimizer step (`--batch-size`)."""
    max_length: int = 512
    """Tokens per row; longer rows are cut at the end."""
    val_fraction: float = 0.1
    """Share of rows held out for the validation loss (none with fewer than 10 rows)."""
    warmup_steps: int = 4
    """Steps of linear warmup before the linear decay to zero."""
    seed: int = 0
    """Seeds the split, the batch order, LoRA's initialisation and dropout."""
    checkpoint_every: int = 10
    """Steps between checkpoints."""
    resume: bool = True
    """Resume from a checkpoint of the same name, data and settings, if there is one."""
    method: str = "lora"
    """`--method`: lora (base weights in `dtype`, torch AdamW) or qlora (base in nf4 with double
    quantization, bf16 compute, bitsandbytes' paged 8-bit AdamW; needs bitsandbytes)."""
    device: str = "auto"
    """`--device`: auto, cpu, cuda or cuda:N, as for inference."""
    dtype: str = "auto"
    """`--dtype` of the base weights (and the compute dtype under qlora): auto, bf16, fp16 or
    fp32. LoRA weights, their gradients and AdamW's moments stay fp32 (PEFT upcasts adapters)."""
    grad_checkpointing: bool | None = None
    """`--grad-checkpointing/--no-grad-checkpointing`: keep only each layer's input and recompute
    the rest in the backward pass (a third more compute, activations cut to one layer's).
    None: on when training on CUDA, off on CPU, where memory is rarely what runs out."""
    grad_accum: int = 1
    """`--grad-accum`: run each step's `batch_size` rows in this many parts and add their
    gradients; the same step as one pass, with a fraction of the activation memory."""
    start_from: str | None = None
    """`--from`: start from this adapter's weights (a registered name or a PEFT folder) instead
    of LoRA's fresh initialisation, to go on training it on new rows. Its rank, alpha and
    targets replace `rank`, `alpha` and `targets`; its base must be `base`."""

    @property
    def lora_alpha(self) -> float:
        return float(self.alpha) if self.alpha is not None else 2.0 * self.rank

    def validate(self) -> None:
        if self.rank < 1:
            raise InputError("`--rank` must be at least 1")
        if self.alpha is not None and self.alpha <= 0:
            raise InputError("`--alpha` must be positive")
        if not self.targets or not all(t and t.replace("_", "").isalnum() for t in self.targets):
            raise InputError("`--targets` must name modules, e.g. q_proj,v_proj")
        if not 0 <= self.dropout < 1:
            raise InputError("`--dropout` must be in [0, 1)")
        if self.epochs < 1:
            raise InputError("`--epochs` must be at least 1")
        if self.max_steps is not None and self.max_steps < 1:
            raise InputError("`--max-steps` must be at least 1")
        if not 0 < self.lr < 1:
            raise InputError("`--lr` must be between 0 and 1")
        if self.batch_size < 1:
            raise InputError("`--batch-size` must be at least 1")
        if self.max_length < 16:
            raise InputError("`--max-length` must be at least 16")
        if not 0 <= self.val_fraction < 0.5:
            raise InputError("`--val-fraction` must be in [0, 0.5)")
        if self.warmup_steps < 0 or self.checkpoint_every < 1:
            raise InputError("`warmup_steps` must be >= 0 and `checkpoint_every` >= 1")
        if self.method not in METHODS:
            raise InputError(
                f"unknown `--method` {self.method!r}; choose one of: {', '.join(METHODS)}"
            )
        if not 1 <= self.grad_accum <= self.batch_size:
            raise InputError("`--grad-accum` must be from 1 to `--batch-size`")
        if self.method == "qlora":
            require_bitsandbytes("--method qlora")
        self.load_options().validate()

    def load_options(self) -> LoadOptions:
        """How the base loads: `device` and `dtype`, in 4 bits for qlora."""
        return LoadOptions(self.device, self.dtype, "4bit" if self.method == "qlora" else None)


@dataclass(frozen=True)
class TrainProgress:
    """One report to the `progress` callback: after each step, and after each validation."""

    step: int
    """Optimizer steps done."""
    total: int
    """Optimizer steps in the run."""
    epoch: int
    """Current epoch, from 1."""
    loss: float
    """Mean training loss of the last step (nats per assistant token)."""
    lr: float
    """Learning rate of the last step."""
    elapsed_s: float
    """Seconds since this process started training (not counting a resumed run's past)."""
    val_loss: float | None = None
    """Validation loss, on reports that follow a validation pass."""
    resumed_from: int = 0
    """Step this run resumed from; 0 for a fresh run."""
    tokens_per_s: float = 0.0
    """Tokens (padding excluded) per second over this process's steps."""
    peak_vram_bytes: int | None = None
    """torch.cuda.max_memory_allocated on the training GPU so far; None on CPU."""


@dataclass
class _Split:
    train: list[Example]
    val: list[Example]
    truncated: int = 0


def train_adapter(
    data_path: str | Path,
    name: str,
    config: TrainConfig | None = None,
    paths: Paths | None = None,
    progress: Callable[[TrainProgress], None] | None = None,
) -> AdapterInfo:
    """Train a LoRA adapter on `data_path` and register it as `name`.

    Everything that can be refused (name, settings, data, base) is checked before the model
    loads. Returns the registered adapter's info, whose `metrics` hold the losses.
    """
    from outweigh.adapters.validate import hub_id
    from outweigh.generate.local import LocalBackend
    from outweigh.models.catalog import resolve
    from outweigh.models.loader import load

    config = config or TrainConfig()
    paths = paths or Paths()
    config.validate()
    registry = AdapterRegistry(paths)
    try:
        registry.check_free(name)
        rows = read_rows(data_path)
        entry = resolve(config.base)
        start = None
        if config.start_from is not None:
            start = start_from(config.start_from, registry, entry)
            config = replace(config, rank=start.rank, alpha=start.alpha, targets=start.targets)
        fingerprint = _fingerprint(Path(data_path).expanduser(), entry.name, config, start)
        ckpt = paths.adapters_dir / ".checkpoints" / name

        options = config.load_options()
        placement = options.resolve()  # a --device this machine lacks: refused before loading
        # A private copy: LoRA goes into it.
        backend = LocalBackend(load(entry.name, paths, options))
        split = _split(rows, backend, config)
        checkpointing = config.grad_checkpointing
        if checkpointing is None:
            checkpointing = placement.on_gpu
        model = _wrap(backend.loaded.model, config, entry.name, checkpointing)
        if start is not None:
            load_start(model, start.weights)
        model.peft_config["default"].base_model_name_or_path = hub_id(entry)
        pad = int(backend.tokenizer.pad_token_id)
        metrics = _run(model, split, config, pad, ckpt, fingerprint, progress)

        stage = registry.staging_dir(name)
        try:
            # No embedding layers are trained; "auto" would look the base up on the hub.
            model.save_pretrained(str(stage), safe_serialization=True, save_embedding_layers=False)
            info = registry.install_trained(stage, name, entry.name, metrics)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
        drop_checkpoint(ckpt)
        return info
    finally:
        registry.close()


def _run(
    model: Any,
    split: _Split,
    config: TrainConfig,
    pad: int,
    ckpt: Path,
    fingerprint: str,
    progress: Callable[[TrainProgress], None] | None,
) -> dict[str, float]:
    """The optimizer loop, from a matching checkpoint if there is one; the run's metrics."""
    import torch

    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = _optimizer(trainable, config)
    device = model.get_base_model().get_input_embeddings().weight.device
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    tokens = 0
    per_epoch = len(_batches(split.train, config, 0))
    total = config.max_steps or config.epochs * per_epoch
    start = restore(ckpt, fingerprint, model, opt) if config.resume else 0
    if start == 0:
        shutil.rmtree(ckpt, ignore_errors=True)

    t0 = time.perf_counter()
    losses: list[float] = []
    val_loss: float | None = None
    step = start
    model.train()
    try:
        while step < total:
            epoch, within = divmod(step, per_epoch)
            batch = [split.train[i] for i in _batches(split.train, config, epoch)[within]]
            lr = _lr_at(step, total, config)
            for group in opt.param_groups:
                group["lr"] = lr
            # Dropout masks seeded per step: a resumed run takes the same steps as an
            # uninterrupted one.
            torch.manual_seed(config.seed * 100_003 + step)
            loss, n = _accumulate(model, batch, pad, config.grad_accum, device)
            tokens += n
            # Clip at 1.0, the common LoRA default (e.g. PEFT and TRL examples).
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            losses.append(float(loss.detach()))
            if (step % per_epoch == 0 or step == total) and split.val:
                val_loss = _evaluate(model, split.val, pad, config.batch_size, device)
                model.train()
            if progress is not None:
                ended = step % per_epoch == 0 or step == total
                elapsed = time.perf_counter() - t0
                progress(
                    TrainProgress(
                        step=step,
                        total=total,
                        epoch=epoch + 1,
                        loss=losses[-1],
                        lr=lr,
                        elapsed_s=elapsed,
                        val_loss=val_loss if ended else None,
                        resumed_from=start,
                        tokens_per_s=tokens / elapsed if elapsed > 0 else 0.0,
                        peak_vram_bytes=torch.cuda.max_memory_allocated(device) if cuda else None,
                    )
                )
            if step % config.checkpoint_every == 0 and step < total:
                save_checkpoint(ckpt, fingerprint, step, model, opt)
    except KeyboardInterrupt:
        if step > start:
            save_checkpoint(ckpt, fingerprint, step, model, opt)
        raise
    model.eval()
    last = losses[-per_epoch:]
    metrics = {
        "train_loss": round(sum(last) / len(last), 4) if last else float("nan"),
        "steps": float(total),
        "seconds": round(time.perf_counter() - t0, 1),
        "examples": float(len(split.train)),
        "val_examples": float(len(split.val)),
        "truncated": float(split.truncated),
    }
    if val_loss is not None:
        metrics["val_loss"] = round(val_loss, 4)
    return metrics


# -- pieces -----------------------------------------------------------------------------------
def _split(rows: list[list[dict[str, str]]], backend: Any, config: TrainConfig) -> _Split:
    examples = [encode(r, backend, config.max_length) for r in rows]
    truncated = sum(e.truncated for e in examples)
    examples = [e for e in examples if any(lab != IGNORE for lab in e.labels[1:])]
    if not examples:
        raise InputError(
            f"no row has assistant tokens within {config.max_length} tokens; raise --max-length"
        )
    order = list(range(len(examples)))
    random.Random(config.seed).shuffle(order)
    n_val = int(len(examples) * config.val_fraction) if len(examples) >= 10 else 0
    if config.val_fraction > 0 and len(examples) >= 10:
        n_val = max(1, n_val)
    val = [examples[i] for i in order[:n_val]]
    train = [examples[i] for i in order[n_val:]]
    return _Split(train, val, truncated)


def _batches(train: list[Example], config: TrainConfig, epoch: int) -> list[list[int]]:
    """Epoch `epoch`'s batches of row indices, the same on every call (resume relies on it).

    Rows are shuffled, then sorted by length within windows of 8 batches, so a batch holds
    rows of similar length and pads little (transformers' `group_by_length` does the same);
    the batch order is shuffled again so lengths do not trend through the epoch.
    """
    rng = random.Random(config.seed * 1000 + epoch)
    order = list(range(len(train)))
    rng.shuffle(order)
    window = 8 * config.batch_size
    batches: list[list[int]] = []
    for w in range(0, len(order), window):
        chunk = sorted(order[w : w + window], key=lambda i: len(train[i].input_ids))
        batches += [
            chunk[b : b + config.batch_size] for b in range(0, len(chunk), config.batch_size)
        ]
    rng.shuffle(batches)
    return batches


def _optimizer(params: list[Any], config: TrainConfig) -> Any:
    """torch AdamW for lora; for qlora bitsandbytes' paged 8-bit AdamW: block-wise 8-bit
    moments (Dettmers et al. 2022, arxiv.org/abs/2110.02861) in memory the driver pages to the
    host when the GPU runs short, as QLoRA trains."""
    if config.method == "qlora":
        import bitsandbytes as bnb

        # Paging is a CUDA feature; on CPU bitsandbytes warns and runs the plain 8-bit AdamW.
        paged = bool(params) and params[0].device.type == "cuda"
        adam = bnb.optim.PagedAdamW8bit if paged else bnb.optim.AdamW8bit
        return adam(params, lr=config.lr, weight_decay=0.0)
    import torch

    return torch.optim.AdamW(params, lr=config.lr, weight_decay=0.0)


def _wrap(base: Any, config: TrainConfig, base_name: str, checkpointing: bool = False) -> Any:
    import torch
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    names = {
        n.rsplit(".", 1)[-1] for n, m in base.named_modules() if isinstance(m, torch.nn.Linear)
    }
    missing = [t for t in config.targets if t not in names]
    if missing:
        raise InputError(
            f"`--targets`: {base_name} has no module {', '.join(missing)}; its linear layers are "
            f"{', '.join(sorted(names))}"
        )
    torch.manual_seed(config.seed)  # LoRA's A is random (Kaiming), B starts at zero
    base.config.use_cache = False  # no KV cache in training: every step is one full forward
    if config.method == "qlora":
        # Freezes the base and casts its non-quantized parameters (norms, embeddings) to fp32
        # for stable training, as QLoRA does; checkpointing is switched on below.
        base = prepare_model_for_kbit_training(base, use_gradient_checkpointing=False)
    if checkpointing:
        # Non-reentrant checkpointing needs no input that requires grad, which a frozen base
        # lacks (torch.utils.checkpoint recommends it). transformers 5 renamed the method.
        enable = getattr(base, "activation_checkpointing_enable", None)
        if enable is not None:
            enable({"use_reentrant": False})
        else:
            base.gradient_checkpointing_enable(
                gradient_checkpointing_kwargs={"use_reentrant": False}
            )
    lora = LoraConfig(
        r=config.rank,
        lora_alpha=config.lora_alpha,
        target_modules=list(config.targets),
        lora_dropout=config.dropout,
        bias="none",
        task_type="CAUSAL_LM",
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=PEFT_NOISE, category=FutureWarning)
        return get_peft_model(base, lora)


def _accumulate(
    model: Any, batch: list[Example], pad: int, parts: int, device: Any
) -> tuple[torch.Tensor, int]:
    """Forward and backward over `batch` in `parts` micro-batches; (the step's mean loss,
    tokens computed). Each part's loss is weighted by its share of the labelled tokens, so the
    gradient is the one a single pass over the whole batch gives."""
    import torch

    size = -(-len(batch) // parts)
    chunks = [collate(batch[i : i + size], pad) for i in range(0, len(batch), size)]
    labelled = [int((c["labels"][:, 1:] != IGNORE).sum()) for c in chunks]
    total = max(1, sum(labelled))
    loss_sum = 0.0
    tokens = 0
    for chunk, n in zip(chunks, labelled, strict=True):
        tokens += int(chunk["attention_mask"].sum())
        if n == 0:
            continue
        loss = _loss(model, {k: v.to(device) for k, v in chunk.items()})
        (loss * (n / total)).backward()
        loss_sum += float(loss.detach()) * n
    return torch.tensor(loss_sum / total), tokens


def _loss(model: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean cross-entropy over labelled next tokens.

    The (hidden -> vocab) projection runs only on positions whose next token has a label:
    for SmolLM2 it is 28M of the 135M parameters (49152 x 576), and most positions are
    prompt, so this skips a fifth of each step's compute.
    """
    import torch.nn.functional as F

    base = model.get_base_model()
    decoder, head = base.get_decoder(), base.get_output_embeddings()
    target = batch["labels"][:, 1:]
    keep = target != IGNORE
    if decoder is None or head is None or getattr(base.config, "final_logit_softcapping", None):
        out = model(**batch)
        return out.loss
    hidden = decoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])[0]
    logits = head(hidden[:, :-1][keep])  # (N labelled, vocab)
    return F.cross_entropy(logits.float(), target[keep])


def _evaluate(model: Any, val: list[Example], pad: int, batch_size: int, device: Any) -> float:
    import torch

    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(val), batch_size):
            batch = {k: v.to(device) for k, v in collate(val[i : i + batch_size], pad).items()}
            n = int((batch["labels"][:, 1:] != IGNORE).sum())
            total += float(_loss(model, batch)) * n
            count += n
    return total / max(1, count)


def _lr_at(step: int, total: int, config: TrainConfig) -> float:
    """Linear warmup, then linear decay to zero at the last step."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / (config.warmup_steps + 1)
    left = max(1, total - config.warmup_steps)
    return config.lr * max(0.0, 1 - (step - config.warmup_steps) / left)


def _fingerprint(data: Path, base: str, config: TrainConfig, start: Start | None = None) -> str:
    """Identifies a run: a checkpoint resumes only the same data, base, settings and start."""
    h = hashlib.sha256(data.read_bytes())
    if start is not None:
        h.update(start.weights.read_bytes())
    # Settings that change no step are left out (resume, checkpoint_every, device), and so are
    # the scale settings at their defaults, so a run checkpointed before they existed resumes.
    defaults = asdict(TrainConfig())
    settings = {
        k: v
        for k, v in asdict(config).items()
        if k not in ("resume", "checkpoint_every", "device")
        and not (k in _SCALE_FIELDS and v == defaults[k])
    }
    h.update(json.dumps({"base": base, **settings}, sort_keys=True, default=str).encode())
    return h.hexdigest()


_SCALE_FIELDS = ("method", "dtype", "grad_checkpointing", "grad_accum", "start_from")
"""TrainConfig fields added after the first release (training at scale, `--from`); in a run's
fingerprint only when set, so a run checkpointed before they existed resumes."""
