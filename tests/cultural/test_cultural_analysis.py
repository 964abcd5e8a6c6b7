from __future__ import annotations

import base64
import json

import pytest
from click.testing import CliRunner

from dsbuild.cli import main
from dsbuild.cli.app import app
from dsbuild.cultural.analysis import analyze
from dsbuild.cultural.ratings import frame_from_rows, load_ratings
from dsbuild.cultural.synthetic import SAMPLE_PATH
from dsbuild.errors import ConfigError


def seg(n, cat, **kw):
    return {"segment": n, "category": cat, "surface": f"s{n}", **kw}


def small_table():
    ja_a = {"text_id": "t1", "target": "ja-JP", "model": "mA"}
    ja_b = {"text_id": "t1", "target": "ja-JP", "model": "mB"}
    es_b = {"text_id": "t1", "target": "es-MX", "model": "mB"}
    rows = [
        {**ja_a, "rater": "r1", "overall": 3, "content": 2},
        {**ja_a, "rater": "r1", **seg(1, "idiom", score=3)},
        {**ja_a, "rater": "r1", **seg(2, "pun", na=True)},
        {**ja_a, "rater": "r2", "overall": 1},
        {**ja_a, "rater": "r2", **seg(1, "idiom", score=1)},
        {**ja_a, "rater": "r2", **seg(2, "pun", score=2)},
        {**ja_b, "rater": "r1", "overall": 2},
        {**ja_b, "rater": "r1", **seg(1, "idiom", na=True)},
        {**ja_b, "rater": "r1", **seg(2, "pun", comment="did not rate")},  # missing rating
        {**es_b, "rater": "r3", "overall": 0},
        {**es_b, "rater": "r3", **seg(1, "idiom", score=2)},
        {**es_b, "rater": "r3", **seg(2, "pun", score=0)},
    ]
    return frame_from_rows(rows)


class TestMeansByHand:
    def test_na_as_zero(self):
        r = analyze(small_table(), na="zero")
        assert r["overall_mean"] == 1.5  # (3 + 1 + 2 + 0) / 4
        assert r["full_text_means"]["content"] == 2.0
        assert r["segment_mean"] == pytest.approx(
            8 / 7, abs=1e-4
        )  # 3,0,1,2,0,2,0: the missing one is skipped
        assert {k: v["segment"] for k, v in r["by_category"].items()} == {
            "idiom": 1.5,
            "pun": pytest.approx(2 / 3, abs=1e-4),
        }
        assert r["by_model"]["mA"]["overall"] == 2.0 and r["by_model"]["mB"]["overall"] == 1.0
        assert r["by_model"]["mA"]["segment"] == 1.5 and r["by_model"]["mB"][
            "segment"
        ] == pytest.approx(2 / 3, abs=1e-4)
        assert (
            r["by_language"]["ja-JP"]["overall"] == 2.0
            and r["by_language"]["es-MX"]["overall"] == 0.0
        )
        assert r["model_by_language"] == {"mA": {"ja-JP": 2.0}, "mB": {"es-MX": 0.0, "ja-JP": 2.0}}
        assert r["counts"] == {
            "rows": 12,
            "texts": 1,
            "models": 2,
            "languages": 2,
            "raters": 3,
            "full_text_ratings": 4,
            "segment_ratings": 7,
            "na_ratings": 2,
            "missing_segment_ratings": 1,
        }

    def test_na_excluded(self):
        r = analyze(small_table(), na="exclude")
        assert r["overall_mean"] == 1.5  # full-text ratings have no NA
        assert r["segment_mean"] == 1.6  # 3,1,2,2,0
        assert {k: v["segment"] for k, v in r["by_category"].items()} == {"idiom": 2.0, "pun": 1.0}

    def test_omission_rates_are_separate_and_the_same_under_both_conventions(self):
        zero, excl = (
            analyze(small_table(), "zero")["omission"],
            analyze(small_table(), "exclude")["omission"],
        )
        assert zero == excl
        assert zero["overall"] == pytest.approx(2 / 7, abs=1e-4)
        assert zero["by_model"] == {"mA": 0.25, "mB": pytest.approx(1 / 3, abs=1e-4)}
        assert zero["by_category"] == {"idiom": 0.25, "pun": pytest.approx(1 / 3, abs=1e-4)}

    def test_agreement_units(self):
        ag = analyze(small_table())["agreement"]
        assert (ag["full_text"]["overall"]["units"], ag["full_text"]["overall"]["ratings"]) == (
            1,
            2,
        )
        assert ag["segments"]["all"]["units"] == 2 and set(ag["segments"]) == {
            "all",
            "idiom",
            "pun",
        }

    def test_bad_convention(self):
        with pytest.raises(ConfigError):
            analyze(small_table(), na="drop")


