"""Token estimates: script-aware ratios and chat overheads."""

from __future__ import annotations

from dsbuild.llm.tokens import (
    MESSAGE_OVERHEAD_TOKENS,
    REPLY_PRIMING_TOKENS,
    estimate_prompt_tokens,
    estimate_tokens,
    estimate_usage,
)
from dsbuild.llm.types import Usage


def test_empty_and_tiny_texts():
    assert estimate_tokens("") == 0 and estimate_tokens(None) == 0
    assert estimate_tokens("a") == 1


def test_latin_text_is_about_four_chars_per_token():
    text = "The quick brown fox jumps over the lazy dog. " * 20  # 900 chars
    assert estimate_tokens(text) == 225
    accented = "Ça a été très économique à Zürich. " * 20  # 700 chars, Latin
    assert estimate_tokens(accented) == 175


def test_cjk_and_wide_scripts_count_one_token_per_char():
    assert estimate_tokens("日本語のテキストです") == 10
    assert estimate_tokens("한국어 문장") == 5 + 1  # 5 Hangul + 1 space (rounded up)
    assert estimate_tokens("नमस्ते") == 6
    assert estimate_tokens("😀" * 8) == 8


def test_other_alphabets_sit_in_between():
    ru = "Съешь же ещё этих мягких французских булок. " * 10
    en = "x" * len(ru)
    assert estimate_tokens(en) < estimate_tokens(ru) < len(ru)


def test_mixed_text_adds_up():
    assert estimate_tokens("abcd" * 10 + "中" * 10) == 10 + 10


def test_prompt_tokens_add_per_message_overhead_and_parts():
    msgs = [
        {"role": "system", "content": "abcd" * 5},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "abcd" * 3},
                {"type": "image_url", "image_url": {"url": "x"}},
            ],
        },
        {"role": "assistant", "content": None},
    ]
    assert estimate_prompt_tokens(msgs) == REPLY_PRIMING_TOKENS + 3 * MESSAGE_OVERHEAD_TOKENS + 8
    with_schema = estimate_prompt_tokens(msgs, response_format={"type": "json_object"})
    assert with_schema > estimate_prompt_tokens(msgs)


def test_estimate_usage_is_marked_estimated():
    usage = estimate_usage([{"role": "user", "content": "abcd" * 4}], "日本")
    assert usage == Usage(REPLY_PRIMING_TOKENS + MESSAGE_OVERHEAD_TOKENS + 4, 2, estimated=True)
    assert estimate_usage([], None).completion_tokens == 0
