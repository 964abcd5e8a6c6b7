"""PsiloQA's export hooks (`dsbuild.hub.hooks`): the columns of an exported row, splits
grouped by passage (every question and answer about one passage), and Mu-SHROOM JSONL
(SemEval-2025 Task 3) as the original format."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

from dsbuild.errors import InputError
from dsbuild.hub.hooks import DatasetExport, json_text, record_id, text_or_none

__all__ = ["EXPORT", "PsiloqaExport"]


@cache
def _complexities() -> tuple[str, ...]:
    """easy, medium, hard: the schema's `Complexity`, the ClassLabel's names in this order."""
    from typing import get_args

    from dsbuild.schemas.psiloqa import Complexity

    return get_args(Complexity)


class PsiloqaExport(DatasetExport):
    split_key = "passage_id"
    json_columns = ("provenance",)
    original_formats: ClassVar[Mapping[str, str]] = {
        "mushroom": "Mu-SHROOM (SemEval-2025 Task 3) JSONL: `model_output_text`, "
        "hard and soft labels",
    }

    def features(self) -> Any:
        import datasets as hf

        s = hf.Value("string")
        return hf.Features(
            {
                "id": s,
                "lang": s,
                "wiki_title": s,
                "wiki_url": s,
                "llm_checkpoint": s,
                "wiki_passage": s,
                "question": s,
                "golden_answer": s,
                "llm_answer": s,
                "annotated_span": s,
                "complexity": hf.ClassLabel(names=list(_complexities())),
                "labels": hf.List(hf.List(hf.Value("int64"), length=2)),
                "passage_id": s,
                "answer_model": s,
                "answer_length": s,
                "source": s,
                "provenance": s,
            }
        )

    def rows(self, record: Mapping[str, Any], index: int) -> Iterator[dict[str, Any]]:
        rid = record_id(record, "id", index)
        lang = str(record.get("lang") or "").lower()
        complexity = record.get("complexity")
        if complexity is not None and complexity not in _complexities():
            raise InputError(
                f"psiloqa record {rid!r}: complexity {complexity!r} is not easy, medium or hard",
                "fix the record or set complexity to null",
                code="DSB303",
            )
        title = record.get("wiki_title") or ""
        yield {
            "id": rid,
            "lang": lang,
            "wiki_title": title,
            "wiki_url": record.get("wiki_url") or "",
            "llm_checkpoint": record.get("llm_checkpoint") or "",
            "wiki_passage": record.get("wiki_passage") or "",
            "question": record.get("question") or "",
            "golden_answer": record.get("golden_answer") or "",
            "llm_answer": record["llm_answer"],
            "annotated_span": record.get("annotated_span"),
            "complexity": complexity,
            "labels": [[int(s), int(e)] for s, e in record.get("labels") or []],
            "passage_id": text_or_none(record.get("passage_id")) or f"{lang}:{title}",
            "answer_model": text_or_none(record.get("answer_model")),
            "answer_length": text_or_none(record.get("answer_length")),
            "source": text_or_none(record.get("source")),
            "provenance": json_text(record.get("provenance")),
        }

    def write_originals(
        self, split: str, records: Sequence[Mapping[str, Any]], out: Path
    ) -> dict[str, int]:
        from dsbuild.psiloqa.mushroom import row_to_mushroom
        from dsbuild.runs.jsonl import write_jsonl

        rel = f"mushroom/{split}.jsonl"
        (out / "mushroom").mkdir(exist_ok=True)
        return {
            rel: write_jsonl(
                out / rel, [row_to_mushroom(r, keep_row_fields=False) for r in records]
            )
        }

    def label_tables(self, rows: Sequence[Mapping[str, Any]]) -> list:
        from dsbuild.hub.summary import Table, distribution

        by_lang: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        for r in rows:
            spans = r["labels"]
            t = by_lang[r["lang"]]
            t[0] += 1
            t[1] += bool(spans)
            t[2] += len(spans)
            t[3] += sum(e - s for s, e in spans)
        hal = Table(
            "Hallucinated spans per language",
            ["language", "answers", "with a span", "spans", "mean span length (chars)"],
            [
                [k, v[0], f"{v[1] / v[0]:.1%}", v[2], f"{v[3] / v[2]:.1f}" if v[2] else "-"]
                for k, v in sorted(by_lang.items())
            ],
        )
        return [
            hal,
            distribution(
                "Question complexity",
                Counter(r["complexity"] or "unknown" for r in rows),
                "complexity",
            ),
        ]


EXPORT = PsiloqaExport()
