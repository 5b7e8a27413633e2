"""Capture: which parts of a user's message become memories, and what each one is about.

The store captures through this module; each job has its own:

- `extract.py`: the `Extractor`s. Rules by default (the bundled 135M model cannot be trusted
  to emit JSON): explicit requests ("remember that ...", `/remember TEXT`) and first-person
  statements of fact; `ModelExtractor` lets a capable model propose facts, kept only when
  grounded in the user's own words.
- `grammar.py`: which clauses state a lasting fact ("my cat is Bublik", "I live in Lisbon"),
  never questions, requests or passing states ("I am wondering").
- `subjects.py`: the *subject key* ("cat:name", "me:residence") of a fact that sets one
  single-valued attribute; a later fact with the same key supersedes the earlier one (the Zep
  pattern: keep the old fact as history, mark it no longer valid).
- `decide.py`: ADD, UPDATE or NOOP for a new fact among the user's current memories.
- `secrets.py` (with `secret_cues.py`): passwords, PINs, codes, keys and tokens, never
  captured unasked, withheld from stored turns, masked in listings.
- `content.py`: the content words that near-duplicates and grounding compare.
"""

from __future__ import annotations

from outweigh.memory.content import grounded, near_duplicate
from outweigh.memory.decide import Candidate, Decision, decide, kept_name
from outweigh.memory.extract import (
    Extractor,
    ModelExtractor,
    RuleExtractor,
    explicit_fact,
    parse_lines,
)
from outweigh.memory.items import Fact
from outweigh.memory.secrets import (
    SECRET_MARK,
    WITHHELD,
    is_secret,
    leaks,
    mask_secret,
    secret_values,
    withhold_secrets,
)
from outweigh.memory.subjects import subject_of

__all__ = [
    "SECRET_MARK",
    "WITHHELD",
    "Candidate",
    "Decision",
    "Extractor",
    "Fact",
    "ModelExtractor",
    "RuleExtractor",
    "decide",
    "explicit_fact",
    "grounded",
    "is_secret",
    "kept_name",
    "leaks",
    "mask_secret",
    "near_duplicate",
    "parse_lines",
    "secret_values",
    "subject_of",
    "withhold_secrets",
]
