"""`copy_of`: a string schema that only a tagged copy of a text satisfies, enforced by the
local model's grammar and stripped for remote endpoints."""

from __future__ import annotations

import json
import re

import pytest

from dsbuild.llm.structured import COPY_OF, copy_of, expand_copy, without_copy

TEXT = 'Paris is "big".\nIt (1.5) has a\\b [sic] {x} | y? * + ^$ 東京 🎉'
MARKS = ("[HAL]", "[/HAL]")


def _schema(text: str = TEXT) -> dict:
    return {"type": "object", "properties": {"a": copy_of(text, MARKS)}, "required": ["a"]}


def _pattern(text: str = TEXT) -> str:
    return expand_copy(_schema(text))["properties"]["a"]["pattern"]


def _raw(value: str) -> str:
    """How the value appears inside the JSON a grammar emits (the pattern's alphabet)."""
    return json.dumps(value, ensure_ascii=False)[1:-1]


@pytest.mark.parametrize(
    "tagged",
    [
        TEXT,
        "[HAL]Paris[/HAL]" + TEXT[5:],
        TEXT.replace("(1.5)", "[HAL](1.5)[/HAL]"),
        TEXT.replace("東京", "[HAL]東京[/HAL]"),
    ],
)
def test_pattern_accepts_tagged_copies(tagged):
    assert re.fullmatch(_pattern(), _raw(tagged))


@pytest.mark.parametrize(
    "other",
    [
        TEXT[:-1],
        TEXT + " ",
        TEXT.replace("big", "large"),
        TEXT.replace("Paris", "Pa[HAL]ris"),
        TEXT.replace("\n", " "),
        "[X]" + TEXT,
    ],
)
def test_pattern_refuses_anything_else(other):
    assert not re.fullmatch(_pattern(), _raw(other))


def test_remote_endpoints_get_a_plain_string():
    plain = without_copy(_schema())
    assert plain["properties"]["a"] == {"type": "string"}
    assert COPY_OF not in json.dumps(plain)


def test_local_backend_grammar_places_the_copy_rules():
    pytest.importorskip("llama_cpp")
    from dsbuild.llm.backends.local import chat_kwargs

    kwargs = chat_kwargs(
        {
            "messages": [{"role": "user", "content": "x"}],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "t", "schema": _schema()},
            },
        }
    )
    gbnf = kwargs["grammar"]._grammar  # the rule of `a` is the copy's: quote, then its rules
    rules = dict(line.split(" ::= ", 1) for line in gbnf.splitlines())
    assert rules["a"] == '"\\"" dsb-copy0-o0'
    assert rules["dsb-copy0-o0"] == '"Paris" dsb-copy0-o1 | "[HAL]" "Paris" dsb-copy0-p0-1'
    assert "DSBUILD" not in gbnf


_TOKEN = re.compile(r'"((?:\\.|[^"\\])*)"|\(([^)]*)\)(\?)?|([\w-]+)|(\|)')


def _grammar_matches(gbnf: str, start: str, text: str) -> bool:
    """Whether `start` of these (right-linear) GBNF rules derives `text` exactly."""
    rules: dict[str, list[list[tuple]]] = {}
    for line in gbnf.splitlines():
        name, body = line.split(" ::= ", 1)
        alts: list[list[tuple]] = [[]]
        for m in _TOKEN.finditer(body):
            if m.group(5):
                alts.append([])
            else:
                alts[-1].append(m.groups()[:4])
        rules[name] = alts

    def lit(raw: str) -> str:
        return re.sub(r"\\(.)", r"\1", raw)

    def ends(name: str, at: int) -> set[int]:
        out: set[int] = set()
        for alt in rules[name]:
            positions = {at}
            for literal, group, optional, ref in alt:
                nxt: set[int] = set()
                for pos in positions:
                    if literal is not None:
                        if text.startswith(lit(literal), pos):
                            nxt.add(pos + len(lit(literal)))
                    elif group is not None:
                        options = [lit(x) for x in re.findall(r'"((?:\\.|[^"\\])*)"', group)]
                        nxt |= {pos + len(o) for o in options if text.startswith(o, pos)}
                        if optional:
                            nxt.add(pos)
                    else:
                        nxt |= ends(ref, pos)
                positions = nxt
            out |= positions
        return out

    return len(text) in ends(start, 0)


