"""Several LoRA adapters over one shared base model: load once, switch per request, mix.

The base model a `LocalBackend` holds is wrapped in one PEFT `PeftModel` when the first
adapter is requested. Every adapter after that is `load_adapter`-ed into the same wrapper, so
switching is `set_adapter` plus turning the LoRA layers on and off (~14 ms on 2 CPU cores,
~4 ms for the same adapter again), and the base weights are never reloaded or copied.

Between requests every adapter layer is switched *off* (`disable_adapter_layers`), so anything
that runs the base model directly, a request with no adapter included, gets exactly the base
model's output; an adapter is switched on only for the call that asked for it.

A weighted mix `a:0.7,b:0.3` becomes one more PEFT adapter, built once per spelling with
`add_weighted_adapter(combination_type="cat")`: it concatenates the LoRA factors, so the mix's
update is exactly 0.7·ΔW_a + 0.3·ΔW_b (PEFT docs: "`cat` and `svd` are precise methods"),
at the cost of a rank equal to the sum of the parts' ranks.

Rows of one batch can use different adapters through PEFT's `adapter_names=` (mixed-batch
inference): each row gets what its adapter alone gives (`generate_batch`, `logits`).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from outweigh.adapters.registry import AdapterInfo, AdapterRegistry, canonical_spec
from outweigh.errors import InputError
from outweigh.settings import Paths

if TYPE_CHECKING:
    import torch

    from outweigh.generate.base import Generation, GenerationRequest
    from outweigh.generate.local import LocalBackend

BASE = "__base__"
"""PEFT's name for "no adapter" in a mixed batch (peft/tuners/lora/model.py)."""

_ATTR = "_outweigh_adapters"
"""Attribute of the base model that holds its runtime (see `AdapterRuntime.of`)."""


