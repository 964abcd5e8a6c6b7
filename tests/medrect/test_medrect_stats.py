"""MedRECT statistics: counts, error share and types, error position, languages, and the chart."""

from __future__ import annotations

import json

import pytest

from dsbuild.medrect.stats import POSITION_BINS, medrect_chart, medrect_stats


def _record(
    sentences: list[str],
    error_id: int | None = None,
    kind: str | None = None,
    lang: str | None = None,
):
    text = "\n".join(f"{i}. {s}" for i, s in enumerate(sentences, 1))
    record = {
        "sample_id": "x",
        "sentences": text,
        "error_flag": 1 if error_id else 0,
        "error_type": kind,
        "error_sentence_id": error_id,
    }
    if lang:
        record["metadata"] = {"lang": lang}
    return record


RECORDS = [
    _record(["A.", "B.", "C.", "D.", "E."], 1, "diagnosis", "en"),
    _record(["A.", "B.", "C.", "D.", "E."], 5, "diagnosis", "en"),
    _record(["A.", "B.", "C."], 2, "medication_dosage"),
    _record(
        ["患者は発熱した。", "診断は肺炎である。", "抗菌薬を開始した。"]
    ),  # language detected: ja
]


def test_counts_share_types_positions_and_languages():
    stats = medrect_stats(RECORDS)
    assert stats["records"] == 4 and stats["error_records"] == 3 and stats["clean_records"] == 1
    assert stats["error_share"] == 0.75
    assert stats["error_types"] == {"diagnosis": 2, "medication_dosage": 1}
    assert stats["error_sentence_position"]["by_id"] == {"1": 1, "2": 1, "5": 1}
    # sentence 1 of 5 -> 0%, 5 of 5 -> 100%, 2 of 3 -> 50%
    assert stats["error_sentence_position"]["relative"] == dict(zip(POSITION_BINS, [1, 0, 1, 0, 1]))
    assert stats["languages"] == {
        "en": {"records": 3, "error_records": 3, "error_share": 1.0},
        "ja": {"records": 1, "error_records": 0, "error_share": 0.0},
    }
    assert stats["sentences_per_record"] == {"mean": 4.0, "min": 3, "max": 5}
    json.dumps(stats)  # plain JSON data


def test_empty_input():
    stats = medrect_stats([])
    assert stats["records"] == 0 and stats["error_share"] == 0.0 and stats["error_types"] == {}


def test_chart_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    path = medrect_chart(medrect_stats(RECORDS), tmp_path / "charts" / "medrect.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.fixtures
def test_real_medrect_en_and_medec_files(shared_fixtures):
    from dsbuild.medrect.formats import medec_row_to_medrect, read_medec, read_medrect

    folder = shared_fixtures / "medrect"
    en = medrect_stats(read_medrect(folder / "medrect-en-accepted.json"))
    assert en["records"] == 458
    assert en["error_records"] + en["clean_records"] == 458
    assert 0 < en["error_share"] < 1 and set(en["languages"]) == {"en"}
    assert sum(en["error_types"].values()) == en["error_records"]
    assert sum(en["error_sentence_position"]["relative"].values()) == en["error_records"]
    rows = read_medec(folder / "MEDEC-MS-ValidationSet-with-GroundTruth-and-ErrorType.csv")
    medec = medrect_stats([medec_row_to_medrect(r, i) for i, r in enumerate(rows)])
    assert medec["records"] == len(rows)
    assert medec["error_records"] == sum(r["Error Flag"] == "1" for r in rows)
