"""The data card (README.md) of an exported dataset.

A template per dataset lives in `data_cards/<dataset>.md` (package `dsbuild.data_cards`):
YAML front matter with what does not change between builds (pretty name, task categories,
tags, source datasets) and a Markdown body with `{{ name }}` slots. The renderer adds the
computed metadata (licence from the sources, languages, multilinguality, size category,
configs with their data files), checks it with `huggingface_hub`'s `DatasetCardData`, and
fills the slots with text and tables computed from the data and the run.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from importlib.resources import files
from pathlib import Path
from typing import Any

from dsbuild.errors import DsbuildError, InputError
from dsbuild.hub.hooks import dataset_sources, hooks_for
from dsbuild.hub.licenses import combined_license
from dsbuild.hub.rundata import RunData
from dsbuild.hub.summary import (
    Table,
    agreement_table,
    gate_table,
    label_tables,
    markdown,
    models_and_prompts,
    reject_table,
    split_language_table,
)

__all__ = ["card_template", "front_matter", "hub_languages", "render_card", "size_category"]

_SLOT = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
_SIZES = (
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
    (1_000_000_000, "100M<n<1B"),
)


def size_category(n: int) -> str:
    """The Hub's `size_categories` bucket for `n` rows."""
    return next((label for limit, label in _SIZES if n < limit), "n>1T")


def hub_languages(codes: Sequence[str]) -> list[str]:
    """Language codes for the card's `language` list: base subtags (ja-JP -> ja, zh-hant ->
    zh), lower case, sorted, each once."""
    return sorted({c.split("-")[0].split("_")[0].lower() for c in codes if c})


def card_template(dataset: str) -> tuple[dict[str, Any], str]:
    """(front matter, body) of the packaged template for `dataset`."""
    import yaml

    from dsbuild.hub.hooks import hooks_for

    own = hooks_for(dataset).card_template
    path = Path(own) if own is not None else files("dsbuild.data_cards").joinpath(f"{dataset}.md")
    if not path.is_file():
        raise DsbuildError(
            f"no data card template for {dataset} in dsbuild.data_cards",
            "reinstall dsbuild (the templates ship with the package)",
        )
    text = path.read_text(encoding="utf-8")
    m = re.match(r"^---\n(.*?)\n---\n(.*)$", text, re.S)
    if m is None:
        raise DsbuildError(
            f"data card template {dataset}.md has no YAML front matter",
            "start the template with a --- block",
        )
    return yaml.safe_load(m.group(1)) or {}, m.group(2)


def _fill(body: str, slots: Mapping[str, str], dataset: str) -> str:
    def sub(m: re.Match) -> str:
        name = m.group(1)
        if name not in slots:
            raise DsbuildError(
                f"data card template {dataset}.md uses an unknown slot {{{{ {name} }}}}",
                f"use one of: {', '.join(sorted(slots))}",
            )
        return slots[name]

    return _SLOT.sub(sub, body)


def _section(tables: Sequence[Table | None], empty: str = "") -> str:
    parts = [f"**{t.title}**\n\n{markdown(t)}" for t in tables if t is not None and t.rows]
    return "\n\n".join(parts) if parts else empty


def _build_text(run: RunData) -> str:
    info = run.info
    if not info:
        return "The run's `run.json` was not available, so build details are not recorded here."
    builder = info.get("builder") or {}
    stages = info.get("stages") or []
    stage_rows = [
        [s["name"], s.get("n_in", ""), s.get("n_out", ""), s.get("n_rejected", "")] for s in stages
    ]
    tokens = info.get("tokens") or {}
    lines = [
        (
            f"- dsbuild {info.get('dsbuild_version', '?')}, builder `{builder.get('name', '?')}` "
            f"version {builder.get('version', '?')}, Python {info.get('python', '?')}"
        ),
        (
            f"- run fingerprint `{str(info.get('fingerprint', ''))[:16]}`, status "
            f"{info.get('status', '?')}, finished {info.get('finished_at') or '?'}"
        ),
        (
            f"- seed {run.config.get('seed', '?')}; "
            f"LLM tokens: {tokens.get('prompt', 0):,} prompt + "
            f"{tokens.get('completion', 0):,} completion; "
            f"cost ${float(info.get('cost_usd') or 0):.4f}"
        ),
    ]
    table = Table("Stages", ["stage", "in", "out", "rejected"], stage_rows)
    return "\n".join(lines) + ("\n\n" + _section([table]) if stage_rows else "")


_FOLDER_TEXT = {
    "jsonl": "the rows as JSON Lines (one object per row, same columns as the Parquet files)",
    "csv": "the rows as CSV (lists and nested fields as JSON text, empty cell = null)",
}


