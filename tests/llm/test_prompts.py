"""Prompt templates: the packaged example, rendering, overrides and malformed files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from dsbuild.errors import ConfigError
from dsbuild.llm.prompts import (
    PromptTemplate,
    list_prompts,
    load_prompts,
    load_template,
    package_prompts_dir,
)

GOOD = """---
id: demo/ask
version: 2
description: Ask a question about a text.
inputs: [text, language]
---
## system
Answer in {language}. Reply as {{"answer": "..."}}.

## user
{text}
"""


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def pkg(tmp_path) -> Path:
    root = tmp_path / "pkg"
    _write(root / "demo" / "ask.md", GOOD)
    _write(root / "demo" / "plain.md", "---\nid: demo/plain\nversion: 1\n---\nJust say hi.\n")
    return root


def test_packaged_echo_template_loads_and_renders():
    templates = load_prompts("llm")
    echo = templates["echo"]
    assert isinstance(echo, PromptTemplate)
    assert (echo.id, echo.version, echo.inputs, echo.overridden) == (
        "llm/echo",
        "1",
        ("text",),
        False,
    )
    assert echo.path == package_prompts_dir() / "llm" / "echo.md"
    assert echo.hash == hashlib.sha256(echo.path.read_bytes()).hexdigest()
    messages = echo.render(text="héllo {not a field}")
    assert [m["role"] for m in messages] == ["system", "user"]
    assert '{"echo": "..."}' in messages[0]["content"]  # doubled braces become literal
    assert messages[1]["content"].endswith("héllo {not a field}")
    assert echo.response_schema["required"] == ["echo"]
    assert echo.response_format()["json_schema"]["schema"] == echo.response_schema
    assert echo.response_format()["json_schema"]["name"] == "llm_echo"


def test_render_fills_inputs_ignores_extras_and_names_a_missing_input(pkg):
    ask = load_prompts("demo", package_root=pkg)["ask"]
    assert ask.render(text="Q?", language="German", unused=1) == [
        {"role": "system", "content": 'Answer in German. Reply as {"answer": "..."}.'},
        {"role": "user", "content": "Q?"},
    ]
    with pytest.raises(ConfigError) as info:
        ask.render(text="Q?")
    assert info.value.code == "DSB103"
    assert "'demo/ask'" in str(info.value) and "'language'" in str(info.value)


def test_body_without_sections_is_one_user_message(pkg):
    plain = load_prompts("demo", package_root=pkg)["plain"]
    assert plain.render() == [{"role": "user", "content": "Just say hi."}]
    assert plain.inputs == () and plain.response_schema is None and plain.response_format() is None


def test_overrides_flat_and_grouped(pkg, tmp_path):
    user = tmp_path / "user"
    flat = _write(
        user / "ask.md", GOOD.replace("version: 2", "version: 3").replace("{text}", "Text: {text}")
    )
    templates = load_prompts("demo", override_dir=user, package_root=pkg)
    ask = templates["ask"]
    assert ask.overridden and ask.path == flat and ask.version == "3"
    assert ask.hash == hashlib.sha256(flat.read_bytes()).hexdigest()
    assert ask.render(text="x", language="en")[1]["content"] == "Text: x"
    assert not templates["plain"].overridden

    grouped = _write(
        user / "demo" / "ask.md",
        "---\nid: demo/ask\nversion: 4\ninputs: [text]\n---\nOnly {text}\n",
    )  # fewer inputs is fine
    ask = load_prompts("demo", override_dir=user, package_root=pkg)["ask"]
    assert ask.path == grouped and ask.render(text="t", language="ignored") == [
        {"role": "user", "content": "Only t"}
    ]

    rows = list_prompts("demo", override_dir=user, package_root=pkg)
    assert [(r["name"], r["version"], r["overridden"]) for r in rows] == [
        ("ask", "4", True),
        ("plain", "1", False),
    ]
    assert rows[0]["hash"] == ask.hash[:12] and rows[0]["path"] == str(grouped)


def test_override_needing_an_input_the_builder_does_not_give_is_refused(pkg, tmp_path):
    bad = _write(
        tmp_path / "user" / "ask.md",
        "---\nid: demo/ask\nversion: 9\ninputs: [text, mood]\n---\n{text} {mood}\n",
    )
    with pytest.raises(ConfigError) as info:
        load_prompts("demo", override_dir=tmp_path / "user", package_root=pkg)
    assert str(bad) in str(info.value) and "'mood'" in str(info.value)


def test_grouped_override_with_unknown_name_is_refused(pkg, tmp_path):
    _write(tmp_path / "user" / "demo" / "aks.md", GOOD)
    with pytest.raises(ConfigError, match="matches no template.*ask, plain"):
        load_prompts("demo", override_dir=tmp_path / "user", package_root=pkg)


def test_unknown_group_and_missing_override_dir(pkg, tmp_path):
    with pytest.raises(ConfigError, match="no prompt group 'nope'.*demo"):
        load_prompts("nope", package_root=pkg)
    with pytest.raises(ConfigError, match="not a valid name"):
        load_prompts("../demo", package_root=pkg)
    with pytest.raises(ConfigError, match="does not exist"):
        load_prompts("demo", override_dir=tmp_path / "missing", package_root=pkg)


FRONT = "---\nid: t/x\nversion: 1\ninputs: [a]\n---\n"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("no front matter {a}\n", ["does not start with"]),
        ("---\nid: t/x\nversion: 1\n{a}\n", ["no closing"]),
        ("---\nid: [t/x\n---\nhi\n", ["not valid YAML", "line 2"]),
        ("---\n- id\n---\nhi\n", ["not a mapping"]),
        ("---\nid: t/x\nversion: 1\ninput: [a]\n---\nhi\n", ["unknown front matter key 'input'"]),
        ("---\nversion: 1\n---\nhi\n", ["lacks `id`"]),
        ("---\nid: t/x\n---\nhi\n", ["lacks `version`"]),
        ("---\nid: t/x\nversion: 1\ninputs: a\n---\nhi\n", ["`inputs`"]),
        ("---\nid: t/x\nversion: 1\ninputs: [a, a]\n---\n{a}\n", ["twice"]),
        (FRONT + "Hello {b}\n", ["'{b}'", "not declared"]),
        (FRONT + "## system\nx\n## user\nend: {a} }\n", ["user section", "stray brace"]),
        (FRONT + 'JSON: {"k": {a}}\n', ["'{\"k\"}'", "double literal braces"]),
        (FRONT + "Positional {}\n", ["not a name"]),
        (FRONT + "intro\n## user\n{a}\n", ["before its first"]),
        (FRONT + "## system\n\n## user\n{a}\n", ["`## system` is empty"]),
        (FRONT + "\n\n", ["no prompt text"]),
        (
            FRONT.replace("inputs: [a]", "inputs: [a]\nresponse_schema: [1]") + "{a}",
            ["`response_schema` must be"],
        ),
        (
            FRONT.replace("inputs: [a]", "inputs: [a]\nresponse_schema: {type: 12}") + "{a}",
            ["not a valid JSON Schema"],
        ),
    ],
)
def test_malformed_templates_are_one_line_errors_naming_the_file(tmp_path, text, words):
    path = _write(tmp_path / "x.md", text)
    with pytest.raises(ConfigError) as info:
        load_template(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    assert all(w in message for w in words), message


def test_non_utf8_file_is_an_error(tmp_path):
    path = tmp_path / "x.md"
    path.write_bytes(b"---\nid: t\nversion: 1\n---\nna\xefve\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_template(path)


def test_crlf_and_bom_files_parse(tmp_path):
    path = tmp_path / "x.md"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.replace("\n", "\r\n").encode())
    t = load_template(path)
    assert t.render(text="a", language="b")[1] == {"role": "user", "content": "a"}
