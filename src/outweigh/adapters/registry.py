"""The adapter registry: names -> PEFT directories under `OUTWEIGH_HOME/adapters/NAME/`.

Adapters are addressed by name only, never by a path a client supplies (vLLM's own warning
about `--lora-modules`). A row in the `adapters` table of `outweigh.db` is what makes a name
registered; its directory is moved into place first, so a crash leaves at worst an orphan
directory (reused on the next add of that name), never a row without its files.

Names are plain identifiers, so `adapters/NAME` can never escape the adapters directory; a
weighted mix `a:0.7,b:0.3` is a request-time spec over registered names (`parse_spec`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import shutil
import sqlite3
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from outweigh.adapters.gguf import GGUF_FILE, llamacpp_version
from outweigh.adapters.validate import (
    CONFIG,
    WEIGHTS,
    base_matches,
    check_against_base,
    check_files,
    read_config,
    read_header,
)
from outweigh.db import connect, migrate, transaction
from outweigh.errors import InputError, ModelLoadError, NotFoundError, echo
from outweigh.generate.lora import spell_mix
from outweigh.names import check_adapter_name
from outweigh.settings import DEFAULT_MODEL, Paths

MIGRATIONS = [
    """
    CREATE TABLE adapters (
      name TEXT PRIMARY KEY,
      base_model TEXT NOT NULL,               -- outweigh model name (catalog name, dir or hub id)
      base_model_name_or_path TEXT NOT NULL,  -- what adapter_config.json records
      rank INTEGER NOT NULL,
      alpha REAL NOT NULL,
      targets TEXT NOT NULL,                  -- JSON list of module names
      size_bytes INTEGER NOT NULL,
      sha256 TEXT NOT NULL,                   -- of adapter_model.safetensors
      source TEXT NOT NULL,                   -- 'trained', 'added' or 'bundled'
      metrics TEXT NOT NULL DEFAULT '{}',     -- JSON: losses, steps, seconds of training
      created TEXT NOT NULL
    );
    """,
]

log = logging.getLogger("outweigh")

MAX_MIX_WEIGHT = 10.0
"""|weight| cap in a mix: past a few times an adapter's trained strength the output is noise."""


