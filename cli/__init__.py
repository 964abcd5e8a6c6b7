"""The `dsbuild` command line: one click group per dataset, thin over the library.

`main()` is the console entry point. It is the one place where dsbuild errors become a
one-line message on stderr and an exit code (see `dsbuild.errors`).
"""

from __future__ import annotations

import os

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; map errors to one line on stderr and a documented exit code."""
    import click

    from dsbuild.cli.app import app
    from dsbuild.errors import EXIT_CODES, DsbuildError

    debug = bool(os.environ.get("DSBUILD_DEBUG"))
    try:
        rv = app.main(args=argv, prog_name="dsbuild", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("dsbuild: interrupted", err=True)
        return EXIT_CODES["interrupted"]
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except DsbuildError as exc:
        if debug:
            raise
        click.echo(f"dsbuild: error {exc.one_line()}", err=True)
        return exc.exit_code
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
