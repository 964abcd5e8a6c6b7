"""Each dataset exported and read back: `load_dataset("parquet", data_dir=...)` gives the
declared features and exactly the rows; the card's YAML parses with huggingface_hub; the
original-format files validate against the record schemas."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dsbuild.hub import export_run, validate_folder
from dsbuild.hub.features import features_for
from dsbuild.hub.rows import rows_for
from dsbuild.hub.rundata import read_run
from dsbuild.hub.splits import group_key, parse_proportions, split_rows


def _expected(dataset: str, run: Path) -> dict[str, list[dict]]:
    """Rows per split as `datasets` stores them (class labels as ints), in export order."""
    import datasets as hf

    rows = rows_for(dataset, read_run(run).records)
    parts = split_rows(dataset, rows, parse_proportions(None), seed=0)
    return {
        s: hf.Dataset.from_list(p, features=features_for(dataset)).to_list()
        for s, p in parts.items()
    }


def _load(data_dir: Path, cache: Path):
    import datasets as hf

    return hf.load_dataset("parquet", data_dir=str(data_dir), cache_dir=str(cache))


def _card(folder: Path):
    from huggingface_hub import DatasetCard, DatasetCardData

    card = DatasetCard.load(folder / "README.md")
    assert isinstance(card.data, DatasetCardData)
    return card, card.data.to_dict()


def _assert_roundtrip(
    dataset: str, run: Path, data_dir: Path, cache: Path, language: str | None = None
) -> None:
    loaded = _load(data_dir, cache)
    expected = _expected(dataset, run)
    if language is not None:
        expected = {
            s: [r for r in rows if r["language"] == language] for s, rows in expected.items()
        }
        expected = {s: rows for s, rows in expected.items() if rows}
    assert set(loaded) == set(expected)
    for split, rows in expected.items():
        assert loaded[split].features == features_for(dataset)
        assert loaded[split].to_list() == rows


def _assert_no_leak(dataset: str, folder: Path, jsonl_glob: str) -> None:
    where: dict[str, str] = {}
    for path in folder.glob(jsonl_glob):
        split = path.stem
        for line in path.read_text("utf-8").splitlines():
            key = group_key(dataset, json.loads(line))
            assert where.setdefault(key, split) == split, f"group {key} in two splits"


@pytest.mark.parametrize("dataset", ["psiloqa", "medrect", "cultural"])
def test_round_trip_with_a_language_column(dataset, request, tmp_path):
    run = request.getfixturevalue(f"{dataset}_run")
    result = export_run(dataset, run, tmp_path / "hf")
    folder = result.folder
    assert validate_folder(folder) == []
    _assert_roundtrip(dataset, run, folder / "data", tmp_path / "cache")
    _assert_no_leak(dataset, folder, "jsonl/*.jsonl")
    card, meta = _card(folder)
    assert meta["configs"] == [
        {
            "config_name": "default",
            "default": True,
            "data_files": [{"split": s, "path": f"data/{s}-*.parquet"} for s in result.splits],
        }
    ]
    assert meta["license"] and meta["language"] and meta["size_categories"] == ["n<1K"]
    assert meta["pretty_name"] and meta["task_categories"]
    for split in result.splits:
        assert f"data/{split}-00000-of-00001.parquet" in result.files
    assert "## Limitations" in card.text and "## Citation" in card.text


def test_psiloqa_original_format_and_card(psiloqa_run, tmp_path):
    from dsbuild.validation import validate_path

    result = export_run("psiloqa", psiloqa_run, tmp_path / "hf")
    n_records = len((psiloqa_run / "records.jsonl").read_text("utf-8").splitlines())
    assert n_records > 0 and sum(result.splits.values()) == n_records
    for split in result.splits:
        path = result.folder / "mushroom" / f"{split}.jsonl"
        report = validate_path(path, "psiloqa", "mushroom")
        assert report.invalid == 0 and report.valid == result.splits[split]
        assert (
            validate_path(result.folder / "jsonl" / f"{split}.jsonl", "psiloqa", "psiloqa").invalid
            == 0
        )
    card, meta = _card(result.folder)
    assert meta["language"] == ["de", "en"] and meta["multilinguality"] == "multilingual"
    # passages from a user's file: the licence cannot be known, so the card says so
    assert meta["license"] == "other"
    text = card.text
    assert "| qa | fake-model | fake-model | 24 |" in text
    assert "psiloqa/annotate" in text and "psiloqa/judge" in text
    assert "Hallucinated spans per language" in text and "Question complexity" in text
    assert "Rykov" in text


def test_psiloqa_complexity_is_a_class_label(psiloqa_run, tmp_path):
    import datasets as hf

    result = export_run("psiloqa", psiloqa_run, tmp_path / "hf")
    ds = _load(result.folder / "data", tmp_path / "cache")
    split = next(iter(ds.values()))
    assert split.features["complexity"] == hf.ClassLabel(names=["easy", "medium", "hard"])
    assert split.features["labels"] == hf.List(hf.List(hf.Value("int64"), length=2))
    spans = [r for r in split.to_list() if r["labels"]]
    assert spans
    for r in spans:
        for s, e in r["labels"]:
            assert r["llm_answer"][s:e] == "1907"


def test_entitycs_one_config_per_language(entitycs_run, tmp_path):
    result = export_run("entitycs", entitycs_run, tmp_path / "hf")
    folder = result.folder
    assert validate_folder(folder) == []
    languages = sorted(c["config_name"] for c in result.configs)
    assert "en" in languages and set(languages) <= {"en", "de", "fr", "ja"}
    for lang in languages:
        _assert_roundtrip(
            "entitycs", entitycs_run, folder / "data" / lang, tmp_path / "cache", lang
        )
    _assert_no_leak("entitycs", folder, "jsonl/*/*.jsonl")
    _, meta = _card(folder)
    assert {c["config_name"] for c in meta["configs"]} == set(languages)
    assert [c["config_name"] for c in meta["configs"] if c.get("default")] == ["en"]
    assert meta["language"] == languages
    # the embedded mini-Wikipedia is dsbuild's own text; labels come from Wikidata (CC0)
    assert meta["license"] == "apache-2.0"
    readme = (folder / "README.md").read_text("utf-8")
    assert "Wikidata" in readme and "CC0" in readme


def test_entitycs_from_a_wikipedia_dump_is_cc_by_sa(entitycs_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(entitycs_run, run)
    config = (run / "config.yaml").read_text("utf-8")
    (run / "config.yaml").write_text(
        config.replace("options: {}", "options:\n  wikipedia: enwiki.xml.bz2")
    )
    result = export_run("entitycs", run, tmp_path / "hf")
    _, meta = _card(result.folder)
    assert meta["license"] == "cc-by-sa-4.0"
    readme = (result.folder / "README.md").read_text("utf-8")
    assert "CC BY-SA 4.0" in readme and "share-alike" in readme


def test_medrect_original_formats(medrect_run, tmp_path):
    from dsbuild.medrect.formats import read_medec, read_medrect
    from dsbuild.schemas import MEDECRecord, MedRECTRecord

    result = export_run("medrect", medrect_run, tmp_path / "hf")
    assert sum(result.splits.values()) == 10  # 5 sample records x 2 variants
    for split, n in result.splits.items():
        medrect = read_medrect(result.folder / "medrect" / f"{split}.json")
        medec = read_medec(result.folder / "medec" / f"{split}.csv")
        assert len(medrect) == len(medec) == n
        for rec in medrect:
            MedRECTRecord.model_validate(rec)
        for row in medec:
            MEDECRecord.model_validate(row)
    readme = (result.folder / "README.md").read_text("utf-8")
    assert "No human annotation round" in readme
    assert "| screen | ambiguous_error | 2 |" in readme
    assert "openai:gpt-4o-mini" in readme and "x/inject_error" in readme


def test_cultural_ratings_na_and_agreement(cultural_run, tmp_path):
    from dsbuild.schemas import CulturalRecord

    result = export_run("cultural", cultural_run, tmp_path / "hf")
    loaded = _load(result.folder / "data", tmp_path / "cache")
    ratings = [x for s in loaded.values() for r in s.to_list() for x in r["ratings"]]
    na = [x for x in ratings if x["na"]]
    assert na and all(x["score"] is None for x in na)
    for split in result.splits:
        for line in (result.folder / "cultural" / f"{split}.jsonl").read_text("utf-8").splitlines():
            CulturalRecord.model_validate(json.loads(line))
    readme = (result.folder / "README.md").read_text("utf-8")
    assert "Annotation agreement (segment ratings" in readme and "alpha_ordinal" in readme
    _, meta = _card(result.folder)
    assert "ja" in meta["language"] and "de" in meta["language"]


def test_export_is_deterministic_and_replaces_its_own_folder(entitycs_run, tmp_path):
    first = export_run("entitycs", entitycs_run, tmp_path / "hf")
    readme = (first.folder / "README.md").read_bytes()
    second = export_run("entitycs", entitycs_run, tmp_path / "hf")
    assert second.splits == first.splits and (second.folder / "README.md").read_bytes() == readme
    other = export_run("entitycs", entitycs_run, tmp_path / "hf2", splits="0.5,0.25,0.25", seed=3)
    assert other.splits != first.splits


def test_export_refuses_a_foreign_folder_and_a_non_run(entitycs_run, tmp_path):
    from dsbuild.errors import UsageError

    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(UsageError, match="not a dsbuild export"):
        export_run("entitycs", entitycs_run, foreign)
    assert (foreign / "notes.txt").read_text() == "keep me"
    with pytest.raises(UsageError, match="no records.jsonl") as err:
        export_run("entitycs", tmp_path / "nothing", tmp_path / "out")
    assert "\n" not in str(err.value) and err.value.code == "DSB204"


def test_a_human_round_file_goes_into_the_card(medrect_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(medrect_run, run)
    for n, alpha in (("001", 0.5), ("002", 0.71), ("003", 0.9)):
        pull = run / "annotation" / "pulls" / n
        pull.mkdir(parents=True)
        (pull / "agreement.json").write_text(
            json.dumps(
                {
                    "annotators": 3,
                    "units": 40,
                    "units_with_2plus": 38,
                    "fields": {"error_flag": {"alpha_nominal": alpha, "units": 38}},
                }
            )
        )
        if n != "003":  # pull 003 never finished: not quoted
            (pull / "done.json").write_text("{}")
    result = export_run("medrect", run, tmp_path / "hf")
    readme = (result.folder / "README.md").read_text("utf-8")
    assert "Annotation agreement (human round: pull 002, annotators 3" in readme
    assert "| error_flag | alpha_nominal | 0.710 |" in readme and "0.900" not in readme
