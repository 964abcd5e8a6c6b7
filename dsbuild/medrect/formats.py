"""MedRECT JSON and MEDEC CSV files: read, write, detect, and convert both ways without loss.

MedRECT JSON is a list of records (sentences `1. …` joined by LF, ids from 1, nulls when
clean), written as the MedRECT release writes it: two-space indent, UTF-8 unescaped, no
final newline. MEDEC CSV has nine columns (sentences `0 …`, ids from 0, `-1` and literal
`NA` when clean), written as the MEDEC release writes it: minimal quoting, CR LF between
rows, no final newline; so a MEDEC file read and written back is byte-identical.

What the other format cannot hold travels in a side field, so both trips are lossless:

- MEDEC → MedRECT keeps, as MedRECT itself does, `metadata.row_index`,
  `metadata.original_text` (the `Text` paragraph) and `metadata.raw_sentences` (the
  `Sentences` cell with its own line breaks and spacing); they are written back while the
  sentences still match them. MEDEC's five error types are mapped onto MedRECT's eight
  (`MEDEC_TO_MEDRECT_TYPE`), and any cell the reverse conversion would not reproduce (the
  original type, an empty cell instead of `NA`, ...) is kept in `metadata.medec_cells` as
  `{column: {"derived": what conversion gives, "cell": the original}}` and used only while
  conversion still gives `derived` (an edited record is not overwritten with stale cells).
- MedRECT → MEDEC loses `screening_results`, MedRECT's own metadata and the exact type
  unless `keep_extra=True`, which adds one column, `dsbuild_extra`, holding as JSON the
  fields the way back would not reproduce.

Error-type labels are kept as read (MedRECT-ja's are Japanese); `relabel` converts the
eight scheme types to English or Japanese names (`convert --labels en|ja`), leaving names
outside the scheme verbatim. `convert_file` validates what it reads with the format's schema
(`dsbuild.validation.check_records`): records are converted as they are, invalid ones and
release quirks are reported, and `strict` refuses both before anything is written.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from dsbuild.errors import InputError
from dsbuild.medrect import MEDRECT_KEYS
from dsbuild.medrect.sentences import join_sentences, renumber, sentence_texts

if TYPE_CHECKING:
    from dsbuild.validation import ValidationReport

__all__ = [
    "EXTRA_COLUMN",
    "FORMAT_NAMES",
    "LABEL_LANGUAGES",
    "MEDRECT_KEYS",
    "MEDEC_COLUMNS",
    "MEDEC_TO_MEDRECT_TYPE",
    "MEDRECT_TO_MEDEC_TYPE",
    "ConvertSummary",
    "convert_file",
    "detect_file_format",
    "medec_row_to_medrect",
    "medrect_to_medec_row",
    "read_medec",
    "read_medrect",
    "read_records_as_medrect",
    "relabel",
    "write_medec",
    "write_medrect",
]

FileFormat = Literal["medrect-json", "medec-csv"]
FORMAT_NAMES: tuple[str, ...] = ("medrect-json", "medec-csv")

MEDEC_COLUMNS = (
    "Text ID",
    "Text",
    "Sentences",
    "Error Flag",
    "Error Type",
    "Error Sentence ID",
    "Error Sentence",
    "Corrected Sentence",
    "Corrected Text",
)
EXTRA_COLUMN = "dsbuild_extra"
_NA = "NA"

# MEDEC's categories onto MedRECT's eight (a causal organism is a diagnosis; MEDEC's
# "treatment" covers procedures, its "management" follow-up and monitoring).
MEDEC_TO_MEDRECT_TYPE = {
    "diagnosis": "diagnosis",
    "causalOrganism": "diagnosis",
    "pharmacotherapy": "medication_selection",
    "treatment": "procedure_intervention",
    "management": "monitoring_management",
}
# And back: the three work-up categories MEDEC has no name for go to "diagnosis".
MEDRECT_TO_MEDEC_TYPE = {
    "history_taking": "diagnosis",
    "physical_findings": "diagnosis",
    "test_interpretation": "diagnosis",
    "diagnosis": "diagnosis",
    "medication_selection": "pharmacotherapy",
    "medication_dosage": "pharmacotherapy",
    "procedure_intervention": "treatment",
    "monitoring_management": "management",
}


# ---------------------------------------------------------------- detection and reading


_DETECT_ITEMS = 5


def detect_file_format(path: str | Path) -> FileFormat:
    """`medrect-json` for a JSON list or JSON Lines file of MedRECT records (one of the first
    records has `sample_id`, `sentences` or `error_flag`), `medec-csv` for a CSV whose header
    has MEDEC's `Text ID` column; anything else (another dataset's file too) raises InputError
    DSB302 saying what the file looks like."""
    path = Path(path)
    head = _read_bytes(path)[: 64 * 1024].removeprefix(b"\xef\xbb\xbf").decode("utf-8", "replace")
    text = head.lstrip()
    if not text:
        raise InputError(f"{path} is empty", "give a MedRECT JSON or MEDEC CSV file", code="DSB304")
    if text[0] in "[{":
        _check_medrect_items(path, read_json_items(path, "MedRECT records")[:_DETECT_ITEMS])
        return "medrect-json"
    first_line = text.splitlines()[0]
    if "Text ID" in first_line and "," in first_line:
        return "medec-csv"
    raise InputError(
        f"cannot tell the format of {path}: neither a MedRECT JSON list nor a MEDEC CSV "
        "(header starting with Text ID)",
        "convert a MedRECT .json or a MEDEC .csv file",
        code="DSB302",
    )


def _check_medrect_items(path: Path, items: list[Any]) -> None:
    """Refuse JSON whose first records have none of MedRECT's keys, naming what they look like."""
    from dsbuild.schemas import FORMATS, detect_format

    records = [i for i in items if isinstance(i, dict)]
    wanted = ("sample_id", "sentences", "error_flag")
    if not records or any(k in r for r in records for k in wanted):
        return  # non-objects are reported record by record by the readers
    guess = None
    for min_share in (1.0, 0.5):
        guess = guess or next(
            (g for r in records if (g := detect_format(r, min_share=min_share))), None
        )
    first = records[0]
    if guess is not None:
        keys = sorted(FORMATS[guess].detect_keys & first.keys()) or sorted(
            FORMATS[guess].detect_keys
        )
        looks = f"it looks like {_FORMAT_TITLES.get(guess, guess)} items ({', '.join(keys)})"
    else:
        looks = f"its first record has the keys {sorted(first)[:12]}"
    raise InputError(
        f"{path} holds no MedRECT records (none of sample_id, sentences, error_flag): {looks}",
        "give a MedRECT JSON or MEDEC CSV file, or use the command of that file's dataset",
        code="DSB302",
    )


