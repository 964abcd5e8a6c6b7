"""Gates as builder stages, each added in one line:

    gate_stage("langid_question", LangIdGate(), field="question", lang_field="lang")
    gate_stage("hygiene_answer", HygieneGate(max_chars=1500), field="llm_answer")
    dedup_stage("dedup_question", field="question", reference="published.jsonl")

A map gate stage runs the gate on one field (a dotted path, e.g. `translations.0.text`) or on
several texts of a record (`texts=fn`, e.g. `entitycs_labels`), and returns the record,
repaired where the gate repaired the text, or `reject(reason, detail)` on the first text
that fails. What the gate did beyond plain keeps goes into the record at `annotate`
(default `provenance.gates.<stage>`): repairs (field + kind), `abstained`, `unchecked`.

Switchable and configurable per run through the run's options: `gates` = false turns every
gate stage off; `gate.<stage name>` = false turns one off; a mapping there overrides the
gate's parameters (when the stage was given a gate factory, e.g. `LangIdGate` itself, or
`partial(LangIdGate, min_chars=30)`). A stage that is off passes every record through.

Each stage function keeps per-language counts of its outcomes in `stage.fn.counts` (this
process only); `dsbuild.gates.report.gate_summary(run_dir)` recomputes them from a run
directory.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from dsbuild.gates.base import Gate, Verdict, field_value
from dsbuild.gates.detectors import base_code
from dsbuild.stages import Reject, Stage, StageContext, batch_stage, map_stage, reject

__all__ = [
    "GateCounts",
    "dedup_stage",
    "entitycs_labels",
    "gate_enabled",
    "gate_stage",
    "set_field",
]

TextsFn = Callable[[dict], Iterable[tuple[str | None, str | None]]]


class GateCounts:
    """Outcomes per language: `kept`, `rejected`, `rejected:<reason>`, `abstained`,
    `unchecked`, `repaired:<kind>`; `agree` counts detections equal to the language."""

    def __init__(self) -> None:
        self.by_lang: dict[str, Counter] = {}

    def add(self, lang: str | None, verdict: Verdict) -> None:
        c = self.by_lang.get(lang or "-")
        if c is None:  # (not setdefault: it would make a Counter for every call)
            c = self.by_lang[lang or "-"] = Counter()
        c["n"] += 1
        c[verdict.status] += 1
        if verdict.status == "rejected":
            c[f"rejected:{verdict.reason}"] += 1
        for kind in verdict.repairs:
            c[f"repaired:{kind}"] += 1
        if verdict.detected is not None and lang and verdict.detected == base_code(lang):
            c["agree"] += 1

    def to_dict(self) -> dict[str, dict[str, int]]:
        return {lang: dict(sorted(c.items())) for lang, c in sorted(self.by_lang.items())}

    def totals(self) -> dict[str, int]:
        total: Counter = Counter()
        for c in self.by_lang.values():
            total.update(c)
        return dict(sorted(total.items()))


def gate_enabled(ctx: StageContext, name: str) -> bool:
    """False when the run's options switch all gates (`gates`) or this one (`gate.<name>`)
    off."""
    if ctx.options.get("gates") is False:
        return False
    return _gate_option(ctx, name) is not False


def _gate_option(ctx: StageContext, name: str) -> Any:
    """`gate.<name>` as given flat (`--option gate.NAME=...`) or nested (`gate: {NAME: ...}`)."""
    nested = ctx.options.get("gate")
    if isinstance(nested, Mapping) and name in nested:
        return nested[name]
    return ctx.options.get(f"gate.{name}")


def _overrides(ctx: StageContext, name: str) -> dict[str, Any]:
    value = _gate_option(ctx, name)
    return dict(value) if isinstance(value, Mapping) else {}


def set_field(record: dict, path: str, value: Any) -> dict:
    """A copy of `record` with `path` (dotted, through dicts and list indices) set to
    `value`; the containers on the way are copied, never mutated."""
    if path in record or "." not in path:
        return {**record, path: value}
    head, rest = path.split(".", 1)
    inner = record.get(head)
    if isinstance(inner, list):
        idx, _, tail = rest.partition(".")
        items = list(inner)
        i = int(idx)
        items[i] = set_field(items[i], tail, value) if tail else value
        return {**record, head: items}
    return {**record, head: set_field(dict(inner or {}), rest, value)}


def entitycs_labels(row: dict) -> list[tuple[str, str]]:
    """(surface, language) of each switched entity of an EntityCS code-switched row."""
    text = row.get("cs_sentence") or ""
    return [
        (text[e["cs_start"] : e["cs_end"]], e["language"])
        for e in row.get("entities") or ()
        if e.get("language") and e["language"] != "en"
    ]


def gate_stage(
    name: str,
    gate: Gate | Callable[..., Gate],
    *,
    field: str | None = None,
    texts: TextsFn | None = None,
    lang_field: str | None = None,
    lang: str | None = None,
    enabled: bool = True,
    annotate: str | None = "provenance.gates",
    version: str = "1",
    description: str = "",
    processes: bool = False,
) -> Stage:
    """A map stage running `gate` over `field` (or the `texts` of each record).

    The language of a text comes from `lang_field` (dotted path) or the constant `lang`.
    `gate` may be a gate, or a factory called once per run with the run's overrides
    (`gate.<name>` option mapping). `enabled=False` makes a pass-through stage.
    `processes=True`: the stage may run in the run's `workers` processes (a cheap gate over
    many records; each process then counts its own outcomes).
    """
    if (field is None) == (texts is None):
        from dsbuild.errors import ConfigError

        raise ConfigError(
            f"gate stage {name!r} needs exactly one of field= or texts=",
            "pass field='question' or texts=entitycs_labels",
            code="DSB103",
        )
    counts = GateCounts()
    built: dict[str, Gate] = {}

    def get_gate(ctx: StageContext) -> Gate:
        if isinstance(gate, type) or not hasattr(gate, "check"):
            key = repr(sorted(_overrides(ctx, name).items()))
            if key not in built:
                built.clear()
                built[key] = gate(**_overrides(ctx, name))
            return built[key]
        return gate  # type: ignore[return-value]

    state_key = f"_gate_stage_{name}"

    def run(record: dict, ctx: StageContext) -> Any:
        # on or off, and the gate, once per stage context (its options do not change)
        state = ctx.__dict__.get(state_key)
        if state is None:
            on = enabled and gate_enabled(ctx, name)
            state = (on, get_gate(ctx) if on else None)
            setattr(ctx, state_key, state)
        on, g = state
        if not on:
            return True
        rec_lang = (
            lang if lang is not None else (field_value(record, lang_field) if lang_field else None)
        )
        items = (
            [(field_value(record, field), rec_lang)] if field is not None else list(texts(record))
        )  # type: ignore[misc]
        out = record
        notes: dict[str, Any] = {}
        for text, text_lang in items:
            text_lang = text_lang if texts is None or text_lang else rec_lang
            verdict = g.check(text, lang=text_lang, record=record)
            counts.add(text_lang, verdict)
            where = field or "text"
            if not verdict.keep:
                detail = f"{where}" + (f" [{text_lang}]" if text_lang else "")
                return reject(verdict.reason, f"{detail}: {verdict.detail}".strip())
            if verdict.status in ("abstained", "unchecked"):
                notes.setdefault(verdict.status, []).append(where)
            if verdict.repairs:
                notes.setdefault("repairs", []).extend(
                    {"field": where, "kind": k} for k in verdict.repairs
                )
            if verdict.text is not None and field is not None:
                out = set_field(out, field, verdict.text)
        if notes and annotate:
            prior = field_value(out, annotate)
            merged = {**(prior if isinstance(prior, dict) else {}), name: notes}
            out = set_field(out, annotate, merged)
        return out if out is not record else True

    run.counts = counts  # type: ignore[attr-defined]
    run.__doc__ = description or f"gate {getattr(gate, 'name', name)} on {field or 'texts'}"
    return map_stage(
        name, run, description=run.__doc__, version=f"gate-{version}", processes=processes
    )


def dedup_stage(
    name: str,
    *,
    field: str,
    lang_field: str | None = None,
    reference: str | None = None,
    reference_field: str | None = None,
    reference_id_field: str = "id",
    per_language: bool = False,
    enabled: bool = True,
    version: str = "1",
    **params: Any,
) -> Stage:
    """A batch stage dropping exact and near duplicates of `field` (first occurrence kept),
    within the run and against a `reference` file (JSONL/JSON/CSV/Parquet; its
    `reference_field`, default `field`). `per_language` keeps one index per language.
    `params` go to `dedup_all` (threshold, near, num_perm, bands, shingle) and may be
    overridden by the run's `gate.<name>` option (also `reference`)."""
    counts = GateCounts()

    def run(records: list[dict], ctx: StageContext) -> tuple[list[dict], list[Reject]]:
        if not enabled or not gate_enabled(ctx, name):
            return records, []
        from dsbuild.gates.dedup_bulk import dedup_all

        settings = {**params, **_overrides(ctx, name)}
        ref = settings.pop("reference", reference)
        refs = (
            list(_reference_texts(ref, reference_field or field, reference_id_field)) if ref else []
        )
        langs = [field_value(r, lang_field) if lang_field else None for r in records]
        groups: dict[Any, list[int]] = {}
        for i, lang in enumerate(langs):
            groups.setdefault(lang if per_language else None, []).append(i)
        verdicts: list[Verdict | None] = [None] * len(records)
        for positions in groups.values():
            items = []
            for i in positions:
                text = field_value(records[i], field)
                items.append((records[i]["id"], "" if text is None else str(text)))
            for i, verdict in zip(positions, dedup_all(items, references=refs, **settings)):
                verdicts[i] = verdict
        kept, rejects = [], []
        for record, lang, verdict in zip(records, langs, verdicts):
            counts.add(lang, verdict)
            if verdict.keep:
                kept.append(record)
            else:
                rejects.append(
                    Reject(record["id"], name, verdict.reason, f"{field}: {verdict.detail}")
                )
        return kept, rejects

    run.counts = counts  # type: ignore[attr-defined]
    description = f"dedup (exact + near) on {field}" + (
        f" against {reference}" if reference else ""
    )
    return batch_stage(name, run, description=description, version=f"gate-{version}")


def _reference_texts(path: str, field: str, id_field: str) -> Iterable[tuple[str, str]]:
    """(id, text) of every record of a reference file that has `field`."""
    from dsbuild.errors import InputError
    from dsbuild.readers import read_records

    n = 0
    for i, item in enumerate(read_records(path), 1):
        if item.record is None:
            raise InputError(
                f"reference file {item.locator}: {item.problem.message}",
                "fix or remove that line of the reference file",
                code="DSB303",
            )
        text = field_value(item.record, field)
        if text is None:
            continue
        n += 1
        yield str(field_value(item.record, id_field) or i), str(text)
    if n == 0:
        raise InputError(
            f"reference file {path} has no record with field {field!r}",
            "name the field that holds the text (reference_field=...)",
            code="DSB304",
        )
