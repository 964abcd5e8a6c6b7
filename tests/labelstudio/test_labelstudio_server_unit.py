"""Server helpers, client errors and CLI wiring that need no Label Studio server."""

from __future__ import annotations

import json
import socket

import pytest
from click.testing import CliRunner

from dsbuild.cli import main
from dsbuild.cli.app import app
from dsbuild.errors import ServiceError, UsageError
from dsbuild.labelstudio.client import LabelStudioClient
from dsbuild.labelstudio.server import (
    AdminAccount,
    find_executable,
    free_port,
    port_is_free,
    read_account,
    server_env,
    wait_ready,
    write_account,
)


def test_server_env_drops_stray_variables_and_turns_telemetry_off() -> None:
    account = AdminAccount("admin@x.org", "pw", "tok")
    env = server_env(
        account,
        {
            "HOST": "0.0.0.0",
            "PORT": "9",
            "USERNAME": "me",
            "PASSWORD": "p",
            "DEBUG": "1",
            "PATH": "/bin",
        },
    )
    assert not {"HOST", "PORT", "USERNAME", "PASSWORD", "DEBUG"} & set(env)
    assert env["PATH"] == "/bin"
    assert env["DJANGO_DB"] == "sqlite" and env["LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN"] == "true"
    assert env["LABEL_STUDIO_USER_TOKEN"] == "tok" and env["LABEL_STUDIO_USERNAME"] == "admin@x.org"
    assert env["SENTRY_DSN"] == "" and env["COLLECT_ANALYTICS"] == "false"


def test_busy_port_is_noticed() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert not port_is_free("127.0.0.1", port)
    assert port_is_free("127.0.0.1", free_port())


def test_missing_program_says_how_to_install(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("DSBUILD_LABEL_STUDIO_BIN", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("dsbuild.labelstudio.server._CHECKOUT", tmp_path)
    with pytest.raises(UsageError, match="label-studio==1.23.2"):
        find_executable(tmp_path / "nope")


def test_account_file_round_trip(tmp_path) -> None:
    account = AdminAccount.generate()
    write_account(tmp_path, account)
    assert read_account(tmp_path) == account
    assert (tmp_path / "dsbuild-admin.json").stat().st_mode & 0o077 == 0


def test_wait_ready_gives_up_with_a_clear_error() -> None:
    port = free_port()
    with pytest.raises(ServiceError, match=f"127.0.0.1:{port} was not ready after 1 s"):
        wait_ready(f"http://127.0.0.1:{port}", "tok", timeout=1.0)


def test_server_down_is_one_clear_line() -> None:
    client = LabelStudioClient(f"http://127.0.0.1:{free_port()}", "tok", max_retries=0)
    with pytest.raises(ServiceError) as info:
        client.get_project(3)
    message = str(info.value)
    assert message.startswith("DSB401: cannot reach Label Studio at http://127.0.0.1:")
    assert "project 3" in message and "dsbuild labelstudio serve" in message and "\n" not in message


def test_missing_url_or_token_is_a_config_error() -> None:
    with pytest.raises(UsageError, match="LABEL_STUDIO_URL"):
        LabelStudioClient("", "tok")
    with pytest.raises(UsageError, match="LABEL_STUDIO_API_KEY"):
        LabelStudioClient("http://127.0.0.1:1", "")


def test_cli_has_serve_and_annotate_verbs() -> None:
    runner = CliRunner()
    assert "serve" in runner.invoke(app, ["labelstudio", "--help"]).output
    for dataset in ("psiloqa", "medrect", "cultural", "entitycs"):
        out = runner.invoke(app, [dataset, "annotate", "--help"]).output
        assert all(verb in out for verb in ("push", "pull", "status"))


def _run_with_record(tmp_path, samples):
    run = tmp_path / "run"
    run.mkdir()
    (run / "records.jsonl").write_text(json.dumps(samples("psiloqa")[0]) + "\n", "utf-8")
    return run


def test_pull_before_push_says_what_to_do(tmp_path, samples, capsys) -> None:
    run = _run_with_record(tmp_path, samples)
    code = main(
        ["psiloqa", "annotate", "pull", str(run), "--url", "http://127.0.0.1:1", "--api-key", "x"]
    )
    err = capsys.readouterr().err
    assert code == 2 and "has not been pushed" in err and "annotate push" in err


def test_push_of_a_folder_without_records(tmp_path, capsys) -> None:
    code = main(
        [
            "psiloqa",
            "annotate",
            "push",
            str(tmp_path),
            "--url",
            f"http://127.0.0.1:{free_port()}",
            "--api-key",
            "x",
        ]
    )
    assert code == 2 and "no records.jsonl" in capsys.readouterr().err


def test_push_to_a_server_that_is_down(tmp_path, samples, capsys) -> None:
    run = _run_with_record(tmp_path, samples)
    code = main(
        [
            "psiloqa",
            "annotate",
            "push",
            str(run),
            "--url",
            f"http://127.0.0.1:{free_port()}",
            "--api-key",
            "x",
        ]
    )
    err = capsys.readouterr().err
    assert code == 4 and "cannot reach Label Studio" in err and len(err.strip().splitlines()) == 1
    assert not (run / "annotation" / "project.json").exists()


def test_makefile_start_without_a_server_program_leaves_a_skip_reason(
    tmp_path, monkeypatch
) -> None:
    from dsbuild.labelstudio.server import _main

    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("DSBUILD_LABEL_STUDIO_BIN", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("dsbuild.labelstudio.server._CHECKOUT", tmp_path)
    stale = tmp_path / "state" / "sessions" / "999999999"
    stale.mkdir(parents=True)  # a session whose `make test` shell is gone
    assert _main(["start", "--state", str(tmp_path / "state"), "--session", "42"]) == 1
    assert not stale.exists()
    env = (tmp_path / "state" / "sessions" / "42.env.sh").read_text()
    assert env.startswith("export DSBUILD_TEST_LABEL_STUDIO_SKIP=") and "label-studio" in env
    assert _main(["stop", "--state", str(tmp_path / "state"), "--session", "42"]) == 0
    assert not (tmp_path / "state" / "sessions" / "42.env.sh").exists()
