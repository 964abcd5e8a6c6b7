"""The dataset builders: one module per dataset (`dsbuild.builders.<name>`), each holding its
stages and its `SPEC` (a `dsbuild.datasets.DatasetSpec`).

The registry is `dsbuild.datasets`; the helpers here run a spec's parts for the CLI and the
Python API (build, export after a build, the models a build asks).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dsbuild.datasets import get

if TYPE_CHECKING:
    from dsbuild.config import Settings

__all__ = ["finalize_run", "load_builder", "model_specs"]


def finalize_run(name: str, result, settings: Settings) -> tuple[Path, dict[str, int]] | None:
    """Write a finished run's records as the dataset's own files, if its spec has a
    `finalize`: returns (folder, rows per file) or None."""
    spec = get(name)
    finalize = spec.hook("finalize")
    if finalize is None:
        return None
    out = Path(settings.out) if settings.out else Path(result.run_dir) / "export"
    return out, finalize(result, out, options=dict(settings.options or {}))


def model_specs(name: str, settings: Settings) -> list[str | None]:
    """The model specs a dataset's build will ask (its spec's `model_specs`), or none."""
    return get(name).models(settings)


def load_builder(name: str, settings: Settings):
    """The dataset's `Builder` for these settings (its options checked first)."""
    return get(name).builder(settings)
