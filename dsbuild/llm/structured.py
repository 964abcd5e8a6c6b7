"""Structured output: parse a reply as JSON and check it against the requested JSON Schema.

Every structured reply is re-validated here, whatever the backend promised (grammar or
`response_format`). A failure comes back as a short message meant for the model itself, so a
repair request can show it what was wrong.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

__all__ = [
    "COPY_OF",
    "GRAMMAR_PATTERN",
    "check_structured",
    "copy_of",
    "copy_pairs",
    "copy_pieces",
    "copy_problem",
    "expand_copy",
    "expand_grammar_patterns",
    "grammar_pattern",
    "repair_message",
    "repair_turn",
    "without_copy",
]

# Schema extensions: constraints a grammar-constrained decoder can enforce but a plain
# JSON-Schema endpoint may refuse. `COPY_OF`: a string that must be a given text copied
# exactly, with marks (e.g. `[HAL]`, `[/HAL]`) inserted between its pieces. `GRAMMAR_PATTERN`:
# a regular expression meant to steer a grammar (e.g. "this sentence states the choice"), not
# to judge an answer. Grammar backends enforce both as `pattern`s (`expand_copy`: the local
# model, servers taking `json_object`+schema or `guided_json`); endpoints that take
# `json_schema` (OpenAI) get the plain string schema (`without_copy`).
# A mark whose closing form (a `/` after its first character: `[HAL]` -> `[/HAL]`) is a mark
# too opens a span that one closes: the spans must be balanced, not nested and around some
# text. `check_structured` checks every copy (whatever the backend), so a broken one gets the
# engine's repair turns; the local model's grammar cannot even write one (`copy_gbnf`).
COPY_OF = "x-dsbuild-copy-of"
GRAMMAR_PATTERN = "x-dsbuild-grammar-pattern"
_EXTENSIONS = (COPY_OF, GRAMMAR_PATTERN)
_PIECES = re.compile(r"\w+|\s+|[^\w\s]", re.U)
_ESCAPED = re.compile(r"([\\\[\]^])")  # escaped with a backslash
_CLASSED = re.compile(r"([.$*+?(){}|])")  # written as a one-character class, e.g. [.]

_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.S)


@lru_cache(maxsize=64)
def _validator(schema_text: str):
    from jsonschema import Draft202012Validator

    schema = json.loads(schema_text)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def check_structured(
    content: str | None, schema: dict[str, Any]
) -> tuple[Any, str | None, str | None]:
    """(value, reason, message): the parsed value and (None, None) when it is valid; else the
    reason code (`invalid_json` or `schema_mismatch`) and a one-line message."""
    if content is None or not content.strip():
        return None, "invalid_json", "the reply was empty"
    text = content
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    try:
        # strict=False: a raw line break or tab inside a string (JSON wants it escaped) is
        # read as itself; servers' grammars (llama.cpp's) let models write them.
        value = json.loads(text, strict=False)
    except ValueError as exc:
        return None, "invalid_json", f"the reply is not valid JSON ({exc})"
    validator = _validator(json.dumps(schema, sort_keys=True))
    errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(root)"
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        return value, "schema_mismatch", f"at {where}: {first.message}{more}"
    problem = _copy_problems(schema, value, ())
    if problem is not None:
        return value, "schema_mismatch", problem
    return value, None, None


def _copy_problems(schema: Any, value: Any, path: tuple[str, ...]) -> str | None:
    """The first copy constraint (`COPY_OF`) of `schema` that `value` breaks, as a message."""
    if not isinstance(schema, dict):
        return None
    if COPY_OF in schema:
        problem = copy_problem(value, schema[COPY_OF]) if isinstance(value, str) else None
        return f"at {'/'.join(path) or '(root)'}: {problem}" if problem else None
    if isinstance(value, dict):
        for key, sub in (schema.get("properties") or {}).items():
            if key in value:
                problem = _copy_problems(sub, value[key], (*path, key))
                if problem:
                    return problem
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            problem = _copy_problems(schema["items"], item, (*path, str(i)))
            if problem:
                return problem
    return None


def copy_pieces(text: str) -> list[str]:
    """The pieces of a text a copy may put marks between: words, whitespace runs, single
    other characters."""
    return _PIECES.findall(text)


def _closing(mark: str) -> str:
    return mark[:1] + "/" + mark[1:]


def copy_pairs(spec: dict[str, Any]) -> tuple[list[tuple[str, str]], list[str]]:
    """(pairs, free) of a copy constraint's marks: `(open, close)` when a mark's closing
    form (`[HAL]` -> `[/HAL]`) is a mark too; the others may stand anywhere alone."""
    marks = list(spec["marks"])
    pairs = [(m, _closing(m)) for m in marks if _closing(m) in marks]
    paired = {m for pair in pairs for m in pair}
    return pairs, [m for m in marks if m not in paired]


def copy_problem(value: str, spec: dict[str, Any]) -> str | None:
    """What is wrong with `value` as the copy `spec` (a `COPY_OF` value) asks for, said to
    the model (None: it is right): the text must be copied exactly, and paired marks must
    be balanced, not nested, around some text (`dsbuild.spans.parse_tagged`)."""
    from dsbuild.spans import TagError, parse_tagged

    pairs, free = copy_pairs(spec)
    for mark in free:
        value = value.replace(mark, "")
    for i, (open_tag, close_tag) in enumerate(pairs or [("\x00", "\x00/")]):
        rest = value
        for j, (o, c) in enumerate(pairs):
            if j != i:
                rest = rest.replace(o, "").replace(c, "")
        try:
            parse_tagged(rest, spec["text"], open_tag, close_tag)
        except TagError as exc:
            if exc.reason == "text_changed":
                return f"{exc.detail}; copy the text exactly, only adding the marks"
            return (
                f"{exc.detail}; every {open_tag} must be closed by {close_tag} after some "
                f"text, never inside another {open_tag}"
            )
    return None


def repair_message(problem: str) -> dict[str, str]:
    """The user turn that shows the model its validation error and asks again."""
    return {
        "role": "user",
        "content": (
            f"That answer cannot be used: {problem}. Answer again with JSON only, "
            "exactly matching the required schema, and nothing else."
        ),
    }


def repair_turn(request: Any, content: str | None, problem: str) -> Any:
    """`request` (a `ChatRequest`) followed by the answer that failed and the turn asking
    again (`repair_message`): the next request of a structured call."""
    from dataclasses import replace

    return replace(
        request,
        messages=(
            *request.messages,
            {"role": "assistant", "content": content or ""},
            repair_message(problem),
        ),
    )


def copy_of(text: str, marks: list[str] | tuple[str, ...], **extra: Any) -> dict[str, Any]:
    """The schema of a string that copies `text` with any of `marks` between its pieces
    (words, whitespace runs, single other characters)."""
    return {"type": "string", COPY_OF: {"text": text, "marks": list(marks)}, **extra}


def grammar_pattern(pattern: str, **extra: Any) -> dict[str, Any]:
    """The schema fragment of a string a grammar should keep to `pattern` (an extension:
    stripped for endpoints that take plain JSON Schema)."""
    return {"type": "string", GRAMMAR_PATTERN: pattern, **extra}


def _walk(schema: Any, fn, keys: tuple[str, ...] = _EXTENSIONS) -> Any:
    if isinstance(schema, dict):
        if any(k in schema for k in keys):
            return fn(schema)
        return {k: _walk(v, fn, keys) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_walk(v, fn, keys) for v in schema]
    return schema


def without_copy(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with dsbuild's extensions (copy constraints, grammar patterns) removed:
    plain strings, for endpoints that take plain JSON Schema."""
    return _walk(schema, lambda node: {k: v for k, v in node.items() if k not in _EXTENSIONS})


