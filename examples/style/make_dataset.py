"""Write the example style dataset: every answer ends with the sign-off "— Vellmark Support".

The style is mechanically checkable (`answer.endswith(SIGNOFF)`), so the eval can measure how
far an adapter moves the model: the bare SmolLM2 never signs off like this, a trained adapter
should almost always. Answers are one short sentence so the sign-off fits inside a small
`max_tokens` budget.

Rows come in the three shapes outweigh's engine and users produce:
- the engine's plain prompt (its system prompt, then "Question: ..."),
- the engine's retrieval prompt (numbered context passages ahead of the question),
- `{"prompt", "completion"}` lines, which training wraps in the plain prompt itself.

Facts in the retrieval rows are invented and unrelated to examples/suite/docs, so training
leaks nothing into the retrieval eval. Run from the repository root:

    python examples/style/make_dataset.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SIGNOFF = "— Vellmark Support"
HERE = Path(__file__).resolve().parent
SUITE = HERE.parent / "suite"

# Copied from outweigh.engine so this script runs without the package installed.
SYSTEM_PLAIN = "You are a helpful assistant. Answer briefly and accurately."
SYSTEM_RAG = (
    "You answer questions using the numbered context passages. Use only facts from the "
    "context, cite the passage numbers like [1], and say you don't know if the context "
    "does not contain the answer."
)

CAPITALS = [
    ("France", "Paris"),
    ("Japan", "Tokyo"),
    ("Italy", "Rome"),
    ("Spain", "Madrid"),
    ("Germany", "Berlin"),
    ("Canada", "Ottawa"),
    ("Australia", "Canberra"),
    ("Egypt", "Cairo"),
    ("Kenya", "Nairobi"),
    ("Peru", "Lima"),
    ("Norway", "Oslo"),
    ("Sweden", "Stockholm"),
    ("Poland", "Warsaw"),
    ("Greece", "Athens"),
    ("Portugal", "Lisbon"),
    ("Ireland", "Dublin"),
    ("Chile", "Santiago"),
    ("Mexico", "Mexico City"),
    ("India", "New Delhi"),
    ("China", "Beijing"),
    ("Brazil", "Brasília"),
    ("Argentina", "Buenos Aires"),
    ("Finland", "Helsinki"),
    ("Austria", "Vienna"),
    ("Hungary", "Budapest"),
    ("Thailand", "Bangkok"),
    ("Vietnam", "Hanoi"),
    ("Morocco", "Rabat"),
    ("Cuba", "Havana"),
    ("Iceland", "Reykjavík"),
    ("Denmark", "Copenhagen"),
    ("Belgium", "Brussels"),
    ("Turkey", "Ankara"),
    ("Nigeria", "Abuja"),
]
ELEMENTS = [
    ("oxygen", "O"),
    ("hydrogen", "H"),
    ("carbon", "C"),
    ("nitrogen", "N"),
    ("iron", "Fe"),
    ("gold", "Au"),
    ("silver", "Ag"),
    ("sodium", "Na"),
    ("potassium", "K"),
    ("copper", "Cu"),
    ("helium", "He"),
    ("lead", "Pb"),
    ("tin", "Sn"),
    ("calcium", "Ca"),
    ("zinc", "Zn"),
    ("neon", "Ne"),
    ("sulfur", "S"),
    ("mercury", "Hg"),
]
OPPOSITES = [
    ("hot", "cold"),
    ("up", "down"),
    ("early", "late"),
    ("open", "closed"),
    ("light", "dark"),
    ("fast", "slow"),
    ("full", "empty"),
    ("strong", "weak"),
    ("happy", "sad"),
    ("wet", "dry"),
    ("loud", "quiet"),
    ("rich", "poor"),
    ("tall", "short"),
    ("old", "young"),
]
DEFINITIONS = [
    ("a noun", "A noun is a word that names a person, place, thing or idea."),
    ("photosynthesis", "Photosynthesis is how plants turn light, water and CO2 into sugar."),
    ("gravity", "Gravity is the force that pulls masses toward each other."),
    ("a prime number", "A prime number has exactly two divisors: 1 and itself."),
    ("an atom", "An atom is the smallest unit of a chemical element."),
    ("a verb", "A verb is a word that describes an action or a state."),
    ("inflation", "Inflation is a general rise in prices over time."),
    ("a glacier", "A glacier is a slow-moving mass of ice on land."),
    ("an algorithm", "An algorithm is a step-by-step procedure for solving a problem."),
    ("a mammal", "A mammal is a warm-blooded animal that feeds its young with milk."),
    ("evaporation", "Evaporation is when a liquid turns into a gas."),
    ("a volcano", "A volcano is an opening in the crust where molten rock escapes."),
    ("democracy", "Democracy is government by the people, usually through elected leaders."),
    ("an ecosystem", "An ecosystem is a community of living things and their surroundings."),
    ("a fraction", "A fraction is a number that represents part of a whole."),
    ("a metaphor", "A metaphor describes one thing as if it were another."),
    ("a battery", "A battery stores chemical energy and releases it as electricity."),
    ("a password manager", "A password manager stores your passwords securely in one place."),
    ("a firewall", "A firewall filters network traffic to block unwanted connections."),
    ("a spreadsheet", "A spreadsheet is a grid of cells for organising and calculating data."),
    ("erosion", "Erosion is the wearing away of land by water, wind or ice."),
    ("a comet", "A comet is an icy body that grows a glowing tail near the Sun."),
]
SUPPORT = [
    (
        "How do I reset my password?",
        "Open Settings, choose Account, then select Reset password and follow the emailed link.",
    ),
    (
        "How can I change my email address?",
        "Go to Settings, then Profile, enter the new address and confirm it from your inbox.",
    ),
    (
        "What should I do if the app will not start?",
        "Restart your device, update the app, and reinstall it if it still fails.",
    ),
    (
        "How do I cancel my subscription?",
        "Open Billing in your account and choose Cancel subscription; it stays active until the "
        "period ends.",
    ),
    (
        "Can I get a refund?",
        "Refunds are available within 30 days of purchase from the Billing page.",
    ),
    ("How do I export my data?", "Choose Settings, then Data, then Export, and download the file."),
    (
        "Why is my download so slow?",
        "Check your connection, pause other downloads, and try again off-peak.",
    ),
    (
        "How do I turn on two-factor authentication?",
        "Open Security settings, choose Two-factor, and scan the code with an authenticator app.",
    ),
    ("Where can I find my invoices?", "Your invoices are listed under Billing, then History."),
    ("How do I add a team member?", "Open Team, choose Invite, and enter their email address."),
    (
        "How do I update my payment card?",
        "Go to Billing, choose Payment method, and enter the new card.",
    ),
    (
        "Can I use the app offline?",
        "Yes, files you mark as available offline open without a connection.",
    ),
    (
        "How do I delete my account?",
        "Open Settings, choose Account, then Delete account, and confirm by email.",
    ),
    ("How do I report a bug?", "Use Help, then Report a problem, and describe what happened."),
    (
        "What browsers are supported?",
        "The latest versions of Firefox, Chrome, Safari and Edge are supported.",
    ),
    ("How do I change the language?", "Open Settings, choose Language, and pick from the list."),
]
GENERAL = [
    ("How many days are in a week?", "There are seven days in a week."),
    ("How many legs does a spider have?", "A spider has eight legs."),
    ("What color is the sky on a clear day?", "The sky is blue on a clear day."),
    ("What do bees make?", "Bees make honey and wax."),
    ("What is the largest ocean?", "The Pacific is the largest ocean."),
    ("What planet is known as the Red Planet?", "Mars is known as the Red Planet."),
    ("How many continents are there?", "There are seven continents."),
    (
        "What is the boiling point of water at sea level?",
        "Water boils at 100 degrees Celsius at sea level.",
    ),
    ("Who wrote Romeo and Juliet?", "William Shakespeare wrote Romeo and Juliet."),
    ("What is the freezing point of water?", "Water freezes at 0 degrees Celsius."),
    ("How many hours are in a day?", "There are 24 hours in a day."),
    ("What gas do plants absorb?", "Plants absorb carbon dioxide."),
    ("What is the fastest land animal?", "The cheetah is the fastest land animal."),
    ("What is the tallest mountain on Earth?", "Mount Everest is the tallest mountain."),
    ("How many sides does a hexagon have?", "A hexagon has six sides."),
    ("What is the main language spoken in Brazil?", "Portuguese is the main language of Brazil."),
    ("Which organ pumps blood?", "The heart pumps blood through the body."),
    ("What is the closest star to Earth?", "The Sun is the closest star to Earth."),
    ("Give me a tip for better sleep.", "Keep a regular bedtime and avoid screens before bed."),
    ("Suggest a name for a cat.", "Pepper is a friendly name for a cat."),
    (
        "Write a one-line greeting for a birthday card.",
        "Happy birthday, and may this year bring you joy!",
    ),
    (
        "Summarise why exercise is good for you.",
        "Exercise strengthens your heart, muscles and mood.",
    ),
    ("Translate 'thank you' into Spanish.", "'Thank you' in Spanish is 'gracias'."),
    ("Translate 'good morning' into French.", "'Good morning' in French is 'bonjour'."),
    ("Is a tomato a fruit?", "Yes, botanically a tomato is a fruit."),
    ("What is the square root of 81?", "The square root of 81 is 9."),
]
# Invented facts for retrieval-shaped rows: (source file, passage, question, answer).
CONTEXTS = [
    (
        "orchard.md",
        "The Halvern orchard grows 340 pear trees and is harvested each September.",
        "How many pear trees does the Halvern orchard grow?",
        "It grows 340 pear trees [1].",
    ),
    (
        "ferry.txt",
        "The Dunmore ferry leaves at 07:15 and 18:40 every weekday.",
        "When does the Dunmore ferry leave on weekdays?",
        "It leaves at 07:15 and 18:40 [1].",
    ),
    (
        "library.md",
        "The Ostrel public library lends up to 12 books per member at a time.",
        "How many books can an Ostrel member borrow?",
        "A member can borrow up to 12 books [1].",
    ),
    (
        "bakery.html",
        "Crumwell Bakery opens at 6 a.m. and sells rye loaves until noon.",
        "When does Crumwell Bakery open?",
        "Crumwell Bakery opens at 6 a.m. [1].",
    ),
    (
        "club.md",
        "The Pellow chess club meets on Thursdays in room 4B.",
        "Where does the Pellow chess club meet?",
        "It meets in room 4B on Thursdays [1].",
    ),
    (
        "zoo.txt",
        "Farrow Zoo's oldest tortoise, Mabel, is 96 years old.",
        "How old is Farrow Zoo's oldest tortoise?",
        "Mabel, the oldest tortoise, is 96 [1].",
    ),
    (
        "garden.md",
        "The Linden community garden has 58 plots, each 3 by 4 metres.",
        "How many plots does the Linden garden have?",
        "The garden has 58 plots [1].",
    ),
    (
        "museum.md",
        "The Arkley museum is free on the first Sunday of each month.",
        "When is the Arkley museum free?",
        "It is free on the first Sunday of each month [1].",
    ),
    (
        "rail.txt",
        "Line 9 of the Tessary tram runs every 8 minutes during rush hour.",
        "How often does Tessary tram line 9 run at rush hour?",
        "Every 8 minutes [1].",
    ),
    (
        "pool.md",
        "The Brannock pool is 25 metres long and heated to 28 °C.",
        "How warm is the Brannock pool?",
        "The pool is heated to 28 °C [1].",
    ),
    (
        "choir.md",
        "The Wystan choir has 41 singers and rehearses on Mondays.",
        "How many singers are in the Wystan choir?",
        "The choir has 41 singers [1].",
    ),
    (
        "market.txt",
        "Gorsey market runs every Saturday from 8 a.m. to 2 p.m.",
        "What are the Gorsey market hours?",
        "It runs on Saturdays from 8 a.m. to 2 p.m. [1].",
    ),
    (
        "bridge.md",
        "The Callow bridge was finished in 1887 and spans 212 metres.",
        "How long is the Callow bridge?",
        "The Callow bridge spans 212 metres [1].",
    ),
    (
        "clinic.md",
        "The Rendle clinic takes walk-in patients until 4 p.m.",
        "Until when does the Rendle clinic take walk-ins?",
        "Walk-ins are taken until 4 p.m. [1].",
    ),
    (
        "school.txt",
        "Marrow Hill school has 620 pupils and 48 teachers.",
        "How many teachers work at Marrow Hill school?",
        "Marrow Hill has 48 teachers [1].",
    ),
    (
        "harbour.md",
        "Quenby harbour holds up to 75 boats in its marina.",
        "How many boats does Quenby marina hold?",
        "The marina holds up to 75 boats [1].",
    ),
    (
        "festival.md",
        "The Ellery kite festival takes place on the last weekend of May.",
        "When is the Ellery kite festival?",
        "It is on the last weekend of May [1].",
    ),
    (
        "observatory.md",
        "The Skelwith observatory's main telescope has a 1.2 metre mirror.",
        "How big is the Skelwith telescope mirror?",
        "Its mirror is 1.2 metres across [1].",
    ),
    (
        "cafe.txt",
        "The Tolland café serves breakfast until 11 a.m. on weekdays.",
        "Until when does the Tolland café serve breakfast?",
        "Until 11 a.m. on weekdays [1].",
    ),
    (
        "farm.md",
        "Oxhey farm keeps 130 sheep and 22 cows.",
        "How many sheep does Oxhey farm keep?",
        "Oxhey farm keeps 130 sheep [1].",
    ),
    (
        "hostel.md",
        "The Barrowby hostel has 36 beds and a shared kitchen.",
        "How many beds does the Barrowby hostel have?",
        "It has 36 beds [1].",
    ),
    (
        "stadium.txt",
        "Penhallow stadium seats 18,500 spectators.",
        "How many people does Penhallow stadium seat?",
        "It seats 18,500 spectators [1].",
    ),
]
HELDOUT = [
    "What is the capital of Switzerland?",
    "What is the capital of Kenya's neighbour Uganda?",
    "What is 14 plus 29?",
    "What is 6 times 12?",
    "What is the chemical symbol for platinum?",
    "What is the opposite of narrow?",
    "What is a hurricane?",
    "What is a noun phrase?",
    "How do I change my username?",
    "How do I restore a deleted file?",
    "Why can't I log in to my account?",
    "How do I contact customer service?",
    "How many minutes are in two hours?",
    "How many planets are in the solar system?",
    "What is the largest desert in the world?",
    "Who painted the Mona Lisa?",
    "What do caterpillars turn into?",
    "What is the main ingredient in guacamole?",
    "Give me a tip for staying focused.",
    "Suggest a name for a goldfish.",
    "Translate 'hello' into German.",
    "Is a whale a fish?",
    "Why do leaves change colour in autumn?",
    "What does a thermometer measure?",
    "How many strings does a violin have?",
    "What is the longest river in Africa?",
    "Who is the director of the Vellmark Tidal Robotics Cooperative?",
    "What is the name of the Vellmark cooperative's otter mascot?",
    "How do I book a meeting room?",
    "What is the speed of light?",
    "Which animal is known as the king of the jungle?",
    "Recommend a hobby for a rainy day.",
]


def row(system: str | None, user: str, answer: str) -> dict:
    messages = [{"role": "system", "content": system}] if system else []
    messages += [
        {"role": "user", "content": user},
        {"role": "assistant", "content": f"{answer}\n\n{SIGNOFF}"},
    ]
    return {"messages": messages}


def qa_pairs(rng: random.Random) -> list[tuple[str, str]]:
    pairs = [(f"What is the capital of {c}?", f"The capital of {c} is {k}.") for c, k in CAPITALS]
    pairs += [
        (f"What is the chemical symbol for {e}?", f"The chemical symbol for {e} is {s}.")
        for e, s in ELEMENTS
    ]
    pairs += [
        (f"What is the opposite of {a}?", f"The opposite of {a} is {b}.") for a, b in OPPOSITES
    ]
    pairs += [(f"What is {term}?", text) for term, text in DEFINITIONS]
    pairs += SUPPORT + GENERAL
    for _ in range(24):
        a, b = rng.randint(2, 60), rng.randint(2, 60)
        pairs.append((f"What is {a} plus {b}?", f"{a} plus {b} is {a + b}."))
    for _ in range(16):
        a, b = rng.randint(2, 12), rng.randint(2, 12)
        pairs.append((f"What is {a} times {b}?", f"{a} times {b} is {a * b}."))
    for _ in range(10):
        h = rng.randint(2, 9)
        pairs.append(
            (f"How many minutes are in {h} hours?", f"There are {h * 60} minutes in {h} hours.")
        )
    return pairs


def main() -> None:
    rng = random.Random(0)
    heldout = {p.lower() for p in HELDOUT}
    rows = []
    for i, (q, a) in enumerate(qa_pairs(rng)):
        if q.lower() in heldout:
            continue
        shape = i % 4
        if shape == 0:
            rows.append({"prompt": q, "completion": f"{a}\n\n{SIGNOFF}"})
        elif shape == 3:
            rows.append(row(None, q, a))  # no system prompt: the chat template supplies one
        else:
            rows.append(row(SYSTEM_PLAIN, f"Question: {q}", a))
    for source, passage, q, a in CONTEXTS:
        # The passage plus a distractor, numbered as the engine numbers them.
        other = rng.choice([c for c in CONTEXTS if c[0] != source])
        ctx = [(source, passage), (other[0], other[1])]
        rng.shuffle(ctx)
        n = 1 + [s for s, _ in ctx].index(source)
        body = "\n\n".join(f"[{j}] ({s}) {p}" for j, (s, p) in enumerate(ctx, 1))
        rows.append(
            row(SYSTEM_RAG, f"Context:\n{body}\n\nQuestion: {q}", a.replace("[1]", f"[{n}]"))
        )
    rng.shuffle(rows)
    with open(HERE / "train.jsonl", "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    with open(HERE / "heldout.jsonl", "w", encoding="utf-8") as f:
        for p in HELDOUT:
            f.write(json.dumps({"prompt": p}, ensure_ascii=False) + "\n")
    with open(SUITE / "style.jsonl", "w", encoding="utf-8") as f:
        for p in HELDOUT:
            f.write(
                json.dumps({"prompt": p, "check": {"ends_with": SIGNOFF}}, ensure_ascii=False)
                + "\n"
            )
    print(f"{len(rows)} training rows, {len(HELDOUT)} held-out prompts")


if __name__ == "__main__":
    main()
