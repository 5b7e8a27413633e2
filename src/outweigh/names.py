"""Validators for the names every part accepts: collections, adapters, users, sessions.

The foundation layer, standard library only: retrieval, adapters, memory, eval and the server
all check names here, so none of them has to import another just to validate one.
"""

from __future__ import annotations

import re
import unicodedata

from outweigh.errors import InputError, echo

MAX_USER_CHARS = 256
"""An OpenAI `user` field is an opaque id (often a hash or an e-mail); 256 covers them all."""

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
"""Matched whole (`fullmatch`): with `re.match` and `$`, a name ending in a newline passes,
and `docs\n` would be a second collection that prints like `docs`."""


def has_controls(text: str) -> bool:
    """Whether `text` holds a control, format or unassigned character (Unicode category C:
    NUL, ESC, newlines, bidi overrides) or a line or paragraph separator (U+2028, U+2029,
    which `str.splitlines` breaks at); none belongs in an id that is shown or logged."""
    return any(unicodedata.category(ch)[0] == "C" or ch in "\u2028\u2029" for ch in text)


def check_text(text: str, what: str = "text") -> str:
    """`text` if it can be stored and tokenized: valid Unicode that encodes to UTF-8.

    A JSON `"\\ud800"` escape, or a command-line argument with bytes that are not UTF-8 (kept
    by Python as surrogates, PEP 383), decodes to a lone surrogate: SQLite, the tokenizers and
    the embedder all refuse it, so it is refused here first, in one line.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(
            f"{what} is not valid Unicode (a lone surrogate or non-UTF-8 bytes); send UTF-8 text"
        ) from None
    return text


def check_name(name: str, what: str = "collection") -> str:
    """A plain identifier: letters, digits, `_ . -`, at most 64, no path separators."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InputError(
            f"invalid {what} name {echo(name)}; use letters, digits, '_', '.', '-' (max 64)"
        )
    return name


def check_adapter_name(name: str) -> str:
    """A plain identifier (letters, digits, `_ . -`), no `..`: safe as a directory name."""
    check_name(name, "adapter")
    if ".." in name:
        raise InputError(f"invalid adapter name {echo(name)}; '..' is not allowed")
    return name


def check_user(user: object) -> str:
    """A user id: non-empty, printable, at most 256 characters; surrounding spaces dropped."""
    if not isinstance(user, str) or not user.strip():
        raise InputError(
            "a user is required (e.g. --user NAME); memory is never read or written for all users"
        )
    user = check_text(user.strip(), "the user id")
    if len(user) > MAX_USER_CHARS:
        raise InputError(f"the user id is {len(user)} characters; at most {MAX_USER_CHARS}")
    if has_controls(user):
        raise InputError("the user id contains control characters; use printable text")
    return user


def check_session(session: object) -> str | None:
    """A session id, or None for none: 1-256 printable characters; surrounding spaces dropped.
    Checked like a user id: a NUL, ESC or newline in it would reach the db and the logs."""
    if session is None:
        return None
    if not isinstance(session, str) or not session.strip() or len(session) > MAX_USER_CHARS:
        raise InputError(
            f"invalid session id {echo(session)}; use 1-{MAX_USER_CHARS} printable characters"
        )
    session = check_text(session.strip(), "the session id")
    if has_controls(session):
        raise InputError("the session id contains control characters; use printable text")
    return session
