"""The `dsbuild` command line: one click group per dataset, thin over the library.

`main()` is the console entry point. It is the one place where dsbuild errors become a
one-line message on stderr and an exit code (see `dsbuild.errors`).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import click

    from dsbuild.errors import DsbuildError, InputError

__all__ = ["main"]

# Raised with the path when a file given on the command line (an input, or --out) cannot be
# opened, created or replaced: the user's to fix, so one line naming the path (exit 3).
_PATH_ERRORS = (
    PermissionError,
    IsADirectoryError,
    NotADirectoryError,
    FileNotFoundError,
    FileExistsError,
)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; map errors to one line on stderr and a documented exit code."""
    import click

    from dsbuild.cli.app import app
    from dsbuild.errors import EXIT_CODES, DsbuildError
    from dsbuild.outcomes import Detached

    debug = bool(os.environ.get("DSBUILD_DEBUG"))
    try:
        rv = app.main(args=argv, prog_name="dsbuild", standalone_mode=False)
    except Detached as exc:  # work handed off (--detach, --batch offline): not an error
        click.echo(f"dsbuild: {exc.message}")
        return EXIT_CODES["ok"]
    except click.exceptions.Abort:
        click.echo("dsbuild: interrupted", err=True)
        return EXIT_CODES["interrupted"]
    except click.exceptions.BadParameter as exc:
        error = _path_error(exc) or _value_error(exc)
        click.echo(f"dsbuild: error {error.one_line()}", err=True)
        return error.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except DsbuildError as exc:
        if debug:
            raise
        click.echo(f"dsbuild: error {exc.one_line()}", err=True)
        return exc.exit_code
    except _PATH_ERRORS as exc:
        if debug or exc.filename is None:
            raise
        error = _os_error(exc)
        click.echo(f"dsbuild: error {error.one_line()}", err=True)
        return error.exit_code
    except KeyboardInterrupt:
        click.echo("dsbuild: interrupted; run the same command again to resume", err=True)
        return EXIT_CODES["interrupted"]
    except Exception as exc:  # a bug: say so in one line, keep the traceback for --debug
        if debug:
            raise
        what = " ".join(f"{exc.__class__.__name__}: {exc}".split())
        click.echo(
            f"dsbuild: error DSB100: internal error {what}; "
            "fix: re-run with DSBUILD_DEBUG=1 for the traceback and report it",
            err=True,
        )
        return EXIT_CODES["internal"]
    return rv if isinstance(rv, int) else 0


def _path_error(exc: click.exceptions.BadParameter) -> InputError | None:
    """click's error for a `click.Path` argument (missing, a directory, unreadable) as DSB301."""
    import click

    from dsbuild.errors import InputError

    param = exc.param
    if param is None or not isinstance(param.type, click.Path):
        return None
    name = (
        exc.param_hint
        if isinstance(exc.param_hint, str)
        else param.get_error_hint(exc.ctx)
        if exc.ctx is not None
        else param.name
    )
    return InputError(
        f"{str(name).strip(chr(39) + chr(34))}: {exc.message}",
        "check the path, and that you may read it (or write there)",
        code="DSB301",
    )


def _value_error(exc: click.exceptions.BadParameter) -> DsbuildError:
    """click's error for a flag's value (not a number, out of range) as one DSB103 line (exit 2)."""
    from dsbuild.errors import ConfigError

    hint = (
        exc.param_hint
        if isinstance(exc.param_hint, str)
        else (
            exc.param.get_error_hint(exc.ctx)
            if exc.param is not None and exc.ctx is not None
            else "a value"
        )
    )
    command = exc.ctx.command_path if exc.ctx is not None else "dsbuild"
    return ConfigError(
        f"{str(hint).strip(chr(39) + chr(34))}: {exc.message}",
        f"see `{command} --help` for what it takes",
        code="DSB103",
    )


def _os_error(exc: OSError) -> InputError:
    """An OSError about one path (opening, creating or replacing it) as one DSB301 line."""
    from dsbuild.errors import InputError

    path = exc.filename if exc.filename2 is None else f"{exc.filename} -> {exc.filename2}"
    reason = exc.strerror or exc.__class__.__name__
    if isinstance(exc, PermissionError):
        fix = "check the permissions of the path and its folder, or give another path"
    elif isinstance(exc, (NotADirectoryError, FileExistsError)):
        fix = "a part of the path is a file, not a folder: give another path"
    elif isinstance(exc, IsADirectoryError):
        fix = "give the path of a file, not of a folder"
    else:
        fix = "check the path (its folder must exist)"
    return InputError(f"cannot open {path}: {reason}", fix, code="DSB301")
