"""The builder contract: a builder is an ordered list of named stages over JSON records.

Stages are plain functions and know nothing about files; the runner (`dsbuild.runs`) feeds
them records, checkpoints what they return and resumes after a kill. Three kinds::

    source_stage(name, fn)   fn(ctx) -> Iterable[dict]          deterministic for a config
    map_stage(name, fn)      fn(record, ctx) -> MapResult       per record; sync or async
                             (optional prepare(ctx, records) first, e.g. to build an index)
    batch_stage(name, fn)    fn(records, ctx) -> (records, rejects)   whole-dataset work

A map function returns one record dict, a list of record dicts (0..n outputs), `True`
(keep the input unchanged), or a rejection, always `reject(reason, detail)` (one way to say
it; a reason code is required). Every record is a JSON-serialisable dict with a string `id`;
a rejection is recorded against the input record's id.

A rejection is for a reason about the record's content. When the world failed instead (an
endpoint down, a timeout, a 5xx after its retries), a map function raises `Pending`: the
runner logs nothing for that record, finishes the other records, then ends the run
incomplete (exit 4), and the same command retries exactly the pending records.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Literal, Mapping, Sequence, Union

from dsbuild.errors import DsbuildError
from dsbuild.outcomes import Pending, Rejection, reject

__all__ = [
    "Builder",
    "MapResult",
    "Part",
    "Pending",
    "Reject",
    "Rejection",
    "Stage",
    "StageContext",
    "StageKind",
    "batch_stage",
    "map_stage",
    "normalize_map_result",
    "reject",
    "source_stage",
]

StageKind = Literal["source", "map", "batch"]
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Reject:
    """A record that a stage dropped, and why; one line of `rejects.jsonl`."""

    id: str
    stage: str
    reason: str
    detail: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "stage": self.stage, "reason": self.reason, "detail": self.detail}


MapResult = Union[dict, Sequence[dict], Rejection, bool, tuple]


@dataclass(frozen=True)
class Stage:
    """One named step of a builder.

    `version` goes into the run fingerprint: bump it when a change to `fn` changes its output,
    so old runs are not resumed with new code. `concurrency` bounds in-flight calls of an
    async map stage. `prepare(ctx, records)` runs before a map stage processes (or resumes)
    its items: `records()` streams the stage's whole input again, and `ctx.workdir` is a
    folder of the stage's own for what it builds (an index, a lookup store); it must be
    idempotent, since a resumed stage prepares again.

    `processes`: a plain-CPU map stage (sync, no request paid for) whose function needs
    nothing but the record and the prepared context and keeps nothing another record needs:
    it runs in parts, by the run's `workers` processes (see `dsbuild.runs.parts`), to the
    same output. For a source stage: its function does its work in parts itself and yields
    them (`Part`), in output order, which the runner joins without reading a record.
    """

    name: str
    kind: StageKind
    fn: Callable[..., Any]
    description: str = ""
    version: str = "1"
    concurrency: int = 1
    prepare: Callable[..., None] | None = None
    processes: bool = False

    def __post_init__(self) -> None:
        if not _NAME_RE.match(self.name):
            raise DsbuildError(
                f"stage name {self.name!r} is not a simple name",
                "use letters, digits, '_', '-' or '.'",
            )
        if self.kind not in ("source", "map", "batch"):
            raise DsbuildError(f"stage {self.name!r} has unknown kind {self.kind!r}")
        if self.concurrency < 1:
            raise DsbuildError(f"stage {self.name!r} has concurrency {self.concurrency} < 1")
        if self.processes and (self.kind == "batch" or self.is_async):
            raise DsbuildError(f"stage {self.name!r}: a batch or async stage has no parts")

    @property
    def is_async(self) -> bool:
        """True for a map stage whose function is `async def` (run concurrently)."""
        fn = self.fn
        return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
            getattr(fn, "__call__", None)
        )


def source_stage(
    name: str,
    fn: Callable[[StageContext], Iterable[Any]],
    *,
    description: str = "",
    version: str = "1",
    parts: bool = False,
) -> Stage:
    """A first stage yielding records; must yield the same sequence for the same config,
    because a resumed run skips the items it already has. An item is a record dict, a
    `Reject`, or a record already encoded (`dsbuild.runs.loglines.encode_record`), which the
    runner logs without decoding it. With `parts=True` it yields `Part`s instead: its
    output written in pieces by workers, joined in order by the runner; a resumed run calls
    it again, and it is for the function to keep the parts it finished."""
    return Stage(
        name, "source", fn, description or (fn.__doc__ or "").strip(), version, processes=parts
    )


@dataclass(frozen=True)
class Part:
    """A piece of a stage's output: `records` (a file of record JSON lines), `rejects` (a
    file of `rejects.jsonl` lines), how many input `items` it stands for, `n_out` records,
    and its rejects by reason."""

    records: Path
    rejects: Path
    items: int
    n_out: int
    rejects_by_reason: Mapping[str, int]


def map_stage(
    name: str,
    fn: Callable[[dict, StageContext], Any],
    concurrency: int = 1,
    *,
    description: str = "",
    version: str = "1",
    prepare: Callable[..., None] | None = None,
    processes: bool = False,
) -> Stage:
    """A per-record stage; `async def` functions run with up to `concurrency` in flight;
    `prepare(ctx, records)` runs first; `processes=True` lets a plain-CPU stage run in the
    run's `workers` processes (see `Stage`)."""
    return Stage(
        name,
        "map",
        fn,
        description or (fn.__doc__ or "").strip(),
        version,
        concurrency,
        prepare,
        processes,
    )