def _copy_pattern(spec: dict[str, Any]) -> str:
    """A regular expression over the JSON-escaped text (a grammar emits raw JSON), with
    an optional mark between pieces."""

    def lit(s: str) -> str:
        text = _ESCAPED.sub(r"\\\1", json.dumps(s, ensure_ascii=False)[1:-1])
        return _CLASSED.sub(r"[\1]", text)

    mark = "(" + "|".join(lit(m) for m in spec["marks"]) + ")?"
    pieces = copy_pieces(spec["text"])
    return "^" + mark + "".join(lit(p) + mark for p in pieces) + "$"


def _as_pattern(node: dict[str, Any]) -> dict[str, Any]:
    plain = {k: v for k, v in node.items() if k not in _EXTENSIONS}
    if COPY_OF in node:
        return {**plain, "pattern": _copy_pattern(node[COPY_OF])}
    return {**plain, "pattern": node[GRAMMAR_PATTERN]}


def expand_copy(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with dsbuild's extensions turned into `pattern`s (for grammar backends)."""
    return _walk(schema, _as_pattern)


def expand_grammar_patterns(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with only the grammar patterns turned into `pattern`s (copy constraints
    kept as they are: the local backend expands those when it builds the grammar)."""
    return _walk(schema, _as_pattern, (GRAMMAR_PATTERN,))
