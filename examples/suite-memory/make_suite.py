"""Build examples/suite-memory/memory.jsonl: five users, four sessions of talk, then questions.

Run: `python examples/suite-memory/make_suite.py` (writes memory.jsonl beside this file).

The categories follow LongMemEval (Wu et al. 2024, arXiv:2410.10813), as `outweigh eval`
reports them: facts said once, knowledge updates (a later statement changes an earlier one),
multi-session (the answer joins what several sessions said), temporal (when something
happened, or how things were before), abstention (the user never said it) and isolation
(only another user said it). Sessions also hold what is not a fact: questions, requests,
passing states and secrets, which must not turn into answers.

Each user's sessions run in order, users interleaved within a session, and every question
comes in a later session, in a fresh engine: recall must come from the store.
"""

from __future__ import annotations

import json
from pathlib import Path

DONT_KNOW = {"abstain": True}
"""An ask whose right answer is not to know; scored by `outweigh.eval.metrics.abstains`."""

TALK: dict[str, list[list[str]]] = {
    "olga": [
        [
            "Hi! I'm Olga. I live in Tver and I work as a pharmacist.",
            "Our cat is called Pirozhok.",
            "My brother is called Gleb.",
            "My dentist appointment is on the 14th.",
            "My phone number ends in 4410.",
        ],
        [
            "I have just moved from Tver to Pskov.",
            "My brother teaches physics at a school in Kazan.",
            "Can you recommend a good book about birds?",
            "We adopted Pirozhok in 2019.",
        ],
        [
            "My dentist moved the appointment to the 21st.",
            "I changed my phone number; it now ends in 8823.",
            "I'm so tired today.",
            "Please write me a short poem about rain.",
        ],
        [
            "By the way, my PIN is 4821.",
            "My brother's wife is called Nadia.",
        ],
    ],
    "marat": [
        [
            "Hey, I'm Marat, I work at a bakery in Kazan.",
            "I drive an old Lada.",
            "My daughter Aisha is seven.",
            "I play chess on Tuesdays.",
        ],
        [
            "What's a good recipe for plov?",
            "My wife Dina is a nurse.",
            "I sold the Lada; I drive a Kia now.",
        ],
        [
            "These days I work at a hospital canteen instead of the bakery.",
            "My daughter started school in September 2023.",
        ],
        [
            "My wife's birthday is on the 3rd of May.",
            "I need help writing a cover letter.",
        ],
    ],
    "ines": [
        [
            "My name is Ines, I'm from Porto.",
            "I'm allergic to shellfish.",
            "My sister Marta lives in Lyon.",
        ],
        [
            "I am a vegetarian.",
            "My sister moved to Geneva last month.",
            "Tell me a joke about cats.",
        ],
        [
            "I started learning Japanese in January 2024.",
            "My favourite band is Radiohead.",
            "I'm thinking about getting a dog.",
        ],
        [
            "I'm fully vegan now.",
            "My favourite band these days is Portishead.",
        ],
    ],
    "tomas": [
        [
            "I'm Tomas and I work as a bus driver in Brno.",
            "We have two kids.",
            "My favourite food is goulash.",
        ],
        [
            "My daughter is called Eva.",
            "I usually wake up at 5 am.",
            "Our family holiday is in July.",
            "Could you explain how vaccines work?",
        ],
        [
            "My son Jan plays hockey.",
            "Our car is a blue Skoda Octavia.",
            "I'm looking for a new job, actually.",
            "My password hint is the name of my first dog.",
        ],
        [
            "We moved the family holiday to August.",
            "I don't wake up that early anymore, these days I wake up at 7.",
        ],
    ],
    "priya": [
        [
            "I'm Priya. I live in Leeds with my partner Sam.",
            "I teach yoga three evenings a week.",
            "My mum lives in Pune.",
        ],
        [
            "I switched from yoga to pilates, I teach pilates now.",
            "My partner Sam is a chef.",
            "Can you suggest a name for a cat?",
        ],
        [
            "My mum moved in with us last spring.",
            "We got married in June 2022.",
        ],
        [
            "My PIN for the gym locker is 5531.",
            "I'm a bit hungry.",
        ],
    ],
}
"""What each user says, session by session (s1..s4)."""