@dataclass(frozen=True)
class AdapterInfo:
    """One registered adapter, as `outweigh adapter show` prints it."""

    name: str
    """The name requests use (`--adapter NAME`, the server's `model`)."""
    base_model: str
    """outweigh's name for the base model, e.g. `smollm2-135m`."""
    base_model_name_or_path: str
    """The base as PEFT recorded it, e.g. `HuggingFaceTB/SmolLM2-135M-Instruct`."""
    rank: int
    """LoRA rank r."""
    alpha: float
    """LoRA alpha; updates are scaled by alpha / rank."""
    targets: list[str]
    """Wrapped module names, e.g. q_proj, v_proj."""
    size_bytes: int
    """Size of adapter_model.safetensors."""
    created: str
    """When it was registered, ISO 8601 UTC."""
    sha256: str
    """Hash of the weights; a changed hash makes loaded copies reload."""
    source: str = "added"
    """`trained` (by `outweigh adapter train`), `added` (imported), or `bundled` (a reader
    that ships with outweigh, registered on first use and replaced when a release changes it)."""
    metrics: dict[str, float] = field(default_factory=dict)
    """Training figures: train_loss, val_loss, steps, seconds, examples."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "base_model": self.base_model,
            "base_model_name_or_path": self.base_model_name_or_path,
            "rank": self.rank,
            "alpha": self.alpha,
            "targets": list(self.targets),
            "size_bytes": self.size_bytes,
            "created": self.created,
            "sha256": self.sha256,
            "source": self.source,
            "metrics": dict(self.metrics),
        }


class AdapterRegistry:
    """Registered adapters of one state directory."""

    def __init__(self, paths: Paths | None = None, conn: sqlite3.Connection | None = None):
        self.paths = paths or Paths()
        self.conn = conn or connect(self.paths.db)
        migrate(self.conn, "adapters", MIGRATIONS)

    def close(self) -> None:
        self.conn.close()

    # -- reading --------------------------------------------------------------------------
    def list(self) -> list[AdapterInfo]:
        rows = self.conn.execute("SELECT * FROM adapters ORDER BY name").fetchall()
        return [_info(r) for r in rows]

    def names(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT name FROM adapters ORDER BY name")]

    def get(self, name: str) -> AdapterInfo:
        """A registered adapter, or a one-line error naming the registered ones."""
        row = self.conn.execute("SELECT * FROM adapters WHERE name = ?", (name,)).fetchone()
        if row is None:
            names = ", ".join(self.names()) or "none yet; see outweigh adapter train / add"
            raise NotFoundError(f"unknown adapter {echo(name)}; registered: {names}")
        return _info(row)

    def path(self, name: str) -> Path:
        """The PEFT directory of a registered adapter."""
        return self._dir(self.get(name).name)

    def gguf(self, name: str) -> Path:
        """The adapter's llama.cpp (GGUF) form: written at registration where llama-cpp-python
        is installed, converted now for one registered without it."""
        info = self.get(name)
        out = self._dir(info.name) / GGUF_FILE
        if not out.is_file():
            self._write_gguf(self._dir(info.name), info.base_model)
        return out

    def _write_gguf(self, folder: Path, base_model: str) -> None:
        from outweigh.adapters.gguf import write_gguf
        from outweigh.models.loader import pull

        write_gguf(folder, pull(base_model, self.paths), folder / GGUF_FILE, self.paths)

    def resolve(self, spec: str) -> list[tuple[AdapterInfo, float]]:
        """(adapter, weight) pairs for a name or a mix `a:0.7,b:0.3`, all registered."""
        return [(self.get(name), weight) for name, weight in parse_spec(spec)]

    # -- writing --------------------------------------------------------------------------
    def add(
        self, path: str | Path, name: str, base: str | None = None, source: str = "added"
    ) -> AdapterInfo:
        """Copy and register an existing PEFT LoRA directory under `name`.

        `base` is the outweigh model it runs on; by default, the catalog model that its
        `base_model_name_or_path` names, else the default model. The copy is validated
        (safetensors only, plain LoRA, base and tensor shapes) before it is registered.
        """
        from outweigh.models.catalog import catalog, resolve
        from outweigh.models.loader import pull

        self.check_free(name)
        src = Path(path).expanduser()
        check_files(src)
        config = read_config(src)
        if base is None:
            known = [
                e for e in catalog().values() if base_matches(e, config.base_model_name_or_path)
            ]
            entry = known[0] if known else resolve(DEFAULT_MODEL)
        else:
            entry = resolve(base)
        stage = self._stage(name)
        try:
            # Validate the copy, not the source: what is checked is exactly what gets loaded.
            for fname in (CONFIG, WEIGHTS):
                shutil.copyfile(src / fname, stage / fname)
            check_against_base(stage, read_config(stage), entry, pull(entry.name, self.paths))
            return self._install(stage, name, entry.name, source=source)
        finally:
            shutil.rmtree(stage, ignore_errors=True)

    def remove(self, name: str) -> None:
        """Unregister `name` and delete its directory."""
        info = self.get(name)
        with transaction(self.conn):
            self.conn.execute("DELETE FROM adapters WHERE name = ?", (info.name,))
        shutil.rmtree(self._dir(info.name), ignore_errors=True)

    def install_trained(
        self, stage: Path, name: str, base_model: str, metrics: dict[str, float]
    ) -> AdapterInfo:
        """Register a directory that training just wrote (already known to fit its base)."""
        check_adapter_name(name)
        read_header(stage / WEIGHTS)
        return self._install(stage, name, base_model, source="trained", metrics=metrics)

    def staging_dir(self, name: str) -> Path:
        """A fresh private directory beside the registered ones, for writing an adapter."""
        return self._stage(name)

    # -- internals ------------------------------------------------------------------------
    def _dir(self, name: str) -> Path:
        return self.paths.adapters_dir / name

    def _stage(self, name: str) -> Path:
        # Same filesystem as the final directory, so the move into place is one rename.
        stage = self.paths.adapters_dir / f".staging-{name}-{uuid.uuid4().hex[:8]}"
        stage.mkdir(parents=True)
        return stage

    def check_free(self, name: str) -> None:
        """`name` can name a new adapter: a valid name, no base model's, not registered."""
        from outweigh.models.catalog import catalog

        check_adapter_name(name)
        if name in catalog():
            # The server lists adapters beside the base by name; this one would hide behind it.
            raise InputError(f"{name!r} is a base model's name; register the adapter as another")
        self._refuse_taken(name)

    def _refuse_taken(self, name: str) -> None:
        if self.conn.execute("SELECT 1 FROM adapters WHERE name = ?", (name,)).fetchone():
            raise InputError(
                f"adapter {name!r} already exists; remove it with `outweigh adapter rm {name}` "
                "or pick another --name"
            )

    def _install(
        self,
        stage: Path,
        name: str,
        base_model: str,
        source: str,
        metrics: dict[str, float] | None = None,
    ) -> AdapterInfo:
        """Move `stage` to `adapters/NAME` and insert its row; on failure, neither remains."""
        config = read_config(stage)
        for extra in stage.iterdir():
            if extra.name not in (CONFIG, WEIGHTS):
                extra.unlink() if extra.is_file() else shutil.rmtree(extra)
        if llamacpp_version() is not None:
            # Written now, so the first llama.cpp request with it does not wait. A failure only
            # costs that wait: `gguf()` converts again on first use and reports why there.
            try:
                self._write_gguf(stage, base_model)
            except ModelLoadError as e:
                log.warning("adapter %s: no GGUF form yet (%s)", name, e)
        weights = stage / WEIGHTS
        info = AdapterInfo(
            name=name,
            base_model=base_model,
            base_model_name_or_path=config.base_model_name_or_path,
            rank=config.rank,
            alpha=config.alpha,
            targets=config.targets,
            size_bytes=weights.stat().st_size,
            created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            sha256=sha256_of(weights),
            source=source,
            metrics=dict(metrics or {}),
        )
        final = self._dir(name)
        moved = False
        try:
            # BEGIN IMMEDIATE holds the write lock from the check to the insert, so two
            # processes adding one name queue up and the second is refused before it
            # touches the first one's directory.
            with transaction(self.conn):
                self._refuse_taken(name)
                shutil.rmtree(final, ignore_errors=True)  # an orphan of an earlier crash
                stage.rename(final)
                moved = True
                self.conn.execute(
                    "INSERT INTO adapters (name, base_model, base_model_name_or_path, rank, alpha,"
                    " targets, size_bytes, sha256, source, metrics, created)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        info.name,
                        info.base_model,
                        info.base_model_name_or_path,
                        info.rank,
                        info.alpha,
                        json.dumps(info.targets),
                        info.size_bytes,
                        info.sha256,
                        info.source,
                        json.dumps(info.metrics),
                        info.created,
                    ),
                )
        except BaseException:
            if moved:
                shutil.rmtree(final, ignore_errors=True)
            raise
        return info


