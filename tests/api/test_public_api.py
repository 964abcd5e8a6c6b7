"""The Python API the CLI stands on: build, open_run, validate, export, to_dataset."""

from __future__ import annotations

import json

import pytest

import dsbuild


@pytest.fixture(scope="module")
def entitycs_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("api") / "ecs"
    return dsbuild.build(
        "entitycs", run_dir=out, languages=["de", "fr"], cache_dir=out.parent / "cache"
    )


def test_build_returns_a_run_with_records_rejects_and_stats(entitycs_run):
    run = entitycs_run
    assert isinstance(run, dsbuild.Run) and run.dataset == "entitycs"
    records = run.records()
    assert records and {r["language"] for r in records} <= {"de", "fr", "en"}
    assert all(r["id"] for r in records)
    assert run.info()["status"] == "finished"
    assert {r["reason"] for r in run.rejects()}  # the sample has pages the filters drop
    stats = run.stats()
    assert stats["records"] == len(records)
    # the builder's own files were written, as after `dsbuild entitycs build`
    assert (run.path / "export" / "de.jsonl").is_file()


def test_open_run_validate_and_export(entitycs_run, tmp_path):
    run = dsbuild.open_run(entitycs_run.path)
    assert run == entitycs_run
    report = dsbuild.validate(run.path)
    assert report.ok and report.valid == len(run.records())
    result = dsbuild.export(run, tmp_path / "hf")
    assert (tmp_path / "hf" / "README.md").is_file()
    assert sum(result.splits.values()) == len(run.records())


def test_to_dataset_has_the_typed_features_and_every_row(entitycs_run):
    import datasets

    ds = entitycs_run.to_dataset()
    assert isinstance(ds, datasets.DatasetDict) and set(ds) <= {"train", "validation", "test"}
    assert sum(len(split) for split in ds.values()) == len(entitycs_run.records())
    from dsbuild.hub.features import features_for

    assert all(split.features == features_for("entitycs") for split in ds.values())


def test_open_run_refuses_a_folder_that_is_no_run(tmp_path):
    from dsbuild.errors import InputError

    with pytest.raises(InputError, match="not a run directory") as err:
        dsbuild.open_run(tmp_path)
    assert err.value.code == "DSB204"


def test_build_resumes_and_uses_the_same_settings_rules(entitycs_run):
    again = dsbuild.build(
        "entitycs",
        run_dir=entitycs_run.path,
        languages=["de", "fr"],
        cache_dir=entitycs_run.path.parent / "cache",
    )
    assert again.records() == entitycs_run.records()
    config = json.dumps(dsbuild.open_run(again.path).info())
    assert "finished" in config


def test_the_api_names_are_lazy():
    import subprocess
    import sys

    code = "import sys, dsbuild; print('dsbuild.api' in sys.modules, 'pydantic' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["False", "False"]
