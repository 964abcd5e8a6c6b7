"""The dataset registry: every built-in spec is whole and agrees with the record formats, and
the shared layers never name a dataset (issue 16)."""

from __future__ import annotations

import re

import pytest

from dsbuild import datasets
from dsbuild.schemas import dataset_formats

SHARED = (
    "dsbuild/hub",
    "dsbuild/labelstudio",
    "dsbuild/stats.py",
    "dsbuild/runs",
    "dsbuild/llm",
    "dsbuild/validation.py",
)  # dsbuild/datasets.py names the built-in ones once: BUILTIN
NAMES = re.compile(r"""["'](psiloqa|entitycs|medrect|cultural)["']""")


@pytest.mark.parametrize("name", datasets.BUILTIN)
def test_builtin_specs_are_whole(name):
    spec = datasets.get(name)
    assert spec.name == name and spec.title and spec.description
    assert list(spec.formats) == dataset_formats()[name]
    assert spec.options_model().__name__ == "Options"
    for hook in ("export", "annotation", "stats"):
        assert spec.hook(hook) is not None, hook
    assert [s.name for s in spec.stage_plan()], "the stage plan comes from the builder"


def test_shared_layers_name_no_dataset(repo_root):
    found = []
    for part in SHARED:
        root = repo_root / part
        for path in [root] if root.is_file() else sorted(root.rglob("*.py")):
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if NAMES.search(line):
                    found.append(f"{path.relative_to(repo_root)}:{n}: {line.strip()}")
    assert not found, "\n".join(found)