def parse_spec(spec: str) -> list[tuple[str, float]]:
    """`name` -> [(name, 1.0)]; `a:0.7,b:0.3` -> [(a, 0.7), (b, 0.3)], sorted by name.

    Sorting makes `b:0.3,a:0.7` the same mix (and the same cache entry) as `a:0.7,b:0.3`.
    """
    spec = (spec or "").strip()
    if not spec:
        raise InputError("`--adapter` is empty; give NAME or a mix like a:0.7,b:0.3")
    if ":" not in spec and "," not in spec:
        return [(check_adapter_name(spec), 1.0)]
    parts: dict[str, float] = {}
    for part in spec.split(","):
        name, sep, raw = part.strip().partition(":")
        if not sep:
            raise InputError(
                f"`--adapter {spec}`: {part.strip()!r} needs a weight, as in {part.strip()}:0.5"
            )
        check_adapter_name(name.strip())
        try:
            weight = float(raw)
        except ValueError:
            raise InputError(f"`--adapter {spec}`: weight {raw!r} is not a number") from None
        if not math.isfinite(weight) or weight == 0 or abs(weight) > MAX_MIX_WEIGHT:
            raise InputError(
                f"`--adapter {spec}`: weights must be non-zero and within ±{MAX_MIX_WEIGHT:g}"
            )
        if name.strip() in parts:
            raise InputError(f"`--adapter {spec}`: {name.strip()!r} appears twice")
        parts[name.strip()] = weight
    return sorted(parts.items())


def canonical_spec(spec: str) -> str:
    """One spelling per mix: `b:0.3,a:0.7` -> `a:0.7,b:0.3`; a plain name stays as it is."""
    parts = parse_spec(spec)
    if len(parts) == 1 and ":" not in spec:
        return parts[0][0]
    return spell_mix(parts)


def _info(row: sqlite3.Row) -> AdapterInfo:
    return AdapterInfo(
        name=row["name"],
        base_model=row["base_model"],
        base_model_name_or_path=row["base_model_name_or_path"],
        rank=int(row["rank"]),
        alpha=float(row["alpha"]),
        targets=list(json.loads(row["targets"])),
        size_bytes=int(row["size_bytes"]),
        created=row["created"],
        sha256=row["sha256"],
        source=row["source"],
        metrics=dict(json.loads(row["metrics"])),
    )


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in blocks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
