"""Shared pieces of the record schemas: the base model and the problem collector.

Structural checks (types, required fields, ranges) are plain pydantic. Cross-field checks
(spans into a text, flags that imply other fields) run in one `model_validator` per model,
which gathers every problem in a `Problems` and raises them together, so a record reports
all its defects at once, each at its own field path with a short snake_case `type`.
"""

from __future__ import annotations

import ast
import json
import math
from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, WithJsonSchema
from pydantic_core import InitErrorDetails, PydanticCustomError

from dsbuild.spans import SpanProblem

Loc = tuple[str | int, ...]
SpanPair = tuple[int, int]


def _id_to_str(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


RecordId = Annotated[
    str,
    BeforeValidator(_id_to_str),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "integer"}]}),
]
"""A record id: a string, or an integer (read as its decimal string)."""


class RecordModel(BaseModel):
    """Base of every record model: unknown fields (provenance, extras) are kept, not rejected."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Problems:
    """Cross-field problems of one record, raised together as a single `ValidationError`."""

    def __init__(self, title: str, context: Any = None) -> None:
        self.title = title
        self.context = context
        self.items: list[InitErrorDetails] = []

    def __bool__(self) -> bool:
        return bool(self.items)

    def add(self, loc: Loc, code: str, message: str, value: Any = None) -> None:
        """Record one problem at field path `loc` with reason `code`."""
        error = PydanticCustomError(code, "{detail}", {"detail": message})
        self.items.append(InitErrorDetails(type=error, loc=loc, input=value))

    def warn(self, loc: Loc, code: str, message: str) -> None:
        """Record a release quirk at `loc` (a warning, see `dsbuild.quirks`): the record stays
        valid."""
        from dsbuild.quirks import warn_in

        warn_in(self.context, field_path(loc), code, message)

    def add_spans(
        self, loc: Loc, problems: Iterable[SpanProblem], values: list[Any] | None = None
    ) -> int:
        """Record span problems, each at `loc + (index,)`; returns how many there were."""
        count = 0
        for p in problems:
            value = values[p.index] if values is not None and p.index < len(values) else None
            self.add((*loc, p.index), p.code, p.message, value)
            count += 1
        return count

    def raise_if_any(self) -> None:
        """Raise every problem collected so far (pydantic merges them into the record's errors)."""
        if self.items:
            raise ValidationError.from_exception_data(self.title, self.items)


def field_path(loc: Iterable[str | int]) -> str | None:
    """Render a pydantic location as a field path: ('entities', 0, 'qid') -> 'entities[0].qid'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or None


_NAMED_FLOATS = {"nan": math.nan, "NaN": math.nan, "inf": math.inf, "Infinity": math.inf}


def list_from_string(text: str) -> list[Any] | None:
    """The list a string spells in JSON or Python literal syntax (`"['a', 'b']"`,
    `"[1.5, nan]"`), or None when it spells no list. Only literals are read: strings,
    numbers, booleans, None, nested lists/tuples and the names nan/inf."""
    stripped = text.strip()
    if not (stripped.startswith("[") and stripped.endswith("]")):
        return None
    try:
        value = json.loads(stripped)
    except ValueError:
        try:
            value = _literal(ast.parse(stripped, mode="eval").body)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None
    return value if isinstance(value, list) else None


def _literal(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant) and not isinstance(node.value, bytes | complex):
        return node.value
    if isinstance(node, ast.List | ast.Tuple):
        return [_literal(n) for n in node.elts]
    if isinstance(node, ast.Name) and node.id in _NAMED_FLOATS:
        return _NAMED_FLOATS[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _literal(node.operand)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return -value if isinstance(node.op, ast.USub) else value
    raise ValueError("not a literal")


def squash(text: str) -> str:
    """Collapse every run of whitespace to one space: for comparing texts across sources
    that break lines differently (MEDEC cells use CR LF inside sentences, its Sentences
    column spaces)."""
    return " ".join(text.split())


def first_difference(a: str, b: str) -> int:
    """Index of the first character where `a` and `b` differ."""
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))
