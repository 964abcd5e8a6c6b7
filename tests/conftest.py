from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_FIXTURES = REPO.parent / "shared" / "fixtures"


@pytest.fixture(autouse=True)
def _testing_models(monkeypatch):
    """Tests may name the test double (`fake:`) on the command line."""
    monkeypatch.setenv("DSBUILD_TESTING", "1")


@pytest.fixture(autouse=True, scope="session")
def _ray_session_files():
    """A local Ray started by a test keeps its session files in a folder of its own (short:
    Ray's socket paths must fit 107 bytes), removed at the end: nothing left in /tmp/ray."""
    import os
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="dsbray-")
    old = os.environ.get("DSBUILD_RAY_TMPDIR")
    os.environ["DSBUILD_RAY_TMPDIR"] = folder
    yield
    if old is None:
        os.environ.pop("DSBUILD_RAY_TMPDIR", None)
    else:
        os.environ["DSBUILD_RAY_TMPDIR"] = old
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def shared_fixtures() -> Path:
    """The real public files in ../shared/fixtures; skip when that folder is absent."""
    if not SHARED_FIXTURES.is_dir():
        pytest.skip(f"real fixtures not present at {SHARED_FIXTURES}")
    return SHARED_FIXTURES


@pytest.fixture
def repo_root() -> Path:
    return REPO


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run `dsbuild ARGS...` in-process; returns (exit code, stdout, stderr)."""
    from dsbuild.cli import main

    monkeypatch.setenv("COLUMNS", "200")

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def model_cli(cli):
    """Run `dsbuild ARGS... --model fake:default --no-progress` with `fake` (a `FakeLLM`)
    answering as that model; returns (exit code, stdout, stderr)."""
    from dsbuild.testing import installed

    def run(fake, *args: str) -> tuple[int, str, str]:
        with installed(fake):
            return cli(*args, "--model", "fake:default", "--no-progress")

    return run


@pytest.fixture
def stand_in():
    """`stand_in(name, builder, models=())`: dataset `name` builds with `builder` instead of
    its own (flags and CLI unchanged; any option accepted; nothing exported), until the test
    ends."""
    import dataclasses

    from pydantic import ConfigDict

    from dsbuild import datasets
    from dsbuild.builder_options import BuilderOptions

    class AnyOptions(BuilderOptions):
        model_config = ConfigDict(extra="allow", frozen=True)

    replaced: list[str] = []

    def install(name: str, builder, models=()):
        spec = dataclasses.replace(
            datasets.get(name),
            options=AnyOptions,
            make_builder=lambda settings: builder,
            model_specs=lambda settings: list(models),
            finalize=None,
        )
        datasets.register(spec)
        replaced.append(name)
        return spec

    yield install
    for name in replaced:
        datasets.unregister(name)