def _copy_accepts(tagged: str, marks=MARKS, text: str = TEXT) -> bool:
    from dsbuild.llm.backends.local import copy_gbnf

    spec = copy_of(text, marks)["x-dsbuild-copy-of"]
    return _grammar_matches(copy_gbnf(spec, "c"), "c-o0", _raw(tagged) + '"')


@pytest.mark.parametrize(
    "tagged",
    [
        TEXT,
        "[HAL]Paris[/HAL]" + TEXT[5:],
        "[HAL]Paris is[/HAL]" + TEXT[8:],
        TEXT.replace("(1.5)", "[HAL](1.5)[/HAL]"),
        TEXT.replace("東京", "[HAL]東京[/HAL]"),
        TEXT.replace("🎉", "[HAL]🎉[/HAL]"),
    ],
)
def test_the_local_grammar_writes_balanced_tags(tagged):
    assert _copy_accepts(tagged)


@pytest.mark.parametrize(
    "broken",
    [
        "[HAL]Paris" + TEXT[5:],  # never closed
        "Paris[/HAL]" + TEXT[5:],  # closes nothing
        "[HAL]Paris [HAL]is[/HAL][/HAL]" + TEXT[8:],  # nested
        "Paris[HAL] [/HAL]is" + TEXT[8:],  # around whitespace only
        TEXT.replace("big", "large"),
        TEXT.replace("Paris", "Pa[HAL]ris[/HAL]"),
        TEXT + " ",
    ],
)
def test_the_local_grammar_cannot_write_broken_tags(broken):
    assert not _copy_accepts(broken)


def test_a_mark_without_a_closing_form_may_stand_anywhere_alone():
    assert _copy_accepts("a [M]b[M]", ("[M]",), "a b")
    assert not _copy_accepts("a [M][M]b", ("[M]",), "a b")  # one mark per gap
    assert not _copy_accepts("a [M]c", ("[M]",), "a b")


def test_openai_backend_strips_the_extension():
    from dsbuild.llm.backends.openai_compat import _plain_schema

    payload = {
        "model": "m",
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "t", "schema": _schema()},
        },
    }
    sent = _plain_schema(payload)
    assert COPY_OF not in json.dumps(sent) and COPY_OF in json.dumps(payload)
    assert _plain_schema({"model": "m"}) == {"model": "m"}


def test_the_local_backend_expands_grammar_patterns_only_so_copy_requests_keep_their_keys():
    """The local model's `prepare_response_format` turns grammar patterns into `pattern`s but
    leaves copy constraints for the grammar builder: a request with a copy constraint has
    the same payload (and cache key) as before grammar patterns existed."""
    from dsbuild.llm.structured import GRAMMAR_PATTERN, expand_grammar_patterns, grammar_pattern

    schema = {
        "type": "object",
        "properties": {"a": copy_of("Paris", ["[HAL]"]), "b": grammar_pattern("^x$")},
    }
    out = expand_grammar_patterns(schema)
    assert out["properties"]["a"] == schema["properties"]["a"]
    assert out["properties"]["b"] == {"type": "string", "pattern": "^x$"}
    assert GRAMMAR_PATTERN not in json.dumps(out)


@pytest.mark.parametrize(
    "broken, problem",
    [
        ("[HAL]Paris" + TEXT[5:], "never closed"),
        ("Paris[/HAL]" + TEXT[5:], "closes no tag"),
        ("Paris[HAL] [/HAL]is" + TEXT[8:], "only whitespace"),
        ("[HAL]Paris [HAL]is[/HAL][/HAL]" + TEXT[8:], "inside the tag"),
        (TEXT.replace("big", "large"), "copy the text exactly"),
    ],
)
def test_a_broken_copy_fails_the_structured_check_with_what_to_fix(broken, problem):
    """The regular expression servers get (json_object + schema, guided_json) cannot keep
    tags balanced; the engine's check of every answer can, so a broken copy gets a repair
    turn that says what is wrong."""
    from dsbuild.llm.structured import check_structured

    value, reason, message = check_structured(json.dumps({"a": broken}), _schema())
    assert value == {"a": broken} and reason == "schema_mismatch"
    assert message.startswith("at a: ") and problem in message
    assert check_structured(json.dumps({"a": "[HAL]Paris[/HAL]" + TEXT[5:]}), _schema())[1:] == (
        None,
        None,
    )
