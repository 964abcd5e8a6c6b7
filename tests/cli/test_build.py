"""`dsbuild <dataset> build` end to end through the CLI, with the toy builder standing in."""

from __future__ import annotations

import json

import pytest

SECRETS = {
    "OPENAI_API_KEY": "sk-test-0penai-s3cret",
    "HF_TOKEN": "hf_t0ken_s3cret",
    "LABEL_STUDIO_API_KEY": "ls-t0ken-s3cret",
}


@pytest.fixture
def toy_as_psiloqa(stand_in):
    from dsbuild.testing import toy_builder

    stand_in("psiloqa", toy_builder())  # the toy's records are not PsiloQA rows: nothing exported


def test_build_then_resume_skips_finished_stages(cli, tmp_path, toy_as_psiloqa):
    run = tmp_path / "run"
    code, out, _ = cli("psiloqa", "build", "-o", str(run), "--option", "n=40", "--no-progress")
    assert code == 0 and "finished" in out
    first = (run / "records.jsonl").read_bytes()
    assert first and json.loads((run / "run.json").read_text())["status"] == "finished"
    code, out, _ = cli("psiloqa", "build", "-o", str(run), "--option", "n=40", "--no-progress")
    assert code == 0 and out.count("skipped") == 4
    assert (run / "records.jsonl").read_bytes() == first


def test_changed_settings_refused_then_new_or_overwrite(cli, tmp_path, toy_as_psiloqa):
    run = tmp_path / "run"
    assert cli("psiloqa", "build", "-o", str(run), "--option", "n=20", "--no-progress")[0] == 0
    code, _, err = cli(
        "psiloqa", "build", "-o", str(run), "--option", "n=21", "--seed", "3", "--no-progress"
    )
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "DSB201" in lines[0]
    assert "seed" in lines[0] and "--new" in lines[0] and "--overwrite" in lines[0]

    code, out, _ = cli("psiloqa", "build", "-o", str(run), "--seed", "3", "--new", "--no-progress")
    assert code == 0 and (tmp_path / "run-2" / "records.jsonl").exists()
    code, _, _ = cli(
        "psiloqa", "build", "-o", str(run), "--seed", "3", "--overwrite", "--no-progress"
    )
    assert code == 0
    assert json.loads((run / "fingerprint.json").read_text())["config"]["seed"] == 3


def test_secrets_never_reach_any_file_of_a_run(cli, tmp_path, monkeypatch, toy_as_psiloqa):
    for var, value in SECRETS.items():
        monkeypatch.setenv(var, value)
    cfg = tmp_path / "settings.yaml"
    cfg.write_text("api_key: sk-from-the-yaml-s3cret\nhf_token: hf_from_yaml_s3cret\nseed: 2\n")
    run = tmp_path / "run"
    code, out, err = cli(
        "psiloqa",
        "build",
        "--config",
        str(cfg),
        "-o",
        str(run),
        "--option",
        "n=25",
        "--no-progress",
    )
    assert code == 0, err
    needles = [*SECRETS.values(), "sk-from-the-yaml-s3cret", "hf_from_yaml_s3cret"]
    files = [p for p in run.rglob("*") if p.is_file()]
    assert len(files) >= 8, "expected config, fingerprint, run.json, logs and stage files"
    for path in files:
        data = path.read_bytes()
        for needle in needles:
            assert needle.encode() not in data, f"secret leaked into {path}"
    for needle in needles:
        assert needle not in out and needle not in err
    config_yaml = (run / "config.yaml").read_text()
    assert (
        "api_key" not in config_yaml and "hf_token" not in config_yaml and "seed: 2" in config_yaml
    )
