"""The dedup stage of the MedRECT builder: one record per (question, choice), then one per text.

Each synthesis model writes a record per choice; the k-th (question, choice) pair keeps the
record of the k-th model of the roster in turn (the next one when it has none), so the
models alternate across the dataset. A kept record whose text (whitespace normalised) an
earlier one already has is dropped too.
"""

from __future__ import annotations

from dsbuild.stages import Reject

__all__ = ["dedup_records"]


def dedup_records(records: list[dict]) -> tuple[list[dict], list[Reject]]:
    """The kept records and a reject (`duplicate_choice`, `duplicate_text`) for each other."""
    groups: dict[tuple[str, str], list[dict]] = {}
    models: list[str] = []
    for r in records:
        meta = r["metadata"]
        groups.setdefault((meta["question_id"], meta["choice"]), []).append(r)
        if meta["source_model"] not in models:
            models.append(meta["source_model"])
    kept: list[dict] = []
    rejects: list[Reject] = []
    texts: dict[str, str] = {}
    for k, group in enumerate(groups.values()):
        pick = group[0]
        if len(group) > 1:
            order = models[k % len(models) :] + models[: k % len(models)]
            pick = min(group, key=lambda r: order.index(r["metadata"]["source_model"]))
            for r in group:
                if r is not pick:
                    rejects.append(
                        Reject(
                            r["id"],
                            "dedup",
                            "duplicate_choice",
                            f"kept {pick['id']} from {pick['metadata']['source_model']}",
                        )
                    )
        key = " ".join(pick["sentences"].split())
        if key in texts:
            rejects.append(
                Reject(pick["id"], "dedup", "duplicate_text", f"same text as {texts[key]}")
            )
            continue
        texts[key] = pick["id"]
        kept.append(pick)
    return kept, rejects
