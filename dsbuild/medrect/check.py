"""The check stage of the MedRECT builder: a synthesised record's structure, then its content.

A record that carries `synthesis_error` (a synthesis step failed for its content) fails with
that step's code; then `dsbuild.medrect.sentences.verify_record` checks the structure
(numbering, error sentence, corrected text) and `dsbuild.medrect.synthesis.content_problems`
the content (the question's numbers kept, the choice stated, the error not signposted).
"""

from __future__ import annotations

from typing import Any

__all__ = ["check_record"]


def check_record(record: dict, opts: Any) -> tuple[str, str] | None:
    """None when the record passes, else (reason, detail) of its first problem (the detail
    lists them all); `opts` is the run's MedRECT options."""
    from dsbuild.medrect.sentences import verify_record
    from dsbuild.medrect.stem import stem_sentences
    from dsbuild.medrect.synthesis import content_problems

    failed = record.get("synthesis_error")
    if failed:
        return failed.get(
            "code"
        ) or f"llm_{failed['reason']}", f"{failed['step']}: {failed['detail']}"
    problems = verify_record(record)
    if not problems:
        meta = record["metadata"]
        problems = content_problems(
            record,
            question=meta["question"],
            stem=" ".join(stem_sentences(meta["question"])),
            choice_text=meta["choice_text"],
            answer_text=meta["answer_text"],
            min_sentences=opts.min_sentences,
            min_numbers_kept=opts.min_numbers_kept,
            min_choice_overlap=opts.min_choice_overlap,
        )
    if problems:
        return problems[0][0], "; ".join(f"{code}: {detail}" for code, detail in problems)[:600]
    return None
