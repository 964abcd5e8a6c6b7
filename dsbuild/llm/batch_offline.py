"""`--batch offline`: Batch API rounds on files, for self-hosted models.

`OfflineBatchAPI` answers the calls `BatchRunner` makes of `BatchAPIClient`, without an
endpoint: "uploading" writes the batch input file (OpenAI batch format, the one `vllm
run-batch` and other tools take) into a folder of the run directory, and "creating" a batch
only names it. A batch stays in progress until output files are given (`--batch-results
FILE...`): then each batch whose lines appear in them is completed with those lines (matched
by `custom_id`, so one output file may answer several batches, in any order), and lines
missing from them go into a next round's file, like the unfinished lines of an expired batch.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

__all__ = ["OfflineBatchAPI"]

_BATCH = "offline-"
_RESULTS = "results:"


class OfflineBatchAPI:
    """The five Batch API calls (`batch_api.BatchAPIClient`), on files in `folder`."""

    def __init__(self, folder: Path, results: Iterable[Path] = ()) -> None:
        self.folder = Path(folder)
        self.results = [Path(p) for p in results]
        self._answers: dict[str, str] | None = None

    async def upload(self, data: bytes, name: str = "batch.jsonl") -> str:
        from dsbuild.runs.jsonl import AtomicWriter

        self.folder.mkdir(parents=True, exist_ok=True)
        path, n = self.folder / name, 1
        while path.exists():
            n += 1
            path = self.folder / f"{Path(name).stem}-{n}.jsonl"
        with AtomicWriter(path) as f:
            f.write(data)
        return path.name

    async def create(self, input_file_id: str) -> Any:
        return await self.retrieve(_BATCH + Path(input_file_id).stem)

    async def find(self, input_file_id: str) -> Any:
        return await self.create(input_file_id) if (self.folder / input_file_id).is_file() else None

    async def retrieve(self, batch_id: str) -> Any:
        ids = self._custom_ids(batch_id)
        answers = self._load()
        got = [answers[c] for c in ids if c in answers]
        failed = sum(1 for line in got if not _ok(line))
        done = bool(got)
        return SimpleNamespace(
            id=batch_id,
            status="completed" if done else "in_progress",
            input_file_id=self._input(batch_id).name,
            output_file_id=_RESULTS + batch_id if done else None,
            error_file_id=None,
            errors=None,
            request_counts=SimpleNamespace(
                total=len(ids), completed=len(got) - failed, failed=failed
            ),
        )

    async def content(self, file_id: str) -> str:
        batch_id = file_id.removeprefix(_RESULTS)
        answers = self._load()
        return "\n".join(answers[c] for c in self._custom_ids(batch_id) if c in answers)

    async def cancel(self, batch_id: str) -> Any:
        from dsbuild.errors import UsageError

        raise UsageError(
            f"batch {batch_id} is a file for an offline tool, not a batch dsbuild can cancel",
            f"delete {self._input(batch_id)} and its entry instead, or just run with --batch",
            code="DSB103",
        )

    # -- files ---------------------------------------------------------------------------
    def _input(self, batch_id: str) -> Path:
        return self.folder / (batch_id.removeprefix(_BATCH) + ".jsonl")

    def _custom_ids(self, batch_id: str) -> list[str]:
        path = self._input(batch_id)
        try:
            with open(path, encoding="utf-8") as f:
                return [json.loads(line)["custom_id"] for line in f if line.strip()]
        except (OSError, ValueError, KeyError) as exc:
            from dsbuild.errors import InputError

            raise InputError(
                f"batch input file {path} cannot be read: {exc}",
                "restore it, or delete the run's batches/ folder to write the files again",
                code="DSB301",
            ) from None

    def _load(self) -> dict[str, str]:
        """Every output line of the results files, by `custom_id`."""
        if self._answers is not None:
            return self._answers
        from dsbuild.errors import InputError

        answers: dict[str, str] = {}
        for path in self.results:
            try:
                f = open(path, encoding="utf-8")
            except OSError as exc:
                raise InputError(
                    f"--batch-results {path}: {exc.strerror or exc}",
                    "check the path",
                    code="DSB301",
                ) from None
            with f:
                for n, line in enumerate(f, start=1):
                    if not line.strip():
                        continue
                    try:
                        cid = json.loads(line)["custom_id"]
                    except (ValueError, KeyError, TypeError):
                        raise InputError(
                            f"--batch-results {path} line {n}: not a batch output line "
                            "(JSON with a custom_id)",
                            "give the output files of the batch tool, unchanged",
                            code="DSB302",
                        ) from None
                    answers[str(cid)] = line.rstrip("\n")
        self._answers = answers
        return answers


def _ok(line: str) -> bool:
    data = json.loads(line)
    response = data.get("response") or {}
    return not data.get("error") and response.get("status_code") == 200