class AdapterRuntime:
    """Adapters loaded over one base model, addressed by registered name or mix spec."""

    def __init__(self, model: Any, base_name: str, paths: Paths | None = None) -> None:
        self.base = model
        """The transformers model the backend holds; PEFT injects LoRA layers into it."""
        self.base_name = base_name
        """outweigh's name for that model; adapters trained on another base are refused."""
        self._paths = paths
        self._registry: AdapterRegistry | None = None
        self._peft: Any = None
        self._loaded: dict[str, tuple[str, str]] = {}
        """Registered name -> (PEFT adapter key, sha256 of the weights that key holds)."""
        self._mixes: dict[str, str] = {}
        """Mix cache key (canonical spec + the parts' hashes) -> PEFT adapter key."""
        self._serial = 0
        self._layers: list[Any] = []
        """PEFT's LoRA layers inside the model, refreshed whenever adapters are added."""
        self._active: str | None = None
        """The PEFT key last `set_adapter`-ed, so a repeat request skips that walk."""

    @classmethod
    def of(cls, model: Any, base_name: str, paths: Paths | None = None) -> AdapterRuntime:
        """The runtime of `model`, created on first use.

        PEFT injects LoRA layers into the model object itself, so the bookkeeping travels with
        it: two backends over one loaded model share one runtime instead of wrapping twice
        (transformers keeps its own PEFT state on the model the same way).
        """
        runtime = model.__dict__.get(_ATTR)
        if runtime is None:
            runtime = cls(model, base_name, paths)
            model.__dict__[_ATTR] = runtime  # not setattr: nn.Module would try to register it
        return runtime

    # -- what is loaded -------------------------------------------------------------------
    @property
    def registry(self) -> AdapterRegistry:
        """The registry names resolve in: the backend's paths, else today's `OUTWEIGH_HOME`."""
        paths = self._paths or Paths()
        if self._registry is None or self._registry.paths.root != paths.root:
            if self._registry is not None:
                self._registry.close()
            self._registry = AdapterRegistry(paths)
        return self._registry

    def loaded(self) -> list[str]:
        """Registered names whose weights are in memory."""
        return sorted(self._loaded)

    def key(self, spec: str) -> str:
        """The PEFT adapter key for a name or mix, loading or building it on first use.

        Keys are internal (`lora0`, `mix0`, ...) because PEFT keys cannot contain `.`, which
        adapter names may.
        """
        parts = self.registry.resolve(spec)
        for info, _ in parts:
            if info.base_model != self.base_name:
                raise InputError(
                    f"adapter {info.name!r} was trained on {info.base_model}, not "
                    f"{self.base_name}; use --model {info.base_model}"
                )
        keys = [self._ensure(info) for info, _ in parts]
        name = canonical_spec(spec)
        if len(parts) == 1 and name == parts[0][0].name:
            return keys[0]
        cache = name + "|" + ",".join(info.sha256 for info, _ in parts)
        if cache not in self._mixes:
            mix = self._new_key("mix")
            self._peft.add_weighted_adapter(
                adapters=keys,
                weights=[w for _, w in parts],
                adapter_name=mix,
                combination_type="cat",
            )
            self._settle()
            self._mixes[cache] = mix
        return self._mixes[cache]

    def _ensure(self, info: AdapterInfo) -> str:
        """Load `info` unless its current weights already are; a re-registered name reloads."""
        held = self._loaded.get(info.name)
        if held is not None and held[1] == info.sha256:
            return held[0]
        if held is not None:
            self._drop(info.name)
        key = self._new_key("lora")
        path = str(self.registry.path(info.name))
        if self._peft is None:
            from peft import PeftModel

            from outweigh.adapters.train import PEFT_NOISE

            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=PEFT_NOISE, category=FutureWarning)
                self._peft = PeftModel.from_pretrained(
                    self.base, path, adapter_name=key, is_trainable=False
                )
        else:
            self._peft.load_adapter(path, adapter_name=key, is_trainable=False)
        self._settle()
        self._loaded[info.name] = (key, info.sha256)
        return key

    def _settle(self) -> None:
        """Eval mode and every adapter off, after PEFT added modules.

        `add_weighted_adapter` builds fresh LoRA dropout modules, and a new nn.Module starts in
        training mode: without `eval()` a mix would drop 5% of its input at random.
        """
        from peft.tuners.tuners_utils import BaseTunerLayer

        self._peft.eval()
        self._layers = [m for m in self._peft.modules() if isinstance(m, BaseTunerLayer)]
        self._active = None
        self._toggle(False)

    def _toggle(self, on: bool) -> None:
        """Switch every LoRA layer on or off, over a list kept since the last load.

        PEFT's own `enable_adapter_layers` walks every module of the model on each call; the
        LoRA layers only change when an adapter is added, so the list is kept.
        """
        for layer in self._layers:
            layer.enable_adapters(on)

    def _drop(self, name: str) -> None:
        """Delete a loaded adapter and every mix built from it."""
        key, sha = self._loaded.pop(name)
        for cache, mix in list(self._mixes.items()):
            if sha in cache.split("|", 1)[1].split(","):
                self._peft.delete_adapter(mix)
                del self._mixes[cache]
        self._peft.delete_adapter(key)

    def _new_key(self, kind: str) -> str:
        self._serial += 1
        return f"{kind}{self._serial}"

    def merge_and_unload(self, spec: str) -> Any:
        """The base model with `spec` folded into its weights and every LoRA layer removed.

        Spends the runtime: the base is no longer the unmodified model, so use a private copy.
        """
        key = self.key(spec)
        merged = self._peft.merge_and_unload(adapter_names=[key])
        self._peft = None
        self._loaded.clear()
        self._mixes.clear()
        self.base.__dict__.pop(_ATTR, None)
        return merged

    # -- running --------------------------------------------------------------------------
    @contextmanager
    def switched(self, spec: str | None) -> Iterator[Any]:
        """The model to run with `spec` on (the plain base for None); off again afterwards."""
        if spec is None:
            yield self.base
            return
        key = self.key(spec)
        if key != self._active:
            self._peft.set_adapter(key, inference_mode=True)
            self._active = key
        self._toggle(True)
        try:
            yield self._peft
        finally:
            self._toggle(False)

    def model_for(self, spec: str | None) -> Any:
        """What `LocalBackend.model_for` hands to `generate`: the base, or a switching view."""
        if spec is None:
            return self.base
        self.key(spec)  # load now, so errors surface before generation starts
        return _Switched(self, spec)

    @contextmanager
    def mixed(self, specs: Sequence[str | None]) -> Iterator[tuple[Any, list[str]]]:
        """(model, adapter_names) for a batch whose row i uses `specs[i]` (None: the base)."""
        names = [BASE if s is None else self.key(s) for s in specs]
        if self._peft is None:  # every row is the base and nothing was ever loaded
            yield self.base, []
            return
        self._toggle(True)
        try:
            yield self._peft, names
        finally:
            self._toggle(False)

    def logits(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, specs: Sequence[str | None]
    ) -> torch.Tensor:
        """(B, T, vocab) logits where row i runs under `specs[i]`, in one forward pass."""
        import torch

        with torch.inference_mode(), self.mixed(specs) as (model, names):
            extra = {"adapter_names": names} if names else {}
            return model(input_ids=input_ids, attention_mask=attention_mask, **extra).logits


