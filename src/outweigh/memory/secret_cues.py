"""Secrets stated in words: a cue ("password", "PIN", "пароль", "код от домофона") and its value.

A cue alone is not a secret ("I forgot my password" leaks nothing); the value near it is.
Where the value is, by the cue's strength:

- a *strong* cue names a credential (password and its spellings, PIN, passcode, backup or
  2FA code, door code, wifi key, API key, seed phrase, CVV, card number, IBAN; пароль,
  пин-код, код доступа, код от ..., кодовое слово, номер карты ...). After a copula ("is",
  ":", "=", "—", "это", "был") everything to the end of the clause is the value, whatever
  its shape ("my password is swordfish", "кодовое слово — Ромашка"). Without one, the value
  is the first token nearby that looks like one (`shaped`: digits, letters mixed with digits
  or symbols, inner capitals, quotes, high entropy, or Latin after a Russian cue), the words
  the clause ends with ("Мой пароль солнышко"; one word in English), or the word right after
  "the/my password" ("I use the password swordfish for everything"). A value may also stand
  before the cue ("hunter3 is my password") or open the next sentence ("My PIN? 4821.").
- a *weak* cue ("key", "code", "token", "secret", "pass", "ключ", "код", "секрет") names a
  credential only when a value-shaped token follows it or its copula: "my key is under the
  mat" is not a secret, "my key is Zk39fQ" is.

Cues are matched on two folded copies of the text, so leetspeak and mixed scripts read as
the word they imitate: "passw0rd", "p@$$word", "pa55word" -> "password"; "пар0ль", "п@роль"
and "пapoль" (Latin a, p, o) -> "пароль". Both copies keep every character's position, so a
match in a copy is a span in the text.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from dataclasses import dataclass

from outweigh.text import stop_words, wordset

Span = tuple[int, int]

# -- folding --------------------------------------------------------------------------------
_LATIN = str.maketrans(
    {
        **dict(zip("0134578@$!|", "oieastbasil", strict=True)),
        **dict(zip("аеорсхукмтвні", "aeopcxykmtbhi", strict=True)),
    }
)
"""Leet digits and symbols, and Cyrillic letters that look Latin, to the Latin letter."""
_CYRILLIC = str.maketrans(dict(zip("aeopcxykmthb03468@$", "аеорсхукмтнвозчбвас", strict=True)))
"""Latin letters that look Cyrillic, and leet digits and symbols, to the Cyrillic letter."""


_FULLWIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}
"""Fullwidth forms ("ｐａｓｓｗｏｒｄ") to ASCII, one character for one."""


def _lower(text: str) -> str:
    """`text` lower-cased, fullwidth letters as ASCII, every character kept in place (a few
    letters lower-case to two characters; those stay as they are)."""
    low = text.lower() if text.isascii() else text.translate(_FULLWIDTH).lower()
    if len(low) == len(text):
        return low
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text.translate(_FULLWIDTH))


# -- cues -----------------------------------------------------------------------------------
def _phrase(pattern: str) -> re.Pattern[str]:
    """A cue pattern whose spaces match any run of whitespace."""
    return re.compile(pattern.replace(" ?", r"\s*").replace(" ", r"\s+"))


_EN_STRONG = _phrase(
    r"(?<![^\W\d_])(?:"
    r"pass ?(?:word|wd|wrd|wort|phrase|code|key)s?|pa?sswd|pswd|psw|pword|pwd|pw|p/w|parol\w*"
    r"|pin(?: ?(?:code|number|no|#))?"
    r"|(?:2fa|mfa|otp|totp|one[\s-]time|backup|recovery|verification|verify|security|"
    r"authentication|auth|authenticator|login|sign[\s-]?in|sms|access|unlock|activation|"
    r"confirmation|door|gate|garage|alarm|lock|padlock|safe|entry|entrance|building|intercom|"
    r"buzzer|locker|keypad|wi-?fi|wlan|wpa2?|router|network|master|admin)"
    r" (?:codes?|keys?|pins?|pass|combination|combo)"
    r"|2fa|mfa|otp|totp|combination (?:to|for|of) (?:my|the|our) (?:lock|safe|locker|padlock|bike)"
    r"|(?:seed|mnemonic) (?:phrase|words)|(?:recovery|wallet) (?:phrase|words|seed)"
    r"|secret (?:recovery )?phrase"
    r"|(?:api|secret|private|access|auth|signing|encryption|ssh|gpg|pgp|licen[cs]e|product|"
    r"serial|activation|master|wallet|app|client|aws|bearer|refresh|session|personal access|"
    r"oauth|jwt|github|gitlab|slack|stripe|openai|telegram|discord)[\s_-]?"
    r"(?:keys?|tokens?|secrets?)"
    r"|cvv2?|cvc2?|csc|card (?:number|no|pin|code|details)|(?:credit|debit|bank) card"
    r"(?: number)?|iban|account (?:number|no)|routing number|sort code"
    r"|ssn|social security(?: number)?"
    r"|(?:security|secret) (?:questions?|answers?)|(?:memorable|secret) (?:word|phrase)"
    r"|code ?word"
    r"|safe ?word|credentials|creds|login details"
    r")(?![^\W\d_])"
    r"(?! (?:manager|managers|app|vault|reset|resets|policy|policies|requirements?|rules|"
    r"strength|field|prompt|generator|protected|protection|change|recovery|expir\w*)\b)"
)
_EN_WEAK = re.compile(r"(?<![\w-])(?:key|code|token|secret|pass|combination|combo)(?![\w-])")
"""Singular, and whole words: "max_tokens" and "256 tokens" are no cue."""
_EN_NOT_SECRET_BEFORE = re.compile(
    r"(?:zip|postal|post|area|country|city|dialling|dialing|error|status|exit|return|http|"
    r"response|source|qr|bar|promo|promotional|discount|coupon|voucher|referral|invite|"
    r"invitation|dress|morse|colou?r|airport|language|product|tracking|booking|tax|region|"
    r"bus|boarding|season|ski|day|travel|hall|train|metro|transit|museum|gym|free|press|"
    r"house|car|spare|room|office|primary|foreign|music|piano)\s$"
)
"""A weak cue after these words is not a credential: "zip code", "bus pass", "car key"."""

_RU_STRONG = _phrase(
    r"(?<![^\W\d_])(?:"
    r"пар[оа]л\w*|порол[ья]\w*|пасс?ворд\w*|пин(?:[\s-]?код\w*)?|пинкод\w*|(?:смс|sмs)[\s-]?код\w*"
    r"|код\w* (?:доступа|подтверждени\w*|безопасности|активации|разблокировки|"
    r"восстановлени\w*|авторизации|входа|верификации|из (?:смс|sмs|сообщени\w*)|от \w+)"
    r"|(?:резервн|запасн|одноразов|секретн|кодов|проверочн|двухфакторн)\w* "
    r"(?:код\w*|слов\w*|ключ\w*|фраз\w*|вопрос\w*|ответ\w*)"
    r"|сид[\s-]?фраз\w*|мнемоническ\w* фраз\w*|фраз\w* восстановлени\w*"
    r"|(?:апи|ар[i1і])[\s-]?ключ\w*|ключ\w* (?:апи|ар[i1і]|доступа|шифровани\w*|активации|"
    r"продукта|от (?:wi-?fi|вай-?фа\w*|сети|роутера|api|апи))"
    r"|(?:приватн|закрыт|секретн|личн)\w* ключ\w*"
    r"|токен\w*|номер\w* (?:\w+ )?карт\w*|учётн\w* данн\w*|учетн\w* данн\w*"
    r")(?![^\W\d_])"
    r"(?! (?:менеджер\w*|политик\w*|требовани\w*)(?![^\W\d_]))"
)
_RU_WEAK = re.compile(r"(?<![\w-])(?:код\w*|ключ\w*|секрет\w*|шифр\w*)(?![\w-])")
_RU_NOT_SECRET = re.compile(
    r"(?:промо|штрих|qr|qr-|исходн\w*|почтов\w*|менеджер\w*)\s*-?$"
    r"|^\S*\s+(?:города|страны|ошибки|региона|товара|купона)\b"
)

_PHRASE_CUES = re.compile(
    r"seed|mnemonic|phrase|words|фраз|слов|данн|credentials|creds|answer|ответ|question|вопрос"
)
"""Cues whose value may run to many words: a seed phrase, a security answer."""


# -- the shape of a value ---------------------------------------------------------------------
_QUOTES = "'\"«»“”‘’`"
_STRIP = _QUOTES + "()[]{}<>.,;:!?"
MARKS = ("[withheld: a secret]", "[secret]")
"""What a redacted value reads as; never itself a value."""
_VERSION = re.compile(r"^v?\d+(?:\.\d+)+[a-z]?$", re.IGNORECASE)
_INNER_SYMBOL = re.compile(r"[^\W_][@#$%^&*!?+=_~|\\/<>][^\W_]")
_URLISH = re.compile(r"^(?:https?://|www\.)|^[\w.+-]+@[\w-]+\.[\w.]+$", re.IGNORECASE)


def entropy(s: str) -> float:
    """Shannon entropy of `s` in bits per character."""
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values()) if n else 0.0


def shaped(
    token: str, cue_script: str | None = None, near: bool = False, quoted: bool = True
) -> bool:
    """Whether `token` looks like a credential's value rather than a word: three digits or
    more ("4821", "884-221"), letters mixed with digits ("hunter3", "qwerty777"), inner
    capitals ("CorrectHorse"), inner symbols ("p@ss"), quotes, high entropy; with
    `cue_script` "cyrillic", also a Latin word ("qwerty" after "пароль"). A word `near` a cue
    but not after its copula needs more: inner capitals and code in backticks
    ("the API key in `sessionStorage`") are a program's words, not a value; with `quoted`
    off, so are quotes ("missing key 'answers'")."""
    if token in MARKS:
        return False
    if len(token) >= 2 and token[0] in _QUOTES and token[-1] in _QUOTES:
        return quoted and not (near and token[0] == "`")
    t = token.strip(_STRIP)
    if not t or t in MARKS or _URLISH.search(t) or _VERSION.match(t):
        return False
    digits = sum(c.isdigit() for c in t)
    letters = sum(c.isalpha() for c in t)
    if digits >= 3 or (digits and letters and len(t) >= 4):
        return True
    if _INNER_SYMBOL.search(t) or (not near and re.search(r"[a-zа-яё][A-ZА-ЯЁ]", t)):
        return not (near and token.startswith("`"))
    symbols = sum(not c.isalnum() and c not in "-'’." for c in t)  # these join words
    classes = (t != t.lower()) + (t != t.upper()) + (digits > 0) + (symbols > 0)
    if len(t) >= 10 and classes >= 2 and entropy(t) >= 3.3:
        return True
    return cue_script == "cyrillic" and letters > 0 and _script(t) == "latin"


def _script(word: str) -> str:
    for c in word:
        if "a" <= c.lower() <= "z":
            return "latin"
        if "а" <= c.lower() <= "я" or c in "ёЁ":
            return "cyrillic"
    return ""


# -- where a value is -----------------------------------------------------------------------
_SENTENCE_END = re.compile(r"[.!?…]+(?=\s|$)|\n")
_CLAUSE_END = re.compile(
    r"[.!?;…]+(?=\s|$)|\n"
    r"|,\s+(?=(?:and|but|or|so|also|please|thanks|thank|my|our|i|i'm|we|и|а|но|или|также|"
    r"ещё|еще|спасибо|пожалуйста|мой|моя|моё|мое|мои|наш\w*|я|мы)\b)"
    r"|\s+(?:and|but|и|а|но)\s+(?=(?:my|our|i|i'm|we|мой|моя|моё|мое|мои|наш\w*|я|мы|у меня)\b)",
    re.IGNORECASE,
)
_COPULA_WORDS = (
    r"is|was|are|were|be|equals|reads|это|был[аио]?|были|будет|стал[аио]?|теперь|такой|такая|"
    r"такое"
)
_AFTER_COPULA = (
    r"(?:(?:now|still|just|simply|actually|literally|currently|set to|changed to|сейчас|"
    r"теперь|просто|вот)\s+)*"
)
_COPULA = re.compile(
    r"(?:(?:'s|’s)\s+|(?:[\s,]+[^\s:=—–,]+){0,8}?"
    r"(?:[\"'\]`]*\s*(?:[:=]+|[—–]+|->|=>)\s*|\s+-+\s+"
    rf"|[\s,]+(?:{_COPULA_WORDS})\s+))" + _AFTER_COPULA,
    re.IGNORECASE,
)
"""The words between a cue and its value: a few of the cue's own ("for my bank", "от почты")
up to a copula ("is", ":", "=", "—", "это", "был"): "my password for gmail is ..."."""
_COPULA_TO = re.compile(
    r"(?:[\s,]+[^\s:=—–,]+){0,3}?[\s,]+(?:to|на)\s+" + _AFTER_COPULA, re.IGNORECASE
)
""""set my password to ...", "поменял пароль на ...": tried when no other copula is there."""
_WORD = re.compile(r"\S+")
_CODE_BEFORE = re.compile(r"(?:[/.]|\$\(|--)$")
_CODE_AFTER = re.compile(r"[.)/\\][^\s.,;:!?]")
_NEXT_WORD = re.compile(r"\s+(\S+)")
_WORD_AFTER = re.compile(r"[^\s:=][^\s]*")
"""A word after a cue, a ":" or "=" glued to its front left out ("pw=hunter3")."""
_HYPHENATED = re.compile(r"-[^\W\d_]+")
_SENTENCE_GAP = re.compile(r"[.!?…\s]*")
_IT_IS = re.compile(r"(?:it'?s|it’s|it is|it was|that'?s|это|он|она|оно)[\s:—–-]+", re.IGNORECASE)
_QUALIFIER = re.compile(
    r"\s+(?:for|to|of|at|on|from|in|от|ot|для|к|на|в|у|с|со)"
    r"(?:\s+(?:my|our|the|a|an|мой|моя|моей|моего|моему|моих|мою|нашей|нашего|этот|этой))?"
    r"\s+\S+",
    re.IGNORECASE,
)
"""What a credential is for, right after its cue: "for gmail", "от почты" ("ot" is "от" in
the Latin-folded copy, where a Latin cue in a Russian sentence is read)."""
_BEFORE_LINK = re.compile(
    r"\b(?:is|was|as|are|это|как|в качестве)\b|[—–:=←]|\s-\s|<-", re.IGNORECASE
)
_LINKED_BEFORE = re.compile(
    r"(\S+)\s+(?:is|was|as|это|эto|как|в качестве|—|–|-|<-|←)\s+(?:\S+\s+){0,3}$",
    re.IGNORECASE,
)
"""A word linked to the cue after it: "swordfish is my password", "use X as the pw" ("эto"
is "это" in the Latin-folded copy, where a Latin cue in a Russian sentence is read)."""
_REACH = 400
"""How far from a cue its value is looked for, in characters: a long message with many cues
costs time in proportion to its length, not its square."""
_FILLER = wordset(
    "again now today yesterday tomorrow recently already too also though please thanks it "
    "this that them him her me you up down here there soon later twice once anyway lol "
    "опять снова сейчас сегодня вчера завтра недавно уже тоже также пожалуйста спасибо его "
    "её ее их это тут там потом позже everywhere anywhere everything online offline on in at to "
    "for of with from by off over under about into onto back away out"
)
"""Words that end a clause without being a value: "I changed my password yesterday"."""
_STOP = stop_words("en", "ru") | _FILLER
_NUMBERS = wordset(
    "zero oh one two three four five six seven eight nine ноль нуль один одна два две три "
    "четыре пять шесть семь восемь девять"
)
_DEGREE = wordset("too very so not really quite pretty still also слишком очень не совсем тоже")
_STATES = wordset(
    "set unset required needed missing optional wrong invalid valid correct incorrect expired "
    "revoked stored saved encrypted hashed compromised leaked weak strong long short safe "
    "secure insecure empty blank changed reset locked unlocked ok okay fine important private "
    "hidden visible unknown new old same different secret forgotten lost stolen "
    "неверный верный правильный неправильный слабый сильный длинный короткий пустой новый "
    "старый сброшен изменён изменен утерян забыт украден надёжный надежный простой сложный"
)
"""What a secret is, said of it without its value: "my password is too weak"."""
_DETERMINERS = wordset(
    "the my our your his her their a an this that мой моя моё мое мои наш наша наше ваш ваша "
    "твой твоя этот эта"
)


@dataclass(frozen=True)
class _Cue:
    """One cue found in a message, and what finding its value needs to know."""

    text: str
    """The message."""
    folded: str
    """The folded copy the cue was found in (same positions): qualifiers and filler are read
    there too, so "пароль 0т в@йфая" reads "от вайфая"."""
    start: int
    end: int
    strong: bool
    script: str
    """"latin" or "cyrillic": the language of the cue."""

    @property
    def word(self) -> str:
        return self.folded[self.start : self.end]


def cued_spans(text: str) -> list[Span]:
    """Spans of `text` that are values of a secret stated in words (unmerged, maybe empty)."""
    low = _lower(text)
    latin, cyrillic = low.translate(_LATIN), low.translate(_CYRILLIC)
    spans: list[Span] = []
    for folded, strong, weak, script in (
        (latin, _EN_STRONG, _EN_WEAK, "latin"),
        (cyrillic, _RU_STRONG, _RU_WEAK, "cyrillic"),
    ):
        seen: list[Span] = []
        for m in strong.finditer(folded):
            seen.append(m.span())
            if not _in_code(folded, m):
                spans += _value(_Cue(text, folded, *_whole(text, m), True, script))
        for m in weak.finditer(folded):
            if any(a <= m.start() < b for a, b in seen) or _not_secret(folded, m, script):
                continue
            if not _in_code(folded, m):
                spans += _value(_Cue(text, folded, *_whole(text, m), False, script))
    return spans


def _whole(text: str, m: re.Match[str]) -> Span:
    """The cue's span, a hyphenated ending included: "PIN-код" is one cue."""
    hyphenated = _HYPHENATED.match(text, m.end())
    return m.start(), hyphenated.end() if hyphenated else m.end()


