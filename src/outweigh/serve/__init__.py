"""The OpenAI-compatible server: `create_app(engine, settings)` plus pydantic schemas.

Importing this package imports FastAPI; the CLI imports it only inside `outweigh serve`.
"""

from outweigh.serve.app import BackgroundServer, build_engine, create_app, ready, serve
from outweigh.serve.config import ServeSettings

__all__ = [
    "BackgroundServer",
    "ServeSettings",
    "build_engine",
    "create_app",
    "ready",
    "serve",
]
