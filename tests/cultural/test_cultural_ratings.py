from __future__ import annotations

import json
from collections import Counter

import polars as pl
import pytest

from dsbuild.cultural.ratings import (
    COLUMNS,
    frame_from_rows,
    load_ratings,
    rows_from_frame,
    save_ratings,
)
from dsbuild.cultural.synthetic import (
    LOCALES,
    MODELS,
    SAMPLE_PATH,
    generate,
    load_emails,
)
from dsbuild.errors import InputError
from dsbuild.schemas.cultural import CulturalRecord, RatingRow

BASE = {"text_id": "t1", "target": "ja-JP", "model": "m1", "rater": "r1"}


class TestEmbeddedEmails:
    def test_five_emails_with_exact_code_point_offsets(self):
        emails = load_emails()
        assert len(emails) == 5
        for email in emails:
            assert 4 <= len(email["nuances"]) <= 6
            for n in email["nuances"]:
                assert email["text"][n["start"] : n["end"]] == n["surface"]
                assert n["note"]
            CulturalRecord.model_validate(email)

    def test_offsets_count_code_points_not_utf16_units(self):
        email = next(e for e in load_emails() if "🎃" in e["text"])
        first = email["nuances"][0]
        assert (
            first["start"] == 2
            and email["text"][first["start"] : first["end"]] == "Trick or treat yourself"
        )

    def test_all_four_categories(self):
        cats = Counter(n["category"] for e in load_emails() for n in e["nuances"])
        assert set(cats) == {"idiom", "pun", "holiday", "cultural_concept"}


class TestSyntheticSample:
    def test_the_sample_file_is_what_the_generator_makes(self):
        assert load_ratings(SAMPLE_PATH).equals(frame_from_rows(generate()))

    def test_deterministic_and_shaped_as_documented(self):
        rows = generate()
        assert rows == generate()
        df = frame_from_rows(rows)
        assert set(df["target"]) == set(LOCALES) and set(df["model"]) == set(MODELS)
        per_locale = df.group_by("target").agg(pl.col("rater").n_unique())
        assert per_locale["rater"].to_list() == [3, 3, 3]
        seg = df.filter(pl.col("segment").is_not_null())
        assert seg["na"].sum() > 0
        assert (
            seg.filter(pl.col("score").is_null() & ~pl.col("na")).height > 0
        )  # some missing ratings
        assert df.height == 5 * 3 * 3 * 3 * 6
        assert generate(seed=8) != rows


class TestRatingRow:
    def test_na_spellings(self):
        row = RatingRow.model_validate(
            {**BASE, "segment": 1, "category": "idiom", "surface": "x", "score": "NA"}
        )
        assert (row.score, row.na) == (None, True)

    def test_full_text_row_rules(self):
        with pytest.raises(ValueError, match="na_on_full_text|NA means"):
            RatingRow.model_validate({**BASE, "na": True})
        with pytest.raises(ValueError, match="segment rows"):
            RatingRow.model_validate({**BASE, "score": 2})
        assert RatingRow.model_validate(
            {**BASE, "overall": 3, "rater_meta": {"age": 34, "native": True}}
        ).rater_meta == {"age": "34", "native": "true"}

    def test_segment_row_rules(self):
        seg = {**BASE, "segment": 1, "category": "pun", "surface": "in-tents"}
        with pytest.raises(ValueError, match="criterion"):
            RatingRow.model_validate({**seg, "overall": 2})
        with pytest.raises(ValueError, match="score 2 and NA"):
            RatingRow.model_validate({**seg, "score": 2, "na": True})
        with pytest.raises(ValueError, match="covers 3 characters"):
            RatingRow.model_validate({**seg, "start": 0, "end": 3})
        with pytest.raises(ValueError, match="less than or equal"):
            RatingRow.model_validate({**seg, "score": 4})
        with pytest.raises(ValueError, match="category"):
            RatingRow.model_validate({**BASE, "segment": 1, "surface": "x"})


class TestFiles:
    @pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
    def test_round_trip(self, tmp_path, suffix):
        df = frame_from_rows(generate()[:300])
        path = save_ratings(df, tmp_path / f"r{suffix}")
        assert load_ratings(path).equals(df)

    def test_jsonl_is_compact_and_keeps_metadata_objects(self, tmp_path):
        df = frame_from_rows(generate()[:10])
        path = save_ratings(df, tmp_path / "r.jsonl")
        first = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
        assert isinstance(first["rater_meta"], dict) and "score" not in first and "na" not in first
        assert rows_from_frame(df)[0]["rater_meta"] == first["rater_meta"]
        assert list(df.columns) == list(COLUMNS)

    def test_duplicate_rating_is_named(self, tmp_path):
        rows = [
            {**BASE, "overall": 2},
            {**BASE, "segment": 1, "category": "pun", "surface": "x", "score": 1},
            {**BASE, "overall": 3},
        ]
        with pytest.raises(InputError) as info:
            frame_from_rows(rows, origin="f.jsonl")
        assert (
            info.value.code == "DSB303"
            and "f.jsonl:row 3" in str(info.value)
            and "full text" in str(info.value)
        )

    def test_segment_must_mean_the_same_thing_in_every_row(self):
        rows = [
            {**BASE, "segment": 1, "category": "pun", "surface": "x"},
            {**BASE, "rater": "r2", "segment": 1, "category": "idiom", "surface": "x"},
        ]
        with pytest.raises(InputError, match="different categories"):
            frame_from_rows(rows)

    def test_one_metadata_set_per_rater(self):
        rows = [
            {**BASE, "overall": 1, "rater_meta": {"a": "1"}},
            {**BASE, "model": "m2", "overall": 1},
        ]
        with pytest.raises(InputError, match="rater r1 has different `rater_meta`"):
            frame_from_rows(rows)

    def test_invalid_row_names_file_row_and_field(self, tmp_path):
        path = tmp_path / "bad.jsonl"
        path.write_text(json.dumps({**BASE, "overall": 7}) + "\n", encoding="utf-8")
        with pytest.raises(InputError) as info:
            load_ratings(path)
        assert info.value.code == "DSB303" and "bad.jsonl:row 1: field overall" in str(info.value)

    def test_missing_empty_and_unknown_files(self, tmp_path):
        with pytest.raises(InputError) as info:
            load_ratings(tmp_path / "nope.jsonl")
        assert info.value.code == "DSB301"
        (tmp_path / "empty.jsonl").write_text("", encoding="utf-8")
        with pytest.raises(InputError) as info:
            load_ratings(tmp_path / "empty.jsonl")
        assert info.value.code == "DSB304"
        (tmp_path / "x.txt").write_text("a", encoding="utf-8")
        with pytest.raises(InputError) as info:
            load_ratings(tmp_path / "x.txt")
        assert info.value.code == "DSB302"