def test_report_files(tmp_path):
    pytest.importorskip("matplotlib")
    from dsbuild.cultural.report import write_report

    paths = write_report(analyze(load_ratings(SAMPLE_PATH)), tmp_path / "rep")
    assert set(paths) == {"heatmap", "categories", "omission", "html"}
    for name in ("heatmap", "categories", "omission"):
        assert paths[name].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = paths["html"].read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 3 and "http" not in page.replace("https://", "")
    embedded = page.split("data:image/png;base64,")[1].split("'")[0]
    assert base64.b64decode(embedded) == paths["heatmap"].read_bytes()
    assert "Krippendorff" in page and "sim:alpha" in page


class TestCli:
    def test_analyze_json_on_the_sample(self):
        result = CliRunner().invoke(app, ["cultural", "analyze", str(SAMPLE_PATH), "--json"])
        assert result.exit_code == 0, result.output
        data = json.loads(result.output)
        assert {
            "overall_mean",
            "by_model",
            "by_language",
            "by_category",
            "omission",
            "agreement",
        } <= set(data)
        assert data["na"] == "zero" and 0 < data["overall_mean"] < 3
        assert data["by_model"]["sim:alpha"]["overall"] > data["by_model"]["sim:gamma"]["overall"]
        assert set(data["agreement"]["segments"]) == {
            "all",
            "idiom",
            "pun",
            "holiday",
            "cultural_concept",
        }

    def test_analyze_table_and_report(self, tmp_path, monkeypatch):
        pytest.importorskip("matplotlib")
        monkeypatch.setenv("COLUMNS", "200")
        result = CliRunner().invoke(
            app,
            [
                "cultural",
                "analyze",
                str(SAMPLE_PATH),
                "--na",
                "exclude",
                "--report",
                str(tmp_path / "rep"),
            ],
        )
        assert result.exit_code == 0, result.output
        assert (
            "mean overall quality" in result.output and "left out of segment means" in result.output
        )
        assert (tmp_path / "rep" / "report.html").is_file() and (
            tmp_path / "rep" / "heatmap.png"
        ).is_file()

    def test_convert_round_trip_and_analyze_a_wide_sheet(self, tmp_path):
        runner = CliRunner()
        args = [
            "cultural",
            "convert",
            str(SAMPLE_PATH),
            "--to",
            "wide-xlsx",
            "--out",
            str(tmp_path / "w.xlsx"),
        ]
        assert runner.invoke(app, args).exit_code == 0
        r = runner.invoke(
            app,
            [
                "cultural",
                "convert",
                str(tmp_path / "w.xlsx"),
                "--to",
                "long",
                "--out",
                str(tmp_path / "l.jsonl"),
            ],
        )
        assert r.exit_code == 0 and "810 rows" in r.output
        assert (
            load_ratings(tmp_path / "l.jsonl")
            .drop("start", "end")
            .equals(load_ratings(SAMPLE_PATH).drop("start", "end"))
        )
        wide = json.loads(
            runner.invoke(app, ["cultural", "analyze", str(tmp_path / "w.xlsx"), "--json"]).output
        )
        long = json.loads(
            runner.invoke(app, ["cultural", "analyze", str(SAMPLE_PATH), "--json"]).output
        )
        skip = (
            "input",
            "read",
        )  # how the file was read differs (layout, rows); every figure is the same
        assert {k: v for k, v in wide.items() if k not in skip} == {
            k: v for k, v in long.items() if k not in skip
        }
        assert (wide["read"]["layout"], long["read"]["layout"]) == ("wide", "long")

    def test_convert_checks_the_extension(self, tmp_path):
        r = CliRunner().invoke(
            app,
            [
                "cultural",
                "convert",
                str(SAMPLE_PATH),
                "--to",
                "wide-csv",
                "--out",
                str(tmp_path / "w.xlsx"),
            ],
        )
        assert r.exit_code == 2 and "writes .csv" in r.output

    def test_errors_exit_with_their_code(self, tmp_path, capsys):
        assert main(["cultural", "analyze", str(tmp_path / "none.jsonl")]) == 3
        assert "DSB301" in capsys.readouterr().err
        assert main(["cultural", "analyze", str(SAMPLE_PATH), "--na", "half"]) == 2


def test_stats_on_records_without_ratings_yet(tmp_path):
    """A fresh build has translations but no ratings: stats must still work."""
    import json

    from dsbuild.stats import compute_stats

    path = tmp_path / "r.jsonl"
    record = {
        "id": "e1",
        "lang": "en",
        "text": "Happy Thanksgiving!",
        "source": "t",
        "nuances": [{"start": 6, "end": 18, "category": "holiday", "surface": "Thanksgiving"}],
        "translations": [{"system": "m", "target_lang": "ja-JP", "text": "x"}],
    }
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    stats = compute_stats(path, "cultural")
    assert stats["records"] == 1 and "Ratings by system" not in stats["tables"]
