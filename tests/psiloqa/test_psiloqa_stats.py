"""`dsbuild psiloqa stats`: span-length table and the PNG chart."""

from __future__ import annotations

import json

from click.testing import CliRunner

from dsbuild.cli.app import app


def _rows(tmp_path):
    rows = [
        {
            "id": "a",
            "lang": "en",
            "wiki_title": "T",
            "wiki_url": "u",
            "llm_checkpoint": "m",
            "wiki_passage": "p",
            "question": "q?",
            "golden_answer": "g",
            "llm_answer": "Paris was founded in 1850 by Napoleon.",
            "complexity": "easy",
            "labels": [[21, 25], [29, 37]],
        },
        {
            "id": "b",
            "lang": "de",
            "wiki_title": "T",
            "wiki_url": "u",
            "llm_checkpoint": "m",
            "wiki_passage": "p",
            "question": "q?",
            "golden_answer": "g",
            "llm_answer": "Ja.",
            "complexity": "hard",
            "labels": [],
        },
    ]
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_stats_json_has_span_lengths_and_the_chart_is_a_png(tmp_path):
    path, png = _rows(tmp_path), tmp_path / "chart.png"
    result = CliRunner().invoke(app, ["psiloqa", "stats", str(path), "--json", "--chart", str(png)])
    assert result.exit_code == 0, result.output
    tables = json.loads(result.output)["tables"]
    assert sorted(tables["Span length"]["rows"]) == [["1-5", 1, 50.0], ["6-10", 1, 50.0]]
    by_lang = {row[0]: row for row in tables["By language"]["rows"]}
    assert by_lang["en"][2] == 100.0 and by_lang["de"][2] == 0.0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_chart_for_a_format_without_one_is_a_clear_error(tmp_path, capsys):
    from dsbuild.cli import main

    path = tmp_path / "e.jsonl"
    path.write_text(json.dumps({"id": "x", "language": "de", "cs_sentence": "a"}) + "\n")
    code = main(["entitycs", "stats", str(path), "--chart", str(tmp_path / "c.png")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "DSB106" in err[0]
