"""One input item of a map stage: call the stage's function, turn what it returned into the
item's checkpoint line. The same code runs in the runner's process and in worker processes
(`dsbuild.runs.parts`)."""

from __future__ import annotations

from typing import Any

from dsbuild.errors import DsbuildError
from dsbuild.outcomes import Pending
from dsbuild.runs.jsonl import dumps_line
from dsbuild.runs.loglines import out_line, pending_line, reject_line
from dsbuild.stages import Rejection, Stage, StageContext, normalize_map_result

__all__ = [
    "FIX_STAGE",
    "call_map",
    "item_line",
    "pending_item_line",
    "output_lines",
    "placeholder",
    "stage_error",
]

FIX_STAGE = (
    "fix the stage or its input, then re-run the same command: finished records are "
    "kept and the run resumes where it stopped"
)


def stage_error(stage: Stage, where: str, exc: BaseException) -> DsbuildError:
    """DSB205 naming the stage and the record (`where`) it failed on."""
    return DsbuildError(
        f"stage {stage.name!r} raised on {where}: {type(exc).__name__}: {exc}",
        FIX_STAGE,
        code="DSB205",
    )


def call_map(stage: Stage, record: dict, ctx: StageContext) -> Any:
    try:
        return stage.fn(record, ctx)
    except (DsbuildError, Pending):
        raise
    except Exception as e:
        raise stage_error(stage, f"record {record.get('id')!r}", e) from e


def _not_json(stage: Stage, record: dict, what: str, e: Exception) -> DsbuildError:
    return DsbuildError(
        f"stage {stage.name!r} {what} that is not JSON-serialisable for record "
        f"{record.get('id')!r}: {e}",
        "return only str, int, float, bool, None, lists and dicts",
        code="DSB205",
    )


def output_lines(stage: Stage, record: dict, outputs: list[dict]) -> bytes:
    """`outputs` (of input `record`) as JSON lines; non-JSON output is the stage's error."""
    try:
        return b"".join(dumps_line(r) for r in outputs)
    except (TypeError, ValueError) as e:
        raise _not_json(stage, record, "returned a record", e) from e


def placeholder(stage: Stage, record: dict, p: Pending) -> list[dict] | None:
    """The output shown for now for a pending item (None: it has none)."""
    if p.output is None:
        return None
    out = normalize_map_result(p.output, record, stage.name)
    return [] if isinstance(out, Rejection) else out


def item_line(stage: Stage, index: int, record: dict, result: list[dict] | Rejection) -> bytes:
    """The checkpoint line for one input item; non-JSON output is the stage's error."""
    try:
        if isinstance(result, Rejection):
            return reject_line(index, record["id"], result.reason, result.detail)
        return out_line(index, result)
    except (TypeError, ValueError) as e:
        raise _not_json(stage, record, "returned a record", e) from e


def pending_item_line(stage: Stage, index: int, record: dict, p: Pending) -> bytes | None:
    """The line of a pending item that has a placeholder output (None: it has none, and
    nothing is logged for it)."""
    outputs = placeholder(stage, record, p)
    if outputs is None:
        return None
    try:
        return pending_line(index, record["id"], p.reason, p.detail, outputs)
    except (TypeError, ValueError) as e:
        raise _not_json(stage, record, "gave a placeholder", e) from e
