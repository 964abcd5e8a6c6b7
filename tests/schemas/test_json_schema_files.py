from __future__ import annotations

import json

from dsbuild.schemas import FORMATS
from dsbuild.schemas.generate import JSON_DIR, main, render_schemas, stale_schemas

FIX = "run `python -m dsbuild.schemas.generate` and commit the files in schemas/json/"


def test_committed_schema_files_match_the_models():
    stale = stale_schemas()
    assert not stale, f"JSON Schema files are stale or missing: {stale}; {FIX}"


def test_no_schema_file_without_a_format():
    expected = {f"{name}.schema.json" for name in FORMATS}
    present = {p.name for p in JSON_DIR.glob("*.json")}
    assert present == expected, f"unexpected or missing files in {JSON_DIR}; {FIX}"


def test_rendering_is_deterministic_sorted_and_newline_terminated():
    first, second = render_schemas(), render_schemas()
    assert first == second
    for text in first.values():
        assert text.endswith("}\n")
        assert (
            text
            == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        )


def test_schemas_name_their_format_and_keep_aliases():
    rendered = {name: json.loads(render_schemas()[f"{name}.schema.json"]) for name in FORMATS}
    assert rendered["psiloqa"]["x-dsbuild"] == {
        "format": "psiloqa",
        "dataset": "psiloqa",
        "id_field": "id",
    }
    assert "Text ID" in rendered["medec"]["properties"]
    assert rendered["psiloqa"]["additionalProperties"] is True
    assert "labels" in rendered["psiloqa"]["required"]


def test_check_reports_a_stale_file(tmp_path):
    assert main(["--out", str(tmp_path)]) == 0
    assert stale_schemas(tmp_path) == []
    target = tmp_path / "psiloqa.schema.json"
    target.write_text(
        target.read_text(encoding="utf-8").replace('"labels"', '"label"'), encoding="utf-8"
    )
    assert stale_schemas(tmp_path) == ["psiloqa.schema.json"]
    assert main(["--check", "--out", str(tmp_path)]) == 1
    (tmp_path / "medec.schema.json").unlink()
    assert stale_schemas(tmp_path) == ["medec.schema.json", "psiloqa.schema.json"]
