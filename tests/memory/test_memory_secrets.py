"""Secrets: a token, password, PIN or code said in a message is kept in no memory and no stored
turn, in English or Russian, whatever the spelling; an explicit "remember" keeps it, marked
secret, and no listing shows its value. Ordinary facts are still captured word for word."""

from __future__ import annotations

import base64
import json
import random
import sqlite3
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from outweigh.memory import RuleExtractor
from outweigh.memory.grammar import clauses, is_first_person_fact
from outweigh.memory.secrets import (
    SECRET_MARK,
    WITHHELD,
    find_secrets,
    is_secret,
    mask_secret,
    withhold_secrets,
)
from outweigh.testing import FakeEmbedder

from .helpers import run_cli

ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _stored_text(db: Path) -> list[str]:
    """Every text the file holds for people to read: facts and turns."""
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT text FROM memories UNION ALL SELECT text FROM memory_turns")
        return [r[0] for r in rows]
    finally:
        conn.close()


# -- secrets of each kind, as a user would say them -----------------------------------------
def _chars(r: random.Random, alphabet: str, n: int) -> str:
    return "".join(r.choice(alphabet) for _ in range(n))


def _token(r: random.Random) -> str:
    """A real-looking service token: a known prefix and a random body."""
    upper_digits = ALNUM[:26] + ALNUM[52:]
    return r.choice(
        [
            lambda: r.choice(["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]) + _chars(r, ALNUM, 36),
            lambda: "github_pat_" + _chars(r, ALNUM, 22) + "_" + _chars(r, ALNUM, 59),
            lambda: "glpat-" + _chars(r, ALNUM + "-_", 20),
            lambda: "xoxb-" + _chars(r, "0123456789", 12) + "-" + _chars(r, ALNUM.lower(), 24),
            lambda: r.choice(["sk_live_", "rk_live_"]) + _chars(r, ALNUM, 24),
            lambda: "sk-proj-" + _chars(r, ALNUM + "-_", 40),
            lambda: "hf_" + _chars(r, ALNUM, 34),
            lambda: "AIza" + _chars(r, ALNUM + "-_", 35),
            lambda: "AKIA" + _chars(r, upper_digits, 16),
            lambda: _chars(r, ALNUM + "/+", 40),  # an AWS secret access key
            lambda: _jwt(r),
        ]
    )()


def _jwt(r: random.Random) -> str:
    def part(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    body = {"sub": _chars(r, ALNUM, 10), "iat": r.randrange(10**9, 2 * 10**9)}
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(body)}.{_chars(r, ALNUM + '-_', 43)}"


def _password(r: random.Random) -> str:
    """Letters with digits, and maybe a capital or a symbol: "hunter3", "Secret123", "Qx!z90"."""
    word = _chars(r, "abcdefghijklmnopqrstuvwxyz", r.randint(3, 9))
    if r.random() < 0.5:
        word = word.capitalize()
    symbol = r.choice(["", "", "!", "#", "_", "."]) if r.random() < 0.4 else ""
    return word + symbol + _chars(r, "0123456789", r.randint(1, 4))


def _code(r: random.Random) -> str:
    """A PIN ("4821") or a backup code ("884-221", "3141 5926")."""
    d = "0123456789"
    return r.choice(
        [
            lambda: _chars(r, d, r.randint(4, 6)),
            lambda: _chars(r, d, 3) + "-" + _chars(r, d, 3),
            lambda: _chars(r, d, 4) + r.choice(["-", " "]) + _chars(r, d, 4),
        ]
    )()


def _leet(r: random.Random, word: str) -> str:
    """Some letters of a cue word in leetspeak: "passw0rd", "p@$$word"."""
    swaps = {"a": "@4", "o": "0", "s": "$5", "e": "3", "i": "1", "о": "0", "а": "@"}
    return "".join(r.choice(swaps[c]) if c in swaps and r.random() < 0.4 else c for c in word)


CUES = {
    # kind -> (English cues, Russian cues)
    "password": (
        "password/passw0rd/passwd/pwd/pw/passphrase/login password/online banking pw/"
        "email password/wifi key/wi-fi password/WPA key/app password/pass",
        "пароль/пароль от почты/пароль от wi-fi/пароль от госуслуг/пароль от вайфая",
    ),
    "code": (
        "PIN/PIN code/card PIN/2FA backup code/backup code/recovery code/door code/gate code/"
        "alarm code/OTP/verification code/one-time code/passcode/CVV",
        "пин-код/PIN-код/пин/пинкод/код доступа/код подтверждения/код от домофона/"
        "резервный код/код от двери/пин-код от карты",
    ),
    "token": (
        "GitHub token/token/API key/access token/api_key/secret key/AWS secret/secret/key",
        "токен/ключ API/API-ключ/секретный ключ",
    ),
}
WEAK = {"pass", "token", "secret", "key"}
"""Cues that name a credential only with a value-shaped word right after them."""
EN = [
    "My {cue} is {v}",
    "my {cue}: {v}",
    "By the way, my {cue} is {v}.",
    "I use the {cue} {v} for work",
    "{v} is my {cue}",
    "Just so you know, the {cue} is {v}, and I live in Lisbon.",
    "I set my {cue} to {v} yesterday.",
    "Here is my {cue}:\n{v}",
    "My {cue}? {v}.",
]
EN_STRONG = [
    "I have a new {cue}, I made it {v}",
    "My {cue} for the bank I use since 2019 is {v}",
    "{v} <- my {cue}",
    "{cue}\n{v}",
]
"""Where the value stands far from the cue: only a cue that names a credential reaches it."""
RU = [
    "Мой {cue} {v}",
    "Мой {cue} — {v}",
    "{cue}: {v}",
    "Кстати, мой {cue} {v}, не забудь.",
    "Я поставил {cue} {v}",
    "{v} — это мой {cue}",
    "{v} это {cue} от почты",
]
PLAIN = {
    False: ["My {cue} is {v}", "{v} is my {cue}", "Use {v} as the {cue}", "{cue}: {v}"],
    True: ["Мой {cue} — {v}", "{v} — это мой {cue}", "{cue}: {v}", "Мой {cue} {v}"],
}
"""Where a credential's value may be a plain word ("swordfish", "солнышко")."""


@st.composite
def said_secrets(draw: st.DrawFn) -> tuple[str, str]:
    """(message, secret value): a secret of some kind inside a first-person sentence."""
    r = draw(st.randoms(use_true_random=False))
    kind = r.choice(list(CUES))
    russian = r.random() < 0.4
    cue = r.choice(CUES[kind][russian].split("/"))
    templates = RU if russian else EN + ([] if cue in WEAK else EN_STRONG)
    value = {"password": _password, "code": _code, "token": _token}[kind](r)
    if kind == "token" and r.random() < 0.5:
        value = _token(r)
    if kind == "password" and cue not in WEAK and r.random() < 0.3:
        letters = "абвгдежзиклмнопрстуфхцчшэюя" if russian and r.random() < 0.5 else "fgjkmqrvwxz"
        value, templates = _chars(r, letters, r.randint(6, 10)), PLAIN[russian]
    if r.random() < 0.3:
        cue = _leet(r, cue)
    if r.random() < 0.2:
        cue = cue.upper()
    return r.choice(templates).format(cue=cue, v=value), value


def _pieces(value: str) -> list[str]:
    """What of `value` must not be stored: all of a short one, every 12 characters of a long
    one (so redacting a token's prefix alone would fail)."""
    if len(value) < 16:
        return [value.lower()]
    return [value[i : i + 12].lower() for i in range(len(value) - 11)]


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(said=said_secrets())
def test_a_secret_said_in_a_message_is_in_no_memory_and_no_turn(mem, paths, said):
    message, value = said
    user = uuid.uuid4().hex[:8]
    mem.capture(user, "s1", message, reply=f"Noted: {value}")
    leaked = [t for t in _stored_text(paths.db) if any(p in t.lower() for p in _pieces(value))]
    assert leaked == [], f"{message!r} left {value!r} in {leaked}"
    (turn, reply) = mem.turns(user)
    assert WITHHELD in turn["text"] and reply["text"] == WITHHELD


@pytest.mark.parametrize(
    "message, value",
    [
        ("My GitHub token is ghp_R2d2C3poL3ia0rganaHanS0loChewbacca42", "ghp_R2d2C3po"),
        ("I use the token ghp_R2d2C3poL3ia0rganaHanS0loChewbacca42 for github", "ghp_R2d2"),
        ("My AWS secret is wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"),
        ("my wifi key is CorrectHorse99", "CorrectHorse99"),
        ("my online banking pw is Secret123", "Secret123"),
        ("my passw0rd is hunter3", "hunter3"),
        ("My 2FA backup code is 884-221", "884-221"),
        ("Мой пароль qwerty777", "qwerty777"),
        ("Мой пароль солнышко", "солнышко"),
        ("Кодовое слово — Ромашка.", "Ромашка"),
        ("I use the password swordfish for everything", "swordfish"),
        ("My card number is 4111 1111 1111 1111", "4111 1111"),
        ("my IBAN is DE89 3704 0044 0532 0130 00", "3704 0044"),
        ("My seed phrase is abandon ability able about above absent absorb", "absorb"),
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END", "b3Blbn"),
        ("my pin is 4821. Again: 4821", "4821"),
        ("the wifi pass at home is sunflower", "sunflower"),
        ('{"password": "swordfish"}', "swordfish"),
        ("The password? It's swordfish.", "swordfish"),
        ("ｐａｓｓｗｏｒｄ is hunter3", "hunter3"),
        ("Ответ на секретный вопрос — Мурзик", "Мурзик"),
        ("8814-7445 — это мой PIN-код", "8814-7445"),
        ("Login: ana\nPassword: Qwerty!23", "Qwerty!23"),
        ("https://ana:hunter22@example.com/files", "hunter22"),
        ("Мой пин-код один два три четыре", "один два три четыре"),
        ("my password is on a sticky note", "sticky note"),
    ],
)
def test_the_kinds_the_adversarial_round_found_are_withheld(mem, paths, message, value):
    assert mem.capture("eve", "s1", message) == []
    assert [t for t in _stored_text(paths.db) if value in t] == []


# -- ordinary facts are not secrets ---------------------------------------------------------
ORDINARY = [
    "My cat is Bublik.",
    "I live in Lisbon.",
    "My favourite number is 7.",
    "Мой город Казань.",
    "I use Python 3.12.1 on Ubuntu 24.04.",
    "My blog is https://example.com/blog/2024/05/hello-world",
    "I follow https://github.com/outweigh/outweigh/issues/29",
    "My password manager is KeePass.",
    "My zip code is 10115.",
    "My key is under the mat.",
    "My phone number is +7 916 123-45-67.",
    "I was born in 1990.",
    "My flight is LH1234 on Monday.",
    "My random seed is 42.",
    "My car is a 2019 Toyota RAV4.",
    "My email is john.smith2@gmail.com",
    "The secret to my bread is 3 days of proofing.",
    "I work in password security at Kaspersky.",
    "Мне 34 года, я живу в Москве на улице Ленина 15.",
    "Мой ключ от квартиры потерялся.",
    "I forgot my password.",
    "My password is too weak.",
    "Пароль неверный.",
    "I run SmolLM2-135M-Instruct on a laptop.",
    "I keep the API key in `sessionStorage`.",
    "Who wrote the pwd.txt file?",
    "I commit 3f9c2a1e4b5d6c7e8f9a0b1c2d3e4f5a6b7c8d9e every day.",
]


@pytest.mark.parametrize("message", ORDINARY)
def test_ordinary_facts_are_captured_word_for_word(mem, message):
    assert not is_secret(message), find_secrets(message)
    facts = mem.capture("ana", "s1", message)
    expected = [c for c in clauses(message) if is_first_person_fact(c)]
    assert [f.text for f in facts] == expected
    assert mem.turns("ana")[0]["text"] == message


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(
        [
            "My cat is {name}.",
            "I live in {name}.",
            "My favourite number is {n}.",
            "I was born in {year}.",
            "My sister {name} lives in {name}.",
            "I have {n} kids and my dog is called {name}.",
            "Мой город {name}.",
            "Я живу в городе {name} с {year} года.",
            "My son {name} is {n} years old.",
        ]
    ),
    st.randoms(use_true_random=False),
)
def test_no_secret_is_seen_in_ordinary_facts(template, r):
    latin = r.random() < 0.6
    letters = "abcdefghijklmnopqrstuvwxyz" if latin else "абвгдежзиклмнопрстуфхцчшэюя"
    name = _chars(r, letters, r.randint(3, 10)).capitalize()
    message = template.format(name=name, n=r.randint(0, 99), year=r.randint(1930, 2025))
    assert withhold_secrets(message) == message


def test_a_fact_cannot_carry_a_value_its_cue_left_in_another_clause():
    from outweigh.memory import ModelExtractor
    from outweigh.testing import EchoBackend

    message = "I have a new password, I made it hunter3. I live in Tver."
    backend = EchoBackend(reply="- I made it hunter3\n- I live in Tver")
    for extractor in (RuleExtractor(), ModelExtractor(backend)):
        facts = [f.text for f in extractor.extract(message)]
        assert any(f.startswith("I live in Tver") for f in facts)
        assert not any("hunter3" in f for f in facts), facts


# -- an explicit "remember" keeps it, masked wherever it is listed ---------------------------
def test_an_explicit_remember_keeps_the_secret_marked_and_masks_every_listing(mem, paths):
    (fact,) = mem.capture("ana", "s1", "Remember that my door code is 4711.", reply="Noted: 4711")
    assert (fact.text, fact.secret) == ("my door code is 4711.", True)
    token = "ghp_R2d2C3poL3ia0rganaHanS0loChewbacca42"
    mem.remember("ana", f"my GitHub token is {token}")
    mem.capture("ana", "s1", "I keep bees.")

    listed = [m.text for m in mem.list("ana")]
    assert listed == ["my door code is [secret].", "my GitHub token is [secret]", "I keep bees."]
    assert [m.secret for m in mem.list("ana", include_history=True)] == [True, True, False]
    exported = json.dumps(mem.export("ana"), ensure_ascii=False)
    searched = json.dumps([m.to_dict() for m in mem.search("ana", "door code token")])
    for shown in (exported, searched, json.dumps([m.to_dict() for m in mem.list("ana")])):
        assert "4711" not in shown and token not in shown and SECRET_MARK in shown
    # The turn keeps the request, not the value; the reply that repeated it is withheld.
    assert [t["text"] for t in mem.turns("ana")[:2]] == [
        f"Remember that my door code is {WITHHELD}.",
        WITHHELD,
    ]
    # Recall gives the real text: the user asked for it to be remembered and used. Said
    # back without its cue, the value is still withheld from the stored turns.
    assert any("4711" in m.text for m in mem.recall("ana", "What is my door code?"))
    mem.capture("ana", "s2", "What is my door code?", reply="It's 4711.")
    assert mem.turns("ana", "s2")[-1]["text"] == f"It's {WITHHELD}."
    assert mem.capture("ana", "s2", "My gym locker is 4711.") == []  # it would list the value
    conn = sqlite3.connect(paths.db)
    assert conn.execute("SELECT secret FROM memories WHERE text LIKE '%4711%'").fetchall() == [(1,)]
    conn.close()


def test_a_secret_stored_before_the_flag_is_masked_when_listed(mem, paths):
    mem.capture("ana", "s1", "I keep bees.")
    conn = sqlite3.connect(paths.db)
    with conn:
        conn.execute("UPDATE memories SET text = 'my wifi key is CorrectHorse99', secret = 0")
        conn.execute("UPDATE memory_turns SET text = 'my wifi key is CorrectHorse99'")
    conn.close()
    assert [m.text for m in mem.list("ana")] == ["my wifi key is [secret]"]
    assert "CorrectHorse99" not in json.dumps(mem.export("ana"))


def test_masking_is_idempotent_and_never_shows_the_value():
    for text in ("my door code is 4711", "my AWS secret is wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPL"):
        once = mask_secret(text)
        assert SECRET_MARK in once and mask_secret(once) == once
    assert mask_secret("just a note") == SECRET_MARK  # nothing to tell apart: all of it


def test_the_cli_never_shows_a_remembered_secret(monkeypatch, capsys, paths):
    import outweigh.embed

    monkeypatch.setattr(
        outweigh.embed, "SentenceTransformerEmbedder", lambda *_, **__: FakeEmbedder()
    )
    code, out, err = run_cli(
        monkeypatch, capsys, "memory", "remember", "--user", "ana", "my PIN is 482193"
    )
    assert code == 0 and "482193" not in out + err and "my PIN is [secret]" in out
    for args in (("list",), ("list", "--json"), ("search", "PIN"), ("export",)):
        code, out, err = run_cli(monkeypatch, capsys, "memory", *args, "--user", "ana")
        assert code == 0 and "482193" not in out + err and "[secret]" in out, args


def test_without_detect_secrets_memory_refuses_in_one_line(mem, monkeypatch):
    from outweigh.errors import OutweighError
    from outweigh.memory import secrets

    secrets._patterns.cache_clear()
    monkeypatch.setitem(sys.modules, "detect_secrets.core.plugins.util", None)
    try:
        with pytest.raises(OutweighError, match=r"^memory's secret check needs detect-secrets"):
            mem.capture("ana", "s1", "I keep bees.")
        assert mem.turns("ana") == []  # nothing kept unchecked
    finally:
        secrets._patterns.cache_clear()


# -- cost -----------------------------------------------------------------------------------
def test_the_check_is_cheap_per_message_and_loads_nothing_at_import():
    messages = [m for m in ORDINARY if not is_secret(m)] * 10
    times = []
    for m in messages:
        start = time.perf_counter()
        is_secret(m)
        times.append(time.perf_counter() - start)
    assert statistics.median(times) < 0.005, f"median {statistics.median(times) * 1e3:.2f} ms"
    probe = "import sys, outweigh.memory; print('detect_secrets' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr[-300:]
