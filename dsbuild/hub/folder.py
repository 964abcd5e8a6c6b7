"""Write a run as a Hub-ready dataset folder, and check such a folder before it is uploaded.

    OUT/README.md                                  the data card (YAML front matter + text)
    OUT/data/<split>-00000-of-00001.parquet        Parquet shards, explicit Features
        (per-language datasets: OUT/data/<language>/<split>-….parquet, a config per language)
    OUT/jsonl/<split>.jsonl, OUT/csv/<split>.csv    the same rows (CSV: nested cells as JSON)
    OUT/<original format>/<split>.…                 the dataset's own format(s), written by its
                                                   export hook (`write_originals`)
    OUT/.dsbuild-export.json                       what was written (never uploaded)

What differs between datasets (columns, split groups, layout, original formats) comes from
the dataset's export hook (`dsbuild.hub.hooks`).

The folder is written beside OUT and renamed into place, so a failed export leaves the old
one whole; an OUT that is not a dsbuild export is never replaced.
`load_dataset("parquet", data_dir=OUT/data)` (per language: `OUT/data/<language>`) gives back
the features and rows exactly.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dsbuild.errors import InputError, UsageError
from dsbuild.hub.hooks import DatasetExport, hooks_for
from dsbuild.hub.rows import rows_for
from dsbuild.hub.rundata import RunData, read_run
from dsbuild.hub.splits import parse_proportions, split_rows
from dsbuild.runs.jsonl import write_jsonl

__all__ = [
    "MANIFEST",
    "ExportResult",
    "check_folder",
    "export_run",
    "run_splits",
    "validate_folder",
]

MANIFEST = ".dsbuild-export.json"
SHARD_ROWS = 100_000


@dataclass
class ExportResult:
    """What an export wrote: the folder, rows per split, and every file with its row count."""

    folder: Path
    dataset: str
    splits: dict[str, int]
    files: dict[str, int] = field(default_factory=dict)
    configs: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "folder": str(self.folder),
            "dataset": self.dataset,
            "splits": self.splits,
            "files": self.files,
            "configs": self.configs,
        }


def _write_parquet(
    rows: Sequence[Mapping[str, Any]], features: Any, folder: Path, split: str, shard_rows: int
) -> list[str]:
    import datasets as hf
    from datasets.utils import (
        are_progress_bars_disabled,
        disable_progress_bars,
        enable_progress_bars,
    )

    ds = hf.Dataset.from_list(list(rows), features=features)
    n = max(1, -(-len(ds) // shard_rows))
    names = []
    quiet = are_progress_bars_disabled()
    disable_progress_bars()  # one bar per shard would drown the command's own output
    try:
        for i in range(n):
            name = f"{split}-{i:05d}-of-{n:05d}.parquet"
            ds.select(range(i * shard_rows, min(len(ds), (i + 1) * shard_rows))).to_parquet(
                str(folder / name)
            )
            names.append(name)
    finally:
        if not quiet:
            enable_progress_bars()
    return names


def _write_csv(rows: Sequence[Mapping[str, Any]], path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(rows[0]) if rows else []
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for r in rows:
            writer.writerow(
                [
                    ""
                    if r[c] is None
                    else json.dumps(r[c], ensure_ascii=False)
                    if isinstance(r[c], (list, dict))
                    else r[c]
                    for c in columns
                ]
            )
    return len(rows)


def _configs(hooks: DatasetExport, layout: dict[str, dict[str, list[str]]]) -> list[dict[str, Any]]:
    """The card's `configs`: per config, its splits and their shard patterns."""
    configs = []
    for name, splits in layout.items():
        prefix = f"data/{name}" if hooks.per_language_configs else "data"
        entry: dict[str, Any] = {
            "config_name": name,
            "data_files": [{"split": s, "path": f"{prefix}/{s}-*.parquet"} for s in splits],
        }
        if name == hooks.default_config:
            entry["default"] = True
        configs.append(entry)
    return configs