def _files_text(
    files_written: Sequence[str], languages: set[str], originals: Mapping[str, str]
) -> str:
    """One line per kind of file: its path pattern and what it holds (`originals`: the
    dataset's own folders and their descriptions)."""
    from dsbuild.hub.splits import SPLITS

    described = {**_FOLDER_TEXT, **originals}
    patterns: dict[str, int] = {}
    for f in files_written:
        parts = f.split("/")
        parts = [
            "<language>" if p in languages and i < len(parts) - 1 else p
            for i, p in enumerate(parts)
        ]
        stem, dot, ext = parts[-1].partition(".")
        if stem in SPLITS:
            parts[-1] = f"<split>{dot}{ext}"
        key = "/".join(parts)
        patterns[key] = patterns.get(key, 0) + 1
    return "\n".join(
        f"- `{p}` ({n} file{'s' if n > 1 else ''}): {described.get(p.split('/')[0], 'extra files')}"
        for p, n in sorted(patterns.items())
    )


def _license_text(sources, license_id: str, *, llm_text: bool) -> str:
    lines = [f"- {s.attribution}" for s in sources]
    head = f"The dataset's licence is **{license_id}**, computed from its sources:"
    if license_id == "cc-by-sa-4.0":
        head += (
            " Wikipedia text is CC BY-SA 4.0, which is share-alike, so the dataset as a "
            "whole is CC BY-SA 4.0; keep these attributions when you redistribute it."
        )
    if license_id == "other":
        head += (
            " some texts came from a file whose licence dsbuild does not know: state it here "
            "before publishing."
        )
    text = head + "\n\n" + "\n".join(lines)
    if llm_text:
        text += (
            "\n\nText written by language models follows the terms of the providers of "
            "the models listed above; check them before commercial use."
        )
    return text


def front_matter(
    dataset: str,
    template_meta: Mapping[str, Any],
    *,
    languages: Sequence[str],
    n_rows: int,
    configs: list[dict[str, Any]],
    license_id: str,
) -> Any:
    """The card's metadata as a `DatasetCardData` (template keys, then computed ones)."""
    from huggingface_hub import DatasetCardData

    meta = dict(template_meta)
    langs = hub_languages(languages)
    meta.update(
        license=license_id,
        language=langs,
        multilinguality="monolingual" if len(langs) <= 1 else "multilingual",
        size_categories=[size_category(n_rows)],
        configs=configs,
    )
    if license_id == "other":  # the card's licence section says why and asks for it
        meta["license_name"] = "unknown-source-texts"
    meta.setdefault("source_datasets", ["original"])
    return DatasetCardData(**meta)


def render_card(
    dataset: str,
    run: RunData,
    splits: Mapping[str, Sequence[Mapping[str, Any]]],
    configs: list[dict[str, Any]],
    *,
    files_written: Sequence[str],
) -> str:
    """The README.md text: Hub YAML front matter and the filled template."""
    from huggingface_hub import DatasetCard

    hooks = hooks_for(dataset)
    rows = [r for part in splits.values() for r in part]
    template_meta, body = card_template(dataset)
    sources = dataset_sources(dataset, rows, run.config)
    license_id = combined_license(sources)
    col = hooks.language_field
    languages = hooks.languages(rows)
    data = front_matter(
        dataset,
        template_meta,
        languages=languages,
        n_rows=len(rows),
        configs=configs,
        license_id=license_id,
    )
    models, prompts = models_and_prompts(rows)
    config_lines = "\n".join(
        f"- `{c['config_name']}`: "
        + ", ".join(f"{d['split']} (`{d['path']}`)" for d in c["data_files"])
        for c in configs
    )
    slots = {
        "pretty_name": str(template_meta.get("pretty_name", dataset)),
        "n_rows": f"{len(rows):,}",
        "languages": ", ".join(languages),
        "build": _build_text(run),
        "models": _section(
            [models], "No LLM took part in this build (no model in the provenance)."
        ),
        "prompts": _section([prompts], "No prompt template was used."),
        "configs": config_lines,
        "files": _files_text(files_written, {str(r[col]) for r in rows}, hooks.original_formats),
        "statistics": _section(
            [split_language_table(dataset, splits), *label_tables(dataset, rows)]
        ),
        "rejects": _section(
            [reject_table(run.rejects), gate_table(run.path)], "No record was rejected."
        ),
        "agreement": _section(
            [agreement_table(dataset, rows, run.agreement)],
            "No human annotation round has been recorded for this build, so "
            "there is no agreement figure.",
        ),
        "license": _license_text(sources, license_id, llm_text=bool(models.rows)),
    }
    text = f"---\n{data.to_yaml()}\n---\n{_fill(body, slots, dataset)}"
    try:
        DatasetCard(text)
    except Exception as exc:  # the card must parse back before anyone uploads it
        raise InputError(
            f"the rendered {dataset} card does not parse back ({exc})",
            "report this as a bug",
            code="DSB302",
        ) from exc
    return text