def batch_stage(
    name: str,
    fn: Callable[[list[dict], StageContext], tuple[list[dict], list[Reject]]],
    *,
    description: str = "",
    version: str = "1",
) -> Stage:
    """A whole-dataset stage (dedup, splits): `fn(records, ctx) -> (records, rejects)`."""
    return Stage(name, "batch", fn, description or (fn.__doc__ or "").strip(), version)


@dataclass(frozen=True)
class Builder:
    """A named, versioned, ordered list of stages; the first is the only source stage."""

    name: str
    version: str
    stages: tuple[Stage, ...]
    description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "stages", tuple(self.stages))
        if not self.stages:
            raise DsbuildError(f"builder {self.name!r} has no stages")
        if self.stages[0].kind != "source":
            raise DsbuildError(f"builder {self.name!r}: the first stage must be a source stage")
        for stage in self.stages[1:]:
            if stage.kind == "source":
                raise DsbuildError(
                    f"builder {self.name!r}: source stage {stage.name!r} is not first"
                )
        names = [s.name for s in self.stages]
        if len(set(names)) != len(names):
            raise DsbuildError(f"builder {self.name!r} has duplicate stage names: {names}")

    def fingerprint_parts(self) -> dict[str, Any]:
        """What of the builder goes into the fingerprint: names and versions, never code."""
        return {
            "name": self.name,
            "version": self.version,
            "stages": [{"name": s.name, "kind": s.kind, "version": s.version} for s in self.stages],
        }


class StageContext:
    """An attribute bag handed to every stage call: `config`, `options`, `runtime`, `seed`,
    `logger`, `stage` (its name), plus whatever the caller attaches (e.g. `ctx.llm`).

    `config` is the run's configuration; `options` its dataset-specific knobs
    (`config["options"]`); `runtime` the settings in it that do not change output
    (concurrency, timeouts: the fingerprint's excluded keys).
    """

    def __init__(
        self,
        *,
        config: Mapping[str, Any],
        options: Mapping[str, Any] | None = None,
        runtime: Mapping[str, Any] | None = None,
        seed: int = 0,
        logger: logging.Logger | None = None,
        stage: str | None = None,
        **extras: Any,
    ) -> None:
        self.config = dict(config)
        self.options = dict(options or {})
        self.runtime = dict(runtime or {})
        self.seed = seed
        self.logger = logger or logging.getLogger("dsbuild.stage")
        self.stage = stage
        for key, value in extras.items():
            setattr(self, key, value)

    def for_stage(self, stage: str) -> StageContext:
        """A copy naming `stage`, with a child logger `dsbuild.stage.<name>`."""
        extras = {
            k: v
            for k, v in vars(self).items()
            if k not in ("config", "options", "runtime", "seed", "logger", "stage")
        }
        return StageContext(
            config=self.config,
            options=self.options,
            runtime=self.runtime,
            seed=self.seed,
            logger=logging.getLogger(f"dsbuild.stage.{stage}"),
            stage=stage,
            **extras,
        )

    def rng(self, *parts: object) -> random.Random:
        """A random generator seeded by (seed, stage, *parts): per-record randomness that does
        not depend on completion order, e.g. `ctx.rng(record["id"])`."""
        key = repr((self.seed, self.stage, *parts)).encode()
        return random.Random(int.from_bytes(hashlib.sha256(key).digest()[:8], "big"))

    def __repr__(self) -> str:
        return f"StageContext(stage={self.stage!r}, attrs={sorted(vars(self))})"


def _check_record(obj: object, stage: str, record_id: str) -> dict:
    if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
        raise DsbuildError(
            f"stage {stage!r} returned {type(obj).__name__} without a string 'id' for record "
            f"{record_id!r}",
            "return a record dict with a string 'id', a list of them, True, or reject(reason)",
            code="DSB205",
        )
    return obj


def normalize_map_result(result: Any, record: dict, stage: str) -> list[dict] | Rejection:
    """Turn what a map function returned into a list of output records or a `Rejection`."""
    record_id = record.get("id", "?")
    if result is True:
        return [record]
    if isinstance(result, Rejection):
        if not isinstance(result.reason, str) or not result.reason:
            raise DsbuildError(
                f"stage {stage!r} rejected record {record_id!r} without a reason code",
                "pass a short reason code, e.g. reject('too_short')",
                code="DSB205",
            )
        return result
    if isinstance(result, dict):
        return [_check_record(result, stage, record_id)]
    if isinstance(result, list):
        return [_check_record(r, stage, record_id) for r in result]
    raise DsbuildError(
        f"stage {stage!r} returned {type(result).__name__} for record {record_id!r}",
        "return a record dict, a list of them, True (keep it as is) or reject(reason)",
        code="DSB205",
    )
