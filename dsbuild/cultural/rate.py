"""`cultural rate`: an LLM rates each segment translation 0-3 or NA, and the translation as a
whole (content, style, audience, overall), with short reasons, in the long ratings format.

The units to rate come from a ratings table in any layout `cultural analyze` reads (our
rating sheet, the published "Be My Cheese?" sheet, a mapped sheet): one unit per text x
target x model (the study's `Unit id` where given), its segments (category, source surface,
translated counterpart) taken from the table, its full translation from the full-text row
where the table has one, and the source text from `sources` (a JSONL/CSV of `id`/`text_id`
and `text`) or the published sheet's `Email text`. Human ratings in the table never reach
the model. One request per unit; the answer's segment list has exactly the unit's length.
The rater is named `llm:<model>` (rater_meta `{"kind": "llm", "model": ...}`), so the rows
sit beside human ones and `cultural analyze --llm` can tell them apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["LLM_PREFIX", "is_llm_rater", "make_task", "read_units", "unit_rows", "write_ratings"]

LLM_PREFIX = "llm:"


def is_llm_rater(rater: str | None) -> bool:
    """A rater id `cultural rate` wrote (`llm:<model>`)."""
    return isinstance(rater, str) and rater.startswith(LLM_PREFIX)


def _sources(path: str | Path | None, sheet: str | Path) -> dict[str, str]:
    """Source texts by text id: from `path` (JSONL/JSON/CSV rows with id or text_id, and
    text), else from a published sheet's `Email id` / `Email text` columns."""
    out: dict[str, str] = {}
    if path is not None:
        from dsbuild.readers import read_records

        for item in read_records(Path(path)):
            rec = item.record
            if item.problem is None and isinstance(rec, dict):
                key = rec.get("text_id", rec.get("id"))
                if key is not None and isinstance(rec.get("text"), str):
                    out[str(key)] = rec["text"]
        return out
    sheet = Path(sheet)
    if sheet.suffix.lower() == ".xlsx":
        import openpyxl

        wb = openpyxl.load_workbook(sheet, read_only=True, data_only=True)
        try:
            rows = wb.worksheets[0].iter_rows(values_only=True)
            header = [str(h).strip() if h is not None else "" for h in next(rows, ())]
            if "Email id" in header and "Email text" in header:
                i, j = header.index("Email id"), header.index("Email text")
                for row in rows:
                    if row[i] is not None and isinstance(row[j], str):
                        out.setdefault(str(row[i]), row[j])
        finally:
            wb.close()
    return out


def read_units(
    path: str | Path,
    columns: Mapping[str, str] | None = None,
    sources: str | Path | None = None,
) -> tuple[list[dict[str, Any]], Any]:
    """The units of a ratings table (see the module doc), in table order, and the
    `RatingsRead` (warnings, exclusions) of the table."""
    from dsbuild.cultural.ratings import read_ratings

    read = read_ratings(path, columns)
    texts = _sources(sources, path)
    units: dict[str, dict[str, Any]] = {}
    for row in read.frame.iter_rows(named=True):
        if is_llm_rater(row["rater"]):
            continue
        key = row["unit"] or "|".join((row["text_id"], row["target"], row["model"]))
        unit = units.get(key)
        if unit is None:
            unit = units[key] = {
                "id": key,
                "text_id": row["text_id"],
                "source_lang": row["source_lang"],
                "target": row["target"],
                "model": row["model"],
                "language": row["language"],
                "locale": row["locale"],
                "unit": row["unit"],
                "source": texts.get(row["text_id"]),
                "translation": None,
                "segments": {},
            }
        if row["segment"] is None:
            if row["translation"] and not unit["translation"]:
                unit["translation"] = row["translation"]
            continue
        seg = unit["segments"].setdefault(
            row["segment"],
            {
                "segment": row["segment"],
                "category": row["category"],
                "surface": row["surface"],
                "start": row["start"],
                "end": row["end"],
                "translation": None,
                "segment_id": row["segment_id"],
            },
        )
        if row["translation"] and not seg["translation"]:
            seg["translation"] = row["translation"]
    out = []
    for unit in units.values():
        unit["segments"] = [unit["segments"][n] for n in sorted(unit["segments"])]
        out.append(unit)
    return out, read


def _segment_lines(unit: dict[str, Any]) -> str:
    lines = []
    for i, s in enumerate(unit["segments"], 1):
        counterpart = (
            f'"{s["translation"]}"' if s["translation"] else "(not found in the translation)"
        )
        category = (s["category"] or "other").replace("_", " ")
        lines.append(f'{i}. [{category}] "{s["surface"]}" -> {counterpart}')
    return "\n".join(lines)


