"""The licence of an export, computed from where its text came from.

Each source the rows (or the run's config) name maps to a licence and an attribution line:
Wikipedia text is CC BY-SA 4.0 (share-alike: the dataset must be CC BY-SA 4.0 too),
Wikidata is CC0 (no condition; credited anyway), the samples written for dsbuild are
Apache-2.0 like the project. A source we cannot vouch for (a user's own file) makes the
licence `other`, and the card asks the publisher to state it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "SAMPLE",
    "SOURCE_ORDER",
    "UNKNOWN",
    "WIKIDATA",
    "WIKIPEDIA",
    "Source",
    "combined_license",
    "source_of_marker",
]


@dataclass(frozen=True)
class Source:
    key: str
    license: str  # Hub licence id
    attribution: str


WIKIPEDIA = Source(
    "wikipedia",
    "cc-by-sa-4.0",
    "Text from Wikipedia (https://www.wikipedia.org), by its contributors, under "
    "CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/); each row's "
    "`wiki_url` or page title names its article, whose history lists the authors.",
)
WIKIDATA = Source(
    "wikidata",
    "cc0-1.0",
    "Entity labels and identifiers from Wikidata (https://www.wikidata.org), "
    "released under CC0 1.0 (no rights reserved); credited as good practice.",
)
SAMPLE = Source(
    "dsbuild-sample",
    "apache-2.0",
    "Sample texts written for dsbuild (not copied from any source), Apache-2.0 "
    "like the dsbuild project.",
)
UNKNOWN = Source(
    "user-file",
    "other",
    "Texts from a file given to the builder: their licence is not known to "
    "dsbuild; the publisher must state it here.",
)
_SAMPLE_MARKERS = ("sample", "written for dsbuild", "embedded")


SOURCE_ORDER = (WIKIPEDIA, WIKIDATA, SAMPLE, UNKNOWN)
"""The order sources are listed in (share-alike first)."""


def source_of_marker(value: Any) -> Source:
    """The source a row's marker (`source`: sample, dump, api, a file name, ...) names."""
    text = str(value or "").lower()
    if any(m in text for m in _SAMPLE_MARKERS):
        return SAMPLE
    if text in ("dump", "api") or "wikipedia" in text:
        return WIKIPEDIA
    return UNKNOWN


def combined_license(sources: Iterable[Source]) -> str:
    """One Hub licence id for the whole dataset: share-alike wins, unknown makes `other`."""
    licenses = {s.license for s in sources}
    if "other" in licenses:
        return "other"
    if "cc-by-sa-4.0" in licenses:
        return "cc-by-sa-4.0"
    if "apache-2.0" in licenses:
        return "apache-2.0"
    return "cc0-1.0"
