from __future__ import annotations

import random

import polars as pl
import pytest

from dsbuild.cultural.ratings import frame_from_rows, load_ratings
from dsbuild.cultural.spreadsheet import (
    is_wide_header,
    long_to_wide,
    read_wide,
    wide_to_long,
    write_wide,
)
from dsbuild.cultural.synthetic import generate, load_emails
from dsbuild.errors import InputError

NASTY = [
    "Мы отменили пикник, ведь лил как из ведра",
    "«Трюк или угощение», но для себя",
    'a "quoted", comma',
    "line one\nline two",
    "大晦日のセール 🎍",
    "  leading spaces kept",
]


def generated_long(seed: int = 3) -> pl.DataFrame:
    """The synthetic sample dressed up: translations and comments with commas, quotes, newlines,
    CJK, Cyrillic and emoji, extra rater metadata, and one text with six segments."""
    rng = random.Random(seed)
    rows = []
    for row in generate(seed=seed)[:600]:
        row = {
            k: v for k, v in row.items() if k not in ("start", "end")
        }  # offsets are not in the layout
        if rng.random() < 0.5:
            row["translation"] = rng.choice(NASTY)
        if rng.random() < 0.3:
            row["comment"] = rng.choice(NASTY)
        if row["rater"].endswith("1"):
            row["rater_meta"] = {
                **row["rater_meta"],
                "years": str(len(row["target"]) + ord(row["target"][0]) % 7),
            }
        rows.append(row)
    extra = {"text_id": "42", "target": "es-MX", "model": "human", "rater": "es-MX-r9"}
    rows += [{**extra, "overall": 3, "content": 3}]
    rows += [
        {**extra, "segment": n, "category": "idiom", "surface": f"seg {n}", "score": n % 4}
        for n in range(1, 7)
    ]
    return frame_from_rows(rows)


class TestRoundTrip:
    def test_wide_csv_to_long_to_wide_is_identical(self, tmp_path):
        sheet = write_wide(long_to_wide(generated_long()), tmp_path / "sheet.csv")
        again = write_wide(long_to_wide(wide_to_long(read_wide(sheet))), tmp_path / "again.csv")
        assert sheet.read_bytes() == again.read_bytes()
        assert "Segment 6 rating" in read_wide(sheet).columns

    def test_wide_xlsx_to_long_to_wide_is_identical(self, tmp_path):
        sheet = write_wide(long_to_wide(generated_long()), tmp_path / "sheet.xlsx")
        first = read_wide(sheet)
        again = write_wide(long_to_wide(wide_to_long(first)), tmp_path / "again.xlsx")
        assert read_wide(again).equals(first)
        assert first.equals(read_wide(write_wide(first, tmp_path / "as.csv")))

    def test_long_to_wide_to_long_is_identical(self, tmp_path):
        long = generated_long()
        for name in ("w.csv", "w.xlsx"):
            assert load_ratings(write_wide(long_to_wide(long), tmp_path / name)).equals(long)

    def test_layout(self):
        wide = long_to_wide(frame_from_rows(generate()))
        assert wide.columns[:8] == [
            "Text ID",
            "Source language",
            "Target locale",
            "Model",
            "Rater ID",
            "Rater: background",
            "Rater: locale",
            "Translation",
        ]
        assert wide.columns[8:13] == [
            "Faithful to content",
            "Faithful to style",
            "Appropriate to audience",
            "Overall",
            "Comments",
        ]
        assert wide.columns[13:18] == [
            "Segment 1",
            "Segment 1 category",
            "Segment 1 translation",
            "Segment 1 rating",
            "Segment 1 comments",
        ]
        assert wide.columns[-1] == "Segment 5 comments"
        assert wide.height == 5 * 3 * 3 * 3
        assert "NA" in wide["Segment 1 rating"].to_list()


def write_csv(path, header, *rows):
    import csv

    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


HEADER = [
    "text id",
    " Target Locale ",
    "Model",
    "Rater ID",
    "Overall",
    "Segment 1",
    "Segment 1 category",
    "Segment 1 rating",
]


