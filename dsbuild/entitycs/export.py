"""EntityCS's export hooks (`dsbuild.hub.hooks`): one Hub config per language (English the
default), splits grouped by English sentence (all its language versions together), and no
original format beyond the rows themselves. Its text is Wikipedia's (or the embedded
samples') and its entity labels Wikidata's."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from dsbuild.hub.hooks import DatasetExport, record_id

__all__ = ["EXPORT", "EntitycsExport"]


class EntitycsExport(DatasetExport):
    split_key = "sentence_id"
    language_field = "language"
    per_language_configs = True
    default_config = "en"

    def features(self) -> Any:
        import datasets as hf

        s = hf.Value("string")
        i64 = hf.Value("int64")
        return hf.Features(
            {
                "id": s,
                "sentence_id": s,
                "language": s,
                "en_sentence": s,
                "cs_sentence": s,
                "entities": hf.List(
                    {
                        "qid": s,
                        "title": s,
                        "language": s,
                        "en_start": i64,
                        "en_end": i64,
                        "cs_start": i64,
                        "cs_end": i64,
                    }
                ),
            }
        )

    def rows(self, record: Mapping[str, Any], index: int) -> Iterator[dict[str, Any]]:
        rid = record_id(record, "id", index)
        language = str(record["language"])
        sentence_id = record.get("sentence_id")
        if sentence_id is None:  # release-style ids end in the language: 1234-5-de
            sentence_id = rid.removesuffix(f"-{language}")
        yield {
            "id": rid,
            "sentence_id": str(sentence_id),
            "language": language,
            "en_sentence": record["en_sentence"],
            "cs_sentence": record["cs_sentence"],
            "entities": [
                {
                    "qid": e.get("qid"),
                    "title": e.get("title"),
                    "language": e["language"],
                    "en_start": e["en_start"],
                    "en_end": e["en_end"],
                    "cs_start": e["cs_start"],
                    "cs_end": e["cs_end"],
                }
                for e in record.get("entities") or []
            ],
        }

    def sources(self, rows: Sequence[Mapping[str, Any]], config: Mapping[str, Any]) -> list:
        """Wikipedia when the run read a dump (else the embedded samples), and Wikidata always."""
        from dsbuild.hub.licenses import SAMPLE, WIKIDATA, WIKIPEDIA

        options = config.get("options") or {}
        return [WIKIPEDIA if options.get("wikipedia") else SAMPLE, WIKIDATA]

    def label_tables(self, rows: Sequence[Mapping[str, Any]]) -> list:
        from dsbuild.hub.summary import distribution

        switched: Counter = Counter()
        for r in rows:
            if r["language"] == "en":
                continue
            for e in r["entities"]:
                switched["switched" if e["language"] != "en" else "kept in English"] += 1
        per_row = [len(r["entities"]) for r in rows]
        mean = sum(per_row) / len(per_row) if per_row else 0
        return [
            distribution(
                f"Entities of the code-switched rows ({mean:.2f} per row on average)",
                switched,
                "entity",
            )
        ]


EXPORT = EntitycsExport()
