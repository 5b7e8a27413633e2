"""Secrets: PINs, passwords, codes and keys are never remembered unasked, nor kept in turns."""

from __future__ import annotations

import re

from outweigh.memory.grammar import SENTENCE_SPLIT

_SECRET = re.compile(
    r"\b(?:pin|pins|pin code|passcode|pass code|password|passwords|passwd|passphrase|"
    r"pass phrase|security (?:question|answer|code)|cvv|cvc|card number|credit card number|"
    r"account number|iban|api key|secret key|private key|access token|auth token|seed phrase|"
    r"recovery phrase|recovery code|mnemonic|social security number|ssn|"
    r"(?:door|gate|alarm|lock|safe|entry|access|garage|locker) (?:code|combination))\b",
    re.IGNORECASE,
)
"""Secrets: PINs, passwords and their hints, codes, keys, card and account numbers. Never
captured automatically, kept only on an explicit "remember" (docs/memory.md, "Secrets")."""
WITHHELD = "[withheld: a secret]"
"""What a stored turn holds instead of a sentence that stated a secret in passing."""


def is_secret(text: str) -> bool:
    """Whether `text` mentions a secret (a PIN, a password or its hint, a code, a key)."""
    return _SECRET.search(text) is not None


def withhold_secrets(text: str) -> str:
    """`text` with every clause that mentions a secret replaced by `WITHHELD`; for stored turns,
    so a password said in passing is not kept in the conversation log either."""
    if not is_secret(text):
        return text
    out = text
    for sentence in SENTENCE_SPLIT.split(text.strip()):
        if is_secret(sentence):
            out = out.replace(sentence, WITHHELD)
    return out