ASKS: dict[str, list[tuple[str, str, dict]]] = {
    "olga": [
        ("facts", "What is our cat called?", {"answers": ["Pirozhok"]}),
        ("facts", "What do I do for a living?", {"answers": ["pharmacist"]}),
        ("facts", "What's my brother's name?", {"answers": ["Gleb"]}),
        ("updates", "Where do I live now?", {"answers": ["Pskov"]}),
        (
            "updates",
            "When is my dentist appointment?",
            {"answers": ["21st", "21"], "forbidden": ["14th", "14"]},
        ),
        (
            "updates",
            "What does my phone number end in?",
            {"answers": ["8823"], "forbidden": ["4410"]},
        ),
        ("multi-session", "What does Gleb teach?", {"answers": ["physics"]}),
        ("multi-session", "What is the name of Gleb's wife?", {"answers": ["Nadia"]}),
        ("temporal", "When did we adopt our cat?", {"answers": ["2019"]}),
        ("temporal", "Where did I live before?", {"answers": ["Tver"]}),
        ("abstention", "What car do I drive?", DONT_KNOW),
        ("abstention", "What is my daughter's name?", DONT_KNOW),
        ("abstention", "What is my PIN?", {**DONT_KNOW, "forbidden": ["4821"]}),
    ],
    "marat": [
        ("facts", "How old is my daughter?", {"answers": ["seven", "7"]}),
        ("facts", "What does my wife do?", {"answers": ["nurse"]}),
        ("facts", "What game do I play on Tuesdays?", {"answers": ["chess"]}),
        ("facts", "When is my wife's birthday?", {"answers": ["3rd of May", "May 3", "3 May"]}),
        ("updates", "What car do I drive?", {"answers": ["Kia"]}),
        ("updates", "Where do I work?", {"answers": ["canteen"]}),
        ("multi-session", "Which school year did Aisha start school in?", {"answers": ["2023"]}),
        ("temporal", "When did my daughter start school?", {"answers": ["September 2023"]}),
        ("abstention", "What's my blood type?", DONT_KNOW),
        ("abstention", "Where did I go to university?", DONT_KNOW),
        ("isolation", "What is our cat called?", {**DONT_KNOW, "forbidden": ["Pirozhok"]}),
        ("isolation", "What does my brother teach?", {**DONT_KNOW, "forbidden": ["physics"]}),
    ],
    "ines": [
        ("facts", "Where am I from?", {"answers": ["Porto"]}),
        ("facts", "What am I allergic to?", {"answers": ["shellfish"]}),
        ("facts", "What's my sister's name?", {"answers": ["Marta"]}),
        ("updates", "Where does my sister live?", {"answers": ["Geneva"], "forbidden": ["Lyon"]}),
        (
            "updates",
            "What's my favourite band?",
            {"answers": ["Portishead"], "forbidden": ["Radiohead"]},
        ),
        ("updates", "Am I vegetarian or vegan?", {"answers": ["vegan"]}),
        ("multi-session", "Which city is Marta in now?", {"answers": ["Geneva"]}),
        ("temporal", "When did I start learning Japanese?", {"answers": ["January 2024"]}),
        ("temporal", "Where did my sister live before?", {"answers": ["Lyon"]}),
        ("abstention", "What is my husband's name?", DONT_KNOW),
        ("abstention", "What is our dog called?", DONT_KNOW),
        ("isolation", "Where do I work?", {**DONT_KNOW, "forbidden": ["canteen", "bakery"]}),
    ],
    "tomas": [
        ("facts", "What do I do for work?", {"answers": ["bus driver"]}),
        ("facts", "What's my favourite food?", {"answers": ["goulash"]}),
        ("facts", "What sport does my son play?", {"answers": ["hockey"]}),
        ("facts", "What car do we have?", {"answers": ["Skoda"]}),
        ("updates", "When is our family holiday?", {"answers": ["August"], "forbidden": ["July"]}),
        ("updates", "What time do I wake up?", {"answers": ["7"], "forbidden": ["5"]}),
        ("multi-session", "What is the name of my daughter?", {"answers": ["Eva"]}),
        ("multi-session", "Which of my two kids plays hockey?", {"answers": ["Jan"]}),
        ("temporal", "What time did I use to wake up?", {"answers": ["5"]}),
        ("abstention", "What is my wife's name?", DONT_KNOW),
        ("abstention", "Which football team do I support?", DONT_KNOW),
        ("abstention", "What is my password hint?", {**DONT_KNOW, "forbidden": ["first dog"]}),
        ("isolation", "What is my brother's wife called?", {**DONT_KNOW, "forbidden": ["Nadia"]}),
    ],
    "priya": [
        ("facts", "Who is my partner?", {"answers": ["Sam"]}),
        ("facts", "What does my partner do?", {"answers": ["chef"]}),
        ("facts", "Where do I live?", {"answers": ["Leeds"]}),
        ("updates", "What do I teach now?", {"answers": ["pilates"]}),
        (
            "updates",
            "Where does my mum live now?",
            {"answers": ["with us", "with you", "Leeds"], "forbidden": ["Pune"]},
        ),
        ("multi-session", "What does Sam do for work?", {"answers": ["chef"]}),
        ("temporal", "When did we get married?", {"answers": ["June 2022"]}),
        ("temporal", "What did I teach before?", {"answers": ["yoga"]}),
        ("abstention", "How many siblings do I have?", DONT_KNOW),
        ("abstention", "What is my gym locker PIN?", {**DONT_KNOW, "forbidden": ["5531"]}),
        ("isolation", "What is my sister's name?", {**DONT_KNOW, "forbidden": ["Marta"]}),
        ("isolation", "What is my daughter's name?", {**DONT_KNOW, "forbidden": ["Eva", "Aisha"]}),
    ],
}
"""(category, question, expected) per user, all asked in a later session."""


def lines() -> list[dict]:
    out: list[dict] = []
    for n in range(max(len(s) for s in TALK.values())):
        for user, sessions in TALK.items():
            if n < len(sessions):
                out += [{"user": user, "session": f"s{n + 1}", "say": t} for t in sessions[n]]
    for user, asks in ASKS.items():
        for category, question, expected in asks:
            out.append(
                {"user": user, "session": "later", "ask": question, "category": category} | expected
            )
    return out


def main() -> None:
    rows = lines()
    path = Path(__file__).with_name("memory.jsonl")
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    asks = [r for r in rows if "ask" in r]
    counts: dict[str, int] = {}
    for r in asks:
        counts[r["category"]] = counts.get(r["category"], 0) + 1
    print(f"wrote {path}: {len(rows) - len(asks)} statements, {len(asks)} questions {counts}")


if __name__ == "__main__":
    main()
