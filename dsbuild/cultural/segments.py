"""A source text's culturally loaded segments, and their counterparts in a translation.

Segments come from three origins, each located in the text with `dsbuild.cultural.locate`
(offsets are always computed here, never taken from a model): the hand-given ones of the
source record (checked: a bad one rejects the text), a user lexicon matched everywhere, and
the LLM's list. `segment_record` merges them by origin (given > lexicon > LLM) into the
record's `nuances`; `find_segments` does all of it for one source text (the segments stage).
`align_counterparts` locates the quotes an LLM gives for each segment in the translation.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from dsbuild.builder_kit import ask, response_format
from dsbuild.cultural.locate import Candidate, find_all, locate, merge_segments, normalize
from dsbuild.languages import language_name
from dsbuild.stages import reject

__all__ = [
    "CATEGORY_HELP",
    "align_counterparts",
    "category_listing",
    "find_segments",
    "given_candidates",
    "lexicon",
    "lexicon_candidates",
    "llm_candidates",
    "new_stats",
    "segment_listing",
    "segment_record",
]

CATEGORY_HELP = {
    "idiom": "idioms: fixed phrases whose meaning is not the sum of their words",
    "pun": "puns and wordplay: words with two meanings, or sounding like other words",
    "holiday": "holidays, festivals and seasonal occasions",
    "cultural_concept": "cultural concepts: customs, institutions, events and references "
    "that people of the source culture know (a shopping day, a tradition)",
    "other": "other references bound to the source culture",
}


def category_listing(categories: list[str]) -> str:
    """The categories for the segment finder's prompt, one `- name: help` line each."""
    return "\n".join(f"- {c}: {CATEGORY_HELP[c]}" for c in categories)


def segment_listing(nuances: list[dict]) -> str:
    """The segments as the align prompt lists them: `N. [category] surface`, one a line."""
    return "\n".join(f"{i}. [{n['category']}] {n['surface']}" for i, n in enumerate(nuances, 1))


@lru_cache(maxsize=8)
def _lexicon_cached(path: str, mtime_ns: int, size: int) -> tuple[dict, ...]:
    from dsbuild.cultural.sources import read_lexicon

    return tuple(read_lexicon(Path(path)))


def lexicon(path: str | None) -> tuple[dict, ...]:
    """The entries of the lexicon file at `path` (none without one), read once per version
    of the file."""
    if not path:
        return ()
    p = Path(path)
    stat = p.stat() if p.is_file() else None
    return _lexicon_cached(str(p), stat.st_mtime_ns if stat else 0, stat.st_size if stat else 0)


def new_stats(given: int) -> dict[str, Any]:
    """The segment counts of a text, before the lexicon and the LLM add theirs."""
    return {
        "given": given,
        "lexicon_matches": 0,
        "llm_proposed": 0,
        "llm_not_found": 0,
        "llm_repeated": 0,
    }


def given_candidates(record: dict, norm) -> tuple[list, Any]:
    """Candidates for the hand-given segments, or a rejection naming the bad one."""
    from dsbuild.cultural.sources import category_name

    text = record["text"]
    out: list[Candidate] = []
    for i, seg in enumerate(record.get("given") or [], 1):
        surface = seg.get("surface")
        label = f"given segment {i} ({surface!r})"
        if not isinstance(surface, str) or not surface.strip():
            return [], reject("given_segment_empty", f"given segment {i} has no surface")
        category = category_name(seg.get("category"))
        if category is None:
            return [], reject(
                "given_segment_bad_category",
                f"{label}: category {seg.get('category')!r} is not one of idiom, "
                "pun, holiday, cultural_concept, other",
            )
        if "start" in seg or "end" in seg:
            try:
                start, end = int(seg["start"]), int(seg["end"])
            except (KeyError, TypeError, ValueError):
                return [], reject(
                    "given_segment_mismatch",
                    f"{label}: give both start and end as integers, or neither",
                )
            if not 0 <= start < end <= len(text) or text[start:end] != surface:
                found = text[start:end] if 0 <= start < end <= len(text) else "(out of range)"
                return [], reject(
                    "given_segment_mismatch",
                    f"{label}: text[{start}:{end}] is {found!r}, not the surface",
                )
            how = "offsets"
        else:
            match = locate(text, surface, taken=[(c.start, c.end) for c in out], normalized=norm)
            if match is None:
                return [], reject("given_segment_not_found", f"{label} is not in the text")
            start, end, how = match.start, match.end, match.how
        out.append(Candidate(start, end, category, "given", seg.get("note"), how))
    return out, None


def lexicon_candidates(text: str, entries, norm, stats: dict[str, Any]) -> list:
    """Candidates for every occurrence of every lexicon entry in the text (counted in
    `stats`)."""
    out: list[Candidate] = []
    for entry in entries:
        for m in find_all(text, entry["surface"], normalized=norm):
            out.append(
                Candidate(m.start, m.end, entry["category"], "lexicon", entry.get("note"), m.how)
            )
            stats["lexicon_matches"] += 1
    return out