def unit_rows(
    unit: dict[str, Any], answer: dict[str, Any] | None, rater: str, provenance: dict
) -> list[dict[str, Any]]:
    """The long-format rows of one unit's answer (None: no usable answer, rows unrated)."""
    base = {
        "text_id": unit["text_id"],
        "source_lang": unit["source_lang"],
        "target": unit["target"],
        "model": unit["model"],
        "rater": rater,
        "rater_meta": {"kind": "llm", "model": rater[len(LLM_PREFIX) :]},
        "language": unit["language"],
        "locale": unit["locale"],
        "unit": unit["unit"],
    }
    full = {**base, "translation": unit["translation"]}
    if answer is not None:
        full.update({k: answer[k] for k in ("content", "style", "audience", "overall")})
        full["comment"] = answer.get("comment") or None
    rows = [{"id": unit["id"], **full, "provenance": provenance}]
    ratings = (answer or {}).get("segments") or []
    for i, s in enumerate(unit["segments"]):
        row = {**base, **{k: s[k] for k in ("segment", "category", "surface", "start", "end")}}
        row.update(translation=s["translation"], segment_id=s["segment_id"])
        if i < len(ratings):
            value = ratings[i]["rating"]
            row.update(
                na=value == "NA",
                score=None if value == "NA" else int(value),
                comment=ratings[i].get("reason") or None,
            )
        rows.append({"id": f"{unit['id']}#{s['segment']}", **row})
    return rows


def make_task(
    path: str | Path,
    *,
    model: str | None,
    columns: Mapping[str, str] | None = None,
    sources: str | Path | None = None,
    prompts_dir: str | Path | None = None,
    limit: int | None = None,
):
    """The `ModelTask` rating every unit of the table at `path`, and the table's read."""
    from dsbuild.builder_kit import ask, response_format
    from dsbuild.languages import language_name
    from dsbuild.llm.prompts import load_prompts
    from dsbuild.model_run import ModelTask, file_digest

    template = load_prompts("cultural", prompts_dir)["rate"]
    units, read = read_units(path, columns, sources)
    units = units[:limit] if limit else units

    async def rate(unit: dict, ctx: Any) -> list[dict]:
        """Each segment 0-3 or NA, and the whole translation, with reasons."""
        n = len(unit["segments"])
        fmt = response_format(template, {"segments": {"minItems": n, "maxItems": n}})
        language = unit["language"] or language_name(unit["target"])
        result = await ask(
            ctx.llm.get(model),
            template,
            id=unit["id"],
            sampling={"temperature": 0.0, "seed": ctx.seed, "max_tokens": 160 + 80 * n},
            response_format=fmt,
            language=language,
            source=unit["source"] or "(not available)",
            translation=unit["translation"] or "(only the segments below are available)",
            segments=_segment_lines(unit) or "(none)",
        )
        result.raise_if_pending("rate")
        provenance = result.provenance()
        answer = result.json if result.ok else None
        if answer is not None and len(answer.get("segments") or []) != n:
            provenance["error"] = {"reason": "wrong_count", "detail": f"{n} segments expected"}
            answer = {**answer, "segments": []}
        if not result.ok:
            provenance["error"] = result.error
        rater = LLM_PREFIX + ctx.llm.spec_label(model)
        return unit_rows(unit, answer, rater, provenance)

    task = ModelTask(
        name="cultural-rate",
        version=template.stage_version(),
        read=lambda: iter(units),
        predict=rate,
        config={
            "input": str(Path(path).resolve()),
            "input_sha256": file_digest(path),
            "columns": dict(columns or {}),
            "sources": str(Path(sources).resolve()) if sources else None,
            "rater_model": model,
            "limit": limit,
            "prompt": template.hash,
        },
        models=(model,),
        description="segment and full-text ratings per unit",
    )
    return task, read


def write_ratings(records: list[dict[str, Any]], out: str | Path) -> int:
    """The rows in the long format (`.jsonl`, `.csv` or `.parquet` by the name of `out`);
    the run's `id` and `provenance` are left out (the run directory keeps them)."""
    from dsbuild.cultural.ratings import frame_from_rows, save_ratings

    rows = [{k: v for k, v in r.items() if k not in ("id", "provenance")} for r in records]
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    save_ratings(frame_from_rows(rows, origin="LLM ratings"), out)
    return len(rows)
