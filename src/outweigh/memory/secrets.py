"""Secrets: passwords, PINs, codes, keys and tokens are never remembered unasked, nor kept in turns.

`find_secrets` returns the spans of a message that are secret values, from three detectors:

1. **detect-secrets** (Yelp's scanner, its regex plugins used as a library): tokens whose
   shape gives them away wherever they stand: GitHub, GitLab, Slack, Stripe, OpenAI, AWS,
   Twilio, SendGrid, npm and PyPI tokens, JWTs, private keys, passwords in URLs. Its keyword
   and entropy plugins are written for source code (quoted strings, `key = "..."`); prose is
   read by the two detectors below instead. The public-IP plugin is left out: an address is
   not a secret. Loaded on the first message, once, so `outweigh --help` never imports it.
2. **shape alone**: a long random-looking token (Shannon entropy near the most its length
   allows, letters and digits mixed: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), a token
   with a known key prefix ("hf_", "sk-", "AIza", ...), a card number that passes the Luhn
   check, an IBAN that passes mod 97, a private key block.
3. **a cue and its value** (`secret_cues.py`): "my wifi key is CorrectHorse99", "My 2FA
   backup code is 884-221", "Мой пароль qwerty777", in English and Russian, leetspeak and
   mixed scripts included.

A message with a secret in it keeps everything but the value: `withhold_secrets` replaces
each value with `WITHHELD` for the stored turn, and `mask_secret` with `SECRET_MARK` for a
listing of a secret the user asked to remember (docs/memory.md, "Secrets").
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterable

from outweigh.errors import OutweighError
from outweigh.memory.secret_cues import MARKS, Span, cued_spans, entropy, shaped

WITHHELD = MARKS[0]
"""What a stored turn holds instead of a secret value said in passing."""
SECRET_MARK = MARKS[1]
"""What a listing shows instead of the value of a secret the user asked to remember."""

_EDGES = "'\"«»“”‘’`()[]{}<>.,;:!? "
_LEFT_OUT = ("IPPublicDetector",)
"""detect-secrets plugins that flag what is not a secret in a chat (an IP address)."""

_PREFIXED = re.compile(
    r"(?<![\w-])(?:gh[pousr]_|github_pat_|glpat-|xox[abposr]-|xapp-|"
    r"sk-(?:proj-|ant-|live-)?|[rsp]k_(?:live|test)_|whsec_|hf_|AIza|A[KS]IA|ya29\.|npm_|pypi-|"
    r"SG\.|dop_v1_|shp(?:at|ss|ca)_|EAA[A-Za-z]|key-|sq0[a-z]{3}-)(?P<body>[A-Za-z0-9_.\-]{16,})"
)
"""Tokens whose prefix names a service's key, and whose body has digits ("key-value-store"
is no key)."""
_RUN = re.compile(r"[A-Za-z0-9+/=_\-]{20,}")
_PARTS = re.compile(r"[-_./]")
_WORDISH = re.compile(r"[a-z]{4,}")
_HASH_WORDS = re.compile(
    r"\b(?:commit|sha\d*|hash|checksum|digest|md5|uuid|guid|id)\W{0,3}$", re.IGNORECASE
)
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
_PRIVATE_KEY = re.compile(
    r"-----BEGIN[A-Z ]*PRIVATE KEY( BLOCK)?-----.*?(?:-----END[A-Z ]*PRIVATE KEY( BLOCK)?-----|\Z)",
    re.DOTALL,
)


def find_secrets(text: str, known: Iterable[str] = ()) -> list[Span]:
    """Spans of `text` that are secret values, sorted and merged; empty when there is none.
    `known` values (a user's remembered secrets) count wherever they stand."""
    if not text:
        return []
    spans = _merge(_library(text) + _shapes(text) + cued_spans(text), text)
    # The same value said again without its cue ("my PIN is 4821. Again: 4821") goes too.
    values = {text[a:b].strip(_EDGES) for a, b in spans} | {v.strip(_EDGES) for v in known}
    again = [
        m.span()
        for value in values
        if len(value) >= 6 or (len(value) >= 3 and shaped(value))
        for m in re.finditer(rf"(?<!\w){re.escape(value)}(?!\w)", text)
    ]
    return _merge(spans + again, text) if again else spans


def is_secret(text: str) -> bool:
    """Whether `text` states a secret: a password, PIN, code, key or token, with its value."""
    return bool(find_secrets(text))


def secret_values(text: str) -> list[str]:
    """The secret values `text` states, as written."""
    return [text[a:b] for a, b in find_secrets(text)]


def leaks(piece: str, values: list[str]) -> bool:
    """Whether `piece` (a fact drawn from a message) states a secret or repeats one of the
    message's secret `values` ("password, I made it hunter3" -> "I made it hunter3")."""
    return is_secret(piece) or bool(find_secrets(piece, values))


def withhold_secrets(text: str, known: Iterable[str] = ()) -> str:
    """`text` with every secret value replaced by `WITHHELD`; for stored turns, so a
    password said in passing is not kept in the conversation log, and the rest is. `known`
    values go wherever they stand: an answer "It's 4711." from a remembered door code."""
    return _replace(text, find_secrets(text, known), WITHHELD)


def mask_secret(text: str) -> str:
    """`text` as a listing shows a secret the user asked to remember: each value replaced by
    `SECRET_MARK` ("my door code is [secret]"); the mark alone when no value can be told
    apart. Masking masked text changes nothing."""
    spans = find_secrets(text)
    if spans:
        return _replace(text, spans, SECRET_MARK)
    return text if SECRET_MARK in text else SECRET_MARK


# -- the detectors --------------------------------------------------------------------------
@functools.cache
def _patterns() -> tuple[tuple[re.Pattern[str], Callable[[str], bool] | None], ...]:
    """detect-secrets' regex plugins, made once: (pattern, the plugin's own validity check).
    Without the package memory refuses to run rather than let tokens through."""
    try:
        from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
        from detect_secrets.plugins.base import RegexBasedDetector
    except ImportError:
        raise OutweighError(
            "memory's secret check needs detect-secrets: pip install 'detect-secrets>=1.5'"
        ) from None

    out: list[tuple[re.Pattern[str], Callable[[str], bool] | None]] = []
    for cls in get_mapping_from_secret_type_to_class().values():
        if not issubclass(cls, RegexBasedDetector) or cls.__name__ in _LEFT_OUT:
            continue
        plugin = cls()
        check = getattr(plugin, "is_formally_valid", None)  # the JWT plugin's
        out += [(regex, check) for regex in plugin.denylist]
    return tuple(out)


def _library(text: str) -> list[Span]:
    """What detect-secrets' plugins match. The spans come from the plugins' own patterns
    (their `analyze_string` gives only the values, and for GitHub only the prefix); no plugin
    verifies anything over the network."""
    spans = []
    for regex, check in _patterns():
        for m in regex.finditer(text):
            if check is None or check(m.group()):
                # A password in a URL is matched with its "://" and "@": keep those.
                a, b = m.span()
                a += len(m.group()) - len(m.group().lstrip(":/"))
                b -= 1 if m.group().endswith("@") else 0
                spans.append((a, b))
    return spans


def _shapes(text: str) -> list[Span]:
    """Secrets told by their shape alone: prefixed and random-looking tokens, card numbers,
    IBANs, private key blocks."""
    spans = [m.span() for m in _PREFIXED.finditer(text) if _digit(m.group("body"))]
    spans += [m.span() for m in _PRIVATE_KEY.finditer(text)]
    for m in _RUN.finditer(text):
        run = m.group()
        if _random(run) and not _HASH_WORDS.search(text[max(0, m.start() - 12) : m.start()]):
            spans.append(m.span())
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if 13 <= len(digits) <= 19 and _luhn(digits) and len(set(digits)) > 1:
            spans.append(m.span())
    for m in _IBAN.finditer(text):
        if _iban(m.group()):
            spans.append(m.span())
    return spans


def _digit(s: str) -> bool:
    return any(c.isdigit() for c in s)


def _random(run: str) -> bool:
    """A run of key characters with a part of 20 or more (between "-", "_", ".", "/") that
    reads as random: letters and digits, not hex alone, Shannon entropy near the most its
    length allows. A random 20-character key has 3.8 bits per character or more (95% of
    them); "SmolLM2-135M-Instruct" and "src/outweigh/adapters" have no such part."""
    for part in _PARTS.split(run):
        n = len(part)
        if n < 20 or not _digit(part) or all(c in "0123456789abcdefABCDEF" for c in part):
            continue  # short, no digits, or a hash: not a secret without a cue
        if len(_WORDISH.findall(part)) >= 3:
            continue  # "LlamaForCausalLM3Model": words run together
        if any(c.isalpha() for c in part) and entropy(part) >= min(0.85 * math.log2(n), 4.2):
            return True
    return False


def _luhn(digits: str) -> bool:
    total = 0
    for i, d in enumerate(reversed(digits)):
        v = int(d) * (2 if i % 2 else 1)
        total += v - 9 if v > 9 else v
    return total % 10 == 0


def _iban(candidate: str) -> bool:
    s = candidate.replace(" ", "")
    if not 15 <= len(s) <= 34:
        return False
    moved = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def _merge(spans: list[Span], text: str) -> list[Span]:
    """Overlapping spans, or spans with only spaces between, as one, sorted; surrounding
    spaces trimmed."""
    out: list[Span] = []
    for a, b in sorted(spans):
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if a >= b:
            continue
        if out and (a <= out[-1][1] or not text[out[-1][1] : a].strip()):
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _replace(text: str, spans: list[Span], mark: str) -> str:
    if not spans:
        return text
    parts, last = [], 0
    for a, b in spans:
        parts += [text[last:a], mark]
        last = b
    return "".join([*parts, text[last:]])
