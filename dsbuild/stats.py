"""Counts and distributions of a dataset file, per format, computed with polars.

`compute_stats` returns plain data (titles, columns, rows) so the CLI can print tables or
JSON; nothing here prints.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

__all__ = ["CHARTS", "compute_stats", "draw_chart", "stats_from_records"]

Row = dict[str, Any]


def _span_chars(spans: Iterable) -> int:
    total = 0
    for span in spans or []:
        start, end = (span["start"], span["end"]) if isinstance(span, dict) else span[:2]
        total += max(int(end) - int(start), 0)
    return total


def _span_lengths(spans: Iterable) -> list[int]:
    return [max(int(s[1]) - int(s[0]), 0) for s in spans or []]


def _psiloqa(r: Row) -> Row:
    answer = r.get("llm_answer") or ""
    return {"lang": r.get("lang"), "complexity": r.get("complexity"), "model": r.get("llm_checkpoint"),
            "n_spans": len(r.get("labels") or []), "text_chars": len(answer),
            "span_chars": _span_chars(r.get("labels")),
            "span_lengths": _span_lengths(r.get("labels"))}


def _mushroom(r: Row) -> Row:
    text = r.get("model_output_text") or ""
    return {"lang": (r.get("lang") or "").lower() or None, "model": r.get("model_id"),
            "n_spans": len(r.get("hard_labels") or []), "text_chars": len(text),
            "span_chars": _span_chars(r.get("hard_labels")),
            "span_lengths": _span_lengths(r.get("hard_labels"))}


def _entitycs(r: Row) -> Row:
    entities = r.get("entities")
    n = len(entities) if entities is not None else (r.get("cs_sentence") or "").count("<en>")
    return {"lang": r.get("language"), "n_entities": n, "text_chars": len(r.get("cs_sentence") or "")}


def _numbered_lines(text: str | None) -> int:
    return sum(1 for line in (text or "").splitlines() if line.strip())


def _medrect(r: Row) -> Row:
    return {"error_flag": r.get("error_flag"), "error_type": r.get("error_type") or "none",
            "n_sentences": _numbered_lines(r.get("sentences"))}


def _medec(r: Row) -> Row:
    etype = r.get("Error Type")
    return {"error_flag": r.get("Error Flag"), "error_type": "none" if etype in (None, "", "NA") else etype,
            "n_sentences": _numbered_lines(r.get("Sentences"))}


def _cultural(r: Row) -> Row:
    translations = r.get("translations") or []
    return {"lang": r.get("lang"),
            "categories": [n.get("category") for n in r.get("nuances") or []],
            "ratings": [{"system": t.get("system"), "score": str(rt.get("score"))}
                        for t in translations for rt in t.get("ratings") or []]}


def _jmle(r: Row) -> Row:
    answer = r.get("answer")
    if isinstance(answer, list):
        answer = ",".join(sorted(map(str, answer)))
    case = r.get("case_classification")
    return {"case_type": case.get("type") if isinstance(case, dict) else case, "answer": answer}


FLATTEN: dict[str, Callable[[Row], Row]] = {
    "psiloqa": _psiloqa, "mushroom": _mushroom, "entitycs": _entitycs,
    "medrect": _medrect, "medec": _medec, "cultural": _cultural, "jmle": _jmle,
}


def _table(df, columns: list[str]) -> dict[str, Any]:
    return {"columns": columns, "rows": [list(row) for row in df.iter_rows()]}


def _distribution(df, column: str) -> dict[str, Any]:
    import polars as pl

    counts = (df.group_by(column).agg(pl.len().alias("records"))
              .with_columns((pl.col("records") / pl.col("records").sum() * 100).round(1).alias("%"))
              .sort(["records", column], descending=[True, False], nulls_last=True))
    counts = counts.with_columns(pl.col(column).cast(pl.Utf8).fill_null("(missing)"))
    return _table(counts, [column, "records", "%"])


def _list_distribution(df, column: str, label: str) -> dict[str, Any]:
    import polars as pl

    exploded = df.select(pl.col(column).explode().alias(label)).drop_nulls()
    return _distribution(exploded, label) if exploded.height else {"columns": [label, "records", "%"], "rows": []}


def stats_from_records(records: list[Row], fmt: str) -> dict[str, dict[str, Any]]:
    """Tables of counts and distributions for records of one format."""
    import polars as pl

    if not records:
        return {}
    df = pl.DataFrame([FLATTEN[fmt](r) for r in records], infer_schema_length=None)
    tables: dict[str, dict[str, Any]] = {}
    if fmt in ("psiloqa", "mushroom"):
        by_lang = (df.group_by("lang").agg(
            pl.len().alias("records"),
            (pl.col("n_spans") > 0).mean().mul(100).round(1).alias("% with spans"),
            pl.col("n_spans").mean().round(2).alias("spans/record"),
            (pl.col("span_chars").sum() / pl.col("text_chars").sum() * 100).round(1).alias("% chars in spans"),
            pl.col("text_chars").mean().round(1).alias("mean answer chars"),
        ).sort("lang"))
        tables["By language"] = _table(by_lang, by_lang.columns)
        tables["By model"] = _distribution(df, "model")
        if fmt == "psiloqa":
            tables["Complexity"] = _distribution(df, "complexity")
        lengths = df.select(pl.col("span_lengths").explode()).drop_nulls()
        if lengths.height:
            buckets = lengths.select(pl.col("span_lengths").cut(
                [5, 10, 20, 50, 100], labels=["1-5", "6-10", "11-20", "21-50", "51-100", ">100"],
                left_closed=False).alias("span chars"))
            tables["Span length"] = _distribution(buckets.with_columns(
                pl.col("span chars").cast(pl.String)), "span chars")
    elif fmt == "entitycs":
        by_lang = (df.group_by("lang").agg(
            pl.len().alias("records"),
            pl.col("n_entities").mean().round(2).alias("entities/sentence"),
            pl.col("text_chars").mean().round(1).alias("mean sentence chars"),
        ).sort("lang"))
        tables["By language"] = _table(by_lang, by_lang.columns)
    elif fmt in ("medrect", "medec"):
        tables["Error flag"] = _distribution(df, "error_flag")
        tables["Error type"] = _distribution(df, "error_type")
        sentences = df.select(
            pl.col("n_sentences").mean().round(1).alias("mean"),
            pl.col("n_sentences").min().alias("min"),
            pl.col("n_sentences").max().alias("max"),
        )
        tables["Sentences per record"] = _table(sentences, sentences.columns)
    elif fmt == "cultural":
        tables["By language"] = _distribution(df, "lang")
        tables["Nuance categories"] = _list_distribution(df, "categories", "category")
        exploded = df.select(pl.col("ratings").explode()).drop_nulls()
        ratings = (exploded.unnest("ratings").drop_nulls()
                   if isinstance(exploded.schema["ratings"], pl.Struct) else exploded.clear())
        if ratings.height:
            numeric = pl.col("score").cast(pl.Int64, strict=False)
            by_system = (ratings.group_by("system").agg(
                pl.len().alias("ratings"),
                numeric.mean().round(2).alias("mean score (0-3)"),
                (pl.col("score") == "NA").mean().mul(100).round(1).alias("% NA"),
            ).sort("system"))
            tables["Ratings by system"] = _table(by_system, by_system.columns)
            tables["Score distribution"] = _distribution(ratings, "score")
    elif fmt == "jmle":
        tables["Case type"] = _distribution(df, "case_type")
        tables["Answer"] = _distribution(df, "answer")
    return tables


def compute_stats(path: Path, dataset: str, fmt: str | None = None) -> dict[str, Any]:
    """Read a file's records, detect its format, and tabulate them.

    Statistics describe what can be read; unreadable lines are counted, not fatal
    (`validate` says what is wrong with them).
    """
    from dsbuild.readers import read_records
    from dsbuild.validate import DETECT_SAMPLE, candidate_formats, detect_file_format

    path = Path(path)
    items = list(read_records(path))
    records = [item.record for item in items if item.record is not None]
    candidates = candidate_formats(dataset, fmt)
    name = candidates[0] if len(candidates) == 1 else detect_file_format(path, items[:DETECT_SAMPLE], candidates)
    result = {
        "path": str(path),
        "format": name,
        "records": len(records),
        "unreadable": len(items) - len(records),
        "tables": stats_from_records(records, name) if name else {},
    }
    if (path.parent / "fingerprint.json").is_file():  # a run's records: what its gates did
        from dsbuild.gates.report import GATE_COLUMNS, gate_rows, gate_summary

        gates = gate_summary(path.parent)
        if gates:
            result["gates"] = gates
            result["tables"]["Quality gates (per language)"] = {"columns": GATE_COLUMNS,
                                                                "rows": gate_rows(gates)}
    if name in SUMMARIES and records:
        import importlib

        module, function = SUMMARIES[name].split(":")
        result["summary"] = getattr(importlib.import_module(module), function)(records)
    return result


# Charts by format: "module:function" taking (records, png_path).
CHARTS = {"psiloqa": "dsbuild.psiloqa.chart:span_chart",
          "mushroom": "dsbuild.psiloqa.chart:span_chart",
          "medrect": "dsbuild.medrect.stats:records_chart",
          "medec": "dsbuild.medrect.stats:records_chart"}
# Summaries beyond the tables, by format: "module:function" taking the records.
SUMMARIES = {"medrect": "dsbuild.medrect.stats:records_summary",
             "medec": "dsbuild.medrect.stats:records_summary"}


def draw_chart(path: Path, dataset: str, out: Path, fmt: str | None = None) -> Path:
    """Draw the chart of a file's format (see `CHARTS`) into `out` (PNG)."""
    import importlib

    from dsbuild.errors import UsageError
    from dsbuild.readers import read_records
    from dsbuild.validate import DETECT_SAMPLE, candidate_formats, detect_file_format

    items = list(read_records(Path(path)))
    candidates = candidate_formats(dataset, fmt)
    name = candidates[0] if len(candidates) == 1 else detect_file_format(
        Path(path), items[:DETECT_SAMPLE], candidates)
    if name not in CHARTS:
        raise UsageError(f"no chart is defined for {name or 'this'} format yet",
                         "drop --chart; the tables are printed", code="DSB106")
    module, function = CHARTS[name].split(":")
    records = [item.record for item in items if item.record is not None]
    return getattr(importlib.import_module(module), function)(records, Path(out))
