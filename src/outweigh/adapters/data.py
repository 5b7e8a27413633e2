"""Training data: JSONL rows -> token ids whose loss is masked to the assistant's tokens.

Each line is either a chat `{"messages": [{"role", "content"}, ...]}` with at least one
assistant turn, or `{"prompt": str, "completion": str}`. A prompt/completion row is wrapped in
the same prompt `outweigh ask --no-rag` builds (prompt.build_messages), so the adapter learns
on exactly what it will see at answer time.

The text is rendered with the backend's own `render` (the model's chat template, or the
Q/A transcript for base models). Only assistant tokens carry labels: the model learns to
answer, not to predict the user's questions or the template (the usual SFT recipe, e.g. TRL's
`assistant_only_loss`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from outweigh.errors import InputError
from outweigh.generate.base import Message
from outweigh.prompt import build_messages

if TYPE_CHECKING:
    import torch

    from outweigh.generate.local import LocalBackend

IGNORE = -100
"""Label that torch's cross_entropy skips (its default `ignore_index`)."""

ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class Example:
    """One tokenised conversation."""

    input_ids: list[int]
    """Prompt and answer tokens, as the model reads them."""
    labels: list[int]
    """`input_ids` on assistant tokens, IGNORE elsewhere."""
    truncated: bool = False
    """Whether the row was cut at `max_length` (its answer may have lost its end)."""


def read_rows(path: str | Path) -> list[list[Message]]:
    """Every row of a JSONL file as a conversation; bad lines are errors with their number."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise InputError(f"training data {p} is not a file")
    rows: list[list[Message]] = []
    with p.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as e:
                raise InputError(f"{p}:{n}: not valid JSON ({e.msg})") from None
            if isinstance(obj, dict) and "messages" in obj:
                rows.append(_messages(obj["messages"], p, n))
            elif isinstance(obj, dict) and "prompt" in obj and "completion" in obj:
                prompt, completion = obj["prompt"], obj["completion"]
                if not (_text(prompt) and _text(completion)):
                    raise InputError(
                        f"{p}:{n}: 'prompt' and 'completion' must be non-empty strings"
                    )
                user: list[Message] = [{"role": "user", "content": prompt}]
                rows.append([*build_messages(user, [], rag=False), _turn("assistant", completion)])
            else:
                shapes = '{"messages": [...]} or {"prompt": ..., "completion": ...}'
                raise InputError(f"{p}:{n}: expected {shapes}")
    if not rows:
        raise InputError(f"{p} has no examples; add JSONL lines of messages or prompt/completion")
    return rows


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _turn(role: str, content: str) -> Message:
    return {"role": role, "content": content}


def _messages(raw: Any, p: Path, n: int) -> list[Message]:
    if not isinstance(raw, list) or not raw:
        raise InputError(f"{p}:{n}: 'messages' must be a non-empty list")
    out: list[Message] = []
    for m in raw:
        if (
            not isinstance(m, dict)
            or m.get("role") not in ROLES
            or not isinstance(m.get("content"), str)
        ):
            raise InputError(
                f"{p}:{n}: each message needs a role ({', '.join(ROLES)}) and string content"
            )
        out.append(_turn(m["role"], m["content"]))
    if not any(m["role"] == "assistant" and m["content"].strip() for m in out):
        raise InputError(f"{p}:{n}: no assistant message to learn from")
    return out


def encode(messages: list[Message], backend: LocalBackend, max_length: int) -> Example:
    """Token ids and labels for one conversation, every assistant turn trained on.

    The text is cut into segments at turn boundaries (prompt up to each assistant turn, then
    the turn) and each segment is tokenised on its own, so labels line up with tokens exactly.
    A template whose renderings are not prefixes of each other (base models' Q/A transcript
    in multi-turn rows) trains on the last assistant turn only.
    """
    tok = backend.tokenizer
    segments = _segments(messages, backend)
    ids: list[int] = []
    labels: list[int] = []
    for text, trained in segments:
        piece = tok(text, add_special_tokens=False)["input_ids"]
        ids += piece
        labels += piece if trained else [IGNORE] * len(piece)
    truncated = len(ids) > max_length
    return Example(ids[:max_length], labels[:max_length], truncated)


def _segments(messages: list[Message], backend: LocalBackend) -> list[tuple[str, bool]]:
    turns = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
    out: list[tuple[str, bool]] = []
    done = ""
    for i in turns:
        prompt = backend.render(messages[:i])
        full = _render_through(messages[: i + 1], prompt, backend)
        if not (prompt.startswith(done) and full.startswith(prompt)):
            last = turns[-1]
            prompt = backend.render(messages[:last])
            full = _render_through(messages[: last + 1], prompt, backend)
            return [(prompt, False), (full[len(prompt) :], True)]
        out += [(prompt[len(done) :], False), (full[len(prompt) :], True)]
        done = full
    return out


def _render_through(messages: list[Message], prompt: str, backend: LocalBackend) -> str:
    """The text up to and including the last (assistant) message and its end-of-turn token."""
    tok = backend.tokenizer
    if backend.loaded.entry.chat and tok.chat_template:
        return str(tok.apply_chat_template(messages, tokenize=False))
    # Base models: the Q/A transcript `render` builds, closed by EOS so the model learns to stop.
    return f"{prompt} {messages[-1]['content']}{tok.eos_token or ''}"


def collate(batch: list[Example], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded (B, T) input_ids, attention_mask and labels."""
    import torch

    width = max(len(e.input_ids) for e in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for i, e in enumerate(batch):
        n = len(e.input_ids)
        ids[i, :n] = torch.tensor(e.input_ids)
        labels[i, :n] = torch.tensor(e.labels)
        mask[i, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}
