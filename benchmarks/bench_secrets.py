"""The secret filter of memory: what it costs per message, and what it flags that is no secret.

Run: `.venv/bin/python benchmarks/bench_secrets.py [--repeats 5]`

Every chat message of a user with memory goes through `withhold_secrets` before its turn is
stored, so its cost is paid per message. Measured, median of `--repeats` runs:
1. ms per message on ordinary chat text: the statements and questions of the memory suite
   (`examples/suite-memory`) and the questions of the retrieval suites;
2. ms per message on messages holding a secret (the kinds the adversarial round found);
3. the ordinary messages it flags, listed, to be read (the memory suite states a PIN and a
   password hint on purpose; a false alarm costs a word of the turn log, never a memory the
   user asked for), and which of the adversarial round's secrets it misses.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from outweigh.memory.secrets import is_secret, withhold_secrets

ROOT = Path(__file__).resolve().parents[1]

SECRETS = [
    "My GitHub token is ghp_4kQ9xZ2mV7pL1cR8tY3nB6wE0sD5fH2jK9aG",
    "I use the token ghp_4kQ9xZ2mV7pL1cR8tY3nB6wE0sD5fH2jK9aG for github",
    "My AWS secret is wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "my wifi key is CorrectHorse99",
    "my online banking pw is Secret123",
    "my passw0rd is hunter3",
    "My 2FA backup code is 884-221",
    "Мой пароль qwerty777",
    "Мой пин-код от карты 4821, не забудь",
    "the door code is 5512 and I live in Lisbon",
]


def ordinary() -> list[str]:
    """Ordinary chat text of the project's own suites: none of it is a secret."""
    texts: list[str] = []
    memory = ROOT / "examples" / "suite-memory" / "memory.jsonl"
    for line in memory.read_text(encoding="utf-8").splitlines():
        row = json.loads(line) if line.strip() else {}
        texts += [row[k] for k in ("say", "ask", "question") if isinstance(row.get(k), str)]
    for suite in ("suite", "suite-ru", "suite-log", "suite-info", "suite-readme"):
        path = ROOT / "examples" / suite / "questions.jsonl"
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    texts.append(json.loads(line)["question"])
    return list(dict.fromkeys(texts))


def cost_ms(texts: list[str], repeats: int) -> float:
    """Median over `repeats` runs of the mean ms per message."""
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for t in texts:
            withhold_secrets(t)
        runs.append((time.perf_counter() - start) * 1000 / len(texts))
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    start = time.perf_counter()
    is_secret("warm up")  # detect-secrets' plugins load on the first message
    setup = (time.perf_counter() - start) * 1000
    texts = ordinary()
    flagged = [t for t in texts if is_secret(t)]
    missed = [s for s in SECRETS if not is_secret(s)]
    print(f"setup on the first message: {setup:.0f} ms")
    print(f"ordinary messages: {len(texts)}, {cost_ms(texts, args.repeats):.3f} ms each (median)")
    print(f"messages with a secret: {len(SECRETS)}, {cost_ms(SECRETS, args.repeats):.3f} ms each")
    print(f"ordinary messages flagged: {len(flagged)}/{len(texts)}")
    for t in flagged:
        print(f"  flagged: {t[:100]!r} -> {withhold_secrets(t)[:100]!r}")
    print(f"secrets missed: {len(missed)}/{len(SECRETS)}")
    for s in missed:
        print(f"  missed: {s!r}")


if __name__ == "__main__":
    main()
