"""Write a run as a Hub-ready dataset folder, and check such a folder before it is uploaded.

    OUT/README.md                                  the data card (YAML front matter + text)
    OUT/data/<split>-00000-of-00001.parquet        Parquet shards, explicit Features
        (EntityCS: OUT/data/<language>/<split>-….parquet, one config per language)
    OUT/jsonl/<split>.jsonl, OUT/csv/<split>.csv    the same rows (CSV: nested cells as JSON)
    OUT/<original format>/<split>.…                 Mu-SHROOM JSONL; MedRECT JSON + MEDEC CSV;
                                                   cultural records merged per source text
    OUT/.dsbuild-export.json                       what was written (never uploaded)

The folder is written beside OUT and renamed into place, so a failed export leaves the old
one whole; an OUT that is not a dsbuild export is never replaced.
`load_dataset("parquet", data_dir=OUT/data)` (EntityCS: `OUT/data/<language>`) gives back
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
from dsbuild.export.features import features_for
from dsbuild.export.rows import record_of, rows_for
from dsbuild.export.rundata import read_run
from dsbuild.export.splits import parse_proportions, split_rows

__all__ = ["MANIFEST", "ExportResult", "check_folder", "export_run", "validate_folder"]

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
        return {"folder": str(self.folder), "dataset": self.dataset, "splits": self.splits,
                "files": self.files, "configs": self.configs}


def _write_parquet(rows: Sequence[Mapping[str, Any]], features: Any, folder: Path, split: str,
                   shard_rows: int) -> list[str]:
    import datasets as hf

    from datasets.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    ds = hf.Dataset.from_list(list(rows), features=features)
    n = max(1, -(-len(ds) // shard_rows))
    names = []
    quiet = are_progress_bars_disabled()
    disable_progress_bars()  # one bar per shard would drown the command's own output
    try:
        for i in range(n):
            name = f"{split}-{i:05d}-of-{n:05d}.parquet"
            ds.select(range(i * shard_rows, min(len(ds), (i + 1) * shard_rows))).to_parquet(
                str(folder / name))
            names.append(name)
    finally:
        if not quiet:
            enable_progress_bars()
    return names


def _write_jsonl(rows: Sequence[Mapping[str, Any]], path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return len(rows)


def _write_csv(rows: Sequence[Mapping[str, Any]], path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(rows[0]) if rows else []
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for r in rows:
            writer.writerow(["" if r[c] is None else
                             json.dumps(r[c], ensure_ascii=False) if isinstance(r[c], (list, dict))
                             else r[c] for c in columns])
    return len(rows)


def _write_original(dataset: str, split: str, rows: Sequence[Mapping[str, Any]],
                    out: Path) -> dict[str, int]:
    """The dataset's original public format for one split (relative path -> rows)."""
    records = [record_of(dataset, r) for r in rows]
    if dataset == "psiloqa":
        from dsbuild.psiloqa.mushroom import row_to_mushroom, write_jsonl

        rel = f"mushroom/{split}.jsonl"
        (out / "mushroom").mkdir(exist_ok=True)
        return {rel: write_jsonl(out / rel, [row_to_mushroom(r, keep_row_fields=False)
                                             for r in records])}
    if dataset == "medrect":
        from dsbuild.medrect.formats import medrect_to_medec_row, write_medec, write_medrect

        keys = ("sample_id", "sentences", "error_flag", "error_type", "error_sentence_id",
                "error_sentence", "corrected_sentence", "corrected_text", "metadata",
                "screening_results")
        medrect = [{**{k: r.get(k) for k in keys[:8]},
                    **{k: r[k] for k in keys[8:] if r.get(k) is not None}} for r in records]
        (out / "medrect").mkdir(exist_ok=True)
        (out / "medec").mkdir(exist_ok=True)
        write_medrect(medrect, out / f"medrect/{split}.json")
        write_medec([medrect_to_medec_row(r) for r in medrect], out / f"medec/{split}.csv")
        return {f"medrect/{split}.json": len(medrect), f"medec/{split}.csv": len(medrect)}
    if dataset == "cultural":
        merged: dict[str, dict[str, Any]] = {}
        for r in records:
            rec = merged.setdefault(r["text_id"], {
                "id": r["text_id"], "lang": r["lang"], "text": r["text"], "source": r["source"],
                "nuances": [{k: v for k, v in n.items() if v is not None} for n in r["nuances"]],
                "translations": []})
            rec["translations"].append({
                "system": r["system"], "target_lang": r["target_lang"], "text": r["translation"],
                "ratings": [{k: ("NA" if x["na"] else x["score"]) if k == "score" else v
                             for k, v in x.items() if k != "na" and (v is not None or k == "score")}
                            for x in r["ratings"]],
                **({"alignments": r["alignments"]} if r["alignments"] else {})})
        rel = f"cultural/{split}.jsonl"
        return {rel: _write_jsonl(list(merged.values()), out / rel)}
    return {}


def _configs(dataset: str, layout: dict[str, dict[str, list[str]]]) -> list[dict[str, Any]]:
    """The card's `configs`: per config, its splits and their shard patterns."""
    configs = []
    for name, splits in layout.items():
        prefix = "data" if dataset != "entitycs" else f"data/{name}"
        entry: dict[str, Any] = {"config_name": name if dataset == "entitycs" else "default",
                                 "data_files": [{"split": s, "path": f"{prefix}/{s}-*.parquet"}
                                                for s in splits]}
        if dataset != "entitycs" or name == "en":
            entry["default"] = True
        configs.append(entry)
    return configs


