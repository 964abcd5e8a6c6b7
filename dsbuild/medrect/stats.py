"""MedRECT statistics for `dsbuild medrect stats`: counts, error share, error types, where
the error sentence sits, languages, sentences per record; and a chart of them.

`medrect_stats(records)` takes MedRECT records (MEDEC rows converted first with
`dsbuild.medrect.formats.medec_row_to_medrect`) and returns plain JSON-ready data;
`medrect_chart(stats, path)` draws it with matplotlib (imported only there, Agg backend).
A record's language is `metadata.lang` when the builder set it, else detected from its text.

`STATS` is the dataset's statistics hook (protocol in `dsbuild.tables`): tables of error
flags, error types and sentences per record for MedRECT and MEDEC files (with the summary
and chart above), and of case types and answers for the JMLE question pool.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from dsbuild.tables import DatasetStats, FormatStats, Row, distribution, frame, table

__all__ = [
    "POSITION_BINS",
    "STATS",
    "jmle_tables",
    "medec_tables",
    "medrect_chart",
    "medrect_stats",
    "medrect_tables",
    "records_chart",
    "records_summary",
]

# Relative position of the error sentence, (id - 1) / (sentences - 1), in five bins.
POSITION_BINS = ("0-20%", "20-40%", "40-60%", "60-80%", "80-100%")


def _lang(record: Mapping[str, Any], text: str) -> str:
    from dsbuild.medrect.jmle import detect_language

    meta = record.get("metadata")
    if isinstance(meta, Mapping) and isinstance(meta.get("lang"), str) and meta["lang"]:
        return meta["lang"]
    return detect_language(text)


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def medrect_stats(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Counts and distributions of MedRECT records (see the module docstring)."""
    from dsbuild.medrect.sentences import parse_sentences

    total = errors = 0
    types: Counter[str] = Counter()
    ids: Counter[int] = Counter()
    bins: Counter[str] = Counter()
    langs: Counter[str] = Counter()
    lang_errors: Counter[str] = Counter()
    lengths: list[int] = []
    for record in records:
        total += 1
        text = record.get("sentences") or ""
        sentences, _ = parse_sentences(text, "medrect")
        n = len(sentences)
        lengths.append(n)
        lang = _lang(record, text)
        langs[lang] += 1
        if record.get("error_flag") != 1:
            continue
        errors += 1
        lang_errors[lang] += 1
        types[str(record.get("error_type") or "(missing)")] += 1
        number = record.get("error_sentence_id")
        if isinstance(number, int) and not isinstance(number, bool) and number in sentences:
            ids[number] += 1
            rel = (number - 1) / (n - 1) if n > 1 else 0.0
            bins[POSITION_BINS[min(int(rel * len(POSITION_BINS)), len(POSITION_BINS) - 1)]] += 1
    return {
        "records": total,
        "error_records": errors,
        "clean_records": total - errors,
        "error_share": _share(errors, total),
        "error_types": dict(types.most_common()),
        "error_sentence_position": {
            "by_id": {str(k): ids[k] for k in sorted(ids)},
            "relative": {b: bins[b] for b in POSITION_BINS},
        },
        "languages": {
            lang: {
                "records": langs[lang],
                "error_records": lang_errors[lang],
                "error_share": _share(lang_errors[lang], langs[lang]),
            }
            for lang in sorted(langs)
        },
        "sentences_per_record": {
            "mean": round(sum(lengths) / len(lengths), 2) if lengths else 0.0,
            "min": min(lengths) if lengths else 0,
            "max": max(lengths) if lengths else 0,
        },
    }


