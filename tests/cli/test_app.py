from __future__ import annotations

import json
import subprocess
import sys

import pytest

from dsbuild import __version__


def test_version(cli):
    code, out, _ = cli("--version")
    assert code == 0 and __version__ in out


def test_help_lists_every_dataset_group_and_exit_codes(cli):
    code, out, _ = cli("--help")
    assert code == 0
    for name in ("psiloqa", "entitycs", "medrect", "cultural", "list", "demo"):
        assert name in out
    assert "Exit codes" in out


def test_dataset_group_has_the_verbs(cli):
    code, out, _ = cli("medrect", "--help")
    assert code == 0
    for verb in ("build", "validate", "stats"):
        assert verb in out
    assert "medec" in out


def test_list_json_has_stages(cli):
    code, out, _ = cli("list", "--json")
    data = json.loads(out)
    assert code == 0 and set(data) == {"psiloqa", "entitycs", "medrect", "cultural"}
    assert [s["name"] for s in data["psiloqa"]["stages"]][0] == "contexts"


def test_list_table(cli):
    code, out, _ = cli("list")
    assert code == 0 and "annotate" in out and "code_switch" in out


def test_help_imports_nothing_heavy():
    probe = (
        "import sys\n"
        "from dsbuild.cli import main\n"
        "main(['--help'])\n"
        "heavy = {'pydantic', 'rich', 'polars', 'yaml', 'datasets', 'openai', 'spacy'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_unknown_command_is_usage_error(cli):
    code, _, err = cli("nonsense")
    assert code == 2 and "No such command" in err


def test_an_unknown_dataset_is_a_clear_one_line_error():
    from dsbuild.datasets import get
    from dsbuild.errors import ConfigError

    with pytest.raises(
        ConfigError, match="unknown dataset 'nope'.*psiloqa, entitycs, medrect, cultural"
    ) as err:
        get("nope")
    assert err.value.code == "DSB105"


def test_show_config_masks_secrets_and_names_sources(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("seed: 3\n")
    code, out, _ = cli(
        "psiloqa", "build", "--config", str(cfg), "--concurrency", "4", "--show-config"
    )
    assert code == 0
    assert "sk-very-secret" not in out and "****** (set)" in out
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") >= 3}
    assert "file" in rows["seed"] and "flag" in rows["concurrency"] and "env" in rows["api_key"]


def test_bad_config_key_exit_2(cli, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("concurency: 4\n")
    code, _, err = cli("psiloqa", "build", "--config", str(cfg), "--show-config")
    assert code == 2 and "DSB104" in err and "concurency" in err


def test_bad_option_syntax(cli):
    code, _, err = cli("psiloqa", "build", "--option", "novalue", "--show-config")
    assert code == 2 and "KEY=VALUE" in err


def test_prompts_verb_without_packaged_templates(cli):
    code, out, _ = cli("entitycs", "prompts")
    assert code == 0 and "No prompt templates are packaged for entitycs" in out
