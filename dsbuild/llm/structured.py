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

__all__ = ["check_structured", "repair_message"]

_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.S)


@lru_cache(maxsize=64)
def _validator(schema_text: str):
    from jsonschema import Draft202012Validator

    schema = json.loads(schema_text)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def check_structured(content: str | None, schema: dict[str, Any]) -> tuple[Any, str | None, str | None]:
    """(value, reason, message): the parsed value and (None, None) when it is valid; else the
    reason code (`invalid_json` or `schema_mismatch`) and a one-line message."""
    if content is None or not content.strip():
        return None, "invalid_json", "the reply was empty"
    text = content
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    try:
        value = json.loads(text)
    except ValueError as exc:
        return None, "invalid_json", f"the reply is not valid JSON ({exc})"
    validator = _validator(json.dumps(schema, sort_keys=True))
    errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(root)"
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        return value, "schema_mismatch", f"at {where}: {first.message}{more}"
    return value, None, None


def repair_message(problem: str) -> dict[str, str]:
    """The user turn that shows the model its validation error and asks again."""
    return {
        "role": "user",
        "content": (f"That answer cannot be used: {problem}. Answer again with JSON only, "
                    "exactly matching the required schema, and nothing else."),
    }
