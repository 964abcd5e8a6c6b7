"""What an export reads from a run directory: records, rejects, run.json and config.yaml.

A folder with `records.jsonl` is enough (a run copied by hand, or made by a test); the
other files add to the card when present. A human annotation round pulled from Label Studio
leaves `annotation/pulls/NNN/agreement.json` (see `dsbuild.labelstudio.pull`); the card
quotes the latest finished pull's (one with `done.json`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dsbuild.errors import InputError, UsageError

__all__ = ["RunData", "latest_agreement", "read_run"]


@dataclass
class RunData:
    """The parts of a run an export uses."""

    path: Path
    records: list[dict[str, Any]]
    rejects: list[dict[str, Any]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    agreement: dict[str, Any] | None = None


def _jsonl(path: Path) -> list[dict[str, Any]]:
    from dsbuild.readers import records_or_fail

    return [record for _, record in records_or_fail(path, "jsonl")]


def read_run(path: str | Path) -> RunData:
    """Read a run directory; one-line errors name the missing or damaged file."""
    path = Path(path)
    records_path = path / "records.jsonl"
    if not records_path.is_file():
        raise UsageError(
            f"{path} is not a finished run (no records.jsonl)",
            "give the run directory a `dsbuild <dataset> build` wrote",
            code="DSB204",
        )
    records = _jsonl(records_path)
    if not records:
        raise InputError(
            f"{records_path} holds no records", "build the run again with more input", code="DSB304"
        )
    rejects = _jsonl(path / "rejects.jsonl") if (path / "rejects.jsonl").is_file() else []
    info: dict[str, Any] = {}
    if (path / "run.json").is_file():
        try:
            info = json.loads((path / "run.json").read_text("utf-8"))
        except json.JSONDecodeError:
            raise InputError(
                f"{path / 'run.json'} is not JSON",
                "rebuild the run (it rewrites run.json)",
                code="DSB302",
            ) from None
    config: dict[str, Any] = {}
    if (path / "config.yaml").is_file():
        import yaml

        loaded = yaml.safe_load((path / "config.yaml").read_text("utf-8"))
        config = loaded if isinstance(loaded, dict) else {}
    return RunData(path, records, rejects, info, config, latest_agreement(path))


def latest_agreement(run: Path) -> dict[str, Any] | None:
    """The agreement of the run's latest finished annotation pull, with its pull number."""
    pulls = sorted(
        (
            p
            for p in (run / "annotation" / "pulls").glob("*")
            if (p / "done.json").is_file() and (p / "agreement.json").is_file()
        ),
        key=lambda p: p.name,
    )
    if not pulls:
        return None
    try:
        data = json.loads((pulls[-1] / "agreement.json").read_text("utf-8"))
    except json.JSONDecodeError:
        raise InputError(
            f"{pulls[-1] / 'agreement.json'} is not JSON",
            "pull the annotation round again",
            code="DSB302",
        ) from None
    return {"pull": pulls[-1].name, **data} if isinstance(data, dict) else None
