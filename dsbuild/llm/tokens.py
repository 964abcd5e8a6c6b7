"""Cheap token estimates, for dry runs and for providers that report no usage.

No tokenizer is loaded (they are large and model-specific); instead characters are counted
by script, using rough ratios of BPE tokenizers such as OpenAI's o200k/cl100k:

- CJK ideographs, kana, Hangul, Brahmic and South-East Asian scripts (Devanagari, Bengali,
  Tamil, Thai, Khmer, Myanmar, ...), Ethiopic, emoji and other symbols outside the BMP:
  ~1 token per character (often a little less for Chinese, more for Indic scripts);
- Greek, Cyrillic, Armenian, Georgian, Hebrew, Arabic, Syriac, Thaana: ~1 token per 3
  characters;
- everything else (ASCII, accented Latin, digits, punctuation, spaces): ~1 token per 4
  characters.

Expect ±30% on typical prose; enough to size a budget, not to bill by. A non-empty text
is at least one token.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from dsbuild.canonical import canonical_json
from dsbuild.llm.types import Usage

__all__ = [
    "CHARS_PER_TOKEN_LATIN",
    "CHARS_PER_TOKEN_OTHER_ALPHABETS",
    "MESSAGE_OVERHEAD_TOKENS",
    "REPLY_PRIMING_TOKENS",
    "estimate_prompt_tokens",
    "estimate_tokens",
    "estimate_usage",
]

CHARS_PER_TOKEN_LATIN = 4.0
CHARS_PER_TOKEN_OTHER_ALPHABETS = 3.0
# OpenAI's chat format wraps each message in a few special tokens (role, separators), and
# the reply starts with a priming sequence (see the OpenAI cookbook's token counting).
MESSAGE_OVERHEAD_TOKENS = 4
REPLY_PRIMING_TOKENS = 3

_WIDE = re.compile(
    "["
    "\u0900-\u0dff"  # Devanagari .. Sinhala (Brahmic scripts of India and Sri Lanka)
    "\u0e00-\u0fff"  # Thai, Lao, Tibetan
    "\u1000-\u109f"  # Myanmar
    "\u1100-\u11ff"  # Hangul Jamo
    "\u1200-\u139f"  # Ethiopic
    "\u1780-\u17ff"  # Khmer
    "\u2600-\u27bf"  # miscellaneous symbols, dingbats
    "\u2e80-\u9fff"  # CJK radicals, punctuation, kana, Bopomofo, ideographs
    "\ua960-\ua97f"  # Hangul Jamo extended
    "\uac00-\ud7ff"  # Hangul syllables
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\ufe30-\ufe4f"  # CJK compatibility forms
    "\uff00-\uffef"  # full-width and half-width forms
    "\U00010000-\U0010ffff"  # outside the BMP: emoji, rare CJK, historic scripts
    "]"
)
_OTHER_ALPHABETS = re.compile(
    "["
    "\u0370-\u058f"  # Greek, Cyrillic, Armenian
    "\u0590-\u08ff"  # Hebrew, Arabic, Syriac, Thaana, N'Ko, ...
    "\u10a0-\u10ff"  # Georgian
    "]"
)


def estimate_tokens(text: str | None) -> int:
    """A rough token count of `text` (see the module docstring for the ratios)."""
    if not text:
        return 0
    n = len(text)
    if text.isascii():
        return max(1, math.ceil(n / CHARS_PER_TOKEN_LATIN))
    wide = _WIDE.subn("", text)[1]
    other = _OTHER_ALPHABETS.subn("", text)[1]
    rest = n - wide - other
    estimate = wide + other / CHARS_PER_TOKEN_OTHER_ALPHABETS + rest / CHARS_PER_TOKEN_LATIN
    return max(1, math.ceil(estimate))


def _content_text(content: Any) -> str:
    """The text of a message's content: a string, or the text parts of a list of parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, Mapping) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif isinstance(part, str):
                parts.append(part)
        return "\n".join(parts)
    return str(content)


def estimate_prompt_tokens(
    messages: Iterable[Mapping[str, Any]], *, response_format: Mapping[str, Any] | None = None
) -> int:
    """Tokens of a chat request: every message's content (and name) plus a per-message
    overhead and the reply priming; a `response_format` schema counts as its JSON text."""
    total = REPLY_PRIMING_TOKENS
    for message in messages:
        total += MESSAGE_OVERHEAD_TOKENS + estimate_tokens(_content_text(message.get("content")))
        if message.get("name"):
            total += 1 + estimate_tokens(str(message["name"]))
    if response_format:
        total += estimate_tokens(canonical_json(dict(response_format)))
    return total


def estimate_usage(
    messages: Iterable[Mapping[str, Any]],
    completion_text: str | None,
    *,
    response_format: Mapping[str, Any] | None = None,
) -> Usage:
    """Estimated prompt and completion tokens, marked `estimated=True`."""
    return Usage(
        prompt_tokens=estimate_prompt_tokens(messages, response_format=response_format),
        completion_tokens=estimate_tokens(completion_text),
        estimated=True,
    )
