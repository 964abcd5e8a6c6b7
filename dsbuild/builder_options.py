"""A builder's options as one validated model, read by every stage and gate of its runs.

Each builder declares `class Options(BuilderOptions)` with typed, ranged, documented
fields; `validate_options(Options, raw)` checks what a user gave (`--option KEY=VALUE`, a
builder flag, `options:` in a config file) before anything runs, and refuses with one line:
an unknown key names the known ones (DSB104), a bad value names the key, what it got and what
is allowed (DSB103). Stages read the same object through `options_of(ctx, Options)`, parsed
once per stage context from the run's stored options, so a stage and a gate can never
disagree about a value.

Every builder's options also hold the gate switches: `gates` (false turns every gate stage
off) and `gate.<stage>` (false turns one off; a mapping overrides the gate's parameters).
The run stores only the options the user gave (not the defaults), so adding a field with a
default never changes an old run's fingerprint.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dsbuild.errors import ConfigError

__all__ = [
    "BuilderOptions",
    "check_languages",
    "check_relations",
    "comma_list",
    "options_of",
    "validate_options",
]

OptionsT = TypeVar("OptionsT", bound="BuilderOptions")


class BuilderOptions(BaseModel):
    """Base of every builder's options: unknown keys refused, values validated."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    gate_names: ClassVar[tuple[str, ...]] = ()
    """The builder's gate stages (for checking `gate.<name>` keys); empty: any name."""

    gates: bool = Field(True, description="false turns every quality-gate stage off")
    gate: dict[str, bool | dict[str, Any]] = Field(
        default_factory=dict,
        description="per gate stage: false turns it off, a mapping overrides its parameters "
        "(given as gate.<stage>=...)",
    )

    @model_validator(mode="before")
    @classmethod
    def _fold_gate_keys(cls, data: Any) -> Any:
        """`gate.<name>` keys (as the CLI and config files give them) into `gate`."""
        if not isinstance(data, Mapping):
            return data
        # None means "the default", as it always has for options
        out = {k: v for k, v in data.items() if not str(k).startswith("gate.") and v is not None}
        gates = dict(out.get("gate") or {})
        for key, value in data.items():
            if str(key).startswith("gate."):
                gates[str(key)[5:]] = value
        if gates:
            out["gate"] = gates
        return out

    @model_validator(mode="after")
    def _known_gates(self) -> BuilderOptions:
        unknown = sorted(set(self.gate) - set(self.gate_names)) if self.gate_names else []
        if unknown:
            raise ValueError(
                f"unknown gate stage(s) {', '.join(unknown)}; the gates are "
                f"{', '.join(self.gate_names)}"
            )
        return self


def comma_list(value: Any) -> Any:
    """A comma-separated string as a list of stripped, non-empty items; anything else as is
    (a `BeforeValidator` for list options given on the command line)."""
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return value


def _known_keys(model: type[BuilderOptions]) -> list[str]:
    return sorted(k for k in model.model_fields if k != "gate") + ["gate.<stage>"]


def _allowed(model: type[BuilderOptions], key: str) -> str:
    """What a field accepts, for the error message: its type and bounds."""
    field = model.model_fields.get(key)
    if field is None:
        return ""
    kind = getattr(field.annotation, "__name__", None) or str(field.annotation).replace(
        "typing.", ""
    )
    bounds = [
        f"{name} {getattr(m, name)}"
        for m in field.metadata
        for name in ("ge", "gt", "le", "lt")
        if getattr(m, name, None) is not None
    ]
    text = kind + (f" ({', '.join(bounds)})" if bounds else "")
    return f"{text}; {field.description}" if field.description else text


def validate_options(
    model: type[OptionsT], raw: Mapping[str, Any] | None, *, dataset: str = ""
) -> OptionsT:
    """The options `raw` as `model`, or a one-line ConfigError naming the key and what is
    allowed."""
    raw = dict(raw or {})
    where = f"{dataset} " if dataset else ""
    for key, value in raw.items():
        if isinstance(value, float) and math.isnan(value):
            raise ConfigError(
                f"{where}option {key}=nan is not a number", f"give {key} a number", code="DSB103"
            )
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        loc = [str(p) for p in error["loc"]]
        key = ".".join(loc) if loc else "(options)"
        if error["type"] == "extra_forbidden":
            raise ConfigError(
                f"unknown {where}option {key!r}",
                f"use one of: {', '.join(_known_keys(model))}",
                code="DSB104",
            ) from None
        got = error.get("input")
        allowed = _allowed(model, loc[0]) if loc else ""
        message = error["msg"].removeprefix("Value error, ")
        shown = f" (got {got!r})" if loc and not isinstance(got, Mapping) else ""
        raise ConfigError(
            f"{where}option {key}: {message}{shown}",
            f"give {key} as {allowed}" if allowed else "correct the option",
            code="DSB103",
        ) from None


def options_of(ctx: Any, model: type[OptionsT]) -> OptionsT:
    """The run's options as `model`, parsed once per stage context (`ctx.options` holds the
    options the user gave, as stored in the run's config)."""
    cache = ctx.__dict__.setdefault("_builder_options", {})
    if model not in cache:
        cache[model] = validate_options(model, ctx.options)
    return cache[model]


def check_relations(pairs: Iterable[tuple[str, Any, str, Any]]) -> None:
    """Raise ValueError for the first (low_name, low, high_name, high) with low > high."""
    for low_name, low, high_name, high in pairs:
        if low is not None and high is not None and low > high:
            raise ValueError(f"{low_name} ({low}) is above {high_name} ({high})")


def check_languages(languages: Iterable[str], supported: Iterable[str], dataset: str) -> None:
    """A one-line ConfigError (DSB103) for the first `--lang` code the dataset does not support."""
    known = set(supported)
    for code in languages:
        if code not in known and code.split("-")[0] not in known:
            shown = ", ".join(sorted(known)[:40]) + (", ..." if len(known) > 40 else "")
            raise ConfigError(
                f"--lang {code} is not a language the {dataset} builder supports",
                f"use one of: {shown}",
                code="DSB103",
            )
