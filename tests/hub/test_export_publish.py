"""Publishing end to end against an in-process fake Hub (huggingface_hub's shared httpx2
client routed to a MockTransport): what is committed, and every refusal, each one line."""

from __future__ import annotations

import json

import pytest

from dsbuild.errors import InputError, ServiceError, UsageError
from dsbuild.hub import export_run, plan_upload, publish_folder


@pytest.fixture
def folder(psiloqa_run, tmp_path):
    return export_run("psiloqa", psiloqa_run, tmp_path / "hf").folder


def test_upload_creates_the_repo_and_commits_every_file(folder, fake_hub):
    plan = publish_folder(folder, "alice/psiloqa-test", token=fake_hub.TOKEN, private=True)
    assert plan.user == "alice" and plan.created is True
    assert fake_hub.repos["alice/psiloqa-test"] == {
        "name": "psiloqa-test",
        "organization": "alice",
        "visibility": "private",
        "type": "dataset",
    }
    assert len(fake_hub.commits) == 1
    commit = fake_hub.commits[0]
    expected = {p for p, _ in plan_upload(folder)}
    assert set(commit["files"]) == expected
    assert ".dsbuild-export.json" not in expected and "README.md" in expected
    assert any(p.startswith("data/") and p.endswith(".parquet") for p in expected)
    assert {"mushroom", "jsonl", "csv"} <= {p.split("/")[0] for p in expected}
    # the committed bytes are the folder's, README included, and the card parses
    for path, content in commit["files"].items():
        assert content == (folder / path).read_bytes()
    from huggingface_hub import DatasetCard

    card = DatasetCard(commit["files"]["README.md"].decode())
    assert card.data.configs[0]["data_files"][0]["path"].startswith("data/")
    assert "# PsiloQA-style span-level hallucination data" in card.text
    assert plan.commit_url.endswith("/commit/" + "1" * 40)
    assert ("GET", "/api/whoami-v2") in fake_hub.requests


def test_second_upload_reuses_the_repo_of_an_organisation(folder, fake_hub):
    publish_folder(folder, "alice-lab/ds", token=fake_hub.TOKEN)
    plan = publish_folder(folder, "alice-lab/ds", token=fake_hub.TOKEN, private=True)
    assert plan.created is False and len(fake_hub.commits) == 2
    assert any("visibility was left" in n for n in plan.notes)


def test_dry_run_sends_nothing(folder, fake_hub):
    plan = publish_folder(folder, "alice/x", token=None, dry_run=True)
    assert fake_hub.requests == []
    assert [p for p, _ in plan.files] == [p for p, _ in plan_upload(folder)]
    assert any("no Hugging Face token" in n for n in plan.notes)


def _one_line(exc) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


def test_refuses_without_a_token(folder, fake_hub):
    with pytest.raises(UsageError) as exc:
        publish_folder(folder, "alice/x", token=None)
    assert "no Hugging Face token" in _one_line(exc) and "HF_TOKEN" in str(exc.value)
    assert fake_hub.requests == []


def test_refuses_a_repo_owned_by_someone_else(folder, fake_hub):
    with pytest.raises(UsageError) as exc:
        publish_folder(folder, "bob/x", token=fake_hub.TOKEN)
    text = _one_line(exc)
    assert "belongs to 'bob'" in text and "alice/x" in text
    assert fake_hub.commits == [] and fake_hub.repos == {}


def test_a_rejected_token_is_a_service_error(folder, fake_hub):
    with pytest.raises(ServiceError) as exc:
        publish_folder(folder, "alice/x", token="hf_wrong")
    assert "HTTP 401" in _one_line(exc) and exc.value.code == "DSB401"


def test_refuses_an_invalid_folder(folder, fake_hub):
    for shard in (folder / "data").glob("train-*.parquet"):
        shard.write_bytes(b"not parquet")
    with pytest.raises(InputError) as exc:
        publish_folder(folder, "alice/x", token=fake_hub.TOKEN)
    assert "not a readable Parquet file" in _one_line(exc)
    assert fake_hub.requests == []


def test_refuses_a_card_without_licence_or_a_missing_shard(folder, fake_hub):
    readme = folder / "README.md"
    readme.write_text(readme.read_text("utf-8").replace("license: other\n", ""), "utf-8")
    with pytest.raises(InputError, match="the card has no `license`"):
        publish_folder(folder, "alice/x", token=fake_hub.TOKEN)
    readme.write_text("no front matter at all", "utf-8")
    with pytest.raises(InputError, match="the card has no"):
        publish_folder(folder, "alice/x", token=fake_hub.TOKEN)
    (folder / "README.md").unlink()
    with pytest.raises(InputError, match="no README.md"):
        publish_folder(folder, "alice/x", token=fake_hub.TOKEN)


def test_refuses_a_bad_repo_id(folder):
    with pytest.raises(UsageError, match="not OWNER/NAME"):
        publish_folder(folder, "just-a-name", token="t")


def test_cli_publish_with_hf_token_from_the_environment(
    psiloqa_run, fake_hub, monkeypatch, tmp_path
):
    from click.testing import CliRunner

    from dsbuild.cli.app import app

    monkeypatch.setenv("HF_TOKEN", fake_hub.TOKEN)
    out = tmp_path / "hf"
    result = CliRunner().invoke(
        app,
        [
            "psiloqa",
            "publish",
            str(psiloqa_run),
            "--repo",
            "alice/cli-ds",
            "--out",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert plan["repo"] == "alice/cli-ds" and plan["created"] is True
    assert set(fake_hub.files["alice/cli-ds"]) == {f["path"] for f in plan["files"]}


def test_cli_publish_refusals_are_one_line_with_exit_codes(
    psiloqa_run, fake_hub, tmp_path, capsys, monkeypatch
):
    from click.testing import CliRunner

    from dsbuild.cli import main
    from dsbuild.cli.app import app

    out = tmp_path / "hf"
    code = main(["psiloqa", "publish", str(psiloqa_run), "--repo", "alice/x", "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err
    assert err.startswith("dsbuild: error DSB103: no Hugging Face token")
    monkeypatch.setenv("HF_TOKEN", fake_hub.TOKEN)
    code = main(["psiloqa", "publish", str(out), "--repo", "bob/x"])
    assert code == 2 and "belongs to 'bob'" in capsys.readouterr().err
    shard = next((out / "data").glob("*.parquet"))
    good = shard.read_bytes()
    shard.write_bytes(b"broken")
    code = main(["psiloqa", "publish", str(out), "--repo", "alice/x"])
    err = capsys.readouterr().err.strip()
    assert code == 3 and "\n" not in err and "not a readable Parquet file" in err
    assert fake_hub.commits == []
    shard.write_bytes(good)
    fake_hub.requests.clear()
    dry = CliRunner().invoke(
        app, ["psiloqa", "publish", str(out), "--repo", "alice/x", "--dry-run"]
    )
    assert dry.exit_code == 0 and "README.md" in dry.output and "Dry run" in dry.output
    assert fake_hub.requests == []
