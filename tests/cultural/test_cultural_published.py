"""The published "Be My Cheese?" rating sheet as released, and other layouts via --columns.

The synthetic sheet below is built in the published layout (header names exactly as
released, `Segment 2` before `Segment 2 ID` as in the file's segment 5); every figure
asserted was worked out by hand from the rows listed in `published_rows`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dsbuild.cli import main
from dsbuild.cli.app import app
from dsbuild.cultural.analysis import analyze
from dsbuild.cultural.layouts import parse_columns
from dsbuild.cultural.mapped import category_name
from dsbuild.cultural.ratings import load_ratings, read_ratings
from dsbuild.errors import ConfigError, InputError

Q_CONTENT = "Is the translation faithful to the content of the original?"
Q_STYLE = "Is the translation faithful to the style of the original?"
Q_AUDIENCE = "Is the translation appropriate to the intended audience?"
Q_COMMENTS = (
    "Do you have any overall comments or thoughts on the content, tone, or audience for this "
    "localized email?"
)
Q_OVERALL = (
    "Considering both the overall translation, and the specific segments evaluated, what is the "
    "overall quality of this translation?"
)
PARTING = "any parting thoughts?"
HEADER = [
    "Participant age",
    "Participant Gender",
    "Participant education level",
    "Language",
    "Locale",
    "Continent",
    "Orthography",
    "Model",
    "Unit id",
    "Email id",
    "Email text",
    Q_CONTENT,
    Q_STYLE,
    Q_AUDIENCE,
    Q_COMMENTS,
    "Segment 1 ID",
    "Segment 1",
    "Segment 1 category",
    "Segment 1 translation",
    "Segment 1 rating",
    "Segment 1 comments",
    "Segment 2",
    "Segment 2 ID",
    "Segment 2 category",
    "Segment 2 translation",
    "Segment 2 rating",
    "Segment 2 comments",
    Q_OVERALL,
    PARTING,
]

FIXTURE = (
    Path(__file__).resolve().parents[2]
    / ".."
    / "shared"
    / "fixtures"
    / "cultural"
    / "be-my-cheese-excerpt40.xlsx"
)


def row(lang, locale, model, unit, email, full, seg1, seg2, overall, parting=None):
    """One sheet row; seg = (id, surface, category, rating) with the `Segment 2` /
    `Segment 2 ID` swap."""
    c, s, a = full
    return [
        "31-45",
        "female",
        "BA",
        lang,
        locale,
        "Latin America",
        "Roman",
        model,
        unit,
        email,
        "text",
        c,
        s,
        a,
        "fine",
        seg1[0],
        seg1[1],
        seg1[2],
        "tr",
        seg1[3],
        None,
        seg2[1],
        seg2[0],
        seg2[2],
        "tr",
        seg2[3],
        None,
        overall,
        parting,
    ]


def published_rows():
    """Sheet rows 2-7. Row 4 is empty; row 5's Segment 1 rating 5 and row 6's category
    `proverb` are excluded. Row 3 is a second rater of unit 1_1 who has the two segments in
    the other order (ids say which is which)."""
    return [
        row(
            "Spanish",
            "Mexico",
            "M1",
            "1_1",
            "email_1",
            (2, 3, 2),
            (11, "Be mine", "idioms", 3),
            (12, "Valentine's Day", "holidays ", "na"),
            3,
            "thanks",
        ),
        row(
            "Spanish",
            "Mexico",
            "M1",
            "1_1",
            "email_1",
            (1, None, None),
            (12, "Valentine's Day", "Holidays", "NA"),
            (11, "Be mine", "Idioms", 2),
            2,
        ),
        [None] * len(HEADER),
        row(
            "Japanese",
            "Japan",
            "M2",
            "2_1",
            "email_1",
            (None, None, None),
            (21, "Be mine", "idiom", 5),
            (22, "Valentine's Day", "cultural concepts", 1),
            1,
        ),
        row(
            "Spanish",
            "Mexico",
            "M2",
            "3_1",
            "email_2",
            (None, None, None),
            (31, "Swipe right", "proverb", 2),
            (32, "brie mine", "Puns", 1),
            0,
        ),
        row(
            "Spanish",
            "Spain",
            "M1",
            "4_1",
            "email_2",
            (None, None, None),
            (41, "Swipe right", "cultural-concept", 2),
            (42, "brie mine", " pun ", "Na"),
            2,
        ),
    ]


@pytest.fixture
def sheet(tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "clean_final"
    ws.append(HEADER)
    for r in published_rows():
        ws.append(r)
    path = tmp_path / "cheese.xlsx"
    book.save(path)
    return path


class TestPublishedLayout:
    def test_read_with_no_options(self, sheet):
        read = read_ratings(sheet)
        assert read.layout == "be-my-cheese"
        assert (read.rows_read, read.empty_rows) == (5, 1)
        assert read.warnings.by_reason == {"empty_row": 1}
        assert read.warnings.items[0].locator == f"{sheet}:row 4"
        assert [(e.locator, e.reason) for e in read.exclusions.items] == [
            (f"{sheet}:row 5, Segment 1 rating", "rating_out_of_range"),
            (f"{sheet}:row 6, Segment 1 category", "category_outside_scheme"),
        ]
        df = read.frame
        first = df.row(0, named=True)
        assert (
            first["text_id"] == "email_1" and first["rater"] == "row-2" and first["unit"] == "1_1"
        )
        assert (first["language"], first["locale"], first["target"]) == (
            "Spanish",
            "Mexico",
            "Spanish (Mexico)",
        )
        assert (first["content"], first["style"], first["audience"], first["overall"]) == (
            2,
            3,
            2,
            3,
        )
        assert first["comment"] == "fine" and first["final_comment"] == "thanks"
        assert json.loads(first["rater_meta"])["age"] == "31-45"
        seg = df.filter(df["segment"].is_not_null())
        assert set(seg["category"]) == {"idiom", "holiday", "cultural_concept", "pun"}
        assert seg.filter(seg["rater"] == "row-3")["segment_id"].to_list() == ["12", "11"]
        assert seg["na"].sum() == 3 and seg.height == 8

    def test_figures_by_hand(self, sheet):
        read = read_ratings(sheet)
        r = analyze(read.frame, read=read.counts())
        assert r["overall_mean"] == 1.6  # 3, 2, 1, 0, 2
        assert {m: v["overall"] for m, v in r["by_model"].items()} == {
            "M1": pytest.approx(7 / 3, abs=1e-4),
            "M2": 0.5,
        }
        assert {k: v["overall"] for k, v in r["by_language"].items()} == {
            "Japanese": 1.0,
            "Spanish": 1.75,
        }
        assert {k: v["overall"] for k, v in r["by_locale"].items()} == {
            "Japan": 1.0,
            "Mexico": pytest.approx(5 / 3, abs=1e-4),
            "Spain": 2.0,
        }
        both = {
            c: {k: v["segment"] for k, v in cats.items()} for c, cats in r["by_category_na"].items()
        }
        assert both["zero"] == {"idiom": 2.5, "pun": 0.5, "holiday": 0.0, "cultural_concept": 1.5}
        assert both["exclude"] == {
            "idiom": 2.5,
            "pun": 1.0,
            "holiday": None,
            "cultural_concept": 1.5,
        }
        om = r["omission"]
        assert om["overall"] == 0.375  # 3 NA of 8 segment ratings
        assert om["by_model"] == {"M1": 0.5, "M2": 0.0}
        assert om["by_language"] == {"Japanese": 0.0, "Spanish": pytest.approx(3 / 7, abs=1e-4)}
        assert om["by_category"] == {
            "idiom": 0.0,
            "pun": 0.5,
            "holiday": 1.0,
            "cultural_concept": 0.0,
        }
        assert r["read"] == {
            "layout": "be-my-cheese",
            "rows_read": 5,
            "empty_rows_skipped": 1,
            "excluded": 2,
            "excluded_by_reason": {"category_outside_scheme": 1, "rating_out_of_range": 1},
            "warnings": {"empty_row": 1},
            "raters": 5,
            "units": {"full_text": 4, "segments": 6},
        }

    def test_agreement_units_are_unit_id_and_segment_id(self, sheet):
        r = analyze(read_ratings(sheet).frame)
        zero, excl = r["agreement_by_na"]["zero"], r["agreement_by_na"]["exclude"]
        assert r["agreement"] == zero
        # unit 1_1: overall 3 and 2; segment 11: 3 and 2; segment 12: NA and NA
        # (segment numbers differ)
        assert (zero["full_text"]["overall"]["units"], zero["full_text"]["overall"]["ratings"]) == (
            1,
            2,
        )
        assert zero["segments"]["all"]["units"] == 2
        assert zero["segments"]["all"]["alpha_ordinal"] == pytest.approx(
            5 / 6, abs=1e-4
        )  # NA as 0: {3,2},{0,0}
        assert excl["segments"]["all"]["alpha_ordinal"] == 0.0  # NA left out: only {3,2}
        # Fleiss (Gwet's form: chance from every rated unit): P_a = (0 + 1) / 2; category
        # shares over the six units 3: 1/12, 2: 1/4, 1: 1/3, NA: 1/3, P_e = 42/144;
        # kappa = (1/2 - 42/144) / (1 - 42/144) = 5/17
        assert zero["segments"]["all"]["fleiss_kappa"] == pytest.approx(5 / 17, abs=1e-4)
        assert excl["segments"]["all"]["fleiss_kappa"] == pytest.approx(
            5 / 17, abs=1e-4
        )  # nominal: NA a category
        assert {"idiom", "holiday", "pun", "cultural_concept"} <= set(zero["segments"])
        assert zero["segments"]["idiom"]["units"] == 1 and zero["segments"]["pun"]["units"] == 0

    def test_csv_reads_the_same(self, sheet, tmp_path):
        import csv

        path = tmp_path / "cheese.csv"
        with path.open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(HEADER)
            w.writerows([["" if v is None else v for v in r] for r in published_rows()])
        a, b = read_ratings(sheet), read_ratings(path)
        assert a.frame.equals(b.frame) and b.empty_rows == 1 and len(b.exclusions) == 2

    def test_cli_json_and_strict(self, sheet, tmp_path, capsys):
        runner = CliRunner()
        result = runner.invoke(app, ["cultural", "analyze", str(sheet), "--json"])
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        assert data["overall_mean"] == 1.6 and data["read"]["excluded"] == 2
        assert "row 5, Segment 1 rating" in result.stderr and "empty_row" in result.stderr
        assert main(["cultural", "analyze", str(sheet), "--strict"]) == 3
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "DSB303" in err[0] and "--strict" in err[0] and "row 4" in err[0]
        out = tmp_path / "long.jsonl"
        conv = runner.invoke(
            app, ["cultural", "convert", str(sheet), "--to", "long", "--out", str(out)]
        )
        assert conv.exit_code == 0, conv.output
        assert load_ratings(out).equals(read_ratings(sheet).frame)
        assert (
            main(["cultural", "convert", str(sheet), "--to", "long", "--out", str(out), "--strict"])
            == 3
        )

    def test_report_has_both_conventions_and_counts(self, sheet, tmp_path):
        pytest.importorskip("matplotlib")
        result = CliRunner().invoke(
            app, ["cultural", "analyze", str(sheet), "--report", str(tmp_path / "rep")]
        )
        assert result.exit_code == 0, result.output
        page = (tmp_path / "rep" / "report.html").read_text(encoding="utf-8")
        assert "By locale" in page and "NA excluded" in page and "NA zero: segments all" in page
        assert "5 rows read, 1 empty rows skipped, 2 ratings or rows excluded" in page


def test_category_names():
    assert [
        category_name(c)
        for c in (
            "puns",
            "idioms",
            "holidays ",
            "cultural concepts",
            "Cultural-Concept",
            "other",
            "proverb",
            "",
        )
    ] == ["pun", "idiom", "holiday", "cultural_concept", "cultural_concept", "other", None, None]


class TestColumns:
    HEADER = [
        "Text",
        "System",
        "Lang",
        "Rater",
        "How good, overall?",
        "Seg {n}".format(n=1),
        "Seg 1 type",
        "Seg 1 score",
        "Seg 2",
        "Seg 2 type",
        "Seg 2 score",
    ]
    COLUMNS = (
        "text_id=Text,model=System,language=Lang,rater=Rater,overall=How good, overall?,"
        'segment="Seg {n}",category=Seg {n} type,rating=Seg {n} score'
    )

    def write(self, tmp_path, *rows):
        import csv

        path = tmp_path / "study.csv"
        with path.open("w", encoding="utf-8", newline="") as fh:
            csv.writer(fh).writerows([self.HEADER, *rows])
        return path

    def test_parse(self):
        assert parse_columns(self.COLUMNS)["overall"] == "How good, overall?"
        assert parse_columns(['text_id="Email id"', "unit="]) == {"text_id": "Email id", "unit": ""}
        with pytest.raises(ConfigError, match="unknown field 'colour'"):
            parse_columns("colour=Red")
        with pytest.raises(ConfigError, match="needs {n}"):
            parse_columns("rating=Score")

    def test_a_new_study_needs_no_code(self, tmp_path):
        path = self.write(
            tmp_path,
            ["t1", "A", "fr", "r1", "3", "x", "idiom", "2", "y", "pun", "na"],
            ["t1", "A", "fr", "r2", "1", "x", "idiom", "2", "y", "pun", "1"],
        )
        read = read_ratings(path, parse_columns(self.COLUMNS))
        r = analyze(read.frame)
        assert r["overall_mean"] == 2.0 and r["by_language"]["fr"]["overall"] == 2.0
        assert r["by_category_na"]["zero"]["pun"]["segment"] == 0.5
        assert (
            r["agreement"]["segments"]["all"]["units"] == 2
        )  # fallback units: text x target x model x segment
        cli = CliRunner().invoke(
            app, ["cultural", "analyze", str(path), "--json", "--columns", self.COLUMNS]
        )
        assert cli.exit_code == 0, cli.output
        assert json.loads(cli.stdout)["overall_mean"] == 2.0

    def test_missing_header_is_named_with_the_fix(self, tmp_path, capsys):
        path = self.write(
            tmp_path, ["t1", "A", "fr", "r1", "3", "x", "idiom", "2", "y", "pun", "1"]
        )
        with pytest.raises(InputError) as info:
            read_ratings(path, parse_columns(self.COLUMNS.replace("model=System", "model=Engine")))
        assert info.value.code == "DSB302" and "no column 'Engine'" in str(info.value)
        assert "--columns model=" in str(info.value)
        with pytest.raises(InputError) as info:  # without --columns: not a known layout
            read_ratings(path)
        assert info.value.code == "DSB302" and "--columns text_id=" in str(info.value)
        assert main(["cultural", "analyze", str(path)]) == 3
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "DSB302" in err[0] and "--columns" in err[0]

    def test_published_sheet_without_email_id(self, tmp_path):
        import openpyxl

        book = openpyxl.Workbook()
        book.active.append([h if h != "Email id" else "Email" for h in HEADER])
        book.active.append(published_rows()[0])
        book.save(tmp_path / "s.xlsx")
        with pytest.raises(InputError) as info:
            read_ratings(tmp_path / "s.xlsx")
        assert "DSB302" in str(info.value) and "--columns" in str(info.value)
        assert (
            read_ratings(
                tmp_path / "s.xlsx", parse_columns("text_id=Email,unit=Unit id")
            ).frame.height
            == 3
        )


@pytest.mark.skipif(
    not FIXTURE.is_file(), reason="the published excerpt (../shared/fixtures) is not here"
)
class TestPublishedExcerpt:
    def expected(self):
        """Figures computed straight from the sheet with openpyxl, independently of dsbuild."""
        import openpyxl

        book = openpyxl.load_workbook(FIXTURE, read_only=True, data_only=True)
        rows = list(book["clean_final"].iter_rows(values_only=True))
        book.close()
        col = {h: i for i, h in enumerate(rows[0])}
        body = [r for r in rows[1:] if any(v is not None and str(v).strip() for v in r)]
        overall = [r[col[Q_OVERALL]] for r in body if isinstance(r[col[Q_OVERALL]], int)]
        seg_ratings = [r[col[f"Segment {n} rating"]] for r in body for n in range(1, 6)]
        return {
            "rows": len(body),
            "empty": len(rows) - 1 - len(body),
            "overall": sum(overall) / len(overall),
            "na": sum(1 for v in seg_ratings if isinstance(v, str) and v.strip().lower() == "na"),
            "segments": sum(1 for v in seg_ratings if v is not None),
        }

    def test_counts_and_overall_mean(self):
        exp = self.expected()
        read = read_ratings(FIXTURE)
        r = analyze(read.frame, read=read.counts())
        assert read.layout == "be-my-cheese"
        assert (
            r["read"]["rows_read"] == exp["rows"] == 40
            and r["read"]["empty_rows_skipped"] == exp["empty"]
        )
        assert r["read"]["excluded"] == 0 and r["read"]["raters"] == 40
        assert r["overall_mean"] == pytest.approx(exp["overall"], abs=1e-4)
        assert (
            r["counts"]["segment_ratings"] == exp["segments"]
            and r["counts"]["na_ratings"] == exp["na"]
        )
        assert set(r["by_category"]) == {"idiom", "pun", "holiday", "cultural_concept"}
        assert "Spanish" in r["by_language"] and "Mexico" in r["by_locale"]

    def test_cli(self):
        result = CliRunner().invoke(app, ["cultural", "analyze", str(FIXTURE), "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["overall_mean"] == pytest.approx(
            self.expected()["overall"], abs=1e-4
        )
