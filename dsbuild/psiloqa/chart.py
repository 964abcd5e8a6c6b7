"""One PNG that shows a PsiloQA or Mu-SHROOM file at a glance: how many answers per language
have hallucinated spans, and how long the spans are."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["span_chart"]


def _spans(record: dict[str, Any]) -> list[tuple[int, int]]:
    spans = record.get("labels", record.get("hard_labels")) or []
    return [(int(s[0]), int(s[1])) for s in spans]


def span_chart(records: list[dict[str, Any]], path: Path) -> Path:
    """Bars of the share of answers with spans per language, and a histogram of span
    lengths in characters (log-spaced bins); written to `path` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    per_lang: dict[str, list[int]] = {}
    lengths: list[int] = []
    for r in records:
        spans = _spans(r)
        lang = str(r.get("lang") or "?").lower()
        counts = per_lang.setdefault(lang, [0, 0])
        counts[0] += 1
        counts[1] += bool(spans)
        lengths.extend(max(e - s, 0) for s, e in spans)
    langs = sorted(per_lang)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    shares = [100 * per_lang[g][1] / per_lang[g][0] for g in langs]
    left.bar(langs, shares, color="#c0504d")
    for x, (share, lang) in enumerate(zip(shares, langs)):
        left.text(x, share + 1, f"n={per_lang[lang][0]}", ha="center", fontsize=8)
    left.set_ylim(0, 110)
    left.set_ylabel("% of answers with hallucinated spans")
    left.set_title("Answers with spans, by language")
    bins = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
    right.hist([min(n, 1023) for n in lengths] or [0], bins=bins, color="#4f81bd")
    right.set_xscale("log", base=2)
    right.set_xlabel("span length (characters)")
    right.set_ylabel("spans")
    right.set_title(f"Span lengths ({len(lengths)} spans)")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
