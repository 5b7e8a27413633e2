"""One small exception hierarchy. Every message is one line that says what to do."""

from __future__ import annotations

import re
from collections.abc import Callable


class OutweighError(Exception):
    """Base for every error outweigh raises on purpose; the CLI prints it as one line."""

    def __init__(self, message: str) -> None:
        # Messages quote names from users and files; escaping keeps them one line even when a
        # file name holds a newline or a terminal escape.
        super().__init__(printable(str(message)))


class InputError(OutweighError, ValueError):
    """Bad user input: a flag out of range, a malformed file, a hostile name."""


class NotFoundError(OutweighError, LookupError):
    """An unknown model, collection, adapter, document or memory."""


class ForbiddenError(OutweighError, PermissionError):
    """The caller is known but may not do this: another user's memories, a collection it may
    only read."""


class IngestError(InputError):
    """One file could not be ingested; the rest of the batch goes on."""


class ModelLoadError(OutweighError):
    """A model could not be loaded or converted."""


class CapacityError(OutweighError):
    """A request would exceed a configured cap (tokens, size, concurrency)."""


_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
"""C0/C1 controls, Unicode line separators, and the lone surrogates that stand for a file
name's undecodable bytes (PEP 383): what would break a message across lines, drive the
terminal, or fail to encode."""


def printable(text: str) -> str:
    """`text` as one printable line: each character above escaped as Python writes it.

    File names are hostile input (a newline in a name would forge a second message line), so
    every message and listing shows names through this.
    """
    return _UNPRINTABLE.sub(lambda m: repr(m.group())[1:-1], text)


MAX_ECHO_CHARS = 80
"""The most of a rejected value a message quotes: enough to recognise it, never a page of it
(a 4,300-digit number, a 64 KB model name)."""


def clip(value: object, limit: int = MAX_ECHO_CHARS) -> str:
    """`value` as one printable line for a message, cut to `limit` characters (and its length
    said)."""
    text = printable(_text(value, str))
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text):,} characters)"


def echo(value: object) -> str:
    """`value` quoted for a message as `repr` writes it (a string quoted and escaped, a number
    bare), cut to `MAX_ECHO_CHARS` characters."""
    text = _text(value, repr)
    if len(text) <= MAX_ECHO_CHARS:
        return text
    if isinstance(value, str):
        return f"{value[:MAX_ECHO_CHARS]!r}... ({len(value):,} characters)"
    return f"{text[:MAX_ECHO_CHARS]}... ({len(text):,} characters)"


def _text(value: object, how: Callable[[object], str]) -> str:
    try:
        return value if isinstance(value, str) and how is str else how(value)
    except ValueError:  # an int past Python's 4,300-digit conversion limit
        return "a number of more than 4,300 digits"
