"""The test dataset (tests/datasets/glossary.py) through a real Label Studio round."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "datasets"))


@pytest.fixture
def glossary_registered():
    import glossary

    with glossary.registered():
        yield


@pytest.mark.labelstudio
def test_the_fifth_dataset_pushes_to_a_real_server(cli, glossary_registered, tmp_path, ls_server):
    from glossary_fixtures import Definer

    from dsbuild.testing import installed

    url, token = ls_server
    run = tmp_path / "run"
    with installed(Definer()):
        assert (
            cli(
                "glossary",
                "build",
                "-o",
                str(run),
                "--model",
                "fake:default",
                "--no-progress",
                "--terms",
                "ledger,estuary",
            )[0]
            == 0
        )
    code, out, err = cli(
        "glossary", "annotate", "push", str(run), "--url", url, "--api-key", token, "--json"
    )
    assert code == 0, err
    pushed = json.loads(out)
    assert pushed["imported"] == 2, pushed