class _Switched:
    """The shared PEFT model with one adapter switched on for each call and off after it.

    Returned by `model_for`, so the backend's `model.generate(...)` needs no adapter code.
    """

    def __init__(self, runtime: AdapterRuntime, spec: str) -> None:
        self._runtime = runtime
        self._spec = spec

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        with self._runtime.switched(self._spec) as model:
            return model.generate(*args, **kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self._runtime.switched(self._spec) as model:
            return model(*args, **kwargs)


def generate_batch(
    backend: LocalBackend, requests: Sequence[GenerationRequest]
) -> list[Generation]:
    """Greedy answers to several requests in one batch, each row under its own adapter.

    Row i equals what `requests[i].adapter` alone gives on the same batch (PEFT's mixed-batch
    invariant); against a batch of one it may differ in the last float bits, since padding
    changes the matmul shapes.
    """
    import torch

    from outweigh.generate.base import Generation, cut_at_stop

    if not requests:
        return []
    if any(r.temperature > 0 for r in requests):
        raise InputError("batched generation is greedy only; set temperature to 0")
    tok = backend.tokenizer
    prompts = [backend.render(r.messages) for r in requests]
    # Left padding keeps every row's last prompt token at the same position, where
    # generation continues (transformers docs, "Batched generation").
    with backend._tok_lock:
        enc = tok(
            prompts,
            return_tensors="pt",
            padding=True,
            padding_side="left",
            add_special_tokens=False,  # the rendered prompt already has its special tokens
        )
    width = int(enc["input_ids"].shape[1])
    longest = max(r.max_tokens for r in requests)
    specs = [r.adapter for r in requests]
    with backend._lock, torch.inference_mode(), backend.runtime.mixed(specs) as (model, names):
        extra = {"adapter_names": names} if names else {}
        out = model.generate(
            **enc,
            **extra,
            max_new_tokens=longest,
            do_sample=False,
            temperature=None,
            top_p=None,
            top_k=None,
            pad_token_id=tok.pad_token_id,
        )
    eos = _eos_ids(backend)
    results = []
    for i, r in enumerate(requests):
        new = out[i, width:].tolist()[: r.max_tokens]
        ended = next((j for j, t in enumerate(new) if t in eos), None)
        if ended is not None:
            new = new[:ended]
        with backend._tok_lock:
            text = tok.decode(new, skip_special_tokens=True)
        text, stopped = cut_at_stop(text, backend._stops(r))
        results.append(
            Generation(
                text=text.strip(),
                prompt_tokens=int(enc["attention_mask"][i].sum()),
                completion_tokens=len(new),
                finish_reason="stop" if stopped or ended is not None else "length",
            )
        )
    return results


def _eos_ids(backend: LocalBackend) -> set[int]:
    ids = backend.loaded.model.generation_config.eos_token_id
    ids = ids if isinstance(ids, list) else [ids]
    return {int(i) for i in ids if i is not None} | {int(backend.tokenizer.pad_token_id)}