def _in_code(folded: str, m: re.Match[str]) -> bool:
    """A cue inside a name in code or a path: "pwd.txt", "$(pwd)/data", "--api-key-env"."""
    return bool(
        _CODE_BEFORE.search(folded, max(0, m.start() - 2), m.start())
        or _CODE_AFTER.match(folded, m.end())
    )


def _not_secret(folded: str, m: re.Match[str], script: str) -> bool:
    """A weak cue that names something else: "zip code", "bus pass", "промокод"."""
    if script == "latin":
        return _EN_NOT_SECRET_BEFORE.search(folded[max(0, m.start() - 24) : m.start()]) is not None
    before = folded[max(0, m.start() - 16) : m.start()]
    return _RU_NOT_SECRET.search(before) is not None or bool(
        _RU_NOT_SECRET.search(folded[m.start() : m.end() + 16])
    )


def _value(c: _Cue) -> list[Span]:
    """The value a cue states, as spans of the text: before it ("hunter3 is my password"),
    after it, or opening the next sentence ("My PIN? 4821.")."""
    sentence_start = _sentence_start(c.text, c.start)
    sentence_end = _end(_SENTENCE_END, c.text, c.end)
    out = _before(c, sentence_start)
    found = _after(c, sentence_end)
    if not found:
        nxt = _next_sentence(c, sentence_end)
        found = [nxt] if nxt is not None else []
    return out + found


