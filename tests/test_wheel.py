"""The built wheel installs into a fresh venv and its `dsbuild` command works (offline)."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory, repo_root_module) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(repo_root_module),
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "-w",
            str(out),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    (path,) = out.glob("dsbuild-*.whl")
    return path


@pytest.fixture(scope="module")
def repo_root_module() -> Path:
    return Path(__file__).resolve().parent.parent


def test_wheel_holds_every_subpackage_and_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "dsbuild/__init__.py",
        "dsbuild/cli/__init__.py",
        "dsbuild/builders/__init__.py",
        "dsbuild/schemas/__init__.py",
        "dsbuild/data_cards/__init__.py",
        "dsbuild/runs/__init__.py",
        "dsbuild/testing/__init__.py",
    ):
        assert required in names, required
    assert any(n.startswith("dsbuild/schemas/json/") and n.endswith(".json") for n in names)
    assert any(n.startswith("dsbuild/samples/") and n.endswith((".jsonl", ".json")) for n in names)
    assert not any(n.startswith(("tests/", "builders/", "cli/")) for n in names)


def test_wheel_installs_in_fresh_venv_and_runs(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run(
        [str(py), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
        text=True,
    )
    # Dependencies come from the test's own environment, so the test needs no network.
    site = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "_deps_from_test_env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    # Run outside the checkout, so nothing is imported from the source tree by accident.
    def run(*cmd: str) -> subprocess.CompletedProcess:
        return subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=tmp_path)

    exe = str(venv / "bin" / "dsbuild")
    help_out = run(exe, "--help")
    assert "psiloqa" in help_out.stdout and "Exit codes" in help_out.stdout
    listed = run(exe, "list", "--json")
    assert set(json.loads(listed.stdout)) == {"psiloqa", "entitycs", "medrect", "cultural"}
    where = run(str(py), "-c", "import dsbuild.schemas, dsbuild.cli; print(dsbuild.cli.__file__)")
    assert where.stdout.strip().startswith(str(venv)), (
        f"imported from {where.stdout}, not the wheel"
    )
    sample = run(
        str(py),
        "-c",
        "from dsbuild.cli.demo import sample_files; print(sample_files('medrect')[0])",
    )
    checked = run(exe, "medrect", "validate", sample.stdout.strip())
    assert "Validation" in checked.stdout
