"""`outweigh eval --resume FILE`: every finished answer on disk as it is scored, so a run killed
mid-way (a dropped connection to a remote model, a reboot) goes on where it stopped.

The file is JSON lines: a header naming the run (suite, configs, options, a digest of the
prompts), then one line per scored facts or style answer, and one line per config's whole
memory replay (its steps depend on what earlier ones stored, so it is redone whole or kept
whole), and one line per `--judge` reply (the raw reply: parsing it again gives the
verdict). Each line is written, flushed and fsynced before the run goes on; a torn last line
(the process died mid-write) is dropped on reading. A resumed run takes the recorded answers
as they are and answers only the rest, so its JSON equals an uninterrupted run's but for
wall-clock fields (each answer's `seconds`, latency, throughput, peak memory, the run's
`seconds`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from outweigh.errors import InputError
from outweigh.eval.results import EvalOptions, Record
from outweigh.eval.suite import Suite

VERSION = 2
"""Bumped when a line's shape changes; a journal of another version is refused. 2: records
keep the cited passages' text, and `--judge` replies are journaled."""


def header(suite: Suite, configs: list[str], options: EvalOptions, run_id: str) -> dict[str, Any]:
    """What makes two runs the same run: resuming with other configs, options or prompts
    would mix answers to different questions."""
    prompts = [q.question for q in suite.questions] + [c.prompt for c in suite.style]
    prompts += [s.text for s in suite.memory]
    digest = hashlib.sha256("\n".join(prompts).encode("utf-8")).hexdigest()[:16]
    return {
        "outweigh_eval_journal": VERSION,
        "suite": suite.name,
        "prompts": digest,
        "configs": configs,
        "options": dataclasses.asdict(options),
        "run": run_id,
    }


class Journal:
    """An open `--resume` file: what earlier tries finished, and the appender for this one."""

    def __init__(self, path: Path, head: dict[str, Any]) -> None:
        """Open `path`, creating it with `head` when it is new or empty; an existing one must
        have been written for the same run (all of `head` but the run id)."""
        self.path = path
        self.records: dict[tuple[str, str, int], Record] = {}
        self.memories: dict[str, list[Record]] = {}
        self.verdicts: dict[tuple[str, int, str], str] = {}
        """(config, line, aspect) -> the judge's raw reply (`outweigh.eval.judge`)."""
        self.previous_run: str | None = None
        """The run id of the try that wrote the file, whose leftovers the runner removes."""
        good = 0
        if path.exists() and path.stat().st_size > 0:
            good = self._read(head)
        self._file = path.open("r+b" if path.exists() else "wb")
        self._file.truncate(good)  # a torn last line goes: it was never acknowledged
        self._file.seek(good)
        if good == 0:
            self._append({**head})

    def _read(self, head: dict[str, Any]) -> int:
        """Load the finished answers; the byte offset after the last whole line."""
        data = self.path.read_bytes()
        offset = 0
        for n, raw in enumerate(data.splitlines(keepends=True)):
            if not raw.endswith(b"\n"):
                break
            try:
                row = json.loads(raw)
            except ValueError:
                raise InputError(
                    f"--resume {self.path}: line {n + 1} is not JSON; it is not an eval journal"
                ) from None
            if n == 0:
                self._check(row, head)
            elif "record" in row:
                r = Record(**row["record"])
                self.records[(r.config, r.part, r.line)] = r
            elif "memory" in row:
                self.memories[row["memory"]] = [Record(**d) for d in row["records"]]
            elif "verdict" in row:
                v = row["verdict"]
                self.verdicts[(v["config"], v["line"], v["aspect"])] = v["reply"]
            offset += len(raw)
        return offset

    def _check(self, row: Any, head: dict[str, Any]) -> None:
        if not isinstance(row, dict) or row.get("outweigh_eval_journal") != VERSION:
            raise InputError(
                f"--resume {self.path} is not an eval journal of this outweigh; give a new file"
            )
        for key in ("suite", "prompts", "configs", "options"):
            if row.get(key) != head[key]:
                raise InputError(
                    f"--resume {self.path} was written by a run with other {key}; rerun with "
                    "the same suite, --config and options, or give a new file"
                )
        self.previous_run = row.get("run")

    def get(self, config: str, part: str, line: int) -> Record | None:
        return self.records.get((config, part, line))

    def add(self, record: Record) -> None:
        self._append({"record": record.to_dict()})

    def add_memory(self, config: str, records: list[Record]) -> None:
        self._append({"memory": config, "records": [r.to_dict() for r in records]})

    def add_verdict(self, config: str, line: int, aspect: str, reply: str) -> None:
        self._append(
            {"verdict": {"config": config, "line": line, "aspect": aspect, "reply": reply}}
        )

    def _append(self, row: dict[str, Any]) -> None:
        self._file.write((json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8"))
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()