def _after(c: _Cue, sentence_end: int) -> list[Span]:
    """The value after the cue: past a copula, value-shaped words nearby (past a qualifier
    such as "от почты"), or (for a strong cue) the words the clause ends with."""
    text, end, strong = c.text, c.end, c.strong
    clause_end = _end(_CLAUSE_END, text, end)
    question = text[sentence_end : sentence_end + 1] == "?"
    out: list[Span] = []
    cop = _COPULA.match(text, end, clause_end)
    if cop is None and not question:
        cop = _COPULA_TO.match(text, end, clause_end)
    if cop is not None and cop.end() < clause_end:
        cap = 25 if _PHRASE_CUES.search(c.word) else 8
        found = _tail(text, cop.end(), clause_end, cap, strong)
        out += [found] if found is not None else []
    # A value-shaped word near the cue counts even past a copula: "пароль 1234 на телефон".
    q = _QUALIFIER.match(c.folded, end, sentence_end) if strong else None
    begin = q.end() if q else end
    window = list(_WORD_AFTER.finditer(text, begin, sentence_end))[:10]
    script = c.script if strong else None
    near = [t for t in window if shaped(t.group(), script, near=True, quoted=strong)]
    if not strong:  # only the words that open the text after a weak cue: "token ghp_…"
        near = list(itertools.takewhile(lambda t: t in near, window))
    # After a strong cue, every such word: "пароль от банка ixenfx53 или Qwerty12".
    out += [t.span() for t in near]
    if not out and strong and not question:
        # A question asks about a secret; these looser readings would only take its words.
        bare = _bare(c, clause_end, 2 if c.script == "cyrillic" else 1)
        bare = bare or _apposition(c, clause_end)
        out += [bare] if bare is not None else []
    return out


