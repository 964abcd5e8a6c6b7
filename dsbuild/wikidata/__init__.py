"""Wikidata access: the JSON dump streamer, the label store, and a small API client.

`iter_entities` streams a dump (`.bz2`/`.gz`/plain) with a byte prefilter before parsing;
`build_label_store` keeps only the needed QIDs and target languages in an SQLite store
(`LabelStore`), or in memory (`MemoryLabelStore`) for small runs; `WikidataClient` fetches
entities by id or enwiki title through `wbgetentities` (batched, maxlag, cached).
Imports are lazy: `import dsbuild.wikidata` is cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "DumpProblem",
    "DumpReader",
    "DumpStats",
    "EntityLabels",
    "LabelStore",
    "MemoryLabelStore",
    "WikidataClient",
    "build_label_store",
    "build_label_store_from_api",
    "enwiki_title_of_line",
    "iter_entities",
    "normalize_title",
    "open_dump",
]

_LAZY = {
    "DumpProblem": "dump",
    "DumpReader": "dump",
    "DumpStats": "dump",
    "enwiki_title_of_line": "dump",
    "iter_entities": "dump",
    "open_dump": "dump",
    "EntityLabels": "store",
    "LabelStore": "store",
    "MemoryLabelStore": "store",
    "build_label_store": "store",
    "build_label_store_from_api": "store",
    "normalize_title": "store",
    "WikidataClient": "api",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"dsbuild.wikidata.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'dsbuild.wikidata' has no attribute {name!r}")
