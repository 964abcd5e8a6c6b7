"""Credentials written inside URLs, removed before anything reaches a file.

A user may give `--base-url http://user:key@host/v1`, a model spec
`vllm:m@https://user:key@gpu1:8000/v1`, or a URL with `?api_key=...`. The password part of the
user-info and the values of credential-looking query parameters are replaced by `***`
wherever such a string could be written: config, fingerprint, logs, provenance, cards.
`redact` walks JSON-like data; `redact_text` rewrites every URL inside a string.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["MASK", "redact", "redact_text"]

MASK = "***"

# scheme://user:password@  or  scheme://token@  (user-info of any URL inside a text)
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<info>[^/@\s?#]+)@")
_SECRET_PARAMS = re.compile(
    r"(?P<key>[?&](?:api[_-]?key|key|token|access[_-]?token|password|secret|sig|signature)=)[^&#\s]*",
    re.IGNORECASE,
)


def _mask_info(match: re.Match[str]) -> str:
    user, sep, _ = match.group("info").partition(":")
    return f"{match.group('scheme')}{user}:{MASK}@" if sep else f"{match.group('scheme')}{MASK}@"


def redact_text(text: str) -> str:
    """`text` with the password (or bare token) of every URL's user-info and the values of
    credential query parameters replaced by `***`; other text is unchanged."""
    if "://" not in text and "=" not in text:
        return text
    return _SECRET_PARAMS.sub(lambda m: m.group("key") + MASK, _USERINFO.sub(_mask_info, text))


def redact(value: Any) -> Any:
    """A copy of JSON-like data (dicts, lists, strings) with every string passed through
    `redact_text`."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value
