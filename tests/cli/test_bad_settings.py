"""Every setting is checked before anything runs; each refusal is one line with a DSB code
and exit 2 (issue 15: values that used to be accepted, spin forever, or fail much later)."""

from __future__ import annotations

import pytest


@pytest.fixture
def jsonl(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text(
        '{"id": 1, "messages": [{"role": "user", "content": "hi"}]}\n', encoding="utf-8"
    )
    return path


def one_line_refusal(result, code: str, *words: str) -> None:
    exit_code, out, err = result
    assert exit_code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and f"error {code}" in lines[0], err
    for word in words:
        assert word in lines[0], lines[0]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--max-repairs", "-1"], ["--max-repairs"]),
        (["--rpm", "-5"], ["--rpm", "above 0"]),
        (["--tpm", "-5"], ["--tpm"]),
        (["--max-cost", "-1"], ["--max-cost"]),
        (["--max-cost", "nan"], ["finite"]),
        (["--base-url", "not a url"], ["base_url", "http"]),
    ],
)
def test_llm_run_flags(cli, tmp_path, jsonl, args, words):
    one_line_refusal(
        cli("llm", "run", str(jsonl), "--out", str(tmp_path / "o.jsonl"), *args), "DSB103", *words
    )
    assert not (tmp_path / "o.jsonl").exists()


@pytest.mark.parametrize(
    ("dataset", "args", "code", "words"),
    [
        ("psiloqa", ["--option", "no_such_key=1"], "DSB104", ["no_such_key", "max_answer_chars"]),
        ("psiloqa", ["--option", "gates=maybe"], "DSB103", ["gates"]),
        ("psiloqa", ["--long-answer-share", "7"], "DSB103", ["long_answer_share"]),
        ("psiloqa", ["--passages-per-language", "-1"], "DSB103", ["passages_per_language"]),
        ("psiloqa", ["--answers-per-question", "-1"], "DSB103", ["answers_per_question"]),
        ("psiloqa", ["--lang", "qq"], "DSB103", ["--lang qq"]),
        ("psiloqa", ["--max-cost", "-1"], "DSB103", ["--max-cost"]),
        (
            "medrect",
            ["--min-correct", "3", "--max-correct", "1"],
            "DSB103",
            ["min_correct", "max_correct"],
        ),
        ("medrect", ["--lang", "de"], "DSB103", ["--lang de"]),
        ("entitycs", ["--max-languages", "-2"], "DSB103", ["max_languages"]),
        ("cultural", ["--locales", "japanese"], "DSB103", ["japanese"]),
        ("psiloqa", ["--model", "fake:default"], "DSB103", ["test double"]),
    ],
)
def test_build_settings(cli, tmp_path, monkeypatch, dataset, args, code, words):
    monkeypatch.delenv("DSBUILD_TESTING")
    one_line_refusal(
        cli(dataset, "build", "-o", str(tmp_path / "run"), "--no-progress", *args), code, *words
    )
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_unknown_option_in_a_config_file(cli, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("options:\n  max_answer_charz: 10\n", encoding="utf-8")
    one_line_refusal(
        cli("psiloqa", "build", "--config", str(config), "-o", str(tmp_path / "r")),
        "DSB104",
        "max_answer_charz",
    )


def test_hygiene_check_length_bounds(cli, tmp_path, jsonl):
    one_line_refusal(
        cli(
            "check", "hygiene", str(jsonl), "--field", "id", "--min-chars", "50", "--max-chars", "2"
        ),
        "DSB103",
        "--min-chars",
    )


def test_test_double_is_allowed_in_tests(cli, tmp_path, jsonl):
    code, _, err = cli(
        "llm",
        "run",
        str(jsonl),
        "--out",
        str(tmp_path / "o.jsonl"),
        "--model",
        "fake:default",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--no-progress",
    )
    assert code == 0, err
