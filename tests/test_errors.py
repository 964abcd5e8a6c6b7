from __future__ import annotations

import re

import pytest

from dsbuild.errors import (
    CODES,
    EXIT_CODES,
    BudgetExceededError,
    ConfigError,
    DsbuildError,
    InputError,
    ServiceError,
)


def test_one_line_message_has_code_what_and_fix():
    err = ConfigError("setting 'seed' is bad.\n(got 'x')", "give a number.", code="DSB103")
    assert err.one_line() == "DSB103: setting 'seed' is bad. (got 'x'); fix: give a number"


def test_exit_codes_by_family():
    assert ConfigError("x").exit_code == EXIT_CODES["usage"] == 2
    assert InputError("x").exit_code == 3
    assert ServiceError("x").exit_code == 4
    assert BudgetExceededError("x").exit_code == 5


def test_undocumented_code_is_refused():
    with pytest.raises(ValueError):
        DsbuildError("x", code="DSB999")


def test_every_code_used_in_source_is_documented_in_codes_and_readme(repo_root):
    REPO = repo_root
    used = set()
    for folder in ("dsbuild", "builders", "schemas", "cli"):
        for path in (REPO / folder).rglob("*.py"):
            used |= set(re.findall(r'"(DSB\d{3})"', path.read_text(encoding="utf-8")))
    assert used, "no codes found: the scan is broken"
    assert used <= set(CODES), f"undocumented: {sorted(used - set(CODES))}"
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = dict(re.findall(r"^\| (DSB\d{3}) \| (.+?) \|$", readme, flags=re.M))
    assert table == CODES, "README's code table differs from dsbuild.errors.CODES"


def test_warning_codes_are_documented_in_the_readme(repo_root):
    from dsbuild.quirks import WARNING_CODES

    readme = (repo_root / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- warnings:start -->")[1].split("<!-- warnings:end -->")[0]
    table = dict(re.findall(r"^\| ([a-z_]+) \| (.+?) \|$", block, flags=re.M))
    assert table == WARNING_CODES, (
        "README's warning table differs from dsbuild.quirks.WARNING_CODES"
    )
