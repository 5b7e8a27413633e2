"""One small exception hierarchy. Every message is one line that says what to do."""

from __future__ import annotations


class OutweighError(Exception):
    """Base for every error outweigh raises on purpose; the CLI prints it as one line."""


class InputError(OutweighError, ValueError):
    """Bad user input: a flag out of range, a malformed file, a hostile name."""


class NotFoundError(OutweighError, LookupError):
    """An unknown model, collection, adapter, document or memory."""


class IngestError(InputError):
    """One file could not be ingested; the rest of the batch goes on."""


class ModelLoadError(OutweighError):
    """A model could not be loaded or converted."""


class CapacityError(OutweighError):
    """A request would exceed a configured cap (tokens, size, concurrency)."""
