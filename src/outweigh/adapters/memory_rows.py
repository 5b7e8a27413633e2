"""Reader training rows for memory: facts a user told, a question about one, a short answer.

A small model handed the right, current fact still fails to say it: SmolLM2-135M answered
"I'm glad you're happy with the information" or "The answer to your question is:" to 41% of
the fact questions of examples/suite-memory, with the fact in its prompt
(docs/benchmarks-memory.md). The reader adapter learns to read its memory section the way it
learns to read passages: rows laid out by `prompt.build_messages` exactly as the engine lays
out recalled memories (current facts as said, superseded ones marked past, a few unrelated
facts of the same user around them), answered in the second person in one sentence.

The people, places and things are generated from small pools below, not from any suite:
what the adapter learns is the reading, which held-out conversations test.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from outweigh.generate.base import Message
from outweigh.prompt import build_messages

PAST_MARK = "(in the past, no longer true)"
"""As `outweigh.memory.recall.PAST_MARK` writes a superseded fact (a test keeps them equal;
memory sits beside adapters in the layer order, so it is not imported here)."""

_NAMES = [
    "Anna",
    "Boris",
    "Chen",
    "Dario",
    "Elif",
    "Farid",
    "Greta",
    "Hana",
    "Igor",
    "Jonas",
    "Kira",
    "Lars",
    "Mei",
    "Nikos",
    "Oskar",
    "Pavel",
    "Rosa",
    "Sven",
    "Tariq",
    "Uma",
    "Vera",
    "Wiktor",
    "Yara",
    "Zoltan",
    "Lena",
    "Amir",
    "Bianca",
    "Emil",
    "Frida",
    "Goran",
    "Ilse",
    "Kofi",
    "Leila",
    "Milan",
    "Noor",
    "Petra",
    "Rui",
    "Selma",
    "Timo",
    "Ursula",
    "Viktor",
    "Xenia",
    "Yusuf",
    "Zara",
]
_CITIES = [
    "Tallinn",
    "Riga",
    "Graz",
    "Lille",
    "Bergen",
    "Turku",
    "Ghent",
    "Poznan",
    "Kaunas",
    "Bologna",
    "Seville",
    "Cork",
    "Malmo",
    "Aarhus",
    "Brno",
    "Split",
    "Varna",
    "Cluj",
    "Lviv",
    "Sochi",
    "Omsk",
    "Samara",
    "Perm",
    "Tomsk",
    "Izmir",
    "Basel",
    "Bremen",
    "Dijon",
    "Leipzig",
    "Lublin",
    "Nantes",
    "Oulu",
    "Plovdiv",
    "Tartu",
    "Utrecht",
    "Zagreb",
]
_JOBS = [
    "nurse",
    "baker",
    "welder",
    "librarian",
    "dentist",
    "architect",
    "translator",
    "plumber",
    "chemist",
    "electrician",
    "florist",
    "pilot",
    "tailor",
    "accountant",
    "carpenter",
    "veterinarian",
    "barista",
    "surveyor",
]
_PLACES = [
    "a bakery",
    "a hospital",
    "a school",
    "a bank",
    "a shipyard",
    "a museum",
    "a hotel",
    "a garage",
    "a bookshop",
    "a pharmacy",
    "a call centre",
    "a brewery",
    "a post office",
    "a theatre",
    "a school canteen",
    "a car factory",
    "the city library",
    "a dental clinic",
    "a flower shop",
    "the train station",
    "a software company",
    "a football club",
]
_FOODS = [
    "borscht",
    "paella",
    "ramen",
    "pierogi",
    "falafel",
    "risotto",
    "dumplings",
    "lasagne",
    "curry",
    "tacos",
    "fish soup",
    "apple pie",
    "mushroom risotto",
    "lamb stew",
]
_BANDS = [
    "Queen",
    "Kino",
    "Muse",
    "Coldplay",
    "Metallica",
    "Abba",
    "Nirvana",
    "Blur",
    "Oasis",
    "Radiohead",
    "Sting",
]
_SPORTS = [
    "tennis",
    "hockey",
    "football",
    "chess",
    "rowing",
    "judo",
    "volleyball",
    "climbing",
    "cycling",
]
_CARS = [
    "a Skoda",
    "a Volvo",
    "a Toyota",
    "a Fiat",
    "a Renault",
    "a Mazda",
    "a Ford",
    "a Honda",
    "a Lada",
]
_ANIMALS = ["cat", "dog", "parrot", "rabbit", "hamster", "tortoise"]
_PETNAMES = [
    "Barsik",
    "Luna",
    "Max",
    "Ryzhik",
    "Bella",
    "Felix",
    "Tosha",
    "Murka",
    "Rex",
    "Kesha",
    "Bublik",
    "Misha",
]
_DAYS = ["Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays"]
_DATES = ["3rd", "7th", "9th", "12th", "15th", "18th", "21st", "23rd", "26th", "30th"]
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_KIN = [
    "brother",
    "sister",
    "mother",
    "father",
    "son",
    "daughter",
    "wife",
    "husband",
    "cousin",
    "aunt",
    "uncle",
]
_SUBJECTS = ["physics", "history", "maths", "biology", "music", "art", "geography", "chemistry"]
_ALLERGIES = ["peanuts", "shellfish", "pollen", "cats", "penicillin", "gluten", "eggs", "dust"]
_LANGS = ["Spanish", "Polish", "Finnish", "Turkish", "Greek", "Czech", "Italian", "Korean", "Dutch"]


@dataclass(frozen=True)
class Relation:
    """One kind of fact about a user: how it is said, asked and answered, and how it changes.

    Slots: {v} the value (and {w} a second one); an update says {v} replaced {old}.
    """

    values: tuple[tuple[str, ...], ...]
    """Pools the slots draw from, in slot order ({v}, then {w})."""
    say: tuple[str, ...]
    ask: tuple[str, ...]
    answer: str
    update: tuple[str, ...] = ()
    past_ask: tuple[str, ...] = ()
    past_answer: str = ""


_R = Relation
RELATIONS: tuple[Relation, ...] = (
    _R(
        (tuple(_CITIES),),
        ("I live in {v}.", "I'm from {v} and I live there.", "We live in {v}."),
        ("Where do I live?", "Which city do I live in?", "Where do I live now?"),
        "You live in {v}.",
        (
            "I have just moved from {old} to {v}.",
            "We relocated to {v} last month.",
            "I don't live in {old} any more; these days I live in {v}.",
            "I moved to {v}.",
        ),
        ("Where did I live before?", "Which city did I live in before?"),
        "You lived in {old} before.",
    ),
    _R(
        (tuple(_JOBS),),
        ("I work as a {v}.", "I'm a {v}.", "My job: I am a {v}."),
        ("What do I do for a living?", "What is my job?", "What's my profession?"),
        "You work as a {v}.",
        ("I'm no longer a {old}; I work as a {v} now.", "I changed jobs, I'm a {v} now."),
        ("What was my job before?",),
        "You worked as a {old} before.",
    ),
    _R(
        (tuple(_PLACES),),
        ("I work at {v}.", "These days I work at {v}."),
        ("Where do I work?", "Where is my job?"),
        "You work at {v}.",
        ("I quit my job at {old}; now I work at {v}.", "I work at {v} instead of {old} now."),
    ),
    _R(
        (tuple(_KIN), tuple(_NAMES)),
        ("My {v} is called {w}.", "My {v}'s name is {w}.", "My {v} {w} visited me."),
        ("What's my {v}'s name?", "What is my {v} called?", "Who is my {v}?"),
        "Your {v} is called {w}.",
    ),
    _R(
        (tuple(_KIN), tuple(_JOBS)),
        ("My {v} is a {w}.", "My {v} works as a {w}."),
        ("What does my {v} do?", "What is my {v}'s job?"),
        "Your {v} is a {w}.",
    ),
    _R(
        (tuple(_KIN), tuple(_SUBJECTS)),
        ("My {v} teaches {w} at a school.", "My {v} is a {w} teacher."),
        ("What does my {v} teach?", "Which subject does my {v} teach?"),
        "Your {v} teaches {w}.",
    ),
    _R(
        (tuple(_KIN), tuple(_CITIES)),
        ("My {v} lives in {w}.", "My {v} is based in {w}."),
        ("Where does my {v} live?", "Which city does my {v} live in?"),
        "Your {v} lives in {w}.",
        ("My {v} moved to {w} last month.", "My {v} lives in {w} now, not in {old}."),
    ),
    _R(
        (tuple(_ANIMALS), tuple(_PETNAMES)),
        ("Our {v} is called {w}.", "My {v}'s name is {w}.", "We have a {v} named {w}."),
        ("What is our {v} called?", "What's my {v}'s name?", "What is the name of my {v}?"),
        "Your {v} is called {w}.",
    ),
    _R(
        (tuple(_FOODS),),
        ("My favourite food is {v}.", "I love {v} more than any other dish."),
        ("What's my favourite food?", "What food do I like best?"),
        "Your favourite food is {v}.",
        ("These days my favourite food is {v}, not {old}.",),
    ),
    _R(
        (tuple(_BANDS),),
        ("My favourite band is {v}.", "I listen to {v} all the time; they're my favourite."),
        ("What's my favourite band?", "Which band do I like most?"),
        "Your favourite band is {v}.",
        ("I'm more into {v} than {old} these days.", "My favourite band is now {v}."),
        ("What was my favourite band before?",),
        "Your favourite band used to be {old}.",
    ),
    _R(
        (tuple(_SPORTS), tuple(_DAYS)),
        ("I play {v} on {w}.", "I go to {v} practice every week on {w}."),
        ("When do I play {v}?", "Which day do I play {v}?"),
        "You play {v} on {w}.",
    ),
    _R(
        (tuple(_KIN), tuple(_SPORTS)),
        ("My {v} plays {w}.", "My {v} is in a {w} club."),
        ("What sport does my {v} play?", "Which sport does my {v} do?"),
        "Your {v} plays {w}.",
    ),
    _R(
        (tuple(_CARS),),
        ("I drive {v}.", "My car is {v}."),
        ("What car do I drive?", "What do I drive?"),
        "You drive {v}.",
        ("I sold {old}; I drive {v} now.", "I replaced {old} with {v}."),
        ("What car did I drive before?",),
        "You drove {old} before.",
    ),
    _R(
        (tuple(_ALLERGIES),),
        ("I'm allergic to {v}.", "I have an allergy to {v}."),
        ("What am I allergic to?", "Do I have any allergy?"),
        "You are allergic to {v}.",
    ),
    _R(
        (tuple(_LANGS),),
        ("I'm learning {v}.", "I take {v} lessons."),
        ("Which language am I learning?", "What language do I study?"),
        "You are learning {v}.",
        ("I stopped learning {old} and started {v} instead.",),
    ),
    _R(
        (tuple(_DATES),),
        ("My dentist appointment is on the {v}.", "I see the dentist on the {v}."),
        ("When is my dentist appointment?", "What date do I see the dentist?"),
        "Your dentist appointment is on the {v}.",
        (
            "My dentist moved the appointment to the {v}.",
            "The dentist appointment was postponed to the {v}.",
            "My dentist appointment is now on the {v} instead of the {old}.",
        ),
    ),
    _R(
        (tuple(_DATES), tuple(_MONTHS)),
        ("My birthday is on the {v} of {w}.", "I was born on the {v} of {w}."),
        ("When is my birthday?", "What is my date of birth?"),
        "Your birthday is on the {v} of {w}.",
    ),
    _R(
        (tuple(str(n) for n in range(1000, 10000, 397)),),
        ("My phone number ends in {v}.", "The last digits of my phone are {v}."),
        ("What does my phone number end in?", "What are the last digits of my phone?"),
        "Your phone number ends in {v}.",
        ("I changed my phone number; it now ends in {v}.", "My new number ends in {v}."),
    ),
    _R(
        (tuple(str(n) for n in range(5, 12)),),
        ("I usually wake up at {v} am.", "My alarm rings at {v} am every day."),
        ("What time do I wake up?", "When do I get up?"),
        "You wake up at {v} am.",
        ("I wake up at {v} am now instead of {old} am.", "These days I get up at {v} am."),
    ),
    _R(
        (tuple(_MONTHS),),
        ("Our family holiday is in {v}.", "We go on holiday in {v}."),
        ("When is our family holiday?", "Which month is our holiday?"),
        "Your family holiday is in {v}.",
        ("We moved our holiday from {old} to {v}.", "Our holiday is in {v} now."),
    ),
    _R(
        (tuple(str(y) for y in range(2009, 2025)), tuple(_PETNAMES)),
        ("We adopted {w} in {v}.", "We got {w} in {v}."),
        ("When did we adopt {w}?", "When did we get {w}?"),
        "You adopted {w} in {v}.",
    ),
    _R(
        (tuple(str(y) for y in range(2009, 2025)), tuple(_CITIES)),
        ("I started my current job in {w} in {v}.", "I moved to {w} in {v}."),
        ("When did I move to {w}?", "What year did I come to {w}?"),
        "You moved to {w} in {v}.",
    ),
    _R(
        (tuple(_NAMES),),
        ("Hi, I'm {v}.", "My name is {v}.", "Hello! {v} here."),
        ("What is my name?", "Who am I?", "Do you remember my name?"),
        "Your name is {v}.",
    ),
    _R(
        (tuple(str(n) for n in range(2, 15)),),
        ("My daughter is {v}.", "My daughter turned {v} this year."),
        ("How old is my daughter?", "What age is my daughter?"),
        "Your daughter is {v}.",
    ),
)


def _fill(template: str, values: dict[str, str]) -> str:
    text = template.format(**values)
    return text[0].upper() + text[1:]


def _draw(relation: Relation, rng: random.Random) -> dict[str, str]:
    slots = {}
    for name, pool in zip(("v", "w"), relation.values, strict=False):
        slots[name] = rng.choice(pool)
    return slots


def rows(count: int, seed: int = 0) -> list[list[Message]]:
    """`count` conversations (system, user with the memory section, assistant's answer).

    Each row recalls the fact asked about and two to four facts of other kinds, in random
    order, as the engine's recall does. A third of the relations that can change are asked
    after an update: the prompt holds the update (the old fact superseded, so absent), or
    for a question about the past, the old fact marked past beside the new one.
    """
    rng = random.Random(seed)
    out: list[list[Message]] = []
    while len(out) < count:
        relation = rng.choice(RELATIONS)
        slots = _draw(relation, rng)
        others = [r for r in rng.sample(RELATIONS, 6) if r is not relation][: rng.randint(2, 4)]
        facts = [_fill(rng.choice(r.say), _draw(r, rng)) for r in others]
        question = _fill(rng.choice(relation.ask), slots)
        answer = _fill(relation.answer, slots)
        if relation.update and rng.random() < 0.45:
            old = dict(slots)
            pool = relation.values[0]
            while old["v"] == slots["v"]:
                old["v"] = rng.choice(pool)
            slots_now = {**slots, "old": old["v"]}
            facts.append(_fill(rng.choice(relation.update), slots_now))
            if relation.past_ask and rng.random() < 0.3:
                facts.append(f"{PAST_MARK} {_fill(rng.choice(relation.say), old)}")
                question = _fill(rng.choice(relation.past_ask), slots_now)
                answer = _fill(relation.past_answer, slots_now)
        else:
            facts.append(_fill(rng.choice(relation.say), slots))
        rng.shuffle(facts)
        user: list[Message] = [{"role": "user", "content": question}]
        messages = build_messages(user, [], rag=False, memories=facts)
        out.append([*messages, {"role": "assistant", "content": answer}])
    return out


def write(path: Path, count: int = 600, seed: int = 0) -> Path:
    """`rows(count, seed)` as the chat JSONL `outweigh adapter train` reads."""
    with path.open("w", encoding="utf-8") as f:
        for row in rows(count, seed):
            f.write(json.dumps({"messages": row}, ensure_ascii=False) + "\n")
    return path


if __name__ == "__main__":  # python -m outweigh.adapters.memory_rows OUT.jsonl [COUNT]
    import sys

    out = write(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 600)
    print(out)
