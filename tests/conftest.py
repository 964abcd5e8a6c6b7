from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_FIXTURES = REPO.parent / "shared" / "fixtures"


@pytest.fixture
def shared_fixtures() -> Path:
    """The real public files in ../shared/fixtures; skip when that folder is absent."""
    if not SHARED_FIXTURES.is_dir():
        pytest.skip(f"real fixtures not present at {SHARED_FIXTURES}")
    return SHARED_FIXTURES


@pytest.fixture
def repo_root() -> Path:
    return REPO
