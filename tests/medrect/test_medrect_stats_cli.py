"""`dsbuild medrect stats --json` carries the MedRECT summary for MedRECT and MEDEC files,
and `--chart` draws it."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from dsbuild.cli.app import app


def test_summary_and_chart_from_the_embedded_sample(tmp_path):
    from importlib.resources import files

    sample = str(files("dsbuild.samples") / "medrect.json")
    png = tmp_path / "m.png"
    result = CliRunner().invoke(app, ["medrect", "stats", sample, "--json", "--chart", str(png)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    records = json.loads(open(sample, encoding="utf-8").read())
    errors = sum(1 for r in records if r["error_flag"])
    summary = data["summary"]
    assert summary["records"] == len(records) and summary["error_records"] == errors
    assert summary["error_share"] == round(errors / len(records), 4)
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.fixtures
def test_medec_csv_rows_are_summarised_as_medrect(tmp_path, shared_fixtures):
    csv = shared_fixtures / "medrect" / "MEDEC-MS-ValidationSet-with-GroundTruth-and-ErrorType.csv"
    result = CliRunner().invoke(app, ["medrect", "stats", str(csv), "--json"])
    data = json.loads(result.output)
    assert data["format"] == "medec" and data["summary"]["records"] == 574
    assert data["summary"]["error_records"] == 319