_FORMAT_TITLES = {
    "mushroom": "Mu-SHROOM",
    "psiloqa": "PsiloQA",
    "entitycs": "EntityCS",
    "jmle": "IgakuQA (JMLE)",
    "cultural": "cultural",
    "medec": "MEDEC",
}


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise InputError(
            f"input file {path} does not exist or is not a file", "check the path", code="DSB301"
        )
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(
            f"cannot read {path}: {exc.strerror or exc}",
            "check the file's permissions",
            code="DSB301",
        ) from exc


def _decode(path: Path) -> str:
    raw = _read_bytes(path).removeprefix(b"\xef\xbb\xbf")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path} is not UTF-8 (byte {exc.start})", "re-save the file as UTF-8", code="DSB302"
        ) from exc


def read_json_items(path: str | Path, what: str) -> list[Any]:
    """The items of a JSON list (or object) or JSON Lines file, in file order; one-line errors
    name the file (`what` says what it should hold, e.g. "MedRECT records")."""
    path = Path(path)
    text = _decode(path)
    if not text.strip():
        raise InputError(f"{path} is empty", f"give a file of {what}", code="DSB304")
    from dsbuild.readers import loads_json, max_field_bytes, too_long_error

    fix = f"fix the JSON there (a file of {what})"
    try:
        head = text.lstrip()
        if head.startswith("[") or (head.startswith("{") and "\n{" not in text.strip()):
            return _as_list(loads_json(text, str(path), fix))  # a list, or one object
        limit = max_field_bytes()
        items = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            if len(line) > limit and len(line.encode("utf-8")) > limit:
                raise too_long_error(f"{path}: line {n}", limit)
            items.append(loads_json(line, f"{path}: line {n}", fix))
        return items
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path} is not valid JSON or JSON Lines: {exc.msg} at line "
            f"{exc.lineno} column {exc.colno}",
            "fix the JSON syntax (`dsbuild medrect validate` shows every bad record)",
            code="DSB302",
        ) from exc


def _as_list(data: Any) -> list[Any]:
    return data if isinstance(data, list) else [data]


