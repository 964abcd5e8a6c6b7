"""Run one gate over any records file: the engine of `dsbuild check langid|dedup|hygiene`.

`check_file(kind, path, field=...)` reads JSONL/JSON/CSV/Parquet with `dsbuild.readers`,
runs the gate on `field` of each record and returns a `CheckReport`: one `RecordOutcome`
per record (unreadable lines included, as `unreadable`) and the totals the CLI prints:
`{"total", "kept", "rejected", "by_reason", "per_language": {lang: {"n", "agree", ...}}}`
(`agree`: langid only, records whose detected language equals their language field).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dsbuild.errors import InputError, UsageError
from dsbuild.gates.base import field_value
from dsbuild.gates.detectors import base_code

__all__ = ["KINDS", "CheckReport", "RecordOutcome", "check_file"]

KINDS = ("langid", "dedup", "hygiene")


@dataclass(frozen=True)
class RecordOutcome:
    """What the gate did with one record."""

    locator: str
    id: str | None
    status: str  # kept | rejected | abstained | unchecked | unreadable
    reason: str = ""
    detail: str = ""
    lang: str | None = None
    detected: str | None = None
    score: float | None = None
    duplicate_of: str | None = None
    repairs: list[str] = field(default_factory=list)


@dataclass
class CheckReport:
    kind: str
    path: str
    field: str
    outcomes: list[RecordOutcome]

    def summary(self) -> dict[str, Any]:
        by_status = Counter(o.status for o in self.outcomes)
        by_reason = Counter(o.reason for o in self.outcomes if o.status == "rejected")
        per_lang: dict[str, Counter] = {}
        for o in self.outcomes:
            if o.status == "unreadable":
                continue
            c = per_lang.setdefault(o.lang or "-", Counter())
            c["n"] += 1
            c[o.status] += 1
            if self.kind == "langid":
                c["agree"] += bool(o.lang and o.detected == base_code(o.lang))
        out: dict[str, Any] = {
            "total": sum(by_status[s] for s in by_status if s != "unreadable"),
            "kept": sum(by_status[s] for s in ("kept", "abstained", "unchecked")),
            "rejected": by_status["rejected"],
            "by_reason": dict(by_reason.most_common()),
            "abstained": by_status["abstained"],
            "unchecked": by_status["unchecked"],
            "unreadable": by_status["unreadable"],
            "per_language": {
                lang: {
                    "n": c["n"],
                    **({"agree": c["agree"]} if self.kind == "langid" else {}),
                    **{k: c[k] for k in ("kept", "rejected", "abstained", "unchecked") if c[k]},
                }
                for lang, c in sorted(per_lang.items())
            },
        }
        repairs = Counter(r for o in self.outcomes for r in o.repairs)
        if repairs:
            out["repairs"] = dict(repairs.most_common())
        return out

    def to_dict(self, all_records: bool = False) -> dict[str, Any]:
        shown = [o for o in self.outcomes if all_records or o.status != "kept" or o.repairs]
        return {
            "check": self.kind,
            "path": self.path,
            "field": self.field,
            **self.summary(),
            "records": [
                {k: v for k, v in asdict(o).items() if v not in (None, "", [])} for o in shown
            ],
        }


def _make_gate(kind: str, params: dict[str, Any]):
    if kind == "langid":
        from dsbuild.gates.langid import LangIdGate

        return LangIdGate(**params)
    if kind == "hygiene":
        from dsbuild.gates.hygiene import HygieneGate

        return HygieneGate(**params)
    raise UsageError(f"unknown check {kind!r}", f"use one of {', '.join(KINDS)}", code="DSB103")


def check_file(
    kind: str,
    path: str | Path,
    *,
    field: str,
    lang_field: str | None = None,
    lang: str | None = None,
    id_field: str = "id",
    reference: str | Path | None = None,
    reference_field: str | None = None,
    **params: Any,
) -> CheckReport:
    """Run the `kind` gate over `field` of every record of `path` (see the module docstring).
    `params` go to the gate (`LangIdGate`, `HygieneGate`, or `dedup_all`)."""
    from dsbuild.readers import read_records

    if kind == "langid":
        params.setdefault("detect_always", True)
    if reference is not None and kind != "dedup":
        raise UsageError(
            "--reference applies to `check dedup` only", "drop --reference", code="DSB103"
        )
    if kind == "dedup":
        return _check_dedup(
            path,
            field=field,
            lang_field=lang_field,
            lang=lang,
            id_field=id_field,
            reference=reference,
            reference_field=reference_field,
            **params,
        )
    gate = _make_gate(kind, params)
    outcomes: list[RecordOutcome] = []
    seen_field = False
    for n, item in enumerate(read_records(path), 1):
        if item.record is None:
            outcomes.append(
                RecordOutcome(
                    item.locator, None, "unreadable", item.problem.code, item.problem.message
                )
            )
            continue
        record = item.record
        rid = field_value(record, id_field)
        rid = str(rid) if rid is not None else item.locator
        rec_lang = lang or (field_value(record, lang_field) if lang_field else None)
        rec_lang = str(rec_lang) if rec_lang is not None else None
        text = field_value(record, field)
        seen_field = seen_field or text is not None
        if kind == "hygiene":
            v = gate.check(text, lang=rec_lang, record=record)
        else:
            v = gate.check("" if text is None else str(text), lang=rec_lang, record=record)
        outcomes.append(
            RecordOutcome(
                item.locator,
                rid,
                v.status,
                v.reason,
                v.detail,
                rec_lang,
                v.detected,
                None if v.score is None else round(v.score, 4),
                v.duplicate_of,
                list(v.repairs),
            )
        )
    if not outcomes:
        raise InputError(f"{path} holds no records", "check the file", code="DSB304")
    if all(o.status == "unreadable" for o in outcomes):
        _unreadable(path, [o for o in outcomes])
    if not seen_field and kind != "hygiene":
        _no_field(path, field)
    return CheckReport(kind, str(path), field, outcomes)


def _unreadable(path: str | Path, outcomes: list[RecordOutcome]) -> None:
    """No record of the file could be read: the error `validate` and `stats` give too."""
    from dsbuild.readers import ReadItem, ReadProblem, require_readable

    require_readable(
        path,
        [
            ReadItem(o.locator, problem=ReadProblem(o.reason or "", o.detail or ""))
            for o in outcomes
        ],
    )


def _no_field(path: str | Path, field: str) -> None:
    raise UsageError(
        f"no record of {path} has the field {field!r}",
        "name an existing field with --field (dotted paths reach nested ones)",
        code="DSB103",
    )


def _check_dedup(
    path: str | Path,
    *,
    field: str,
    lang_field: str | None,
    lang: str | None,
    id_field: str,
    reference: str | Path | None,
    reference_field: str | None,
    **params: Any,
) -> CheckReport:
    """The whole file at once (`dedup_all`): keeps memory low on large files."""
    from dsbuild.gates.dedup_bulk import dedup_all
    from dsbuild.readers import read_records

    rows: list[tuple[str, str | None, str | None, str]] = []  # locator, id, lang, text
    problems: list[tuple[int, RecordOutcome]] = []  # (rows read before it, outcome)
    seen_field = False
    for item in read_records(path):
        if item.record is None:
            problems.append(
                (
                    len(rows),
                    RecordOutcome(
                        item.locator, None, "unreadable", item.problem.code, item.problem.message
                    ),
                )
            )
            continue
        rid = field_value(item.record, id_field)
        rec_lang = lang or (field_value(item.record, lang_field) if lang_field else None)
        text = field_value(item.record, field)
        seen_field = seen_field or text is not None
        rows.append(
            (
                item.locator,
                str(rid) if rid is not None else item.locator,
                None if rec_lang is None else str(rec_lang),
                "" if text is None else str(text),
            )
        )
    if not rows and not problems:
        raise InputError(f"{path} holds no records", "check the file", code="DSB304")
    if not rows:
        _unreadable(path, [outcome for _, outcome in problems])
    if rows and not seen_field:
        _no_field(path, field)
    refs = []
    if reference is not None:
        from dsbuild.gates.stage import _reference_texts

        refs = list(_reference_texts(str(reference), reference_field or field, id_field))
    verdicts = dedup_all([(rid, text) for _, rid, _, text in rows], references=refs, **params)
    outcomes = [
        RecordOutcome(
            loc,
            rid,
            v.status,
            v.reason,
            v.detail,
            rec_lang,
            None,
            None if v.score is None else round(v.score, 4),
            v.duplicate_of,
        )
        for (loc, rid, rec_lang, _), v in zip(rows, verdicts)
    ]
    for at, problem in reversed(problems):  # back into file order
        outcomes.insert(at, problem)
    return CheckReport("dedup", str(path), field, outcomes)
