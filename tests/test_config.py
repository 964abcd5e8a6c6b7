from __future__ import annotations

import pytest

from dsbuild.config import Settings, resolve_settings
from dsbuild.errors import ConfigError


def test_precedence_flags_over_file_over_env(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("seed: 5\nbase_url: http://file:8000/v1\nconcurrency: 8\n")
    env = {"OPENAI_BASE_URL": "http://env:9/v1", "OPENAI_API_KEY": "sk-env"}
    settings, sources = resolve_settings({"seed": 9}, cfg, env)
    assert settings.seed == 9 and sources["seed"] == "flag"
    assert settings.base_url == "http://file:8000/v1" and sources["base_url"] == "file"
    assert settings.concurrency == 8 and sources["concurrency"] == "file"
    assert settings.api_key.get_secret_value() == "sk-env" and sources["api_key"] == "env"
    assert sources["timeout_s"] == "default"


def test_env_used_when_nothing_else():
    settings, sources = resolve_settings({}, None, {"HF_TOKEN": "hf_x", "DSBUILD_CACHE_DIR": "/c"})
    assert settings.hf_token.get_secret_value() == "hf_x"
    assert str(settings.cache_dir) == "/c" and sources["cache_dir"] == "env"


def test_options_merge_across_layers(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("options:\n  a: 1\n  b: 2\n")
    settings, _ = resolve_settings({"options": {"b": 3}}, cfg, {})
    assert settings.options == {"a": 1, "b": 3}


def test_model_defaults_to_local_and_secrets_left_out_of_public_dict():
    settings, _ = resolve_settings({}, None, {"OPENAI_API_KEY": "sk-secret"})
    assert settings.model_spec == "local:smollm2"
    public = settings.public_dict()
    assert "api_key" not in public and "hf_token" not in public
    assert "sk-secret" not in repr(public) and "sk-secret" not in repr(settings)
    assert settings.display_dict()["api_key"] == "****** (set)"


@pytest.mark.parametrize(
    ("content", "code", "needle"),
    [
        ("seed: [1, 2\n", "DSB102", "not valid YAML at line"),
        ("- a\n- b\n", "DSB102", "not a mapping"),
        ("sede: 3\n", "DSB104", "unknown key(s) sede"),
        ("seed: many\n", "DSB103", "setting 'seed' from config file"),
        ("concurrency: 0\n", "DSB103", "setting 'concurrency'"),
    ],
)
def test_bad_config_file_one_line_error(tmp_path, content, code, needle):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(content)
    with pytest.raises(ConfigError) as info:
        resolve_settings({}, cfg, {})
    message = info.value.one_line()
    assert info.value.code == code and needle in message
    assert "\n" not in message and "fix:" in message


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError) as info:
        resolve_settings({}, tmp_path / "nope.yaml", {})
    assert info.value.code == "DSB101" and "nope.yaml" in info.value.one_line()


def test_bad_flag_value_names_the_command_line():
    with pytest.raises(ConfigError) as info:
        resolve_settings({"limit": 0}, None, {})
    assert "setting 'limit' from the command line" in info.value.one_line()


def test_settings_reject_unknown_fields():
    with pytest.raises(Exception):
        Settings.model_validate({"nonsense": 1})
