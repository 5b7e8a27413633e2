"""Fixtures for the planner tests: run the CLI in-process through its real entry point."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

import pytest


@dataclass
class CliResult:
    """What one `outweigh ...` invocation did."""

    code: int
    """Exit status (0 when main returned normally)."""
    out: str
    """Captured stdout."""
    err: str
    """Captured stderr."""


@pytest.fixture
def cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., CliResult]:
    """Run `outweigh ARGS...` through the real entry point, `outweigh.cli.main`, in-process."""
    from outweigh.cli import main

    def run(*args: str) -> CliResult:
        monkeypatch.setattr(sys, "argv", ["outweigh", *args])
        code = 0
        try:
            main()
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run
