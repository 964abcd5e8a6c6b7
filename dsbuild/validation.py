"""Validate data files against the record schemas of a dataset, and report every defect.

`validate_path(path, dataset)` reads a file (or every data file under a folder), works out
which of the dataset's formats each file holds from its first records (or uses the one
forced with `fmt`), validates every record and returns a `ValidationReport`. It writes
nothing and raises only for input it cannot start on (missing path, unknown dataset or
format, a file in no known format); bad records, and lines that cannot even be read, are
problems in the report.

Each problem says where (locator), which record (id), which field (`labels[2]`,
`entities[0].qid`), why (a reason code: pydantic's or ours) and a message for humans.
Cross-field checks (spans against their text, error flags against error fields) run once a
record's structure is valid, so a record with a missing field shows that first.

A release quirk read faithfully (`dsbuild.quirks`: a list stored as a string, a label
outside the scheme kept verbatim, ...) is a warning, not a problem: the record counts as
valid and `warned`. With `strict=True` every warning is a problem and its record invalid.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from dsbuild.errors import ConfigError, InputError, InvalidRecordsError
from dsbuild.quirks import Finding, Warnings, collecting, found
from dsbuild.readers import EXTENSIONS, ReadItem, read_records
from dsbuild.schemas._common import field_path

if TYPE_CHECKING:
    from dsbuild.schemas import FormatSpec

__all__ = [
    "DETECT_SAMPLE",
    "Problem",
    "ValidationReport",
    "candidate_formats",
    "check_records",
    "detect_file_format",
    "field_path",
    "validate_path",
    "validate_records",
]

DETECT_SAMPLE = 50


Problem = Finding
"""One defect: where it is, in which record and field, its reason code and a message."""


@dataclass
class ValidationReport:
    """What validating a file or folder found; `valid + invalid` is the number of records read.

    `by_reason` counts problems (a record may have several); `warnings` and
    `warnings_by_reason` the quirks read faithfully, `warned` the valid records that had any
    (they are counted in `valid` too); `formats` gives the format of each file, `format`
    the one format they share (None when they differ or none was found).
    """

    path: str
    dataset: str | None
    format: str | None = None
    formats: dict[str, str | None] = field(default_factory=dict)
    valid: int = 0
    invalid: int = 0
    problems: list[Problem] = field(default_factory=list)
    by_reason: Counter[str] = field(default_factory=Counter)
    warned: int = 0
    warnings: list[Problem] = field(default_factory=list)
    warnings_by_reason: Counter[str] = field(default_factory=Counter)
    strict: bool = False

    @property
    def total(self) -> int:
        return self.valid + self.invalid

    @property
    def ok(self) -> bool:
        return self.invalid == 0 and not self.problems

    def add(self, problem: Problem) -> None:
        self.problems.append(problem)
        self.by_reason[problem.reason] += 1

    def warn(self, problem: Problem) -> None:
        self.warnings.append(problem)
        self.warnings_by_reason[problem.reason] += 1

    def raise_for_invalid(self) -> None:
        """Raise `InvalidRecordsError` (DSB303) when any record is invalid."""
        if not self.ok:
            reasons = ", ".join(f"{code} x{n}" for code, n in self.by_reason.most_common(5))
            raise InvalidRecordsError(
                f"{self.invalid} of {self.total} records in {self.path} are invalid ({reasons})",
                "fix the records listed in the report",
            )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view of the report."""
        return {
            "path": self.path,
            "dataset": self.dataset,
            "format": self.format,
            "formats": dict(self.formats),
            "valid": self.valid,
            "warned": self.warned,
            "invalid": self.invalid,
            "strict": self.strict,
            "by_reason": dict(sorted(self.by_reason.items())),
            "warnings_by_reason": dict(sorted(self.warnings_by_reason.items())),
            "problems": [_problem_dict(p) for p in self.problems],
            "warnings": [_problem_dict(p) for p in self.warnings],
        }

    def as_warnings(self) -> Warnings:
        """The report's warnings as a `dsbuild.quirks.Warnings` (for readers' and converters'
        output)."""
        out = Warnings()
        for p in self.warnings:
            out.add(p)
        out.records = self.warned
        return out

    def raise_for_converter(self, strict: bool) -> None:
        """A converter's rule: records are converted as they are; with `strict`, any invalid
        record or release quirk stops it (DSB303) before anything is written."""
        if strict and (self.invalid or self.warnings):
            first = (self.problems or self.warnings)[0]
            counts = ", ".join(
                f"{code} x{n}"
                for code, n in (self.by_reason + self.warnings_by_reason).most_common(5)
            )
            raise InvalidRecordsError(
                f"--strict: {self.path} has {self.invalid} invalid record(s) "
                f"and {self.warned} with "
                f"warnings ({counts}); first: {first.locator} [{first.reason}] {first.message}",
                "drop --strict to convert records as they are, or fix them first",
            )


def _problem_dict(p: Problem) -> dict[str, Any]:
    return {
        "locator": p.locator,
        "record_id": p.record_id,
        "field": p.field,
        "reason": p.reason,
        "message": p.message,
    }


def candidate_formats(dataset: str | None, fmt: str | None) -> list[str]:
    """The formats a file of `dataset` may hold (just `fmt` when one is forced)."""
    from dsbuild.schemas import DATASET_FORMATS, FORMATS

    if dataset is not None and dataset not in DATASET_FORMATS:
        raise ConfigError(
            f"unknown dataset {dataset!r}",
            f"use one of {', '.join(DATASET_FORMATS)}",
            code="DSB105",
        )
    allowed = DATASET_FORMATS[dataset] if dataset is not None else list(FORMATS)
    if fmt is None:
        return allowed
    if fmt not in allowed:
        where = f"dataset {dataset!r}" if dataset else "dsbuild"
        raise ConfigError(
            f"unknown format {fmt!r} for {where}", f"use one of {', '.join(allowed)}", code="DSB105"
        )
    return [fmt]


