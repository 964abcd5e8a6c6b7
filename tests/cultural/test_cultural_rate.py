"""`cultural rate` and the LLM rater in `cultural analyze`: units from a ratings table,
human ratings never shown, rows in the long format, agreement with the human consensus."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from dsbuild.cultural.frames import frame_from_rows
from dsbuild.cultural.llm_rater import _consensus, compare, split_raters
from dsbuild.cultural.rate import read_units, unit_rows
from dsbuild.testing import FakeLLM

BASE = {"text_id": "t1", "source_lang": "en", "target": "ja-JP", "model": "m1"}


def _rows(rater: str, scores: list, overall: int) -> list[dict]:
    rows = [
        {
            **BASE,
            "rater": rater,
            "overall": overall,
            "content": overall,
            "style": overall,
            "audience": overall,
            "translation": "FULL-TRANSLATION",
        }
    ]
    for i, s in enumerate(scores, 1):
        row = {
            **BASE,
            "rater": rater,
            "segment": i,
            "category": "idiom",
            "surface": f"seg{i}",
            "translation": f"tr{i}",
        }
        row.update({"na": True} if s == "NA" else {"score": s})
        rows.append(row)
    return rows


@pytest.fixture
def table(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("DSBUILD_CACHE_DIR", str(tmp_path / "cache"))
    rows = _rows("h1", [3, "NA", 1], 2) + _rows("h2", [2, "NA", 1], 3)
    path = tmp_path / "ratings.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    (tmp_path / "sources.jsonl").write_text(
        json.dumps({"id": "t1", "text": "SOURCE-TEXT"}) + "\n", "utf-8"
    )
    return path


def test_units_carry_segments_translation_and_source(table):
    (unit,), _ = read_units(table, sources=table.parent / "sources.jsonl")
    assert unit["id"] == "t1|ja-JP|m1"
    assert unit["translation"] == "FULL-TRANSLATION" and unit["source"] == "SOURCE-TEXT"
    assert [s["surface"] for s in unit["segments"]] == ["seg1", "seg2", "seg3"]


def test_an_answer_becomes_long_rows_with_na_and_reasons(table):
    (unit,), _ = read_units(table)
    answer = {
        "segments": [
            {"rating": "3", "reason": "fine"},
            {"rating": "NA", "reason": "left out"},
            {"rating": "0", "reason": "wrong"},
        ],
        "content": 2,
        "style": 1,
        "audience": 2,
        "overall": 1,
        "comment": "ok",
    }
    rows = unit_rows(unit, answer, "llm:x", {})
    assert rows[0]["overall"] == 1 and rows[0]["comment"] == "ok"
    assert [(r["score"], r["na"], r["comment"]) for r in rows[1:]] == [
        (3, False, "fine"),
        (None, True, "left out"),
        (0, False, "wrong"),
    ]
    frame = frame_from_rows(
        [{k: v for k, v in r.items() if k not in ("id", "provenance")} for r in rows]
    )
    assert frame.height == 4
    unrated = unit_rows(unit, None, "llm:x", {})
    assert all(r.get("score") is None and not r.get("na") for r in unrated[1:])


def test_consensus_is_the_lower_median_and_na_follows_the_convention():
    assert _consensus([3, 1], "zero") == 1
    assert _consensus([3, 2, 1], "zero") == 2
    assert _consensus(["NA", 3], "zero") == 0
    assert _consensus(["NA", "NA", 2], "exclude") == "NA"
    assert _consensus(["NA", 2, 3], "exclude") == 2


def _llm_frame(scores: list, overall: int) -> pl.DataFrame:
    rows = _rows("llm:fake:default", scores, overall)
    for r in rows:
        r["rater_meta"] = {"kind": "llm"}
    return frame_from_rows(rows)


def test_an_llm_that_matches_the_consensus_agrees_perfectly(table):
    humans = frame_from_rows([json.loads(x) for x in table.read_text("utf-8").splitlines()])
    good = compare(humans, _llm_frame([2, "NA", 1], 2), na="exclude")["llm:fake:default"]
    seg = good["agreement_with_humans"]["segments"]["all"]
    assert seg["exact"] == 1.0 and seg["units"] == 2
    assert good["na"]["na_recall"] == 1.0 and good["na"]["na_precision"] == 1.0
    bad = compare(humans, _llm_frame([0, 3, 3], 0), na="exclude")["llm:fake:default"]
    assert bad["na"]["na_recall"] == 0.0
    assert bad["agreement_with_humans"]["segments"]["all"]["exact"] == 0.0
    assert bad["agreement_with_humans"]["full_text"]["overall"]["mean_abs_diff"] == 2.0


def test_split_raters_by_the_llm_prefix(table):
    frame = pl.concat(
        [
            frame_from_rows([json.loads(x) for x in table.read_text("utf-8").splitlines()]),
            _llm_frame([1, 1, 1], 1),
        ]
    )
    humans, llms = split_raters(frame)
    assert set(humans["rater"]) == {"h1", "h2"} and set(llms["rater"]) == {"llm:fake:default"}


def test_rate_then_analyze_reports_the_llm_rater(table, tmp_path, cli, model_cli):
    fake = FakeLLM()
    fake.enqueue(
        {
            "segments": [
                {"rating": "2", "reason": "a"},
                {"rating": "NA", "reason": "b"},
                {"rating": "1", "reason": "c"},
            ],
            "content": 2,
            "style": 2,
            "audience": 2,
            "overall": 2,
            "comment": "d",
        }
    )
    out = tmp_path / "llm.jsonl"
    code, _, err = model_cli(
        fake,
        "cultural",
        "rate",
        str(table),
        "--out",
        str(out),
        "--sources",
        str(tmp_path / "sources.jsonl"),
    )
    assert code == 0, err
    (call,) = fake.calls
    text = json.dumps(call["messages"])
    assert "SOURCE-TEXT" in text and "FULL-TRANSLATION" in text and "tr2" in text
    schema = call["response_format"]["json_schema"]["schema"]["properties"]["segments"]
    assert schema["minItems"] == schema["maxItems"] == 3
    code, stdout, err = cli(
        "cultural", "analyze", str(table), "--llm", str(out), "--json", "--na", "exclude"
    )
    assert code == 0, err
    result = json.loads(stdout)
    assert result["counts"]["raters"] == 2  # the humans only
    llm = result["llm_raters"]["llm:fake:default"]
    assert llm["agreement_with_humans"]["segments"]["all"]["exact"] == 1.0
    assert llm["na"]["na_recall"] == 1.0


def test_rate_reads_the_published_sheet(shared_fixtures, tmp_path, monkeypatch, model_cli):
    monkeypatch.setenv("DSBUILD_CACHE_DIR", str(tmp_path / "cache"))
    sheet = shared_fixtures / "cultural" / "be-my-cheese-excerpt40.xlsx"
    units, _ = read_units(sheet)
    assert len(units) == 40 and all(u["source"] for u in units)
    assert all(1 <= len(u["segments"]) <= 5 for u in units)
    fake = FakeLLM()
    out = tmp_path / "llm.csv"
    code, _, err = model_cli(
        fake,
        "cultural",
        "rate",
        str(sheet),
        "--out",
        str(out),
        "--limit",
        "3",
    )
    assert code == 0, err
    assert len(fake.calls) == 3
    assert not any("misses the humor" in json.dumps(c["messages"]) for c in fake.calls)