def read_medrect(path: str | Path) -> list[dict[str, Any]]:
    """The records of a MedRECT JSON list (or JSON Lines) file, as dicts in file order."""
    data = read_json_items(path, "MedRECT records")
    for i, item in enumerate(data, 1):
        if not isinstance(item, dict):
            raise InputError(
                f"{path} item {i} is a {type(item).__name__}, not a record object",
                "give a list of MedRECT record objects",
                code="DSB303",
            )
    return data


def read_medec(path: str | Path) -> list[dict[str, str]]:
    """The rows of a MEDEC CSV as {column: cell}, cells exactly as in the file."""
    from dsbuild.readers import check_text_bounds, max_field_bytes

    path = Path(path)
    limit = max_field_bytes()
    if path.is_file():
        check_text_bounds(path, limit=limit)
    text = _decode(path)
    csv.field_size_limit(limit)
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise InputError(
            f"{path} cannot be parsed as CSV: {exc}", "check its quoting", code="DSB302"
        ) from exc
    rows = [r for r in rows if r]
    if not rows:
        raise InputError(
            f"{path} is empty", "give a MEDEC CSV with a header and rows", code="DSB304"
        )
    header = rows[0]
    missing = [c for c in ("Text ID", "Sentences", "Error Flag") if c not in header]
    if missing:
        raise InputError(
            f"{path} has no {', '.join(missing)} column(s); its header is {header}",
            "give a MEDEC CSV with ground truth (Text ID, Text, Sentences, Error Flag, ...)",
            code="DSB302",
        )
    out = []
    for n, row in enumerate(rows[1:], 1):
        if len(row) != len(header):
            raise InputError(
                f"{path} row {n} has {len(row)} fields but the header has {len(header)}",
                "check the row's quoting",
                code="DSB303",
            )
        out.append(dict(zip(header, row)))
    return out


def read_records_as_medrect(path: str | Path) -> tuple[FileFormat, list[dict[str, Any]]]:
    """Any of the two formats, as MedRECT records (MEDEC rows converted)."""
    fmt = detect_file_format(path)
    if fmt == "medrect-json":
        return fmt, read_medrect(path)
    return fmt, [
        medec_row_to_medrect(row, i, source=str(path)) for i, row in enumerate(read_medec(path))
    ]


# ---------------------------------------------------------------- writing


def write_medrect(records: Iterable[Mapping[str, Any]], path: str | Path) -> int:
    """Write a MedRECT JSON list atomically; returns the number of records."""
    from dsbuild.runs.jsonl import atomic_write_bytes

    items = list(records)
    atomic_write_bytes(Path(path), json.dumps(items, ensure_ascii=False, indent=2).encode("utf-8"))
    return len(items)


def medec_csv_text(rows: Iterable[Mapping[str, str]], *, final_newline: bool = False) -> str:
    """MEDEC CSV text: the nine columns, then any others the rows have, in first-seen order."""
    rows = list(rows)
    columns = list(MEDEC_COLUMNS)
    for row in rows:
        columns.extend(c for c in row if c not in columns)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns])
    text = buffer.getvalue()
    return text if final_newline else text.removesuffix("\r\n")


def write_medec(
    rows: Iterable[Mapping[str, str]], path: str | Path, *, final_newline: bool = False
) -> int:
    """Write MEDEC CSV rows atomically (no final newline, as the MEDEC release); returns the
    count."""
    from dsbuild.runs.jsonl import atomic_write_bytes

    rows = list(rows)
    atomic_write_bytes(
        Path(path), medec_csv_text(rows, final_newline=final_newline).encode("utf-8")
    )
    return len(rows)


# ---------------------------------------------------------------- one record each way


def _na(cell: str | None) -> str | None:
    return None if cell is None or cell.strip() in ("", _NA) else cell