def _apposition(c: _Cue, clause_end: int) -> Span | None:
    """The word right after "the/my password" when it is no common word: "I use the
    password swordfish for everything"; not "I pin tweets" (no determiner) nor "my password
    doesn't work" (a stop word)."""
    before = re.search(r"(\S+)\s+$", c.folded[max(0, c.start - 24) : c.start])
    if before is None or before.group(1) not in _DETERMINERS:
        return None
    m = _NEXT_WORD.match(c.folded, c.end, clause_end)
    word = _plain(m.group(1)) if m else ""
    if not word or word in _STOP or word in MARKS or word.endswith("ly"):
        return None
    return m.span(1) if m and any(ch.isalnum() for ch in word) else None


def _bare(c: _Cue, clause_end: int, most: int) -> Span | None:
    """The words a clause ends with after a strong cue and no copula (past "от почты", "for
    gmail"): "Мой пароль солнышко", at most `most` of them (Russian drops the copula, English
    rarely does); not filler alone ("I changed my password yesterday")."""
    q = _QUALIFIER.match(c.folded, c.end, clause_end)
    begin = q.end() if q else c.end
    tokens = list(_WORD.finditer(c.folded, begin, clause_end))
    words = [_plain(t.group()) for t in tokens]
    if tokens and all(w in _NUMBERS for w in words):
        most = len(tokens)  # digits spelled out: "пин-код один два три четыре"
    if (
        not 1 <= len(tokens) <= most
        or _state(words)
        or all(not w or w in _FILLER or w in MARKS or w.endswith("ly") for w in words)
    ):
        return None
    if not any(ch.isalnum() for w in words for ch in w):
        return None
    return (tokens[0].start(), tokens[-1].end())