def _prepare_out(out: Path) -> Path:
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file", "give a folder path", code="DSB103")
    if out.is_dir() and any(out.iterdir()) and not (out / MANIFEST).is_file():
        raise UsageError(
            f"--out {out} holds files that are not a dsbuild export",
            "give an empty or new folder (an earlier export is replaced)",
            code="DSB103",
        )
    tmp = out.with_name(out.name + ".tmp-export")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    return tmp


def export_run(
    dataset: str,
    run_dir: str | Path,
    out: str | Path | None = None,
    *,
    splits: str | Sequence[float] | None = None,
    seed: int | None = None,
    shard_rows: int = SHARD_ROWS,
) -> ExportResult:
    """Export the run at `run_dir` into `out` (default RUN/hf); see the module docstring."""
    from dsbuild.hub.card import render_card

    run = read_run(run_dir)
    out = Path(out) if out is not None else Path(run_dir) / "hf"
    proportions = parse_proportions(splits)
    seed = int(run.config.get("seed") or 0) if seed is None else seed
    hooks = hooks_for(dataset)
    parts = run_splits(dataset, run, proportions, seed)
    features = hooks.features()
    tmp = _prepare_out(out)
    files: dict[str, int] = {}
    try:
        layout = _write_tables(hooks, parts, features, tmp, files, shard_rows)
        configs = _configs(hooks, layout)
        readme = render_card(
            dataset,
            run,
            parts,
            configs,
            files_written=sorted(f for f in files if not f.endswith(".parquet")),
        )
        (tmp / "README.md").write_text(readme, encoding="utf-8")
        manifest = {
            "dataset": dataset,
            "run": str(Path(run_dir).resolve()),
            "seed": seed,
            "proportions": list(proportions),
            "splits": {s: len(p) for s, p in parts.items()},
            "files": files,
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False), "utf-8")
        problems = validate_folder(tmp)
        if problems:  # our own output must pass the check publish applies
            from dsbuild.errors import DsbuildError

            raise DsbuildError(
                f"the export of {run_dir} fails its own check: {problems[0]}",
                "report this as a bug",
            )
        if out.exists():
            shutil.rmtree(out)
        tmp.replace(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ExportResult(out, dataset, {s: len(p) for s, p in parts.items()}, files, configs)


def run_splits(
    dataset: str, run: RunData, proportions: Sequence[float], seed: int
) -> dict[str, list[Mapping[str, Any]]]:
    """The run's exported rows (ids checked unique) by split, as `export_run` writes them."""
    rows = rows_for(dataset, run.records)
    _check_unique(dataset, hooks_for(dataset).unique_key, rows)
    return split_rows(dataset, rows, proportions, seed)


def _check_unique(dataset: str, key: str, rows: Sequence[Mapping[str, Any]]) -> None:
    seen: set[str] = set()
    for r in rows:
        if r[key] in seen:
            raise InputError(
                f"{dataset} row id {r[key]!r} occurs twice in the run",
                "deduplicate the records (`dsbuild ... validate` lists duplicates)",
                code="DSB303",
            )
        seen.add(r[key])


def _write_tables(
    hooks: DatasetExport,
    parts: Mapping[str, Sequence[Mapping[str, Any]]],
    features: Any,
    tmp: Path,
    files: dict[str, int],
    shard_rows: int,
) -> dict[str, dict[str, list[str]]]:
    """Parquet, JSONL, CSV and original-format files; returns config -> split -> shards.

    One `default` config in `data/`, or (`per_language_configs`) one config per language in
    `data/<language>/`, with `jsonl/` and `csv/` laid out alike."""
    layout: dict[str, dict[str, list[str]]] = {}
    if hooks.per_language_configs:
        by_lang: dict[str, dict[str, list]] = {}
        for split, rows in parts.items():
            for r in rows:
                by_lang.setdefault(r[hooks.language_field], {}).setdefault(split, []).append(r)
        groups = [(lang, f"{lang}/", by_lang[lang]) for lang in sorted(by_lang)]
    else:
        groups = [("default", "", dict(parts))]
    for config, sub, config_parts in groups:
        (tmp / f"data/{sub}").mkdir(parents=True)
        for split in (s for s in parts if s in config_parts):
            rows = config_parts[split]
            names = _write_parquet(rows, features, tmp / f"data/{sub}", split, shard_rows)
            layout.setdefault(config, {})[split] = names
            files.update(_shard_counts(f"data/{sub}".rstrip("/"), names, rows, shard_rows))
            files[f"jsonl/{sub}{split}.jsonl"] = write_jsonl(
                tmp / f"jsonl/{sub}{split}.jsonl", rows
            )
            files[f"csv/{sub}{split}.csv"] = _write_csv(rows, tmp / f"csv/{sub}{split}.csv")
            if not hooks.per_language_configs:
                files.update(_write_originals(hooks, split, rows, tmp))
    if hooks.per_language_configs:  # the original formats hold every language of a split
        for split, rows in parts.items():
            files.update(_write_originals(hooks, split, rows, tmp))
    return layout


def _write_originals(
    hooks: DatasetExport, split: str, rows: Sequence[Mapping[str, Any]], out: Path
) -> dict[str, int]:
    """The dataset's original format(s) for one split (relative path -> rows)."""
    if not hooks.original_formats:
        return {}
    return hooks.write_originals(split, [hooks.record_of(r) for r in rows], out)


def _shard_counts(
    prefix: str, names: Sequence[str], rows: Sequence[Any], shard_rows: int
) -> dict[str, int]:
    return {
        f"{prefix}/{n}": len(rows[i * shard_rows : (i + 1) * shard_rows])
        for i, n in enumerate(names)
    }


# -- validation -----------------------------------------------------------------------------
def validate_folder(folder: str | Path) -> list[str]:
    """Problems that would make the folder a broken Hub dataset (empty list: fine): the card
    must parse with huggingface_hub's DatasetCard and carry licence, languages and configs;
    every config's data files must exist, be Parquet with dataset features, and agree."""
    import fnmatch

    from huggingface_hub import DatasetCard

    folder = Path(folder)
    readme = folder / "README.md"
    if not readme.is_file():
        return [f"{folder} has no README.md (data card)"]
    try:
        card = DatasetCard(readme.read_text(encoding="utf-8"))
    except Exception as exc:
        return [f"{readme}: the card's YAML does not parse ({exc})"]
    data = card.data.to_dict()
    problems = [
        f"{readme}: the card has no `{key}`"
        for key in ("license", "language", "configs")
        if not data.get(key)
    ]
    files = [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()]
    for config in data.get("configs") or []:
        name = config.get("config_name", "?")
        schema_seen = None
        for entry in config.get("data_files") or []:
            pattern = entry.get("path") if isinstance(entry, dict) else entry
            matched = sorted(f for f in files if fnmatch.fnmatch(f, pattern))
            if not matched:
                problems.append(f"config {name!r}: no file matches {pattern!r}")
                continue
            for rel in matched:
                schema, problem = _parquet_schema(folder / rel)
                if problem:
                    problems.append(f"{rel}: {problem}")
                elif schema_seen is not None and schema != schema_seen:
                    problems.append(
                        f"{rel}: its features differ from the other files of config {name!r}"
                    )
                else:
                    schema_seen = schema
    return problems


def _parquet_schema(path: Path) -> tuple[Any, str | None]:
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except Exception as exc:
        return None, f"not a readable Parquet file ({type(exc).__name__})"
    meta = schema.metadata or {}
    if b"huggingface" not in meta:
        return None, "has no dataset features (write it with `dsbuild <dataset> export`)"
    return meta[b"huggingface"], None


def check_folder(folder: str | Path) -> None:
    """Raise InputError naming the first problem `validate_folder` finds (and how many)."""
    problems = validate_folder(folder)
    if problems:
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise InputError(
            f"{folder} is not a valid dataset folder: {problems[0]}{more}",
            "export it again with `dsbuild <dataset> export RUN`",
            code="DSB303",
        )
