"""The test dataset's registration, shared by its tests here and the Label Studio round."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def registered():
    import glossary

    with glossary.registered() as spec:
        yield spec