def _plain(word: str) -> str:
    """A word as the word lists hold it: no quotes or punctuation around it, no "'s"."""
    return re.split(r"['’]", word.strip(_STRIP).lower())[0]


def _next_sentence(c: _Cue, sentence_end: int) -> Span | None:
    """A value that opens the next sentence or line when the cue's own sentence ends with
    it: "My PIN? 4821.", "The door code? It's 4711.", "Here is my password:\nhunter3", a
    cue alone on its line like a form's label ("Password\nhunter3")."""
    text = c.text
    q = _QUALIFIER.match(c.folded, c.end, sentence_end)
    rest = c.folded[q.end() if q else c.end : sentence_end].strip(" \t:?—–-")
    if rest not in ("", "is", "was", "are", "это"):
        return None
    line_start = text.rfind("\n", 0, c.start) + 1
    label = len(text[line_start : c.start].split()) <= 2  # "Password", "My wifi password"
    colon = text[c.end : sentence_end].rstrip().endswith(":") or (
        label and text[sentence_end : sentence_end + 1] == "\n"
    )
    begin = _SENTENCE_GAP.match(text, sentence_end).end()
    stop = _end(_CLAUSE_END, text, begin)
    it = _IT_IS.match(text, begin, stop)
    if it is not None or (colon and c.strong):
        return _tail(text, it.end() if it else begin, stop, 8, c.strong)
    first = _WORD.match(text, begin, stop)
    return first.span() if first is not None and shaped(first.group()) else None


