"""The plumbing every builder needs, written once: options, model lists, source limits,
per-request response formats, prompt-based stage versions, one LLM call, and the run's
records in and out.

    options(ctx, spec)            the run's validated options (parsed once per stage context)
    spec_list(value, default)     a comma list (or list) of model specs; empty: [default]
    per_language(items, ...)      at most N items per language, a languages filter, a limit
    response_format(template,...) the template's response format with per-request bounds
    prompt_version(prompts, ...)  a stage version that changes with its prompts' text
    ask(engine, template, ...)    render a template, send it, return the `LLMResult`
    read_records(path)            the JSONL records of a run or a stage
    write_records(path, rows)     rows as UTF-8 JSONL, atomically

Nothing heavy is imported here at module level (`dsbuild --help` imports the builders).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "ask",
    "llm_stage",
    "options",
    "per_language",
    "prompt_version",
    "read_records",
    "response_format",
    "spec_list",
    "write_records",
]


def options(ctx: Any, spec: Any) -> Any:
    """The run's options as the dataset's options model (`spec.options`), parsed once per
    stage context, so every stage and gate reads the same values."""
    from dsbuild.builder_options import options_of

    return options_of(ctx, spec.options_model())


def spec_list(value: Any, default: str | None = None) -> list[str | None]:
    """A roster option (a list, or a comma-separated string) as a list of model specs;
    empty or None means `[default]` (None: the run's model)."""
    if isinstance(value, str):
        value = [s.strip() for s in value.split(",") if s.strip()]
    return list(value) if value else [default]


def _lang(item: Any) -> str | None:
    return item["lang"] if isinstance(item, dict) else None


def per_language(
    items: Iterable[Any],
    languages: Iterable[str] | None = None,
    per_lang: int | None = None,
    limit: int | None = None,
    *,
    lang_of: Callable[[Any], str | None] = _lang,
) -> Iterator[Any]:
    """The items of the languages asked for (all when none), at most `per_lang` per language
    and `limit` in all, in order; reading stops at the limit. Items without a language
    (`lang_of` gives None: rejects, notes) pass through uncounted."""
    wanted = set(languages or ())
    counts: dict[str, int] = {}
    total = 0
    for item in items:
        lang = lang_of(item)
        if lang is not None:
            if wanted and lang not in wanted:
                continue
            if per_lang is not None and counts.get(lang, 0) >= per_lang:
                continue
            if limit is not None and total >= int(limit):
                break
            counts[lang] = counts.get(lang, 0) + 1
            total += 1
        yield item


# Bounds that never go below the schema's own lower bound (a minLength of 5 keeps a
# maxLength of 3 from making the schema unsatisfiable).
_FLOORS = {"maxLength": "minLength", "maximum": "minimum", "maxItems": "minItems"}


def _property(schema: dict, path: str) -> dict | None:
    """The schema of the property at `path` (names separated by dots; `items` steps into an
    array's items), or None when the schema has no such property."""
    node: Any = schema
    for name in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get("items") if name == "items" else node.get("properties", {}).get(name)
    return node if isinstance(node, dict) else None


def response_format(
    template: Any,
    changes: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    replace: Mapping[str, dict] | None = None,
    string_default: tuple[str, Callable[[int], str]] | None = None,
) -> dict | None:
    """The template's response format (a copy) with per-request changes to its schema.

    `changes` maps a property path (`"record"`, `"segments.items.category"`) to keywords to
    set: `maxLength`/`maximum`/`maxItems` never below the property's `minLength`/`minimum`/
    `minItems`; `enum` only narrows an enum the property has; `minItems`/`maxItems` only on
    an array with `items`; a None value is skipped; other keywords (extensions like
    `GRAMMAR_PATTERN`) are set as given. `replace` swaps a property's whole schema.
    `string_default=(keyword, make)` then sets `keyword` to `make(maxLength)` on every bounded,
    non-enum string property that lacks it. A path the schema does not have is left alone:
    an overriding template of another shape is used as it is, and the stage checks the answers.
    """
    fmt = template.response_format()
    if fmt is None:
        return None
    fmt = copy.deepcopy(fmt)
    schema = fmt.get("json_schema", {}).get("schema") or {}
    for path, keywords in (changes or {}).items():
        prop = _property(schema, path)
        if prop is None:
            continue
        for key, value in keywords.items():
            if value is None:
                continue
            if key in _FLOORS:
                value = max(int(prop.get(_FLOORS[key], 0)), int(value))
            if key == "enum" and "enum" not in prop:
                continue
            if key in ("minItems", "maxItems") and "items" not in prop:
                continue
            prop[key] = list(value) if key == "enum" else value
    for path, new in (replace or {}).items():
        head, _, name = path.rpartition(".")
        parent = _property(schema, head) if head else schema
        if parent is not None and name in parent.get("properties", {}):
            parent["properties"][name] = new
    if string_default is not None:
        keyword, make = string_default
        for prop in schema.get("properties", {}).values():
            if (
                isinstance(prop, dict)
                and prop.get("type") == "string"
                and "maxLength" in prop
                and keyword not in prop
                and "enum" not in prop
            ):
                prop[keyword] = make(prop["maxLength"])
    return fmt


def prompt_version(prompts: Mapping[str, Any], *names: str, base: str = "1") -> str:
    """A stage version that changes with the text of its prompts (`1+<hash>[+<hash>...]`),
    so a run is never resumed with an edited prompt."""
    return base + "+" + "+".join(prompts[n].hash[:12] for n in names)


def llm_stage(
    name: str,
    make: Callable[..., Any],
    prompts: Mapping[str, Any],
    *names: str,
    concurrency: int,
    description: str,
) -> Any:
    """A map stage asking an LLM: its function is `make(*templates)` of the prompts `names`,
    `concurrency` calls are in flight, and its version follows those prompts' text
    (`prompt_version`)."""
    from dsbuild.stages import map_stage

    return map_stage(
        name,
        make(*(prompts[n] for n in names)),
        concurrency,
        version=prompt_version(prompts, *names),
        description=description,
    )


async def ask(
    engine: Any,
    template: Any,
    *,
    id: str,
    sampling: dict[str, Any],
    response_format: dict | None = None,
    **values: Any,
) -> Any:
    """The `LLMResult` of `template` rendered with `values` and sent through `engine` (the
    run's pool: cached, budgeted, retried)."""
    return await engine.complete(
        engine.request(
            template.render(**values),
            response_format=response_format,
            sampling=sampling,
            id=id,
            template=template,
        )
    )


def read_records(path: str | Path) -> list[dict]:
    """The records of a run's (or a stage's) JSONL file, as the runner wrote them."""
    from dsbuild.runs.jsonl import iter_jsonl

    return list(iter_jsonl(Path(path)))


def write_records(path: str | Path, rows: Iterable[Mapping[str, Any]]) -> int:
    """Rows as UTF-8 JSON Lines (characters unescaped, keys in row order), written
    atomically; returns the count."""
    from dsbuild.runs.jsonl import write_jsonl

    return write_jsonl(path, rows)
