"""`dsbuild <dataset> export`: the folder, its JSON summary, and a --help that stays light."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

from dsbuild.cli.app import app


def test_export_command_writes_the_folder(entitycs_run, tmp_path):
    out = tmp_path / "hf"
    result = CliRunner().invoke(
        app,
        [
            "entitycs",
            "export",
            str(entitycs_run),
            "--out",
            str(out),
            "--splits",
            "0.6,0.2,0.2",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["folder"] == str(out) and sum(summary["splits"].values()) > 0
    assert (out / "README.md").is_file() and (out / "data" / "en").is_dir()
    table = CliRunner().invoke(app, ["entitycs", "export", str(entitycs_run), "--out", str(out)])
    assert table.exit_code == 0 and "Exported entitycs" in table.output


def test_export_defaults_to_run_hf(entitycs_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(entitycs_run, run)
    result = CliRunner().invoke(app, ["entitycs", "export", str(run), "--json"])
    assert result.exit_code == 0, result.output
    assert (run / "hf" / "README.md").is_file()


def test_help_does_not_import_datasets_or_the_hub():
    code = (
        "import sys; from dsbuild.cli import main; main(['psiloqa', 'export', '--help']); "
        "main(['psiloqa', 'publish', '--help']); "
        "print(sorted(m for m in ('datasets', 'huggingface_hub', 'pyarrow') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
    assert "--dry-run" in out.stdout and "--splits" in out.stdout
