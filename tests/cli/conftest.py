from __future__ import annotations

import pytest

from dsbuild.cli import main


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run `dsbuild ARGS...` in-process; returns (exit code, stdout, stderr)."""
    monkeypatch.setenv("COLUMNS", "200")

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run