def medrect_chart(stats: Mapping[str, Any], path: str | Path) -> Path:
    """A 2x2 PNG (or any format matplotlib infers from the suffix): error share, error types,
    relative error position, records per language. Returns the path written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    ax = axes[0][0]
    ax.bar(
        ["clean", "error"],
        [stats["clean_records"], stats["error_records"]],
        color=["#4c72b0", "#dd8452"],
    )
    ax.set_title(f"Records: {stats['records']} (error share {stats['error_share']:.0%})")
    ax = axes[0][1]
    kinds = list(stats["error_types"].items())
    ax.barh([k for k, _ in kinds][::-1], [v for _, v in kinds][::-1], color="#dd8452")
    ax.set_title("Error types")
    ax = axes[1][0]
    rel = stats["error_sentence_position"]["relative"]
    ax.bar(list(rel), list(rel.values()), color="#55a868")
    ax.set_title("Error sentence position (share of the record)")
    ax = axes[1][1]
    langs = stats["languages"]
    names = list(langs)
    ax.bar(
        names,
        [langs[n]["records"] - langs[n]["error_records"] for n in names],
        label="clean",
        color="#4c72b0",
    )
    ax.bar(
        names,
        [langs[n]["error_records"] for n in names],
        bottom=[langs[n]["records"] - langs[n]["error_records"] for n in names],
        label="error",
        color="#dd8452",
    )
    ax.set_title("Records per language")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def as_medrect(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """MedRECT records as they are, MEDEC CSV rows converted (by their `Sentences` column)."""
    from dsbuild.medrect.formats import medec_row_to_medrect

    return [
        medec_row_to_medrect(r, i) if "Sentences" in r else dict(r) for i, r in enumerate(records)
    ]


def records_summary(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """`medrect_stats` of a file's records (MedRECT or MEDEC), for `stats`."""
    return medrect_stats(as_medrect(records))


def records_chart(records: Iterable[Mapping[str, Any]], path: str | Path) -> Path:
    """`medrect_chart` of a file's records (MedRECT or MEDEC), for `stats --chart`."""
    return medrect_chart(records_summary(records), path)


def _numbered_lines(text: str | None) -> int:
    return sum(1 for line in (text or "").splitlines() if line.strip())


def _medrect_row(r: Row) -> Row:
    return {
        "error_flag": r.get("error_flag"),
        "error_type": r.get("error_type") or "none",
        "n_sentences": _numbered_lines(r.get("sentences")),
    }


def _medec_row(r: Row) -> Row:
    etype = r.get("Error Type")
    return {
        "error_flag": r.get("Error Flag"),
        "error_type": "none" if etype in (None, "", "NA") else etype,
        "n_sentences": _numbered_lines(r.get("Sentences")),
    }


def _error_tables(rows: list[Row]) -> dict[str, Any]:
    import polars as pl

    df = frame(rows)
    sentences = df.select(
        pl.col("n_sentences").mean().round(1).alias("mean"),
        pl.col("n_sentences").min().alias("min"),
        pl.col("n_sentences").max().alias("max"),
    )
    return {
        "Error flag": distribution(df, "error_flag"),
        "Error type": distribution(df, "error_type"),
        "Sentences per record": table(sentences),
    }


def medrect_tables(records: list[Row]) -> dict[str, Any]:
    """The tables of MedRECT records: error flag, error type, sentences per record."""
    return _error_tables([_medrect_row(r) for r in records])


def medec_tables(records: list[Row]) -> dict[str, Any]:
    """The same tables for MEDEC CSV rows (an `NA` error type counts as none)."""
    return _error_tables([_medec_row(r) for r in records])


def _jmle_row(r: Row) -> Row:
    answer = r.get("answer")
    if isinstance(answer, list):
        answer = ",".join(sorted(map(str, answer)))
    case = r.get("case_classification")
    return {"case_type": case.get("type") if isinstance(case, dict) else case, "answer": answer}


def jmle_tables(records: list[Row]) -> dict[str, Any]:
    """The tables of JMLE source questions: case type and answer letters."""
    df = frame([_jmle_row(r) for r in records])
    return {"Case type": distribution(df, "case_type"), "Answer": distribution(df, "answer")}


STATS = DatasetStats(
    {
        "medrect": FormatStats(tables=medrect_tables, summary=records_summary, chart=records_chart),
        "medec": FormatStats(tables=medec_tables, summary=records_summary, chart=records_chart),
        "jmle": FormatStats(tables=jmle_tables),
    }
)
