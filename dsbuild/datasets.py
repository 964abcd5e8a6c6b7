"""The registry of datasets: one `DatasetSpec` per dataset, and nothing dataset-specific here.

A dataset is defined in one place, next to its builder (`dsbuild.builders.<name>.SPEC`):
its name and description, the record formats it reads and writes, its options model, its
build flags, its builder, and the hooks the shared layers call (export, annotation rounds,
statistics, its own CLI verbs). The shared layers (`dsbuild.hub`, `dsbuild.labelstudio`,
`dsbuild.stats`, `dsbuild.cli`) ask `get(name)` for the spec and call its hooks; they never
test a dataset's name.

Hooks are given as objects or as lazy references `"module:attribute"`, resolved on first
use, so that `dsbuild --help` imports no heavy library. The stage plan is derived from the
builder itself (`stage_plan`), never typed a second time.

To add a dataset: write `dsbuild.builders.<name>` with a `SPEC`, its record model(s) in
`dsbuild.schemas` (`register_format`), and the hook objects; then `register(SPEC)` (the four
built-in datasets are found by name). See the README's "Adding a dataset".
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dsbuild.errors import ConfigError, NotAvailableError

if TYPE_CHECKING:
    from dsbuild.config import Settings
    from dsbuild.stages import Builder

__all__ = [
    "BUILTIN",
    "BuildOption",
    "DatasetSpec",
    "StagePlan",
    "each",
    "get",
    "names",
    "register",
    "resolve",
    "unregister",
]

BUILTIN = ("psiloqa", "entitycs", "medrect", "cultural")
"""The datasets that ship with dsbuild, in the order the CLI lists them."""


@dataclass(frozen=True)
class StagePlan:
    """One stage of a builder as `--help` and `dsbuild list` show it."""

    name: str
    description: str


@dataclass(frozen=True)
class BuildOption:
    """A dataset's own flag of `dsbuild <dataset> build`: it sets `options[key]`, or the
    setting named after `settings.` (e.g. `settings.languages`)."""

    flag: str
    key: str
    help: str
    type: str = "str"  # str | int | float | path | list (comma-separated) | flag
    metavar: str | None = None
    flag_value: Any = True  # what a `flag` sets when given


def resolve(ref: Any) -> Any:
    """A hook given as `"module:attribute"` imported now; any other value as is."""
    if isinstance(ref, str) and ":" in ref:
        module, _, attr = ref.partition(":")
        return getattr(importlib.import_module(module), attr)
    return ref


@dataclass(frozen=True)
class DatasetSpec:
    """Everything the shared layers need to know about one dataset.

    `formats` names the record formats (`dsbuild.schemas.FORMATS`) the dataset reads, its
    own first. `options` is the builder's options model (a `BuilderOptions` subclass).
    `make_builder(settings)` returns the `Builder`; `model_specs(settings)` the model specs
    the build will ask (checked before any stage runs); `finalize(result, out_dir, options)`
    writes the dataset's own files after a build. `export`, `annotation` and `stats` are the
    hook objects of those layers (their protocols are in `dsbuild.hub.hooks`,
    `dsbuild.labelstudio.hooks` and `dsbuild.tables`); `commands(group)` adds the dataset's
    own CLI verbs. Any of them may be a lazy `"module:attribute"` reference.
    """

    name: str
    title: str
    description: str
    method: str
    formats: tuple[str, ...]
    options: Any
    make_builder: Any
    build_options: tuple[BuildOption, ...] = ()
    model_specs: Any = None
    finalize: Any = None
    export: Any = None
    annotation: Any = None
    stats: Any = None
    commands: Any = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def hook(self, name: str) -> Any:
        """The hook `name` (export, annotation, stats, commands, ...) resolved, or None."""
        return resolve(
            getattr(self, name, None) if name in self.__dataclass_fields__ else self.extra.get(name)
        )

    def options_model(self) -> Any:
        return resolve(self.options)

    def validate_options(self, raw: Mapping[str, Any] | None) -> Any:
        """The options a user gave as the dataset's validated model (one-line errors)."""
        from dsbuild.builder_options import validate_options

        return validate_options(self.options_model(), raw, dataset=self.name)

    def builder(self, settings: Settings) -> Builder:
        """The dataset's `Builder` for these settings (options checked first)."""
        return resolve(self.make_builder)(settings)

    def models(self, settings: Settings) -> list[str | None]:
        """The model specs a build will ask (None: the run's model)."""
        fn = resolve(self.model_specs)
        return list(fn(settings)) if fn is not None else []

    def stage_plan(self, settings: Settings | None = None) -> tuple[StagePlan, ...]:
        """The builder's stages, derived from the builder the default settings make."""
        from dsbuild.config import Settings

        builder = self.builder(settings or Settings(dataset=self.name))
        return tuple(StagePlan(s.name, s.description or "") for s in builder.stages)


_SPECS: dict[str, DatasetSpec] = {}


def register(spec: DatasetSpec) -> DatasetSpec:
    """Add a dataset (e.g. one defined outside dsbuild, or a test's) to the registry."""
    _SPECS[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove a registered dataset (built-in ones come back on the next `get`)."""
    _SPECS.pop(name, None)


def names() -> list[str]:
    """Every dataset: the built-in ones, then the registered ones, in registration order."""
    return [*BUILTIN, *(n for n in _SPECS if n not in BUILTIN)]


def get(name: str) -> DatasetSpec:
    """The spec of dataset `name`; ConfigError DSB105 naming the known ones otherwise."""
    spec = _SPECS.get(name)
    if spec is not None:
        return spec
    if name not in BUILTIN:
        raise ConfigError(
            f"unknown dataset '{name}'", f"use one of: {', '.join(names())}", code="DSB105"
        )
    try:
        module = importlib.import_module(f"dsbuild.builders.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"dsbuild.builders.{name}":
            raise
        raise NotAvailableError(
            f"the {name} builder is not part of this installation", "reinstall dsbuild"
        ) from None
    return _SPECS.setdefault(name, module.SPEC)


def each() -> list[DatasetSpec]:
    """Every dataset's spec, in `names()` order."""
    return [get(n) for n in names()]
