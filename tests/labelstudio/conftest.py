"""Fixtures for the Label Studio tests.

Unit tests need nothing. Integration tests (marked `labelstudio`) take `ls_client`, which
connects to the server `make test` started (env `DSBUILD_TEST_LABEL_STUDIO_URL` and
`..._TOKEN`) and skips, with the reason, when there is none.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "dsbuild" / "samples"


def load_sample(dataset: str) -> list[dict]:
    path = SAMPLES / f"{dataset}.jsonl"
    if path.is_file():
        return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    return json.loads((SAMPLES / f"{dataset}.json").read_text("utf-8"))


def make_run(folder: Path, records: list[dict]) -> Path:
    """A minimal run directory: just the final records."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "records.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    return folder


@pytest.fixture
def samples():
    """`samples(dataset)`: the records dsbuild ships as that dataset's sample."""
    return load_sample


@pytest.fixture
def make_run_dir(tmp_path):
    """`make_run_dir(records, name="run")`: a run directory holding just those records."""
    return lambda records, name="run": make_run(tmp_path / name, records)


@pytest.fixture(scope="session")
def ls_server() -> tuple[str, str]:
    """(url, token) of the session's Label Studio server; skip when there is none."""
    skip = os.environ.get("DSBUILD_TEST_LABEL_STUDIO_SKIP")
    if skip:
        pytest.skip(f"no Label Studio test server: {skip}")
    url = os.environ.get("DSBUILD_TEST_LABEL_STUDIO_URL")
    token = os.environ.get("DSBUILD_TEST_LABEL_STUDIO_TOKEN")
    if not url or not token:
        pytest.skip(
            "no Label Studio test server (run `make test`, which starts one, or set "
            "DSBUILD_TEST_LABEL_STUDIO_URL and DSBUILD_TEST_LABEL_STUDIO_TOKEN)"
        )
    from dsbuild.errors import ServiceError
    from dsbuild.labelstudio.client import LabelStudioClient

    try:
        LabelStudioClient(url, token, max_retries=0).whoami()
    except ServiceError as exc:
        pytest.skip(f"Label Studio test server at {url} is not usable: {exc}")
    return url, token


@pytest.fixture
def ls_client(ls_server):
    from dsbuild.labelstudio.client import LabelStudioClient

    return LabelStudioClient(*ls_server)


@pytest.fixture(scope="session")
def annotators(ls_server) -> dict[str, int]:
    """Two annotator accounts (email → user id) in the admin's organization."""
    from dsbuild.labelstudio.client import LabelStudioClient

    client = LabelStudioClient(*ls_server)
    return {
        email: client.ensure_user(email) for email in ("ann-a@dsbuild.test", "ann-b@dsbuild.test")
    }
