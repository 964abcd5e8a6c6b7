"""One click group per dataset with the verbs build, validate and stats.

Verbs of one dataset only (eval, convert, analyze) come from `dsbuild.cli.<dataset>_commands`
(`add_commands(group)`); the group factory is the only place that knows where to look.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from dsbuild.cli.checks import AMOUNT, refuse_test_models
from dsbuild.cli.options import batch_options, batch_settings, flags_to_settings, settings_options
from dsbuild.datasets import get

__all__ = ["make_dataset_group"]


class _DatasetGroup(click.Group):
    """A dataset's group: its help names the builder's stages, derived from the builder
    itself when the help is shown (not when `dsbuild --help` lists the groups)."""

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        spec = get(self.name or "")
        stages = ", ".join(s.name for s in spec.stage_plan())
        self.help = (
            f"{spec.title}.\n\n{spec.description}\n\nMethod: {spec.method}.\n\n"
            f"\b\nStages: {stages}.\nFormats read and checked: {', '.join(spec.formats)}."
        )
        super().format_help_text(ctx, formatter)


def make_dataset_group(name: str) -> click.Group:
    info = get(name)

    @click.group(name=name, cls=_DatasetGroup, short_help=info.title)
    def group() -> None:
        pass

    @group.command(
        help=f"Build the {name} dataset into a resumable run directory.\n\n"
        "Running the same command again resumes where it stopped; finished stages are "
        "skipped. A run directory built with other settings is never mixed with new "
        "output: choose --new or --overwrite."
    )
    @settings_options
    @_dataset_options(info)
    @click.option(
        "--show-config",
        is_flag=True,
        help="Print the resolved settings (secrets masked) and where each came from; "
        "build nothing.",
    )
    @click.option(
        "--new",
        "mode",
        flag_value="new",
        help="If the run directory holds other settings, start RUN-2 (RUN-3, ...) beside it.",
    )
    @click.option(
        "--overwrite",
        "mode",
        flag_value="overwrite",
        help="If the run directory holds other settings, replace it.",
    )
    @click.option(
        "--no-progress", is_flag=True, help="No progress bars (plain logs still go to the run)."
    )
    @click.option(
        "--max-cost",
        type=AMOUNT,
        metavar="USD",
        help="Stop before LLM spending passes USD (needs a known price for each "
        "model); re-run with a larger budget to resume.",
    )
    @click.option(
        "--cache-only",
        is_flag=True,
        help="Send no LLM request: answer from the cache or fail (DSB107).",
    )
    @batch_options
    def build(
        config_file: str | None,
        show_config: bool,
        mode: str | None,
        no_progress: bool,
        max_cost: float | None,
        cache_only: bool,
        batch_mode: str | None,
        detach: bool,
        batch_fallback: str | None,
        batch_results: tuple[Path, ...],
        **flags: Any,
    ) -> None:
        from dsbuild.cli.output import print_config
        from dsbuild.config import resolve_settings

        batch = batch_settings(batch_mode, detach, batch_fallback, batch_results)
        extra = {k: flags.pop(k) for k in list(flags) if k.startswith(_PREFIX)}
        settings_flags = flags_to_settings(name, **flags)
        _apply_dataset_options(info, extra, settings_flags)
        settings, sources = resolve_settings(settings_flags, config_file)
        from dsbuild import builders

        refuse_test_models([settings.model, *builders.model_specs(name, settings)])
        if show_config:
            print_config(settings, sources, get(name).validate_options(settings.options))
            return
        build_dataset(
            name,
            settings,
            settings.run_dir or Path("runs") / name,
            mode=mode or "resume",
            progress=not no_progress,
            max_cost=max_cost,
            cache_only=cache_only,
            batch=batch,
        )

    @group.command(
        help=f"Check {name} files against the record schemas ({', '.join(info.formats)}).\n\n"
        "PATHS may be JSONL, JSON, CSV or Parquet files, or run directories. Every invalid "
        "record is reported with its location, id, field and reason, then a summary. "
        "A quirk of a published release that is read faithfully (a list stored as a string, "
        "a label outside the scheme kept verbatim, a stray separator line) is a warning with "
        "its code: the record stays valid. Writes nothing; exits 3 when any record is "
        "invalid (with --strict, also when any has a warning)."
    )
    @click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
    @click.option(
        "--format",
        "fmt",
        type=click.Choice(info.formats),
        help="Record format (default: detected from the records).",
    )
    @click.option(
        "--max-problems",
        type=int,
        default=None,
        help="Print at most N problem lines (all are still counted).",
    )
    @click.option("--strict", is_flag=True, help="Count release quirks (warnings) as errors.")
    @click.option("--json", "as_json", is_flag=True, help="Print the reports as JSON.")
    def validate(
        paths: tuple[Path, ...],
        fmt: str | None,
        max_problems: int | None,
        strict: bool,
        as_json: bool,
    ) -> None:
        from dsbuild.cli.output import print_validation
        from dsbuild.errors import InvalidRecordsError
        from dsbuild.validation import validate_path

        reports = [validate_path(_records_path(p), name, fmt, strict=strict) for p in paths]
        print_validation(reports, max_problems=max_problems, as_json=as_json)
        invalid = sum(r.invalid for r in reports)
        if invalid:
            raise InvalidRecordsError(
                f"{invalid} invalid record(s) in {len(reports)} file(s)",
                "correct or drop the records listed above, then validate again",
            )

    @group.command(
        help=f"Counts and distributions of a {name} file or run directory "
        "(languages, labels, spans, lengths)."
    )
    @click.argument("path", type=click.Path(path_type=Path))
    @click.option(
        "--format",
        "fmt",
        type=click.Choice(info.formats),
        help="Record format (default: detected from the records).",
    )
    @click.option("--json", "as_json", is_flag=True, help="Print the statistics as JSON.")
    @click.option(
        "--chart",
        type=click.Path(dir_okay=False, path_type=Path),
        metavar="PNG",
        help="Also draw the format's chart into this PNG file.",
    )
    def stats(path: Path, fmt: str | None, as_json: bool, chart: Path | None) -> None:
        from dsbuild.cli.output import print_stats
        from dsbuild.stats import compute_stats, draw_chart

        print_stats(compute_stats(_records_path(path), name, fmt), as_json=as_json)
        if chart is not None:
            drawn = draw_chart(_records_path(path), name, chart, fmt)
            if not as_json:
                click.echo(f"chart: {drawn}")

    @group.command(
        help=f"List the prompt templates the {name} builder uses: id, version, "
        "content hash, file, and whether --prompts DIR overrides it.\n\n"
        "To change a prompt, copy its file into a folder, edit it, and build with "
        "--prompts FOLDER; the prompt's hash goes into each record's provenance."
    )
    @click.option(
        "--prompts",
        "prompts_dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="Folder of overriding templates to check.",
    )
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    def prompts(prompts_dir: Path | None, as_json: bool) -> None:
        from dsbuild.cli.output import print_prompts
        from dsbuild.llm.prompts import list_prompts, package_prompts_dir

        packaged = (package_prompts_dir() / name).is_dir()
        rows = list_prompts(name, prompts_dir) if packaged else []
        print_prompts(name, rows, as_json=as_json)

    _add_own_commands(name, group)
    return group


# Verbs every dataset has, each in its own module: `add_commands(group, dataset)`.
_SHARED_COMMANDS = ("annotate_commands", "export_commands")


def _add_own_commands(name: str, group: click.Group) -> None:
    """Verbs all datasets share (annotate, export, publish) come from the `_SHARED_COMMANDS`
    modules; a dataset's own verbs (e.g. `psiloqa eval`) from its spec's `commands` hook,
    a lazy reference (`"module:add_commands"`) to a module that imports only click at the top."""
    import importlib

    for module_name in _SHARED_COMMANDS:
        importlib.import_module(f"dsbuild.cli.{module_name}").add_commands(group, name)
    add = get(name).hook("commands")
    if add is not None:
        add(group)


def build_dataset(
    name: str,
    settings,
    run_dir: Path,
    *,
    mode: str = "resume",
    progress: bool = True,
    max_cost: float | None = None,
    cache_only: bool = False,
    batch: Any = None,
):
    """Run the dataset's builder into `run_dir` (`dsbuild.api.run_settings`), print its
    summary and model usage (also when it ends with records pending or its batches were
    left in flight), and what it exported. `batch`: a `BatchSettings` (`--batch`)."""
    from dsbuild.api import run_settings
    from dsbuild.cli.output import (
        print_batch_usage,
        print_exported,
        print_model_usage,
        print_run_summary,
    )

    def summary(result, pool) -> None:
        if result is not None:
            print_run_summary(result)
        if pool.engines:
            usage = pool.usage()
            print_model_usage(usage)
            print_batch_usage(usage)

    from dsbuild import builders

    result = run_settings(
        name,
        settings,
        run_dir=run_dir,
        mode=mode,
        progress=progress,
        max_cost=max_cost,
        cache_only=cache_only,
        on_finish=summary,
        batch=batch,
    )
    exported = builders.finalize_run(name, result, settings)
    if exported is not None:
        print_exported(*exported)
    return result


_PREFIX = "ds_opt__"
_TYPES = {"int": int, "float": float, "str": str, "list": str}


def _param(option) -> str:
    return _PREFIX + option.key.replace(".", "__")


def _dataset_options(info):
    """The dataset's own build flags (e.g. entitycs --wikipedia), declared in its registry."""

    def decorate(fn):
        for option in reversed(info.build_options):
            if option.type == "flag":
                fn = click.option(
                    option.flag, _param(option), is_flag=True, default=None, help=option.help
                )(fn)
                continue
            kind = click.Path(path_type=Path) if option.type == "path" else _TYPES[option.type]
            fn = click.option(
                option.flag, _param(option), type=kind, metavar=option.metavar, help=option.help
            )(fn)
        return fn

    return decorate


def _apply_dataset_options(info, values: dict[str, Any], settings_flags: dict[str, Any]) -> None:
    """Route the dataset flags into settings (`settings.X`) or `options`."""
    for option in info.build_options:
        value = values.get(_param(option))
        if value is None:
            continue
        if option.type == "flag":
            if not value:
                continue
            value = option.flag_value
        elif option.type == "list":
            value = [v.strip() for v in str(value).split(",") if v.strip()]
        elif option.type == "path":
            value = str(value)
        if option.key.startswith("settings."):
            settings_flags[option.key.removeprefix("settings.")] = value
        else:
            settings_flags.setdefault("options", {})[option.key] = value


def _records_path(path: Path) -> Path:
    """A run directory stands for its final records file."""
    if path.is_dir() and (path / "records.jsonl").exists():
        return path / "records.jsonl"
    return path
