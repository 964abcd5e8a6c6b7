"""What each gate stage of a run did, per language, recomputed from the run directory.

Gate stages are those whose version starts with `gate-` (as `gate_stage` and `dedup_stage`
make them) in the run's `fingerprint.json`. For each, the stage's input (the previous
stage's records) gives every record's language, its `rejects.jsonl` the reasons,
and its output records the annotations (`provenance.gates.<stage>`: abstained, unchecked,
repairs). Meant for `stats` and the data card:

    {stage: {"total", "kept", "rejected", "by_reason", "abstained", "unchecked", "repairs",
             "per_language": {lang: {same keys}}}}
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dsbuild.gates.base import field_value

__all__ = ["LANG_FIELDS", "gate_rows", "gate_summary"]

LANG_FIELDS = ("lang", "language", "target_lang")


def _lines(path: Path) -> Iterator[dict]:
    if not path.is_file():
        return
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def _records(stage_dir: Path) -> Iterator[dict]:
    """A finished stage's records, from `records.jsonl` or the files of its parts."""
    from dsbuild.runs.checkpoint import StageCheckpoint

    for path in StageCheckpoint(stage_dir, stage_dir.name).record_files():
        yield from _lines(path)


def _lang(record: dict, fields: tuple[str, ...]) -> str:
    for name in fields:
        value = field_value(record, name)
        if isinstance(value, str) and value:
            return value
    return "-"


def _shape(c: Counter) -> dict[str, Any]:
    return {
        "total": c["total"],
        "kept": c["kept"],
        "rejected": c["rejected"],
        "by_reason": {k[7:]: v for k, v in sorted(c.items()) if k.startswith("reason:")},
        "abstained": c["abstained"],
        "unchecked": c["unchecked"],
        "repairs": {k[7:]: v for k, v in sorted(c.items()) if k.startswith("repair:")},
    }


def gate_summary(
    run_dir: str | Path,
    *,
    lang_fields: tuple[str, ...] = LANG_FIELDS,
    annotate: str = "provenance.gates",
) -> dict[str, dict[str, Any]]:
    """Per gate stage of the run at `run_dir`: counts in total and per language ({} for a
    folder that is not a run)."""
    from dsbuild.runs.rundir import RunDir

    run = RunDir(Path(run_dir))
    if not run.fingerprint.is_file():
        return {}
    fingerprint = json.loads(run.fingerprint.read_text(encoding="utf-8"))
    stages = fingerprint["builder"]["stages"]
    out: dict[str, dict[str, Any]] = {}
    for i, stage in enumerate(stages):
        if not str(stage.get("version", "")).startswith("gate-") or i == 0:
            continue
        here, before = run.stage_dir(i, stage["name"]), run.stage_dir(i - 1, stages[i - 1]["name"])
        if not (here / "done.json").is_file():
            continue
        langs = {r["id"]: _lang(r, lang_fields) for r in _records(before)}
        per: dict[str, Counter] = {}
        for lang in langs.values():
            per.setdefault(lang, Counter())["total"] += 1
        for rej in _lines(here / "rejects.jsonl"):
            c = per.setdefault(langs.get(rej["id"], "-"), Counter())
            c["rejected"] += 1
            c[f"reason:{rej['reason']}"] += 1
        for rec in _records(here):
            c = per.setdefault(langs.get(rec["id"], _lang(rec, lang_fields)), Counter())
            c["kept"] += 1
            notes = field_value(rec, f"{annotate}.{stage['name']}") or {}
            c["abstained"] += bool(notes.get("abstained"))
            c["unchecked"] += bool(notes.get("unchecked"))
            for repair in notes.get("repairs") or ():
                c[f"repair:{repair['kind']}"] += 1
        total: Counter = Counter()
        for c in per.values():
            total.update(c)
        out[stage["name"]] = {
            **_shape(total),
            "per_language": {lang: _shape(c) for lang, c in sorted(per.items())},
        }
    return out


GATE_COLUMNS = [
    "gate",
    "language",
    "checked",
    "kept",
    "rejected",
    "by reason",
    "abstained",
    "unchecked",
    "repairs",
]


def gate_rows(summary: dict[str, Any]) -> list[list[Any]]:
    """`gate_summary` as table rows: one per gate and language (`GATE_COLUMNS`)."""

    def fmt(counts: dict[str, int]) -> str:
        return ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "-"

    rows = []
    for stage, s in summary.items():
        for lang, c in sorted(s["per_language"].items()):
            rows.append(
                [
                    stage,
                    lang,
                    c["total"],
                    c["kept"],
                    c["rejected"],
                    fmt(c["by_reason"]),
                    c["abstained"],
                    c["unchecked"],
                    fmt(c["repairs"]),
                ]
            )
    return rows