def medec_row_to_medrect(
    row: Mapping[str, str], index: int, *, source: str = "MEDEC CSV"
) -> dict[str, Any]:
    """One MEDEC row as a MedRECT record that converts back to exactly the same cells."""
    where = f"{source} row {index + 1} (Text ID {row.get('Text ID')!r})"
    flag_cell = (row.get("Error Flag") or "").strip()
    if flag_cell not in ("0", "1"):
        raise InputError(
            f"{where}: Error Flag is {row.get('Error Flag')!r}, not 0 or 1",
            "set Error Flag to 0 or 1",
            code="DSB303",
        )
    flag = int(flag_cell)
    id_cell = (row.get("Error Sentence ID") or "-1").strip()
    try:
        medec_id = int(id_cell)
    except ValueError:
        raise InputError(
            f"{where}: Error Sentence ID is {id_cell!r}, not a whole number",
            "give the 0-based sentence number, or -1 when the text is clean",
            code="DSB303",
        ) from None
    raw_sentences = row.get("Sentences", "")
    medec_type = _na(row.get("Error Type"))
    record: dict[str, Any] = {
        "sample_id": row.get("Text ID", ""),
        "sentences": renumber(raw_sentences, "medec", "medrect"),
        "error_flag": flag,
        "error_type": MEDEC_TO_MEDRECT_TYPE.get(medec_type, medec_type) if medec_type else None,
        "error_sentence_id": medec_id + 1 if medec_id >= 0 else None,
        "error_sentence": _na(row.get("Error Sentence")),
        "corrected_sentence": _na(row.get("Corrected Sentence")),
        "corrected_text": _na(row.get("Corrected Text")),
        "metadata": {
            "row_index": index,
            "original_text": row.get("Text", ""),
            "raw_sentences": raw_sentences,
        },
    }
    extra_cell = row.get(EXTRA_COLUMN)
    others = {c: v for c, v in row.items() if c not in MEDEC_COLUMNS and c != EXTRA_COLUMN}
    if others:
        record["metadata"]["medec_columns"] = others
    back = medrect_to_medec_row(record)
    kept = {
        c: {"derived": back.get(c), "cell": v}
        for c, v in row.items()
        if c in MEDEC_COLUMNS and back.get(c) != v
    }
    if kept:
        record["metadata"]["medec_cells"] = kept
    if extra_cell:
        record = _apply_extra(record, extra_cell, where)
    return record


def medrect_to_medec_row(record: Mapping[str, Any], *, keep_extra: bool = False) -> dict[str, str]:
    """One MedRECT record as a MEDEC row ({column: cell}); see the module doc for what is kept."""
    meta = record.get("metadata") if isinstance(record.get("metadata"), dict) else {}
    sentences = record.get("sentences") or ""
    raw = meta.get("raw_sentences")
    unchanged = isinstance(raw, str) and renumber(raw, "medec", "medrect") == sentences
    flag = record.get("error_flag")
    number = record.get("error_sentence_id")
    kind = record.get("error_type")
    original_text = meta.get("original_text")
    row = {
        "Text ID": str(record.get("sample_id", "")),
        "Text": original_text
        if unchanged and isinstance(original_text, str)
        else join_sentences(sentence_texts(sentences, "medrect")),
        "Sentences": raw if unchanged else renumber(sentences, "medrect", "medec"),
        "Error Flag": str(flag),
        "Error Type": MEDRECT_TO_MEDEC_TYPE.get(kind, kind) if kind else _NA,
        "Error Sentence ID": str(number - 1) if isinstance(number, int) and flag == 1 else "-1",
        "Error Sentence": _cell(record.get("error_sentence")),
        "Corrected Sentence": _cell(record.get("corrected_sentence")),
        "Corrected Text": _cell(record.get("corrected_text")),
    }
    for column, kept in (meta.get("medec_cells") or {}).items():
        if (
            isinstance(kept, dict)
            and row.get(column) == kept.get("derived")
            and isinstance(kept.get("cell"), str)
        ):
            row[column] = kept["cell"]
    for column, value in (meta.get("medec_columns") or {}).items():
        row[column] = str(value)
    if keep_extra:
        extra = _extra_for(record, row)
        if extra:
            row[EXTRA_COLUMN] = json.dumps(extra, ensure_ascii=False, sort_keys=False)
    return row


def _cell(value: Any) -> str:
    return _NA if value is None else str(value)


def _extra_for(record: Mapping[str, Any], row: Mapping[str, str]) -> dict[str, Any]:
    """What reading `row` back would not reproduce of `record`: changed or new fields,
    fields to drop, and the key order."""
    back = medec_row_to_medrect({c: v for c, v in row.items() if c != EXTRA_COLUMN}, 0)
    fields = {k: v for k, v in record.items() if k not in back or back[k] != v}
    absent = [k for k in back if k not in record]
    extra: dict[str, Any] = {}
    if fields:
        extra["fields"] = fields
    if absent:
        extra["absent"] = absent
    if [k for k in back if k in record] + [k for k in record if k not in back] != list(record):
        extra["order"] = list(record)
    return extra