def _prepare_out(out: Path) -> Path:
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file", "give a folder path", code="DSB103")
    if out.is_dir() and any(out.iterdir()) and not (out / MANIFEST).is_file():
        raise UsageError(f"--out {out} holds files that are not a dsbuild export",
                         "give an empty or new folder (an earlier export is replaced)",
                         code="DSB103")
    tmp = out.with_name(out.name + ".tmp-export")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    return tmp


def export_run(dataset: str, run_dir: str | Path, out: str | Path | None = None, *,
               splits: str | Sequence[float] | None = None, seed: int | None = None,
               shard_rows: int = SHARD_ROWS) -> ExportResult:
    """Export the run at `run_dir` into `out` (default RUN/hf); see the module docstring."""
    from dsbuild.export.card import render_card

    run = read_run(run_dir)
    out = Path(out) if out is not None else Path(run_dir) / "hf"
    proportions = parse_proportions(splits)
    seed = int(run.config.get("seed") or 0) if seed is None else seed
    rows = rows_for(dataset, run.records)
    _check_unique(dataset, rows)
    parts = split_rows(dataset, rows, proportions, seed)
    features = features_for(dataset)
    tmp = _prepare_out(out)
    files: dict[str, int] = {}
    try:
        layout = _write_tables(dataset, parts, features, tmp, files, shard_rows)
        configs = _configs(dataset, layout)
        readme = render_card(dataset, run, parts, configs, files_written=sorted(
            f for f in files if not f.endswith(".parquet")))
        (tmp / "README.md").write_text(readme, encoding="utf-8")
        manifest = {"dataset": dataset, "run": str(Path(run_dir).resolve()), "seed": seed,
                    "proportions": list(proportions), "splits": {s: len(p) for s, p in parts.items()},
                    "files": files}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False), "utf-8")
        problems = validate_folder(tmp)
        if problems:  # our own output must pass the check publish applies
            from dsbuild.errors import DsbuildError

            raise DsbuildError(f"the export of {run_dir} fails its own check: {problems[0]}",
                               "report this as a bug")
        if out.exists():
            shutil.rmtree(out)
        tmp.replace(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ExportResult(out, dataset, {s: len(p) for s, p in parts.items()}, files, configs)


def _check_unique(dataset: str, rows: Sequence[Mapping[str, Any]]) -> None:
    key = "sample_id" if dataset == "medrect" else "id"
    seen: set[str] = set()
    for r in rows:
        if r[key] in seen:
            raise InputError(f"{dataset} row id {r[key]!r} occurs twice in the run",
                             "deduplicate the records (`dsbuild ... validate` lists duplicates)",
                             code="DSB303")
        seen.add(r[key])


def _write_tables(dataset: str, parts: Mapping[str, Sequence[Mapping[str, Any]]], features: Any,
                  tmp: Path, files: dict[str, int], shard_rows: int) -> dict[str, dict[str, list[str]]]:
    """Parquet, JSONL, CSV and original-format files; returns config -> split -> shards."""
    layout: dict[str, dict[str, list[str]]] = {}
    if dataset == "entitycs":
        by_lang: dict[str, dict[str, list]] = {}
        for split, rows in parts.items():
            for r in rows:
                by_lang.setdefault(r["language"], {}).setdefault(split, []).append(r)
        for lang in sorted(by_lang):
            (tmp / "data" / lang).mkdir(parents=True)
            for split in (s for s in parts if s in by_lang[lang]):
                rows = by_lang[lang][split]
                names = _write_parquet(rows, features, tmp / "data" / lang, split, shard_rows)
                layout.setdefault(lang, {})[split] = names
                files.update(_shard_counts(f"data/{lang}", names, rows, shard_rows))
                files[f"jsonl/{lang}/{split}.jsonl"] = _write_jsonl(rows, tmp / f"jsonl/{lang}/{split}.jsonl")
                files[f"csv/{lang}/{split}.csv"] = _write_csv(rows, tmp / f"csv/{lang}/{split}.csv")
        return layout
    (tmp / "data").mkdir()
    for split, rows in parts.items():
        names = _write_parquet(rows, features, tmp / "data", split, shard_rows)
        layout.setdefault("default", {})[split] = names
        files.update(_shard_counts("data", names, rows, shard_rows))
        files[f"jsonl/{split}.jsonl"] = _write_jsonl(rows, tmp / f"jsonl/{split}.jsonl")
        files[f"csv/{split}.csv"] = _write_csv(rows, tmp / f"csv/{split}.csv")
        files.update(_write_original(dataset, split, rows, tmp))
    return layout


def _shard_counts(prefix: str, names: Sequence[str], rows: Sequence[Any],
                  shard_rows: int) -> dict[str, int]:
    return {f"{prefix}/{n}": len(rows[i * shard_rows:(i + 1) * shard_rows])
            for i, n in enumerate(names)}


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
    problems = [f"{readme}: the card has no `{key}`" for key in ("license", "language", "configs")
                if not data.get(key)]
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
                    problems.append(f"{rel}: its features differ from the other files of config {name!r}")
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
        raise InputError(f"{folder} is not a valid dataset folder: {problems[0]}{more}",
                         "export it again with `dsbuild <dataset> export RUN`", code="DSB303")
