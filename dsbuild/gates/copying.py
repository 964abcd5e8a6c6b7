""" "Copied from the source" checks: an answer that repeats its question, and a question or
answer lifted verbatim from the passage it was written from (when the builder asks for
questions in the writer's own words).

Both compare normalised text (`dedup.normalize_text`: NFKC, casefold, punctuation and
spacing removed), so quotes and case do not hide a copy. Character runs, not words, so that
Chinese and Japanese are measured the same way as space-separated languages.
"""

from __future__ import annotations

from dsbuild.gates.base import Verdict, field_value
from dsbuild.gates.dedup import normalize_text, shingles

__all__ = ["AnswerRepeatsQuestion", "CopiedFromPassage"]


class AnswerRepeatsQuestion:
    """Reject an answer that only repeats the question: the same normalised text, or one that
    holds nearly all of the question's 5-grams (`min_share`) while adding little
    (shorter than `max_growth` x the question)."""

    name = "copying"
    reasons = ("answer_repeats_question",)

    def __init__(
        self, question_field: str = "question", *, min_share: float = 0.9, max_growth: float = 1.3
    ) -> None:
        self.question_field = question_field
        self.min_share, self.max_growth = min_share, max_growth

    def check(self, text: str, *, lang: str | None = None, record: dict | None = None) -> Verdict:
        question = field_value(record or {}, self.question_field)
        if not isinstance(question, str) or not question.strip() or not text:
            return Verdict("abstained", detail="no question or answer to compare")
        a, q = normalize_text(text), normalize_text(question)
        if not a or not q:
            return Verdict("abstained", detail="nothing left after normalisation")
        if a == q:
            return Verdict.reject("answer_repeats_question", "the answer is the question")
        qg = set(shingles(q))
        share = len(qg & set(shingles(a))) / len(qg)
        if share >= self.min_share and len(a) <= self.max_growth * len(q):
            return Verdict.reject(
                "answer_repeats_question",
                f"the answer holds {share:.0%} of the question and adds little",
                score=share,
            )
        return Verdict("kept", score=share)


class CopiedFromPassage:
    """Reject a text (a question, or an answer where the builder wants abstractive answers)
    that is in the passage verbatim: the whole of it (when at least `min_chars` long), or a
    shared run of at least `min_run` characters. Lengths are of normalised text."""

    name = "copying"
    reasons = ("copied_from_passage",)

    def __init__(
        self, passage_field: str = "wiki_passage", *, min_run: int = 40, min_chars: int = 15
    ) -> None:
        self.passage_field = passage_field
        self.min_run, self.min_chars = min_run, min_chars
        self._last: tuple[str, str, set[str]] | None = None  # passage cache: many rows share one

    def _passage(self, passage: str) -> tuple[str, set[str]]:
        if self._last is None or self._last[0] != passage:
            norm = normalize_text(passage)
            self._last = (passage, norm, set(shingles(norm, self.min_run)))
        return self._last[1], self._last[2]

    def check(self, text: str, *, lang: str | None = None, record: dict | None = None) -> Verdict:
        passage = field_value(record or {}, self.passage_field)
        if not isinstance(passage, str) or not passage.strip() or not text:
            return Verdict("abstained", detail="no passage or text to compare")
        t = normalize_text(text)
        norm, runs = self._passage(passage)
        if len(t) >= self.min_chars and t in norm:
            return Verdict.reject("copied_from_passage", "the whole text is in the passage")
        if len(t) >= self.min_run:
            for gram in shingles(t, self.min_run):
                if gram in runs:
                    return Verdict.reject(
                        "copied_from_passage",
                        f"shares a run of {self.min_run}+ characters with the passage: {gram!r}",
                    )
        return Verdict("kept")