def _apply_extra(record: dict[str, Any], cell: str, where: str) -> dict[str, Any]:
    from dsbuild.readers import loads_json

    try:
        extra = loads_json(
            cell, f"{where}: the {EXTRA_COLUMN} cell", f"leave {EXTRA_COLUMN} as dsbuild wrote it"
        )
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{where}: the {EXTRA_COLUMN} cell is not JSON ({exc.msg})",
            f"leave {EXTRA_COLUMN} as dsbuild wrote it or delete the column",
            code="DSB303",
        ) from exc
    merged = dict(record)
    merged.update(extra.get("fields") or {})
    for key in extra.get("absent") or []:
        merged.pop(key, None)
    order = extra.get("order")
    if order:
        merged = {k: merged[k] for k in order if k in merged} | {
            k: v for k, v in merged.items() if k not in order
        }
    return merged


# ---------------------------------------------------------------- labels

LABEL_LANGUAGES = ("en", "ja")


def relabel(record: Mapping[str, Any], labels: str | None) -> dict[str, Any]:
    """The record with its error type named in `labels` (en: the scheme's English names,
    ja: MedRECT-ja's Japanese ones); None, or a name outside the scheme, keeps it as read."""
    from dsbuild.schemas.medrect import MEDRECT_JA_TYPES

    out = dict(record)
    kind = out.get("error_type")
    if labels is None or not isinstance(kind, str):
        return out
    if labels not in LABEL_LANGUAGES:
        from dsbuild.errors import ConfigError

        raise ConfigError(
            f"--labels {labels} is not a label language",
            f"use one of {', '.join(LABEL_LANGUAGES)}",
            code="DSB103",
        )
    if labels == "en":
        out["error_type"] = MEDRECT_JA_TYPES.get(kind.strip(), kind)
    else:
        to_ja = {en: ja for ja, en in MEDRECT_JA_TYPES.items()}
        out["error_type"] = to_ja.get(kind.strip(), kind)
    return out


# ---------------------------------------------------------------- whole files


@dataclass(frozen=True)
class ConvertSummary:
    """What `convert_file` did."""

    source: str
    source_format: FileFormat
    target: str
    target_format: FileFormat
    records: int
    errors: int
    report: ValidationReport | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {
            "in": self.source,
            "in_format": self.source_format,
            "out": self.target,
            "out_format": self.target_format,
            "records": self.records,
            "error_records": self.errors,
        }
        if self.report is not None:
            out.update(
                invalid=self.report.invalid,
                problems_by_reason=dict(self.report.by_reason),
                warned=self.report.warned,
                warnings_by_reason=dict(self.report.warnings_by_reason),
            )
        return out


def convert_file(
    source: str | Path,
    target_format: str,
    target: str | Path,
    *,
    keep_extra: bool = False,
    labels: str | None = None,
    strict: bool = False,
) -> ConvertSummary:
    """Convert a MedRECT JSON or MEDEC CSV file (detected) into `target_format` at `target`,
    error types named in `labels` (None: as read)."""
    from dsbuild.errors import ConfigError
    from dsbuild.validation import check_records

    if target_format not in FORMAT_NAMES:
        raise ConfigError(
            f"unknown target format {target_format!r}",
            f"use one of {', '.join(FORMAT_NAMES)}",
            code="DSB105",
        )
    source, target = Path(source), Path(target)
    if source.resolve() == target.resolve():
        raise ConfigError(
            f"--out {target} is the input file", "write the converted file elsewhere", code="DSB103"
        )
    if labels is not None and labels not in LABEL_LANGUAGES:
        relabel({"error_type": ""}, labels)  # raises the one-line error
    fmt = detect_file_format(source)
    if fmt == "medec-csv":
        rows = read_medec(source)
        report = check_records(rows, "medec", str(source), strict=strict)
        report.raise_for_converter(strict)
        if target_format == "medec-csv" and labels is None:
            count = write_medec(rows, target)
            errors = sum(r.get("Error Flag", "").strip() == "1" for r in rows)
            return ConvertSummary(
                str(source), fmt, str(target), target_format, count, errors, report
            )
        records = [medec_row_to_medrect(r, i, source=str(source)) for i, r in enumerate(rows)]
    else:
        records = read_medrect(source)
        report = check_records(records, "medrect", str(source), strict=strict)
        report.raise_for_converter(strict)
    records = [relabel(r, labels) for r in records]
    errors = sum(r.get("error_flag") == 1 for r in records)
    if target_format == "medrect-json":
        count = write_medrect(records, target)
    else:
        count = write_medec(
            [medrect_to_medec_row(r, keep_extra=keep_extra) for r in records], target
        )
    return ConvertSummary(str(source), fmt, str(target), target_format, count, errors, report)  # type: ignore[arg-type]
