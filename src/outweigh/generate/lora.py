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
inference): each row gets what its adapter alone gives (`mixed`, `logits`, and
`LocalBackend.generate_batch` over them).

Names resolve through an `AdapterSource` the backend is given (`outweigh.adapters`'
`AdapterRegistry` is one), so generation never imports the layer that trains and registers.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from outweigh.errors import InputError

if TYPE_CHECKING:
    import torch

BASE = "__base__"
"""PEFT's name for "no adapter" in a mixed batch (peft/tuners/lora/model.py)."""

_ATTR = "_outweigh_adapters"
"""Attribute of the base model that holds its runtime (see `AdapterRuntime.of`)."""

PEFT_NOISE = ".*is_gradient_checkpointing.*"
"""peft 0.21 reads a property transformers 5 deprecated; the FutureWarning is not the user's."""


class AdapterRef(Protocol):
    """What the runtime reads of one adapter (`outweigh.adapters.AdapterInfo` has it)."""

    @property
    def name(self) -> str:
        """The registered name."""

    @property
    def base_model(self) -> str:
        """outweigh's name for the model the adapter was trained on."""

    @property
    def sha256(self) -> str:
        """Hash of the weights; a changed hash makes a loaded copy reload."""


class AdapterSource(Protocol):
    """Where adapter names resolve: `outweigh.adapters.AdapterRegistry` is one."""

    def resolve(self, spec: str) -> Sequence[tuple[AdapterRef, float]]:
        """(adapter, weight) pairs for a name or a mix `a:0.7,b:0.3`; unknown names raise."""

    def path(self, name: str) -> Path:
        """The PEFT directory of a registered adapter."""

    def gguf(self, name: str) -> Path:
        """The adapter's llama.cpp (GGUF) form, written at registration; converted now if an
        older registration lacks it."""


def check_base(adapters: Iterable[AdapterRef], base_name: str) -> None:
    """Refuse any of `adapters` trained on a model other than `base_name`: a LoRA's update only
    fits the weights it was trained against. The one place this is checked: the engine's
    preflight (CLI, server, eval) and the runtime, which any caller of a backend goes through."""
    for info in adapters:
        if info.base_model != base_name:
            raise InputError(
                f"adapter {info.name!r} was trained on {info.base_model}, not {base_name}; "
                f"use it with model {info.base_model}"
            )


def spell_mix(parts: Iterable[tuple[str, float]]) -> str:
    """A mix's one spelling, whatever order and number format it was asked in:
    [(b, 0.30), (a, 0.7)] -> `a:0.7,b:0.3`."""
    return ",".join(f"{name}:{weight:g}" for name, weight in sorted(parts))


class AdapterRuntime:
    """Adapters loaded over one base model, addressed by registered name or mix spec."""

    def __init__(self, model: Any, base_name: str, source: AdapterSource | None = None) -> None:
        self.base = model
        """The transformers model the backend holds; PEFT injects LoRA layers into it."""
        self.base_name = base_name
        """outweigh's name for that model; adapters trained on another base are refused."""
        self.source = source
        """Where names resolve; None refuses every adapter."""
        self._peft: Any = None
        self._loaded: dict[str, tuple[str, str]] = {}
        """Registered name -> (PEFT adapter key, sha256 of the weights that key holds)."""
        self._mixes: dict[tuple[str, tuple[str, ...]], str] = {}
        """(the mix's spelling, its parts' hashes) -> PEFT adapter key."""
        self._serial = 0
        self._layers: list[Any] = []
        """PEFT's LoRA layers inside the model, refreshed whenever adapters are added."""
        self._active: str | None = None
        """The PEFT key last `set_adapter`-ed, so a repeat request skips that walk."""

    @classmethod
    def of(cls, model: Any, base_name: str, source: AdapterSource | None) -> AdapterRuntime:
        """The runtime of `model`, created on first use, resolving names in `source`.

        PEFT injects LoRA layers into the model object itself, so the bookkeeping travels with
        it: two backends over one loaded model share one runtime instead of wrapping twice
        (transformers keeps its own PEFT state on the model the same way). Names resolve in
        the source of the backend that asks; loaded weights are keyed by their hash, so a name
        another source holds different weights for reloads instead of being mistaken.
        """
        runtime = model.__dict__.get(_ATTR)
        if runtime is None:
            runtime = cls(model, base_name)
            model.__dict__[_ATTR] = runtime  # not setattr: nn.Module would try to register it
        runtime.source = source
        return runtime

    # -- what is loaded -------------------------------------------------------------------
    def _source(self, spec: str) -> AdapterSource:
        if self.source is None:
            raise InputError(
                f"cannot use adapter {spec!r}: this {self.base_name} backend has no adapter "
                "registry to look it up in; build it as LocalBackend(loaded, AdapterRegistry())"
            )
        return self.source

    def loaded(self) -> list[str]:
        """Registered names whose weights are in memory."""
        return sorted(self._loaded)

    def key(self, spec: str) -> str:
        """The PEFT adapter key for a name or mix, loading or building it on first use.

        Keys are internal (`lora0`, `mix0`, ...) because PEFT keys cannot contain `.`, which
        adapter names may.
        """
        parts = sorted(self._source(spec).resolve(spec), key=lambda part: part[0].name)
        check_base((info for info, _ in parts), self.base_name)
        keys = [self._ensure(info) for info, _ in parts]
        if len(parts) == 1 and spec.strip() == parts[0][0].name:  # a name; `a:1` is a mix of one
            return keys[0]
        cache = (
            spell_mix((info.name, weight) for info, weight in parts),
            tuple(info.sha256 for info, _ in parts),
        )
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

    def _ensure(self, info: AdapterRef) -> str:
        """Load `info` unless its current weights already are; a re-registered name reloads."""
        held = self._loaded.get(info.name)
        if held is not None and held[1] == info.sha256:
            return held[0]
        if held is not None:
            self._drop(info.name)
        key = self._new_key("lora")
        path = str(self._source(info.name).path(info.name))
        if self._peft is None:
            from peft import PeftModel

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
            if sha in cache[1]:
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