def _tail(text: str, start: int, stop: int, cap: int, strong: bool) -> Span | None:
    """The value after a copula: up to `cap` words to the clause end for a strong cue (a
    quoted one to its closing quote), the value-shaped words that open it for a weak one."""
    if start < len(text) and text[start] in _QUOTES:
        close = _QUOTES[_QUOTES.index(text[start]) + 1] if text[start] in "«“‘" else text[start]
        q = text.find(close, start + 1, start + 200)
        if q > start:
            return (start, q + 1)
    tokens = list(_WORD.finditer(text, start, stop))[:cap]
    if not tokens:
        return None
    if strong:
        words = [t.group().strip(_STRIP).lower() for t in tokens]
        if all(w in MARKS for w in words) or _state(words):
            return None
        return (tokens[0].start(), tokens[-1].end())
    n = 0
    while n < len(tokens) and shaped(tokens[n].group()):
        n += 1
    return (tokens[0].start(), tokens[n - 1].end()) if n else None


def _state(words: list[str]) -> bool:
    """Whether the words after a copula say how a secret is, not what: "my password is too
    weak", "the API key is not set", "пароль неверный"."""
    words = [w for w in words if w]
    while words and words[0] in _DEGREE:
        words = words[1:]
    return len(words) == 1 and (words[0] in _STATES or words[0].endswith("ly"))


