"""`outweigh serve`: the OpenAI-compatible server over the library's engine."""

from __future__ import annotations

import typer

from outweigh.cli import _load
from outweigh.cli._app import EMBEDDER, app, console


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to bind; beyond loopback needs a key."),
    port: int = typer.Option(8000, help="TCP port."),
    model: str | None = typer.Option(
        None, "--model", "-m", help="Base model (default smollm2-135m, or the upstream's first)."
    ),
    upstream: str | None = typer.Option(
        None, help="OpenAI-compatible URL that generates, e.g. http://127.0.0.1:8001/v1 (vLLM)."
    ),
    api_key_env: str | None = typer.Option(
        None, help="Env var holding the key clients must send (else OUTWEIGH_API_KEY, if set)."
    ),
    upstream_key_env: str | None = typer.Option(
        None, help="Env var holding the upstream's key (else OUTWEIGH_UPSTREAM_API_KEY, if set)."
    ),
    max_concurrent: int | None = typer.Option(
        None,
        help="Requests using the engine at once (default: llama.cpp's batch slots, at least 4; "
        "raise it for vLLM).",
    ),
    queue: int = typer.Option(16, help="Requests waiting for a slot; more get 429."),
    allow_host: list[str] = typer.Option(
        [], "--allow-host", help="Another Host name clients may use (loopback is always on)."
    ),
    cors_origin: list[str] = typer.Option(
        [], "--cors-origin", help="A web page origin allowed to call the server from a browser."
    ),
    device: str | None = _load.DEVICE,
    dtype: str | None = _load.DTYPE,
    load_in: str | None = _load.LOAD_IN,
    backend: str | None = _load.BACKEND,
    embedder: str | None = EMBEDDER,
) -> None:
    """Serve /v1/chat/completions, /v1/models, /v1/embeddings, documents and memories."""
    from outweigh.cli._progress import lazy_bar
    from outweigh.serve import ServeSettings, ready
    from outweigh.serve import serve as run_server
    from outweigh.serve.config import api_key_from_env

    settings = ServeSettings(
        host=host,
        port=port,
        model=model,
        upstream=upstream,
        api_key=api_key_from_env(api_key_env, "OUTWEIGH_API_KEY"),
        upstream_api_key=api_key_from_env(upstream_key_env, "OUTWEIGH_UPSTREAM_API_KEY"),
        max_concurrent=max_concurrent,
        max_queue=queue,
        allowed_hosts=tuple(allow_host),
        cors_origins=tuple(cors_origin),
        load=_load.load_options(device, dtype, load_in, backend),
        embedder=embedder,
    )
    console.print(
        f"outweigh serve on http://{host}:{port}/v1"
        + (f" -> {upstream}" if upstream else "")
        + (" (API key required)" if settings.api_key else " (no API key: loopback only)")
    )
    with lazy_bar("index") as on_sync:
        engine = ready(settings, on_sync=on_sync)
    run_server(settings, engine)
