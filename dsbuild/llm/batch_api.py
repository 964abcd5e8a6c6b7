"""OpenAI Batch API rounds: the requests that missed the cache, answered at batch price.

`BatchAPIClient` wraps the `openai` SDK's async client (`/v1/files`, `/v1/batches`).
`BatchRunner.run(requests)` answers a list of `ChatRequest`s in *rounds*:

1. every request is first walked through the SQLite cache exactly as the engine would (a hit
   that fails its schema leads to the cached repair turn, and so on), so only real misses
   are sent;
2. the misses are written as batch input lines `{"custom_id", "method", "url", "body"}`
   (`custom_id` = request hash + sample index), split at `max_lines` lines or `max_bytes`,
   uploaded (`purpose=batch`) and submitted (`completion_window` 24h);
3. the input file id goes to the state file (`batches.json` in the state directory, or the
   `.json` file named) *before* the batch is created, its batch id right after and before
   polling, so a killed run re-attaches to its live batches on the next start and never
   submits their lines again (killed between the two, the batch is found by its input file);
4. polling backs off; HTTP errors while polling are retried (the batch id is never
   forgotten: it is in the state file);
5. output and error files are downloaded and matched by `custom_id`; every answer goes into
   the cache under the key an online call would use (so an online or `--cache-only` run
   replays it), structured answers are validated like the engine does, and a wrong answer
   gets a repair turn in the next round;
6. endings: `completed` (its error-file lines are retried in the next round), `expired` and
   `cancelled` (unfinished lines are re-submitted in the next, smaller round), `failed` (the
   input file was rejected: one `ServiceError` naming the line and the reason).

Rounds are bounded (`max_rounds`); what is still unanswered after them fails with its last
reason and is *pending* (a failure of the world: a re-run retries it). `run(..., wait=False)`
(`--detach`, offline batches) submits one round and returns without polling; a later run
collects the batches that have ended and leaves the live ones in flight.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dsbuild.errors import ServiceError
from dsbuild.llm.structured import check_structured, repair_turn
from dsbuild.llm.types import BackendReply, ChatRequest, LLMResult, Usage, is_world_failure

__all__ = [
    "BATCH_ENDPOINT",
    "MAX_BATCH_BYTES",
    "MAX_BATCH_LINES",
    "STATE_FILENAME",
    "BatchAPIClient",
    "BatchRunStats",
    "BatchRunner",
    "BatchSplit",
    "batch_line",
    "custom_id",
    "read_state",
]

BATCH_ENDPOINT = "/v1/chat/completions"
MAX_BATCH_LINES = 50_000
MAX_BATCH_BYTES = 200 * 1024 * 1024
STATE_FILENAME = "batches.json"
LIVE = frozenset({"validating", "in_progress", "finalizing", "cancelling"})
TERMINAL = frozenset({"completed", "expired", "cancelled", "failed"})


def custom_id(request: ChatRequest) -> str:
    """The batch line id of a request: its hash (the cache key) and its sample index."""
    return f"{request.key()}-{request.sample_index}"


def _body_of(request: ChatRequest) -> dict[str, Any]:
    """The chat completion body of a request: what the online path sends for it, shaped for
    its structured output mode (`json_schema` by default), dsbuild's schema extensions
    turned into patterns or removed as that mode needs (`structured_modes.shape_payload`)."""
    payload = request.payload()
    if request.json_schema is None:
        return payload
    from dsbuild.llm.structured_modes import shape_payload

    return shape_payload(payload, request.structured_mode or "json_schema")


def batch_line(request: ChatRequest) -> bytes:
    """The batch input file line of a request."""
    return (
        json.dumps(
            {
                "custom_id": custom_id(request),
                "method": "POST",
                "url": BATCH_ENDPOINT,
                "body": _body_of(request),
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
        + "\n"
    ).encode()


class BatchSplit:
    """Where batch lines are cut into input files: a new file at `max_lines` lines or before
    `max_bytes` would be passed (the Batch API's limits by default)."""

    def __init__(self, max_lines: int = MAX_BATCH_LINES, max_bytes: int = MAX_BATCH_BYTES) -> None:
        self.max_lines, self.max_bytes = max(1, max_lines), max_bytes
        self.lines = self.size = 0

    def starts_new(self, size: int) -> bool:
        """Whether the next line (`size` bytes) starts a new file; the first one does."""
        new = self.lines == 0 or self.lines >= self.max_lines or self.size + size > self.max_bytes
        if new:
            self.lines = self.size = 0
        self.lines += 1
        self.size += size
        return new


def read_state(path: Path) -> dict[str, Any]:
    """A batch state file's content ({} when there is none); one `ServiceError` (DSB401)
    when it cannot be read."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        problem = f"cannot be read: {exc}"
    else:
        if isinstance(data, dict):
            return data
        problem = "is not a JSON object"
    raise ServiceError(
        f"batch state file {path} {problem}",
        "restore it if batches are in flight (their ids are in it), else delete it",
        code="DSB401",
    )


class BatchAPIClient:
    """The five Batch API calls, through an `openai.AsyncOpenAI` client."""

    def __init__(self, client: Any) -> None:
        self.client = client

    async def upload(self, data: bytes, name: str = "batch.jsonl") -> str:
        f = await self.client.files.create(file=(name, data, "application/jsonl"), purpose="batch")
        return f.id

    async def create(self, input_file_id: str) -> Any:
        return await self.client.batches.create(
            input_file_id=input_file_id, endpoint=BATCH_ENDPOINT, completion_window="24h"
        )

    async def retrieve(self, batch_id: str) -> Any:
        return await self.client.batches.retrieve(batch_id)

    async def content(self, file_id: str) -> str:
        response = await self.client.files.content(file_id)
        return response.text

    async def cancel(self, batch_id: str) -> Any:
        return await self.client.batches.cancel(batch_id)

    async def find(self, input_file_id: str) -> Any:
        """The batch made from `input_file_id`, or None (the most recent batches are listed)."""
        async for batch in self.client.batches.list(limit=100):
            if batch.input_file_id == input_file_id:
                return batch
        return None


@dataclass
class BatchRunStats:
    """What the batch rounds did."""

    rounds: int = 0
    batches: int = 0
    reattached: int = 0
    lines_sent: int = 0
    polls: int = 0
    poll_errors: int = 0
    in_flight: int = 0  # batches left live (`wait=False`)
    fallback_online: int = 0  # requests sent online after the rounds (`BatchQueue`)
    cache_hits: int = 0
    repairs: int = 0

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class _Item:
    original: ChatRequest
    current: ChatRequest
    result: LLMResult
    repairs: int = 0
    done: bool = False
    last_error: tuple[str, str] | None = None


@dataclass
class _Entry:
    """One submitted batch as the state file records it."""

    batch_id: str
    input_file_id: str
    custom_ids: list[str]
    round: int
    collected: bool = False
    status: str | None = None
    reserved: float = 0.0  # budget set aside until its answers are charged (not recorded)

    def to_dict(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "input_file_id": self.input_file_id,
            "round": self.round,
            "collected": self.collected,
            "status": self.status,
            "custom_ids": self.custom_ids,
        }


def _classify(status: int | None, code: str | None) -> tuple[str, bool]:
    """(reason, retry in a next round) of a failed batch line."""
    if code in ("batch_expired", "batch_cancelled"):
        return code, True
    if status == 429 or code in ("rate_limit_exceeded",):
        return "rate_limited", True
    if status is not None and status >= 500:
        return "server_error", True
    if status in (401, 403):
        return "auth", False
    if status == 404:
        return "not_found", False
    if status is not None and 400 <= status < 500:
        return "bad_request", False
    return code or "server_error", True


class BatchRunner:
    """Answers requests through Batch API rounds; see the module docstring.

    `price`: the *batch* price (`pricing.batch_price`), or None (cost 0). `on_charge(usage,
    cost)` is called once per answer received (not for cache hits). `progress(batch_id,
    done, failed, total)` is fed by each poll's `request_counts`. `reserve(requests)` is
    called before each batch is submitted: it returns the budget it sets aside for them, or
    raises `BudgetExceededError`, which stops the submitting (the batches already submitted
    are collected, then the error is raised with the answers so far as its `results`);
    `release(amount)` gives the amount back once the batch is collected.

    `state`: the state file, or the folder holding it as `batches.json`; `meta` is written
    into it (e.g. the model, so `dsbuild batches status` knows which endpoint to ask)."""

    def __init__(
        self,
        api: BatchAPIClient,
        state: Path,
        *,
        meta: dict[str, Any] | None = None,
        cache: Any = None,
        price: Any = None,
        max_repairs: int = 2,
        max_rounds: int = 4,
        max_lines: int = MAX_BATCH_LINES,
        max_bytes: int = MAX_BATCH_BYTES,
        poll_interval_s: float = 5.0,
        poll_max_s: float = 60.0,
        max_poll_errors: int = 10,
        on_charge: Callable[[Usage, float], None] | None = None,
        progress: Callable[[str, int, int, int], None] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        seed: int = 0,
        reserve: Callable[[list[ChatRequest]], float] | None = None,
        release: Callable[[float], None] | None = None,
    ) -> None:
        self.api, self.cache, self.price = api, cache, price
        state = Path(state)
        self.state_path = state if state.suffix == ".json" else state / STATE_FILENAME
        self.meta = dict(meta or {})
        self.max_repairs, self.max_rounds = max_repairs, max(1, max_rounds)
        self.max_lines, self.max_bytes = max(1, max_lines), max_bytes
        self.poll_interval_s, self.poll_max_s = poll_interval_s, poll_max_s
        self.max_poll_errors = max_poll_errors
        self.on_charge, self.progress, self.sleep = on_charge, progress, sleep
        self.reserve, self.release = reserve, release
        self.rng = random.Random(seed)
        self.stats = BatchRunStats()
        self._entries: list[_Entry] = self._load_state()

    # -- state file ----------------------------------------------------------------------
    def _load_state(self) -> list[_Entry]:
        data = read_state(self.state_path)
        for key, value in data.items():  # what the file says of itself, unless given
            if key not in ("version", "batches"):
                self.meta.setdefault(key, value)
        return [
            _Entry(
                e["batch_id"],
                e.get("input_file_id", ""),
                list(e.get("custom_ids") or []),
                int(e.get("round", 1)),
                bool(e.get("collected")),
                e.get("status"),
            )
            for e in data.get("batches", [])
        ]

    def _save_state(self) -> None:
        from dsbuild.runs.jsonl import atomic_write_json

        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(
            self.state_path,
            {"version": 1, **self.meta, "batches": [e.to_dict() for e in self._entries]},
        )

    # -- status and cancel (`dsbuild llm batches`) ------------------------------------------
    async def status(self) -> list[dict[str, Any]]:
        """Each recorded batch as the endpoint reports it now (the state file is not
        changed: the run that owns it re-attaches to its batches)."""
        rows = []
        for e in self._entries:
            if not e.batch_id:  # killed before the batch was recorded: the run finds it
                rows.append(self._row(e, None))
                continue
            batch = await self._call(
                lambda e=e: self.api.retrieve(e.batch_id), f"get batch {e.batch_id}", e.batch_id
            )
            rows.append(self._row(e, batch))
        return rows

    async def cancel(self) -> list[dict[str, Any]]:
        """Cancel the recorded batches still live; each batch's row says whether it was
        cancelled here. A later run of the command collects what they answered and sends
        their unfinished lines again."""
        rows = []
        for e in self._entries:
            if not e.batch_id:
                rows.append({**self._row(e, None), "cancelled_now": False})
                continue
            batch = await self._call(
                lambda e=e: self.api.retrieve(e.batch_id), f"get batch {e.batch_id}", e.batch_id
            )
            cancelled = False
            if not e.collected and batch.status in LIVE - {"cancelling"}:
                batch = await self._call(
                    lambda e=e: self.api.cancel(e.batch_id),
                    f"cancel batch {e.batch_id}",
                    e.batch_id,
                )
                cancelled = True
            rows.append({**self._row(e, batch), "cancelled_now": cancelled})
        return rows

    @staticmethod
    def _row(entry: _Entry, batch: Any) -> dict[str, Any]:
        counts = getattr(batch, "request_counts", None)
        return {
            "batch_id": entry.batch_id or f"(not recorded; input file {entry.input_file_id})",
            "round": entry.round,
            "status": batch.status if batch is not None else "unknown",
            "lines": len(entry.custom_ids),
            "total": getattr(counts, "total", None),
            "completed": getattr(counts, "completed", None),
            "failed": getattr(counts, "failed", None),
            "collected": entry.collected,
        }

    @property
    def live_batches(self) -> list[str]:
        """Ids of the recorded batches not collected yet."""
        return [e.batch_id for e in self._entries if not e.collected]

    # -- the run -------------------------------------------------------------------------
    async def run(
        self, requests: Iterable[ChatRequest], *, wait: bool = True
    ) -> dict[str, LLMResult]:
        """The result of every request, by its cache key (`request.key()`): an answer, or a
        failure with its reason (`pending` when the world failed, not the request).

        `wait=False`: collect the recorded batches that have ended, and unless some are still
        live, submit one round for the rest; return without polling. The result then holds
        only the requests answered (`stats.in_flight` counts the batches left live)."""
        items: dict[str, _Item] = {}
        for r in requests:
            if r.key() not in items:
                items[r.key()] = _Item(r, r, LLMResult(request=r, cached=True))
        for item in items.values():
            self._from_cache(item)
        await self._name_unnamed()
        await self._reattach(items, wait=wait)
        stopped: Exception | None = None
        first = max((e.round for e in self._entries), default=0) + 1
        rounds = self.max_rounds if wait else (0 if self.live_batches else 1)
        for round_ in range(first, first + rounds):
            todo = [i for i in items.values() if not i.done]
            for item in todo:
                self._from_cache(item)
            todo = [i for i in todo if not i.done]
            if not todo:
                break
            self.stats.rounds += 1
            by_cid = {custom_id(i.current): i for i in todo}
            entries, stopped = await self._submit(todo, round_, by_cid)
            if wait:
                await asyncio.gather(*(self._collect(e, by_cid) for e in entries))
            if stopped is not None:
                break
        self.stats.in_flight = len(self.live_batches)
        if stopped is not None:  # the budget: what was answered stays, the rest waits
            stopped.results = {k: i.result for k, i in items.items() if i.done}  # type: ignore[attr-defined]
            raise stopped
        if not wait:
            return {k: i.result for k, i in items.items() if i.done}
        for item in items.values():
            if not item.done:
                reason, detail = item.last_error or ("batch_unfinished", "no answer")
                self._fail(
                    item,
                    reason,
                    f"{detail} (after {self.max_rounds} batch rounds)",
                    pending=True,
                )
        return {k: i.result for k, i in items.items()}

    async def _name_unnamed(self) -> None:
        """A run killed between uploading an input file and recording its batch: find the
        batch made from that file, or make it now (the file's lines go out once)."""
        for e in self._entries:
            if e.batch_id:
                continue
            batch = await self._call(
                lambda e=e: self.api.find(e.input_file_id), f"find the batch of {e.input_file_id}"
            )
            if batch is None:
                batch = await self._call(
                    lambda e=e: self.api.create(e.input_file_id), "create a batch"
                )
                self.stats.batches += 1
                self.stats.lines_sent += len(e.custom_ids)
            e.batch_id, e.status = batch.id, batch.status
            self._save_state()

    async def _reattach(self, items: dict[str, _Item], *, wait: bool = True) -> None:
        """Collect the recorded batches not collected yet (a killed or detached run's):
        their lines are answered by them, never submitted again. `wait=False`: only those
        that have ended; the others stay live."""
        pending = [e for e in self._entries if not e.collected]
        if not pending:
            return
        by_cid = {custom_id(i.current): i for i in items.values() if not i.done}
        self.stats.reattached += len(pending)
        if wait:
            await asyncio.gather(*(self._collect(e, by_cid, reattached=True) for e in pending))
            return
        for e in pending:
            batch = await self._poll(e, once=True)
            if batch.status in TERMINAL:
                await self._collect(e, by_cid, reattached=True, batch=batch)

    # -- cache and answers ---------------------------------------------------------------
    def _from_cache(self, item: _Item) -> None:
        """Follow the cache as the engine would: hits answer (or lead to a repair turn)."""
        while not item.done and self.cache is not None:
            hit = self.cache.get(item.current.key())
            if hit is None:
                return
            self.stats.cache_hits += 1
            self._answer(item, BackendReply.from_dict(hit), cached=True, cost=0.0)

    def _answer(
        self,
        item: _Item,
        reply: BackendReply,
        *,
        cached: bool,
        cost: float,
        batch_id: str | None = None,
    ) -> None:
        result = item.result
        result.cached = result.cached and cached
        result.content, result.model_answered = reply.content, reply.model
        result.finish_reason = reply.finish_reason
        result.cost_usd += cost
        if batch_id is not None:
            result.batch_id = batch_id
        result.add_usage(reply.usage or Usage())
        schema = item.original.json_schema
        if schema is None:
            item.done = True
            return
        value, reason, message = check_structured(reply.content, schema)
        if reason is None:
            result.json = value
            item.done = True
            return
        if item.repairs >= self.max_repairs:
            self._fail(item, reason, f"{message} (after {item.repairs} repair turns)")
            return
        item.repairs += 1
        self.stats.repairs += 1
        item.current = repair_turn(item.current, reply.content, message)

    @staticmethod
    def _fail(item: _Item, reason: str, detail: str, *, pending: bool = False) -> None:
        item.result.error = {"reason": reason, "detail": detail}
        item.result.cached = False
        item.result.pending = pending
        item.done = True

    def _cost(self, usage: Usage) -> float:
        if self.price is None:
            return 0.0
        from dsbuild.llm.pricing import cost_usd

        return cost_usd(usage, self.price)

    # -- submitting ----------------------------------------------------------------------
    def _chunks(self, todo: list[_Item]) -> list[tuple[list[str], bytes]]:
        chunks: list[tuple[list[str], bytes]] = []
        ids: list[str] = []
        lines: list[bytes] = []
        split = BatchSplit(self.max_lines, self.max_bytes)
        for item in todo:
            line = batch_line(item.current)
            if split.starts_new(len(line)) and lines:
                chunks.append((ids, b"".join(lines)))
                ids, lines = [], []
            ids.append(custom_id(item.current))
            lines.append(line)
        if lines:
            chunks.append((ids, b"".join(lines)))
        return chunks

    async def _submit(
        self, todo: list[_Item], round_: int, by_cid: dict[str, _Item]
    ) -> tuple[list[_Entry], Exception | None]:
        """Submit the round's batches; stop before one the budget cannot take (returned)."""
        from dsbuild.errors import BudgetExceededError

        entries = []
        for n, (ids, data) in enumerate(self._chunks(todo), start=1):
            held = 0.0
            if self.reserve is not None:
                try:
                    held = self.reserve([by_cid[c].current for c in ids])
                except BudgetExceededError as exc:
                    return entries, exc
            try:
                entry = await self._submit_one(ids, data, round_, n)
            except BaseException:
                if self.release is not None:
                    self.release(held)
                raise
            entry.reserved = held
            entries.append(entry)
        return entries, None

    async def _submit_one(self, ids: list[str], data: bytes, round_: int, n: int) -> _Entry:
        file_id = await self._call(
            lambda data=data, n=n: self.api.upload(data, f"dsbuild-r{round_}-{n}.jsonl"),
            "upload a batch input file",
        )
        entry = _Entry("", file_id, ids, round_)
        self._entries.append(entry)
        self._save_state()  # before creating: killed now, the batch is found by its file
        batch = await self._call(lambda f=file_id: self.api.create(f), "create a batch")
        entry.batch_id, entry.status = batch.id, batch.status
        self._save_state()  # before polling: a killed run re-attaches to it
        self.stats.batches += 1
        self.stats.lines_sent += len(ids)
        return entry

    async def _call(self, make: Callable[[], Awaitable[Any]], doing: str, batch_id: str = ""):
        """One Batch API call, retried with backoff on HTTP 429/5xx, timeouts, connections."""
        import openai

        errors = 0
        while True:
            try:
                return await make()
            except (openai.APIConnectionError, openai.APIStatusError) as exc:
                status = getattr(exc, "status_code", None)
                transient = status is None or status == 429 or status >= 500
                errors += 1
                self.stats.poll_errors += 1
                if not transient or errors > self.max_poll_errors:
                    where = (
                        f" (batch {batch_id} is recorded in {self.state_path}: run again to "
                        "re-attach to it)"
                        if batch_id
                        else ""
                    )
                    raise ServiceError(
                        f"cannot {doing}{where}: {exc.__class__.__name__}: {str(exc)[:300]}",
                        "check the endpoint and the API key, then run the same command again",
                        code="DSB401",
                    ) from None
                from dsbuild.llm.limits import backoff_delay

                await self.sleep(backoff_delay(errors, rng=self.rng))

    # -- polling and collecting ----------------------------------------------------------
    async def _poll(self, entry: _Entry, *, once: bool = False) -> Any:
        interval = self.poll_interval_s
        while True:
            batch = await self._call(
                lambda: self.api.retrieve(entry.batch_id),
                f"poll batch {entry.batch_id}",
                entry.batch_id,
            )
            self.stats.polls += 1
            entry.status = batch.status
            counts = batch.request_counts
            if self.progress is not None and counts is not None:
                self.progress(entry.batch_id, counts.completed, counts.failed, counts.total)
            if batch.status in TERMINAL or once:
                return batch
            await self.sleep(interval)
            interval = min(self.poll_max_s, interval * 1.5)

    async def _collect(
        self,
        entry: _Entry,
        by_cid: dict[str, _Item],
        *,
        reattached: bool = False,
        batch: Any = None,
    ) -> None:
        try:
            await self._collect_answers(entry, by_cid, reattached=reattached, batch=batch)
        finally:
            if entry.reserved and self.release is not None:
                self.release(entry.reserved)
            entry.reserved = 0.0

    async def _collect_answers(
        self, entry: _Entry, by_cid: dict[str, _Item], *, reattached: bool, batch: Any = None
    ) -> None:
        batch = batch if batch is not None else await self._poll(entry)
        if batch.status == "failed":
            entry.collected = True
            self._save_state()
            if reattached:  # the old input was refused: its lines go into a new batch
                return
            errs = list(getattr(batch.errors, "data", None) or [])
            first = errs[0] if errs else None
            line = getattr(first, "line", None)
            what = f"line {line} of its input file" if line is not None else "its input file"
            reason = (
                f"{getattr(first, 'code', None) or 'error'}: {getattr(first, 'message', '')}"
                if first is not None
                else "no reason given"
            )
            more = f" (and {len(errs) - 1} more errors)" if len(errs) > 1 else ""
            raise ServiceError(
                f"batch {entry.batch_id} failed: the endpoint refused {what}: {reason}{more}",
                "fix what the message says about that request, then run the same command again",
                code="DSB401",
            )
        for file_id in (batch.output_file_id, batch.error_file_id):
            if not file_id:
                continue
            text = await self._call(
                lambda f=file_id: self.api.content(f),
                f"download file {file_id} of batch {entry.batch_id}",
                entry.batch_id,
            )
            for raw in text.splitlines():
                if raw.strip():
                    self._line(raw, by_cid, entry.batch_id)
        for cid in entry.custom_ids:  # lines the batch never reached (expired, cancelled)
            item = by_cid.get(cid)
            if item is not None and not item.done and custom_id(item.current) == cid:
                item.last_error = item.last_error or (
                    f"batch_{batch.status}",
                    f"batch {entry.batch_id} ended {batch.status} before this line ran",
                )
        entry.collected = True
        self._save_state()

    def _line(self, raw: str, by_cid: dict[str, _Item], batch_id: str) -> None:
        try:
            data = json.loads(raw)
            cid = data["custom_id"]
        except (ValueError, KeyError, TypeError):
            return
        item = by_cid.get(cid)
        if item is None or item.done or custom_id(item.current) != cid:
            return  # not asked for (anymore)
        response = data.get("response") or {}
        status = response.get("status_code")
        error = data.get("error") or {}
        body = response.get("body")
        if status == 200 and isinstance(body, dict):
            try:
                reply = _reply_of(body, item.current)
            except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
                item.last_error = ("bad_response", f"unreadable answer ({exc.__class__.__name__})")
                return
            if reply.usage is None:
                from dsbuild.llm.tokens import estimate_usage

                reply = replace(
                    reply, usage=estimate_usage(list(item.current.messages), reply.content or "")
                )
            if self.cache is not None:
                self.cache.put(item.current.key(), reply.to_dict())
            cost = self._cost(reply.usage)
            if self.on_charge is not None:
                self.on_charge(reply.usage, cost)
            item.result.batch_line = cid
            self._answer(item, reply, cached=False, cost=cost, batch_id=batch_id)
            return
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            error = body["error"]
        code = error.get("code") if isinstance(error, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        reason, retry = _classify(status, code)
        detail = f"batch {batch_id}: " + (
            f"HTTP {status}: {message}" if status else f"{code}: {message}"
        )
        if retry:
            item.last_error = (reason, detail)
        else:
            self._fail(item, reason, detail, pending=is_world_failure(reason))


def _reply_of(body: dict[str, Any], request: ChatRequest) -> BackendReply:
    choice = body["choices"][0]
    content = choice["message"].get("content")
    u = body.get("usage") or None
    usage = (
        Usage(int(u.get("prompt_tokens") or 0), int(u.get("completion_tokens") or 0))
        if isinstance(u, dict)
        else None
    )
    return BackendReply(
        content,
        str(body.get("model") or request.model or ""),
        usage,
        choice.get("finish_reason"),
        structured_mode=request.structured_mode,
    )
