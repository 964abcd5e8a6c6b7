"""One model's localisation of a source text for one target locale.

`translate_record` sends the source text to the translating model (the translator is not
shown the segments, so the ratings measure how a model handles cultural material on its
own), cleans the reply (`clean_translation`) and rejects an empty one or one that is the
source text unchanged.
"""

from __future__ import annotations

import re
from typing import Any

from dsbuild.builder_kit import ask
from dsbuild.cultural.locate import normalize
from dsbuild.cultural.sources import locale_parts
from dsbuild.languages import language_name
from dsbuild.stages import reject

__all__ = ["clean_translation", "translate_record", "translation_sampling"]

_QUOTES = (('"', '"'), ("\u201c", "\u201d"), ("\u00ab", "\u00bb"), ("\u300c", "\u300d"))


def clean_translation(content: str) -> str:
    """The reply without a code fence or quotation marks wrapped around all of it."""
    text = (content or "").strip()
    fenced = re.fullmatch(r"```[\w-]*\n(.*?)\n?```", text, re.DOTALL)
    if fenced:
        text = fenced.group(1).strip()
    for a, b in _QUOTES:
        if (
            len(text) > 2
            and text.startswith(a)
            and text.endswith(b)
            and a not in text[1:-1]
            and b not in text[1:-1]
        ):
            text = text[1:-1].strip()
    return text


def translation_sampling(text: str, temperature: float, seed: Any) -> dict[str, Any]:
    """The translate request's sampling: a token budget that grows with the text, and a stop
    at a blank line when the text is one paragraph."""
    sampling: dict[str, Any] = {
        "temperature": temperature,
        "seed": seed,
        "max_tokens": min(4096, 64 + 3 * len(text) // 2),
    }
    if "\n\n" not in text.strip():
        # One paragraph in, one out: a blank line ends the translation (what follows is
        # a translator's note, or a small model running on).
        sampling["stop"] = ["\n\n"]
    return sampling


async def translate_record(
    record: dict, engine: Any, template: Any, *, temperature: float, seed: Any
) -> Any:
    """The record with the model's `translation` of its text for its `target_lang` (and
    `model_answered`, `provenance.translate`), or a rejection."""
    language, region = locale_parts(record["target_lang"])
    text = record["text"]
    result = await ask(
        engine,
        template,
        source_language=language_name(record["lang"]),
        language=language,
        region=region,
        locale=record["target_lang"],
        text=text,
        sampling=translation_sampling(text, temperature, seed),
        id=record["id"],
    )
    if not result.ok:
        return result.rejection()
    translation = clean_translation(result.content or "")
    if not translation:
        return reject("empty_translation", f"{record['system']} returned no text")
    if normalize(translation).text == normalize(text).text:
        return reject("same_as_source", f"{record['system']} returned the source text unchanged")
    return {
        **record,
        "translation": translation,
        "model_answered": result.model_answered or engine.model or record["system"],
        "provenance": {**record.get("provenance", {}), "translate": result.provenance()},
    }
