"""Configs that generate on an OpenAI-compatible server (`MODEL@URL`): their keys, their
backends, and the check that each one answers before the run spends any time.

Retrieval, memory and the prompt stay in outweigh (`outweigh.engine`); only the finished
messages go to the endpoint, through `outweigh.generate.upstream.UpstreamBackend`, with
retries and backoff so that a long run over a remote model outlives a busy or flaky server.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from outweigh.errors import InputError, NotFoundError
from outweigh.eval.spec import ConfigSpec
from outweigh.settings import env_secret

if TYPE_CHECKING:
    from outweigh.generate.upstream import UpstreamBackend

DEFAULT_KEY_ENV = "OUTWEIGH_UPSTREAM_API_KEY"
"""The variable an endpoint's key is read from when no `--api-key-env` names one; the same
one `outweigh serve --upstream` reads."""

PROBE = "Reply with OK."
"""The one-token request each endpoint config answers before the run: it checks the URL, the
key and the model (or adapter) name on the path the answers take."""


@dataclass(frozen=True)
class Endpoints:
    """How endpoint configs reach their servers; the same for every endpoint of a run."""

    keys: dict[str, str] = field(default_factory=dict, repr=False)
    """Base URL -> its key (`--api-key-env URL=VAR`)."""
    key: str | None = field(default=None, repr=False)
    """The key of every other endpoint (`--api-key-env VAR`, else `$OUTWEIGH_UPSTREAM_API_KEY`);
    None sends none (a local vLLM, llama.cpp or Ollama wants none)."""
    key_vars: dict[str, str] = field(default_factory=dict)
    """Base URL (or "" for the shared key) -> the variable its key came from, for errors."""
    timeout_s: float = 600.0
    """Longest wait for one answer (connecting: 10 s): a long answer on a busy GPU."""
    retries: int = 5
    """Tries after the first for an answer that failed in a way that may pass (a dropped
    connection, a timeout, 429 or 5xx), waiting as Retry-After says, else with exponential
    backoff (1, 2, 4, 8, 16 s): half a minute of a server's trouble before the run stops."""

    @classmethod
    def parse(cls, flags: Sequence[str], timeout: str | None = None) -> Endpoints:
        """From `--api-key-env [URL=]VAR` (repeatable) and `--timeout SECONDS`."""
        keys: dict[str, str] = {}
        names: dict[str, str] = {}
        for flag in flags:
            url, eq, var = flag.rpartition("=")
            url = url.strip().rstrip("/") if eq else ""
            var = var.strip()
            if not var or not var.replace("_", "").isalnum():
                raise InputError(
                    f"--api-key-env {flag!r}: give the name of an environment variable (VAR) "
                    "or URL=VAR, and export the key in it"
                )
            if url in names:
                which = f"endpoint {url}" if url else "every endpoint"
                raise InputError(f"--api-key-env names two variables for {which}; keep one")
            value = env_secret(var)
            if not value:
                raise InputError(f"{var} is unset or empty; export the key in it, or drop the flag")
            keys[url] = value
            names[url] = var
        shared = keys.pop("", None)
        if shared is None and (value := env_secret(DEFAULT_KEY_ENV)):
            shared, names[""] = value, DEFAULT_KEY_ENV
        seconds = 600.0
        if timeout is not None:
            try:
                seconds = float(timeout)
            except ValueError:
                raise InputError(
                    f"`--timeout` must be a number of seconds; got {timeout!r}"
                ) from None
            if not seconds > 0:
                raise InputError(f"`--timeout` must be more than 0 seconds; got {timeout!r}")
        return cls(keys=keys, key=shared, key_vars=names, timeout_s=seconds)

    def key_for(self, url: str) -> str | None:
        return self.keys.get(url, self.key)

    def backend(self, spec: ConfigSpec, name: str, retries: int | None = None) -> UpstreamBackend:
        """An UpstreamBackend for `spec`'s endpoint that calls the model `name`."""
        from outweigh.generate.upstream import UpstreamBackend

        assert spec.endpoint is not None
        return UpstreamBackend(
            spec.endpoint,
            name,
            self.key_for(spec.endpoint),
            timeout=self.timeout_s,
            retries=self.retries if retries is None else retries,
        )

    def check(self, specs: Sequence[ConfigSpec], flag: str = "--config") -> None:
        """Each endpoint config answers one token with its model or adapter, once per pair;
        an unreachable URL, a refused key or an unknown model is one line saying what to do,
        naming the `flag` the spec came from (`--config`, or `--judge` for the judge).
        Sent once, without retries: a mistake is reported now, not after a minute of backoff."""
        from outweigh.generate.base import GenerationRequest
        from outweigh.generate.upstream import UpstreamError, UpstreamRefused

        seen: set[tuple[str, str]] = set()
        for spec in specs:
            if spec.endpoint is None or (spec.endpoint, str(spec.adapter)) in seen:
                continue
            seen.add((spec.endpoint, str(spec.adapter)))
            backend = self.backend(spec, spec.model, retries=0)
            probe = GenerationRequest(
                [{"role": "user", "content": PROBE}], max_tokens=1, adapter=spec.adapter
            )
            try:
                backend.generate(probe)
            except UpstreamRefused:
                raise InputError(self._refused(spec.endpoint, spec, flag)) from None
            except NotFoundError:
                raise InputError(self._unknown(backend, spec, flag)) from None
            except UpstreamError as e:
                raise InputError(f"{flag} {spec}: {e}") from None
            finally:
                backend.close()

    def _refused(self, url: str, spec: ConfigSpec, flag: str) -> str:
        var = self.key_vars.get(url if url in self.keys else "")
        if var is None:
            return (
                f"{flag} {spec}: {url} wants an API key; export it in a variable and pass "
                f"--api-key-env VAR (or {url}=VAR, or set {DEFAULT_KEY_ENV})"
            )
        return f"{flag} {spec}: {url} refused the key in {var}; put the right key in {var}"

    def _unknown(self, backend: UpstreamBackend, spec: ConfigSpec, flag: str) -> str:
        from outweigh.generate.upstream import UpstreamError

        name = spec.adapter or spec.model
        what = "adapter" if spec.adapter else "model"
        try:
            served = ", ".join(m["id"] for m in backend.list_models()) or "none"
        except UpstreamError:
            served = "see its /models"
        return (
            f"{flag} {spec}: {spec.endpoint} does not serve the {what} {name!r}; "
            f"it serves: {served}"
        )