class TestReadingHandMadeSheets:
    def test_lenient_headers_na_spellings_and_categories(self, tmp_path):
        path = write_csv(
            tmp_path / "s.csv",
            HEADER,
            ["7", "ja-JP", "m", "r1", "2", "Be mine", "Cultural concept", "n/a"],
            ["7", "ja-JP", "m", "r2", "", "Be mine", "cultural_concept", "1"],
            [""] * 8,
        )
        df = load_ratings(path)  # detected as wide by its header
        seg = df.filter(pl.col("segment").is_not_null())
        assert seg["na"].to_list() == [True, False] and seg["score"].to_list() == [None, 1]
        assert set(seg["category"]) == {"cultural_concept"} and set(df["text_id"]) == {"7"}
        assert df.filter(pl.col("segment").is_null())["overall"].to_list() == [
            2
        ]  # r2 gave no full-text rating
        assert set(df["source_lang"]) == {"en"}

    def test_xlsx_numbers_typed_by_hand(self, tmp_path):
        import openpyxl

        book = openpyxl.Workbook()
        sheet = book.active
        sheet.append(HEADER)
        sheet.append([7, "es-MX", "m", "r1", 3.0, "Black Friday", "cultural_concept", 2.0])
        book.save(tmp_path / "s.xlsx")
        df = load_ratings(tmp_path / "s.xlsx")
        assert df["text_id"].to_list() == ["7", "7"] and df["score"].to_list() == [None, 2]

    @pytest.mark.parametrize(
        ("cells", "message"),
        [
            (
                ["7", "ja-JP", "m", "r1", "", "x", "idiom", "4"],
                "row 2, column 'Segment 1 rating': rating '4' is not 0-3 or NA",
            ),
            (
                ["7", "ja-JP", "m", "r1", "NA", "x", "idiom", "1"],
                "row 2, column 'Overall': NA is only for segments",
            ),
            (
                ["7", "ja-JP", "m", "r1", "", "x", "proverb", "1"],
                "category 'proverb' is not one of",
            ),
            (
                ["7", "ja-JP", "m", "r1", "", "", "idiom", "1"],
                "Segment 1 category, Segment 1 rating filled in but 'Segment 1' is empty",
            ),
            (["7", "ja-JP", "", "r1", "", "x", "idiom", "1"], "row 2: column 'Model' is empty"),
        ],
    )
    def test_bad_cells_are_named(self, tmp_path, cells, message):
        path = write_csv(tmp_path / "s.csv", HEADER, cells)
        with pytest.raises(InputError) as info:
            load_ratings(path)
        assert info.value.code == "DSB303" and message in str(info.value)

    def test_missing_id_column(self, tmp_path):
        path = write_csv(
            tmp_path / "s.csv",
            [h for h in HEADER if h != "Model"],
            ["7", "ja-JP", "r1", "2", "x", "idiom", "1"],
        )
        with pytest.raises(InputError) as info:
            wide_to_long(read_wide(path))
        assert info.value.code == "DSB302" and "'Model'" in str(info.value)

    def test_header_detection(self):
        assert is_wide_header(["Text ID", "Rater ID", "Segment 1"])
        assert not is_wide_header(["text_id", "rater", "segment", "score"])

    def test_broken_xlsx(self, tmp_path):
        (tmp_path / "x.xlsx").write_bytes(b"not a zip")
        with pytest.raises(InputError) as info:
            read_wide(tmp_path / "x.xlsx")
        assert info.value.code == "DSB302"


def test_emails_segments_match_the_sample_ratings():
    surfaces = {
        (e["id"], i): n["surface"] for e in load_emails() for i, n in enumerate(e["nuances"], 1)
    }
    df = frame_from_rows(generate()).filter(pl.col("segment").is_not_null())
    assert {
        (t, s): x for t, s, x in df.select("text_id", "segment", "surface").unique().iter_rows()
    } == surfaces
