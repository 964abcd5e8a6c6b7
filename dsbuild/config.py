"""Settings for a dsbuild command: flags over a YAML file over environment variables.

Precedence, highest first: command-line flags, the YAML file given with `--config`,
environment variables (`OPENAI_API_KEY`, `OPENAI_BASE_URL`, `LABEL_STUDIO_URL`,
`LABEL_STUDIO_API_KEY`, `HF_TOKEN`, `DSBUILD_CACHE_DIR`), then defaults. Secrets are held as
`SecretStr`, shown masked by `--show-config`, and left out of `public_dict()`, which is the
only form of the settings that a run writes to disk.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from dsbuild.errors import ConfigError

__all__ = [
    "DEFAULT_LOCAL_MODEL",
    "ENV_VARS",
    "SECRET_KEYS",
    "Settings",
    "load_yaml_config",
    "resolve_settings",
]

DEFAULT_LOCAL_MODEL = "local:smollm2"

ENV_VARS: dict[str, str] = {
    "OPENAI_API_KEY": "api_key",
    "OPENAI_BASE_URL": "base_url",
    "LABEL_STUDIO_URL": "label_studio_url",
    "LABEL_STUDIO_API_KEY": "label_studio_api_key",
    "HF_TOKEN": "hf_token",
    "DSBUILD_CACHE_DIR": "cache_dir",
}

SECRET_KEYS = frozenset({"api_key", "label_studio_api_key", "hf_token"})


class Settings(BaseModel):
    """Everything a command may be configured with; dataset-specific knobs go in `options`."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    dataset: str | None = Field(None, description="dataset the command works on")
    run_dir: Path | None = Field(None, description="run directory (default: runs/<dataset>)")
    seed: int = Field(0, description="seed for every sampling decision")
    limit: int | None = Field(None, ge=1, description="stop after this many source records")
    languages: list[str] = Field(default_factory=list, description="target language codes")
    model: str | None = Field(
        None, description=f"model spec; default {DEFAULT_LOCAL_MODEL} without a key or base URL"
    )
    base_url: str | None = Field(None, description="OpenAI-compatible endpoint URL")
    api_key: SecretStr | None = Field(None, description="API key for the endpoint")
    concurrency: int = Field(16, ge=1, le=4096, description="requests in flight at most")
    timeout_s: float = Field(60.0, gt=0, description="seconds before a request times out")
    max_retries: int = Field(6, ge=0, le=50, description="retries per request on transient errors")
    structured: Literal["auto", "json_schema", "json_object", "guided_json", "prompt"] = Field(
        "auto",
        description="how structured output is asked of an OpenAI-compatible server; "
        "auto: the first mode it takes, remembered per endpoint",
    )
    cache_dir: Path | None = Field(None, description="LLM cache location (default: user cache dir)")
    label_studio_url: str | None = Field(None, description="Label Studio server URL")
    label_studio_api_key: SecretStr | None = Field(None, description="Label Studio API token")
    hf_token: SecretStr | None = Field(None, description="Hugging Face Hub token")
    workers: int = Field(1, ge=1, le=512, description="processes for CPU-bound stages")
    engine: Literal["local", "ray"] = Field("local", description="local processes or a Ray cluster")
    ray_address: str | None = Field(
        None, description="Ray cluster for engine ray: auto or HOST:PORT (default: a local one)"
    )
    out: Path | None = Field(None, description="folder for the exported dataset files")
    prompts_dir: Path | None = Field(
        None, description="folder of prompt templates overriding the packaged ones"
    )
    options: dict[str, Any] = Field(default_factory=dict, description="dataset-specific options")

    @field_validator("base_url", "label_studio_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        """An endpoint must be an http(s) URL with a host: `not a url` is refused up front."""
        if value is None:
            return value
        from urllib.parse import urlsplit

        try:
            parts = urlsplit(value.strip())
            parts.port  # noqa: B018 - raises ValueError for a bad port
        except ValueError as exc:
            raise ValueError(f"not a URL ({exc})") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("not an http(s) URL with a host, e.g. http://127.0.0.1:8000/v1")
        return value.strip()

    @property
    def model_spec(self) -> str:
        """The model to use: the configured one, else the embedded local model."""
        return self.model or DEFAULT_LOCAL_MODEL

    def public_dict(self) -> dict[str, Any]:
        """JSON-ready settings without any secret: the only form a run writes to disk
        (credentials inside URLs, e.g. `http://user:key@host/v1`, are masked too)."""
        from dsbuild.redact import redact

        data = self.model_dump(mode="json", exclude=set(SECRET_KEYS))
        data["model"] = self.model_spec
        return redact(data)

    def display_dict(self) -> dict[str, Any]:
        """Settings for humans: secrets masked (set or unset), credentials in URLs masked."""
        from dsbuild.redact import redact

        data = redact(self.model_dump(mode="json"))
        for key in SECRET_KEYS:
            data[key] = "****** (set)" if getattr(self, key) is not None else None
        data["model"] = redact(self.model_spec)
        return data


def load_yaml_config(path: Path) -> dict[str, Any]:
    """Read a YAML settings file into a mapping; one-line errors name the file."""
    import yaml

    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"config file '{path}' not found", "check the path given to --config", code="DSB101"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"config file '{path}' cannot be read ({exc.__class__.__name__})",
            "make it a readable UTF-8 YAML file",
            code="DSB101",
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(
            f"config file '{path}' is not valid YAML{where}",
            "fix the YAML syntax (keys like `seed: 1`, one per line)",
            code="DSB102",
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file '{path}' holds a {type(data).__name__}, not a mapping of settings",
            "write settings as `key: value` lines",
            code="DSB102",
        )
    return data


def _env_values(env: Mapping[str, str]) -> dict[str, Any]:
    return {key: env[var] for var, key in ENV_VARS.items() if env.get(var)}


def resolve_settings(
    flags: Mapping[str, Any] | None = None,
    config_file: Path | str | None = None,
    env: Mapping[str, str] | None = None,
) -> tuple[Settings, dict[str, str]]:
    """Merge flags > YAML file > environment > defaults; return settings and each key's source.

    Flags whose value is None count as not given. Sources are `flag`, `file`, `env` or
    `default`, so `--show-config` can say where every value came from.
    """
    env = os.environ if env is None else env
    layers: list[tuple[str, dict[str, Any]]] = [("env", _env_values(env))]
    file_label = "file"
    if config_file is not None:
        file_data = load_yaml_config(Path(config_file))
        unknown = sorted(set(file_data) - set(Settings.model_fields))
        if unknown:
            raise ConfigError(
                f"config file '{config_file}' has unknown key(s) {', '.join(unknown)}",
                f"use only: {', '.join(Settings.model_fields)} (dataset knobs go under `options:`)",
                code="DSB104",
            )
        layers.append((file_label, file_data))
    layers.append(("flag", {k: v for k, v in (flags or {}).items() if v is not None and v != ()}))

    merged: dict[str, Any] = {}
    sources: dict[str, str] = {key: "default" for key in Settings.model_fields}
    for label, values in layers:
        for key, value in values.items():
            if key == "options" and isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
            sources[key] = label
    try:
        settings = Settings.model_validate(merged)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "?"
        top = str(err["loc"][0]) if err["loc"] else key
        origin = _origin(top, sources.get(top, "default"), config_file)
        value = "******" if top in SECRET_KEYS else repr(err.get("input"))
        raise ConfigError(
            f"setting '{key}' from {origin} is invalid: {err['msg']} (got {value})",
            f"give '{key}' a valid value",
            code="DSB104" if err["type"] == "extra_forbidden" else "DSB103",
        ) from None
    return settings, sources


def _origin(key: str, source: str, config_file: Path | str | None) -> str:
    if source == "file":
        return f"config file '{config_file}'"
    if source == "env":
        var = next((v for v, k in ENV_VARS.items() if k == key), key)
        return f"environment variable {var}"
    if source == "flag":
        return "the command line"
    return "the defaults"
