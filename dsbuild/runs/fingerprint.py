"""The run fingerprint: what a run's output depends on, hashed.

sha256 of canonical JSON (sorted keys, no whitespace, UTF-8) of::

    {"fingerprint_version": FINGERPRINT_VERSION,
     "builder": {name, version, stages: [{name, kind, version}, ...]},
     "config": the config minus EXCLUDED_KEYS}

Same fingerprint means a run directory can be resumed; a different one means its output
would differ, so the runner refuses to mix the two. Code is never hashed: bump a stage's or
the builder's `version` when a code change changes output. Bump `FINGERPRINT_VERSION` when
this recipe changes (every old run then counts as different).
"""

from __future__ import annotations

import hashlib
from pathlib import PurePath
from typing import Any, Mapping

from dsbuild.canonical import canonical_json
from dsbuild.errors import ConfigError

__all__ = [
    "EXCLUDED_KEYS",
    "FINGERPRINT_VERSION",
    "canonical_config",
    "canonical_json",
    "compute_fingerprint",
    "diff_keys",
    "fingerprint_payload",
    "runtime_settings",
]

FINGERPRINT_VERSION = 1

# Settings that do not change a run's output, and why. Excluded at any nesting depth
# (so `llm.concurrency` is excluded as well as `concurrency`).
EXCLUDED_KEYS: Mapping[str, str] = {
    "run_dir": "where the output goes, not what it is",
    "concurrency": "how many requests are in flight; output is written in input order",
    "timeout_s": "how long to wait for a request; failures are retried or rejected",
    "max_retries": "how often to retry; a retried request gives the cached/same answer",
    "cache_dir": "where LLM answers are cached, not what they are",
    "cache_only": "replay-only mode fails on a miss instead of producing other output",
    "progress": "display only",
    "log_level": "display only",
    "api_key": "a credential (and a secret: never written to disk)",
    "label_studio_url": "annotation server address, used after the build",
    "label_studio_api_key": "a credential",
    "hf_token": "a credential",
    "dry_run": "estimates cost without producing output",
    "max_cost": "a budget stop: the run halts, it does not produce other records",
    "workers": "how many processes share the work; output is merged in input order",
    "engine": "local processes or a Ray cluster run the same stages to the same output",
    "ray_address": "which Ray cluster runs the work, not what it produces",
    "out": "where finished records are exported, not what they are",
}


def _jsonable(obj: Any, where: str) -> Any:
    """Plain JSON types only, so the canonical form does not depend on Python types."""
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        if obj != obj or obj in (float("inf"), float("-inf")):
            raise ConfigError(f"configuration value {where} is {obj}", "use a finite number")
        return obj
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, Mapping):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, str):
                raise ConfigError(
                    f"configuration key {k!r} under {where or 'the top level'} is not a string",
                    "use string keys",
                )
            out[k] = _jsonable(v, f"{where}.{k}" if where else k)
        return out
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, (set, frozenset)):
        return sorted((_jsonable(v, where) for v in obj), key=canonical_json)
    raise ConfigError(
        f"configuration value {where} has type {type(obj).__name__}, which is not JSON",
        "use strings, numbers, booleans, lists and mappings",
    )


def _drop_excluded(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _drop_excluded(v) for k, v in obj.items() if k not in EXCLUDED_KEYS}
    if isinstance(obj, list):
        return [_drop_excluded(v) for v in obj]
    return obj


def canonical_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The config as plain JSON types, minus the excluded keys (at any depth)."""
    return _drop_excluded(_jsonable(config, ""))


def runtime_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """The top-level excluded (runtime-only) settings present in `config`."""
    return {k: v for k, v in config.items() if k in EXCLUDED_KEYS}


def fingerprint_payload(builder_parts: Mapping[str, Any], config: Mapping[str, Any]) -> dict:
    """What gets hashed (also stored in `fingerprint.json` to explain a refusal)."""
    return {
        "fingerprint_version": FINGERPRINT_VERSION,
        "builder": _jsonable(builder_parts, "builder"),
        "config": canonical_config(config),
    }


def compute_fingerprint(builder_parts: Mapping[str, Any], config: Mapping[str, Any]) -> str:
    """Hex sha256 of the canonical payload; `builder_parts` is `Builder.fingerprint_parts()`."""
    payload = fingerprint_payload(builder_parts, config)
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def _flatten(obj: Any, prefix: str, out: dict[str, str]) -> None:
    if isinstance(obj, dict) and obj:
        for k, v in obj.items():
            _flatten(v, f"{prefix}.{k}" if prefix else k, out)
    else:
        out[prefix] = canonical_json(obj)


def diff_keys(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Dotted keys whose values differ between two payloads or configs (sorted).

    Lists compare whole (`stages`, `languages`), so a reordered list names its key once.
    """
    a: dict[str, str] = {}
    b: dict[str, str] = {}
    _flatten(_jsonable(old, ""), "", a)
    _flatten(_jsonable(new, ""), "", b)
    return sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
