"""The export protocol: what `dsbuild.hub` asks of a dataset, and nothing else.

Each dataset's spec names an object of this shape as its `export` hook (by convention
`dsbuild.<dataset>.export:EXPORT`); `hooks_for(name)` finds it through the registry. The shared
layer (rows, splits, features, folder, card, licences) only calls these members, so it never
tests a dataset's name. Subclass `DatasetExport` and override what differs from the defaults:

    features()                      the `datasets.Features` of the exported rows (required)
    rows(record, index)             one run record -> its exported rows (required)
    split_key                       the column whose value keeps a group in one split (required)
    language_field                  the column naming a row's language ("lang")
    unique_key                      the column no two rows may share ("id")
    json_columns                    columns holding JSON text, decoded again by `record_of`
    per_language_configs            one Hub config per language, `data/<language>/...`
    default_config                  the config marked `default` ("default"; e.g. "en")
    original_formats                folder -> card description of the original-format files
    write_originals(split, records, out)   write those files; relative path -> rows
    sources(rows, config)           where the text came from (`licenses.Source`s), for the licence
    languages(rows)                 the languages the card lists (default: the language column)
    label_tables(rows)              the card's label distributions (`summary.Table`s)
    agreement(rows)                 agreement computed from the rows when no human round exists
    card_template                   the data card template (Markdown with YAML front matter);
                                    default: the packaged `dsbuild/data_cards/<dataset>.md`

Nothing here imports `datasets`, `pyarrow` or `polars`; hooks import them inside methods.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from dsbuild.errors import InputError, NotAvailableError

if TYPE_CHECKING:
    from dsbuild.hub.licenses import Source
    from dsbuild.hub.summary import Table

__all__ = [
    "DatasetExport",
    "dataset_sources",
    "hooks_for",
    "json_text",
    "record_id",
    "text_or_none",
]


def json_text(value: Any) -> str | None:
    """A nested value as canonical JSON text (sorted keys); null for None and `{}`."""
    if value is None or value == {}:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def record_id(record: Mapping[str, Any], key: str, index: int) -> str:
    """The record's id under `key`; InputError DSB303 when it has none."""
    value = record.get(key)
    if value is None:
        raise InputError(
            f"record {index + 1} has no {key!r}",
            "give every record an id (validate the run with `dsbuild ... validate`)",
            code="DSB303",
        )
    return str(value)


class DatasetExport:
    """A dataset's export hooks; the defaults suit a dataset with one `default` config, a
    `lang` column, unique `id`s, no original format and a per-row `source` marker."""

    split_key: ClassVar[str] = ""
    language_field: ClassVar[str] = "lang"
    unique_key: ClassVar[str] = "id"
    json_columns: ClassVar[tuple[str, ...]] = ()
    per_language_configs: ClassVar[bool] = False
    default_config: ClassVar[str] = "default"
    original_formats: ClassVar[Mapping[str, str]] = {}
    card_template: ClassVar[str | Path | None] = None

    def features(self) -> Any:
        """The `datasets.Features` of the rows `rows` makes (import `datasets` in here)."""
        raise NotImplementedError

    def rows(self, record: Mapping[str, Any], index: int) -> Iterable[dict[str, Any]]:
        """The exported rows of one run record: exactly the columns of `features()`."""
        raise NotImplementedError

    def record_of(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """A row with its JSON columns decoded (nulls dropped): what originals are made from."""
        record = dict(row)
        for column in self.json_columns:
            value = record.pop(column, None)
            if value is not None:
                record[column] = json.loads(value)
        return record

    def write_originals(
        self, split: str, records: Sequence[Mapping[str, Any]], out: Path
    ) -> dict[str, int]:
        """Write one split in the dataset's original format(s) under `out` (records as
        `record_of` gives them); returns relative path -> rows. Default: nothing."""
        return {}

    def sources(
        self, rows: Sequence[Mapping[str, Any]], config: Mapping[str, Any]
    ) -> Iterator[Source]:
        """The source of each row's text (duplicates allowed), from its `source` marker."""
        from dsbuild.hub.licenses import source_of_marker

        return (source_of_marker(r.get("source")) for r in rows)

    def languages(self, rows: Sequence[Mapping[str, Any]]) -> list[str]:
        """The languages the card lists, sorted."""
        return sorted({str(r[self.language_field]) for r in rows})

    def label_tables(self, rows: Sequence[Mapping[str, Any]]) -> list[Table]:
        """The label distributions the card shows."""
        return []

    def agreement(self, rows: Sequence[Mapping[str, Any]]) -> Table | None:
        """Agreement computed from the rows themselves (used when no human round exists)."""
        return None


def hooks_for(dataset: str) -> DatasetExport:
    """The export hooks of `dataset` (unknown dataset: ConfigError DSB105 from the registry)."""
    from dsbuild.datasets import get

    hooks = get(dataset).hook("export")
    if hooks is None:
        raise NotAvailableError(
            f"the {dataset} dataset has no export",
            "give its DatasetSpec an `export` hook (see dsbuild.hub.hooks)",
        )
    return hooks


def dataset_sources(
    dataset: str, rows: Iterable[Mapping[str, Any]], config: Mapping[str, Any]
) -> list[Source]:
    """The distinct sources of an export, in a stable order (the dataset's export hook says
    where each row's text came from)."""
    from dsbuild.hub.licenses import SOURCE_ORDER

    found = set(hooks_for(dataset).sources(list(rows), config))
    order = {s: i for i, s in enumerate(SOURCE_ORDER)}
    return sorted(found, key=order.__getitem__)
