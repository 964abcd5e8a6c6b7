"""Run records -> exported table rows: exactly the columns of `features_for(dataset)`, one
type per column, so every row of a dataset fits one Arrow schema.

The conversion is the dataset's export hook (`rows(record, index)`): fields a record may
lack become null; nested provenance and metadata become JSON strings (canonical: sorted
keys, `hooks.json_text`), which the hook's `record_of` decodes again for the original
formats. One record may give several rows (e.g. one per translation).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from dsbuild.errors import InputError
from dsbuild.hub.hooks import hooks_for

__all__ = ["rows_for"]


def rows_for(dataset: str, records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The exported rows of `records` (see the module docstring)."""
    hooks = hooks_for(dataset)
    rows: list[dict[str, Any]] = []
    for i, record in enumerate(records):
        try:
            rows.extend(hooks.rows(record, i))
        except (KeyError, TypeError, ValueError) as exc:
            rid = record.get("id") or record.get(hooks.unique_key) or f"#{i + 1}"
            raise InputError(
                f"{dataset} record {rid!r} cannot be exported ({type(exc).__name__}: {exc})",
                f"check it with `dsbuild {dataset} validate`",
                code="DSB303",
            ) from exc
    return rows