def _data_files(path: Path) -> list[Path]:
    if not path.exists():
        raise InputError(f"input path {path} does not exist", "check the path", code="DSB301")
    if path.is_file():
        return [path]
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in EXTENSIONS)
    if not files:
        raise InputError(
            f"{path} holds no data files",
            f"put files ending in {', '.join(sorted(EXTENSIONS))} there",
            code="DSB304",
        )
    return files


def validate_path(
    path: str | Path, dataset: str | None = None, fmt: str | None = None, *, strict: bool = False
) -> ValidationReport:
    """Validate one file, or every data file under a folder, against `dataset`'s formats
    (`strict`: release quirks are errors, not warnings)."""
    path = Path(path)
    candidates = candidate_formats(dataset, fmt)
    report = ValidationReport(path=str(path), dataset=dataset, strict=strict)
    read_anything = False
    for file in _data_files(path):
        read_anything |= _validate_file(file, candidates, report)
    if not read_anything:
        raise InputError(
            f"{path} holds no records", "check that the right file was given", code="DSB304"
        )
    found = {name for name in report.formats.values() if name}
    report.format = found.pop() if len(found) == 1 else None
    return report


def _validate_file(file: Path, candidates: list[str], report: ValidationReport) -> bool:
    from dsbuild.schemas import FORMATS

    items = read_records(file)
    head = list(islice(items, DETECT_SAMPLE))
    if not head:
        report.formats[str(file)] = None
        if report.path != str(file):
            report.add(Problem(str(file), None, None, "empty_file", f"{file} holds no records"))
        return False
    name = candidates[0] if len(candidates) == 1 else detect_file_format(file, head, candidates)
    report.formats[str(file)] = name
    validate_records(chain(head, items), FORMATS[name] if name else None, report)
    return True


def check_records(
    records: Iterable[dict[str, Any]], fmt: str, source: str, *, strict: bool = False
) -> ValidationReport:
    """Validate records already read (by a converter or reader) with format `fmt`'s schema:
    the same errors and warnings as `validate`, located as `source:N` (N from 1)."""
    from dsbuild.schemas import FORMATS

    report = ValidationReport(path=source, dataset=FORMATS[fmt].dataset, format=fmt, strict=strict)
    items = (ReadItem(f"{source}:{i}", record) for i, record in enumerate(records, 1))
    return validate_records(items, FORMATS[fmt], report)


def detect_file_format(file: Path, head: list[ReadItem], candidates: list[str]) -> str | None:
    """The candidate format most of the first records match; DSB302 when none does."""
    from dsbuild.schemas import FORMATS, detect_format

    records = [i.record for i in head if i.record is not None]
    if not records:
        return None
    for min_share in (1.0, 0.5):
        votes = Counter(detect_format(r, candidates, min_share=min_share) for r in records)
        votes.pop(None, None)
        if votes:
            return votes.most_common(1)[0][0]
    keys = sorted(records[0])[:12]
    expected = "; ".join(f"{n}: {', '.join(sorted(FORMATS[n].detect_keys))}" for n in candidates)
    raise InputError(
        f"cannot tell which format {file} holds: its first record has the keys {keys}, "
        f"and the formats expect ({expected})",
        f"pass the format explicitly (one of {', '.join(candidates)}) or check the file",
        code="DSB302",
    )


def validate_records(
    items: Iterable[ReadItem], spec: FormatSpec | None, report: ValidationReport
) -> ValidationReport:
    """Validate read items with the `FormatSpec` `spec` (None: only read problems are counted)."""
    seen: dict[tuple[object, ...], str] = {}
    for item in items:
        if item.problem is not None:
            report.invalid += 1
            report.add(Problem(item.locator, None, None, item.problem.code, item.problem.message))
            continue
        if spec is None:
            continue
        record = item.record
        raw_id = record.get(spec.id_field)
        record_id = None if raw_id is None else str(raw_id)
        problems, warnings = _record_problems(spec.model, record, item.locator, record_id)
        if report.strict:
            problems += warnings
            warnings = []
        key = spec.key_of(record)
        if key is not None:
            try:
                first = seen.get(key)
            except TypeError:
                first = None
            else:
                if first is not None:
                    message = f"{key} was already used at {first}"
                    problems.append(
                        Problem(item.locator, record_id, spec.id_field, "duplicate_id", message)
                    )
                else:
                    seen[key] = item.locator
        if problems:
            report.invalid += 1
            for problem in problems:
                report.add(problem)
        else:
            report.valid += 1
            report.warned += bool(warnings)
        for warning in warnings:
            report.warn(warning)
    return report


def _record_problems(
    model: type[BaseModel], record: dict[str, Any], locator: str, record_id: str | None
) -> tuple[list[Problem], list[Problem]]:
    """The record's problems and its release-quirk warnings."""
    context = collecting()
    problems = []
    try:
        model.model_validate(record, context=context)
    except ValidationError as exc:
        for error in exc.errors(include_url=False, include_input=False):
            problems.append(
                Problem(locator, record_id, field_path(error["loc"]), error["type"], error["msg"])
            )
    warnings = [
        Problem(locator, record_id, fld, code, message) for fld, code, message in found(context)
    ]
    return problems, warnings