def _before(c: _Cue, sentence_start: int) -> list[Span]:
    """A value-shaped word up to six words before the cue, linked to it by a copula or "as":
    "hunter3 is my online banking pw", "884-221 — мой резервный код", "use X as my pw"; for
    a strong cue, any word but a common one so linked ("swordfish это пароль от почты"), not
    in a question ("What is my password?")."""
    text = c.text
    for w in list(_WORD.finditer(text, sentence_start, c.start))[-6:]:
        shaped_here = shaped(w.group(), near=True, quoted=c.strong)
        if shaped_here and _BEFORE_LINK.search(text, w.end(), c.start):
            return [w.span()]
    linked = _LINKED_BEFORE.search(c.folded, sentence_start, c.start) if c.strong else None
    if linked is not None and text[_end(_SENTENCE_END, text, c.start) :][:1] != "?":
        word = _plain(linked.group(1))
        if word and word not in _STOP and word not in MARKS and any(ch.isalnum() for ch in word):
            return [linked.span(1)]
    return []


def _sentence_start(text: str, pos: int) -> int:
    """Where the sentence around `pos` starts, looking back at most `_REACH` characters."""
    last = max(0, pos - _REACH)
    for m in _SENTENCE_END.finditer(text, last, pos):
        last = m.end()
    return last


def _end(pattern: re.Pattern[str], text: str, pos: int) -> int:
    """Where `pattern` first matches after `pos`, at most `_REACH` characters on."""
    m = pattern.search(text, pos, pos + _REACH)
    return m.start() if m else min(len(text), pos + _REACH)
