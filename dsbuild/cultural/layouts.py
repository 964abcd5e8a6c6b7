"""Column maps: which header of a rating sheet holds which field of the long ratings table.

A map names, for each field, the header that holds it; segment fields name a header
template with `{n}` (`Segment {n} rating`) matched for every N the sheet has. Headers are
matched ignoring case and runs of spaces. Built in:

- `PUBLISHED`, the layout of the published "Be My Cheese?" sheet (`Unit id`, `Email id`,
  `Language`, `Locale`, the four questions, `Segment N ID` ...), detected by its header. It has
  no rater column: every sheet row is one rater's answers (rater `row-<sheet row>`).
- `WIDE`, our own rating sheet (`dsbuild.cultural.spreadsheet`: `Text ID`, `Target locale`,
  `Rater ID` ...), used as the base when `--columns` is given for such a sheet.

`--columns field=Header,field=Header` overrides or adds entries (`parse_columns`), so a new
study's sheet needs no code; `field=` with no header drops a field. Required: `text_id`,
`model` and one of `target`, `language`, `locale`, plus at least one rating column.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from dsbuild.errors import ConfigError, InputError

__all__ = [
    "FIELDS",
    "PUBLISHED",
    "SEGMENT_FIELDS",
    "WIDE",
    "ColumnMap",
    "Resolved",
    "detect",
    "norm",
    "parse_columns",
    "resolve",
]

FIELDS: dict[str, str] = {
    "text_id": "id of the source text (required)",
    "model": "the system that translated (required)",
    "target": "target language-locale; default: `language (locale)`",
    "language": "target language (Spanish)",
    "locale": "target locale or region (Mexico)",
    "rater": "rater id; default: one rater per sheet row, `row-<n>`",
    "unit": "the study's id of the rated translation: the agreement unit of full-text ratings",
    "source_lang": "language of the source text (default en)",
    "translation": "the full translation",
    "content": "full-text rating, faithful to content (0-3)",
    "style": "full-text rating, faithful to style (0-3)",
    "audience": "full-text rating, appropriate to audience (0-3)",
    "overall": "full-text rating, overall quality (0-3)",
    "comment": "comments on the full text",
    "final_comment": "a last free comment",
}
SEGMENT_FIELDS: dict[str, str] = {
    "segment_id": "the study's id of segment N: the agreement unit of segment ratings",
    "segment": "source segment N",
    "category": "category of segment N",
    "segment_translation": "counterpart of segment N in the translation",
    "rating": "rating of segment N (0-3 or NA)",
    "segment_comment": "comments on segment N",
}
META = "meta."
"""`meta.<key>=Header`: a rater metadata column."""
RATINGS = ("content", "style", "audience", "overall")
_FIELD = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[^=,]+)?)\s*=")


def norm(name: object) -> str:
    """A header as matched: BOM, case and runs of spaces ignored."""
    return " ".join(str(name).lstrip("\ufeff").split()).lower()


@dataclass(frozen=True)
class ColumnMap:
    """Field -> header, segment field -> header template with `{n}`, metadata key -> header."""

    name: str
    fields: dict[str, str]
    segments: dict[str, str]
    meta: dict[str, str] = field(default_factory=dict)
    meta_prefix: str | None = None  # every `<prefix><key>` header is metadata `key`

    def with_entries(self, entries: Mapping[str, str]) -> ColumnMap:
        fields, segments, meta = dict(self.fields), dict(self.segments), dict(self.meta)
        for key, header in entries.items():
            target = meta if key.startswith(META) else segments if key in SEGMENT_FIELDS else fields
            name = key[len(META) :] if key.startswith(META) else key
            if header:
                target[name] = header
            else:
                target.pop(name, None)
        return ColumnMap(self.name, fields, segments, meta, self.meta_prefix)


PUBLISHED = ColumnMap(
    "be-my-cheese",
    fields={
        "text_id": "Email id",
        "model": "Model",
        "language": "Language",
        "locale": "Locale",
        "unit": "Unit id",
        "content": "Is the translation faithful to the content of the original?",
        "style": "Is the translation faithful to the style of the original?",
        "audience": "Is the translation appropriate to the intended audience?",
        "overall": "Considering both the overall translation, and the specific segments "
        "evaluated, what is the overall quality of this translation?",
        "comment": "Do you have any overall comments or thoughts on the content, tone, or "
        "audience for this localized email?",
        "final_comment": "any parting thoughts?",
    },
    segments={
        "segment_id": "Segment {n} ID",
        "segment": "Segment {n}",
        "category": "Segment {n} category",
        "segment_translation": "Segment {n} translation",
        "rating": "Segment {n} rating",
        "segment_comment": "Segment {n} comments",
    },
    meta={
        "age": "Participant age",
        "gender": "Participant Gender",
        "education": "Participant education level",
        "continent": "Continent",
        "orthography": "Orthography",
    },
)

WIDE = ColumnMap(
    "wide",
    fields={
        "text_id": "Text ID",
        "source_lang": "Source language",
        "target": "Target locale",
        "model": "Model",
        "rater": "Rater ID",
        "translation": "Translation",
        "content": "Faithful to content",
        "style": "Faithful to style",
        "audience": "Appropriate to audience",
        "overall": "Overall",
        "comment": "Comments",
    },
    segments={
        "segment": "Segment {n}",
        "category": "Segment {n} category",
        "segment_translation": "Segment {n} translation",
        "rating": "Segment {n} rating",
        "segment_comment": "Segment {n} comments",
    },
    meta_prefix="Rater: ",
)


def detect(header: Sequence[object]) -> str | None:
    """`published` for the "Be My Cheese?" sheet, `wide` for ours, None otherwise."""
    names = {norm(h) for h in header if h is not None}
    if {"unit id", "email id", "model"} <= names:
        return "published"
    if "rater id" in names and ("segment 1" in names or "overall" in names):
        return "wide"
    return None


def parse_columns(text: str | Sequence[str] | None) -> dict[str, str]:
    """`text_id="Email id",model=Model` (repeatable) -> {field: header}.

    Quotes around a header are optional; a comma piece that does not start with `field=`
    continues the previous header, so headers with commas need no quoting.
    """
    if not text:
        return {}
    pieces: list[str] = []
    for part in [text] if isinstance(text, str) else text:
        buf, quoted = "", False
        for ch in part:
            if ch == '"':
                quoted = not quoted
            if ch == "," and not quoted:
                pieces.append(buf)
                buf = ""
            else:
                buf += ch
        pieces.append(buf)
    entries: dict[str, str] = {}
    last: str | None = None
    for piece in pieces:
        m = _FIELD.match(piece)
        if m is None:
            if last is None:
                if not piece.strip():
                    continue
                raise ConfigError(
                    f"--columns: {piece.strip()!r} is not field=Header",
                    'write e.g. --columns text_id="Email id",model=Model',
                )
            entries[last] += "," + piece
            continue
        last = m.group(1).strip()
        entries[last] = piece[m.end() :]
    out: dict[str, str] = {}
    known = [*FIELDS, *SEGMENT_FIELDS]
    for key, header in entries.items():
        header = header.strip()
        if len(header) >= 2 and header[0] == header[-1] == '"':
            header = header[1:-1].strip()
        if (
            key not in FIELDS
            and key not in SEGMENT_FIELDS
            and not (key.startswith(META) and len(key) > len(META))
        ):
            raise ConfigError(
                f"--columns: unknown field {key!r}",
                f"use {', '.join(known)}, or meta.<key> for rater metadata",
            )
        if key in SEGMENT_FIELDS and header and "{n}" not in header:
            raise ConfigError(
                f"--columns: {key}={header!r} needs {{n}} where the segment number goes",
                f'write e.g. {key}="Segment {{n}} rating"',
            )
        out[key] = header
    return out


@dataclass(frozen=True)
class Resolved:
    """A map resolved against one header: actual header names, segment numbers found."""

    name: str
    fields: dict[str, str]
    segments: dict[int, dict[str, str]]
    meta: dict[str, str]


def _template(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(norm(template)).replace(re.escape("{n}"), r"(\d+)") + "$")


def resolve(header: Sequence[str], columns: Mapping[str, str] | None, origin: str) -> Resolved:
    """The map for this header: the detected layout (or ours), with `columns` applied.

    Raises DSB302 naming the header that is missing and the `--columns` entry that fixes it.
    """
    kind = detect(header)
    if kind is None and not columns:
        raise InputError(
            f"{origin}: the header is neither the published 'Be My Cheese?' layout "
            "(no 'Unit id', 'Email id') nor ours (no 'Text ID', 'Target locale', 'Rater ID')",
            'map your columns: --columns text_id="<header>",model="<header>",language="<header>",'
            'overall="<header>",rating="<header with {n}>" (see dsbuild.cultural.layouts)',
            code="DSB302",
        )
    base = WIDE if kind == "wide" else PUBLISHED
    cmap = base.with_entries(columns or {})
    given = dict(columns or {})
    actual = {norm(h): h for h in reversed(header) if h is not None}  # first spelling wins

    def missing(key: str, wanted: str) -> InputError:
        how = "given as" if key in given else "the layout's"
        return InputError(
            f"{origin}: no column {wanted!r} ({how} {key})",
            f'map the header that holds it: --columns {key}="<your header>"',
            code="DSB302",
        )

    fields: dict[str, str] = {}
    for key, wanted in cmap.fields.items():
        if norm(wanted) in actual:
            fields[key] = actual[norm(wanted)]
        elif key in given or key in ("text_id", "model"):
            raise missing(key, wanted)
    if not {"target", "language", "locale"} & set(fields):
        raise missing(
            "language", cmap.fields.get("language") or cmap.fields.get("target") or "Language"
        )
    meta: dict[str, str] = {}
    for key, wanted in cmap.meta.items():
        if norm(wanted) in actual:
            meta[key] = actual[norm(wanted)]
        elif META + key in given:
            raise missing(META + key, wanted)
    if cmap.meta_prefix:
        prefix = norm(cmap.meta_prefix)
        for h in header:
            if h is not None and norm(h).startswith(prefix) and len(norm(h)) > len(prefix):
                meta.setdefault(str(h).strip()[len(cmap.meta_prefix.strip()) :].strip(), h)
    segments: dict[int, dict[str, str]] = {}
    for key, template in cmap.segments.items():
        pattern, hits = _template(template), 0
        for h in header:
            if h is not None and (m := pattern.match(norm(h))):
                segments.setdefault(int(m.group(1)), {})[key] = h
                hits += 1
        if key in given and not hits:
            raise missing(key, template)
    segments = {
        n: cols for n, cols in sorted(segments.items()) if "rating" in cols or "segment" in cols
    }
    if not any(k in fields for k in RATINGS) and not any("rating" in s for s in segments.values()):
        raise InputError(
            f"{origin}: no rating column found ({cmap.fields.get('overall', 'overall')!r}, "
            f"{cmap.segments.get('rating', 'Segment {n} rating')!r})",
            'map them: --columns overall="<header>",rating="<header with {n}>"',
            code="DSB302",
        )
    return Resolved(
        cmap.name if not columns else f"{base.name} + --columns", fields, segments, meta
    )
