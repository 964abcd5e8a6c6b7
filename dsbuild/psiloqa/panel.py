"""The agreement of an annotation panel (`--annotators`): each annotator model of a PsiloQA
build as one source of `dsbuild.psiloqa.agreement`, so the run reports the same figures as
`dsbuild psiloqa agreement` (pairwise IoU, both/neither, Krippendorff's alpha)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["panel_agreement", "panel_sources"]


def panel_sources(rows: Iterable[dict[str, Any]], where: str | Path = "records") -> list:
    """One `Source` per annotator found in the rows' `annotations` (an item an annotator
    could not label is missing from its source)."""
    from dsbuild.psiloqa.agreement import Source, SourceItem

    sources: dict[str, Any] = {}
    for row in rows:
        for name, spans in (row.get("annotations") or {}).items():
            source = sources.get(name)
            if source is None:
                source = sources[name] = Source(name, Path(where), "psiloqa", {})
            rid = str(row["id"])
            source.items[rid] = SourceItem(rid, row["llm_answer"], [list(s) for s in spans], row)
    return list(sources.values())


def panel_agreement(rows: list[dict[str, Any]], where: str | Path = "records") -> dict | None:
    """The panel's agreement report (`AgreementReport.to_dict()` without the per-item
    lines), or None when the rows have fewer than two annotators."""
    from dsbuild.psiloqa.agreement import measure

    sources = panel_sources(rows, where)
    if len(sources) < 2:
        return None
    report = measure(sources).to_dict()
    report.pop("per_item", None)
    return report