def llm_candidates(
    items: list, text: str, norm, categories: list[str], stats: dict[str, Any]
) -> list:
    """Candidates for the LLM's proposed segments that are in the text (each span once);
    `stats` counts the proposed, not found, repeated and off-category ones."""
    from dsbuild.cultural.sources import category_name

    out: list[Candidate] = []
    taken: list[tuple[int, int]] = []
    missing: list[str] = []
    for item in items:
        stats["llm_proposed"] += 1
        surface = str(item.get("surface") or "")
        category = category_name(item.get("category"))
        if category not in categories:  # only with an overriding template's schema
            stats["llm_bad_category"] = stats.get("llm_bad_category", 0) + 1
            continue
        match = locate(text, surface, taken=taken, normalized=norm)
        if match is None:
            stats["llm_not_found"] += 1
            missing.append(surface)
            continue
        if (match.start, match.end) in taken:
            stats["llm_repeated"] += 1
            continue
        taken.append((match.start, match.end))
        note = (item.get("note") or "").strip() or None
        out.append(Candidate(match.start, match.end, category, "llm", note, match.how))
    if missing:
        stats["llm_not_found_surfaces"] = missing
    return out


def segment_record(record: dict, candidates: list, stats: dict[str, Any], provenance: dict):
    """The record with its `nuances` (the candidates merged, given > lexicon > LLM, in text
    order), `segment_stats` and `provenance`; a rejection when no segment is left."""
    text = record["text"]
    kept, dropped = merge_segments(candidates)
    stats["overlaps_dropped"] = len(dropped)
    stats["kept"] = {o: sum(c.origin == o for c in kept) for o in ("given", "lexicon", "llm")}
    if not kept:
        return reject("no_segments", "no segment was given, matched or found in the text")
    nuances = [
        {
            "start": c.start,
            "end": c.end,
            "category": c.category,
            "surface": text[c.start : c.end],
            "note": c.note,
            "origin": c.origin,
            "match": c.how,
        }
        for c in kept
    ]
    out = {k: v for k, v in record.items() if k != "given"}
    return {**out, "nuances": nuances, "segment_stats": stats, "provenance": provenance}


async def find_segments(
    record: dict,
    template: Any,
    *,
    llm: Any,
    lexicon_path: str | None,
    llm_segments: bool,
    categories: list[str],
    seed: Any,
) -> Any:
    """The source record with its given, lexicon and (with `llm_segments`, from the run's
    model in the pool `llm`) LLM segments, located and merged; or a rejection."""
    text = record["text"]
    norm = normalize(text)
    candidates, failed = given_candidates(record, norm)
    if failed is not None:
        return failed
    stats = new_stats(len(candidates))
    candidates += lexicon_candidates(text, lexicon(lexicon_path), norm, stats)
    provenance = dict(record.get("provenance") or {})
    if llm_segments:
        result = await ask(
            llm.get(None),
            template,
            language=language_name(record["lang"]),
            text=text,
            categories=category_listing(categories),
            # the categories asked for, where the schema has a category enum
            response_format=response_format(
                template, {"segments.items.category": {"enum": categories}}
            ),
            sampling={"temperature": 0.0, "seed": seed, "max_tokens": 600},
            id=record["id"],
        )
        if not result.ok:
            return result.rejection()
        provenance["segments"] = result.provenance()
        items = result.json.get("segments") or []
        candidates += llm_candidates(items, text, norm, categories, stats)
    return segment_record(record, candidates, stats, provenance)


def align_counterparts(
    nuances: list[dict], answers: list, translation: str
) -> tuple[list[dict], dict[str, int]]:
    """(alignments, counts): each segment's counterpart quote located in the translation
    (`aligned`, with offsets), empty (`omitted`) or not found there (`not_located`, the
    quote kept, offsets None). A quote given twice lands on its next occurrence."""
    norm = normalize(translation)
    claimed: list[tuple[int, int]] = []
    alignments, counts = [], {"aligned": 0, "omitted": 0, "not_located": 0}
    for i, (nuance, answer) in enumerate(zip(nuances, answers)):
        entry: dict[str, Any] = {
            "nuance": i,
            "surface": nuance["surface"],
            "category": nuance["category"],
            "counterpart": None,
            "start": None,
            "end": None,
        }
        quote = answer.strip() if isinstance(answer, str) else ""
        if not quote:
            entry["status"] = "omitted"
        else:
            match = locate(translation, quote, taken=claimed, normalized=norm)
            if match is None:
                entry.update(status="not_located", counterpart=quote)
            else:
                claimed.append((match.start, match.end))
                entry.update(
                    status="aligned",
                    counterpart=translation[match.start : match.end],
                    start=match.start,
                    end=match.end,
                    match=match.how,
                )
        counts[entry["status"]] += 1
        alignments.append(entry)
    return alignments, counts
