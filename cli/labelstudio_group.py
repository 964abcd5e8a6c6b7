"""`dsbuild labelstudio`: run a local Label Studio server for annotation rounds.

Imports only click at the top; the server helpers load when a command runs.
"""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["group"]


def _default_data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("dsbuild")) / "labelstudio"


@click.group(
    name="labelstudio",
    help="A local Label Studio server for annotation rounds "
    "(`dsbuild <dataset> annotate push|pull|status`).\n\nThe server program lives in its "
    "own virtualenv: `python3 -m venv .venv-labelstudio && .venv-labelstudio/bin/pip "
    "install label-studio==1.23.2` (`make test` makes it too).",
)
def group() -> None:
    pass


@group.command(
    help="Start Label Studio on 127.0.0.1 with SQLite in DATA-DIR, wait until it is "
    "ready, print its URL, admin login and API token, and keep it running until "
    "Ctrl-C. The admin and token are created on the first start of a data dir (the "
    "token from LABEL_STUDIO_API_KEY if set) and kept in DATA-DIR/dsbuild-admin.json."
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=int, default=8080, show_default=True, help="Port (must be free).")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Server data folder [default: the user data dir, dsbuild/labelstudio].",
)
@click.option(
    "--username",
    default="admin@dsbuild.local",
    show_default=True,
    help="Admin email, for a new data dir.",
)
@click.option("--password", help="Admin password, for a new data dir [default: generated].")
@click.option(
    "--api-key",
    envvar="LABEL_STUDIO_API_KEY",
    help="Admin API token, for a new data dir [default: generated].",
)
@click.option(
    "--executable",
    type=click.Path(dir_okay=False),
    help="The `label-studio` program [default: .venv-labelstudio/bin/label-studio, then PATH].",
)
@click.option(
    "--timeout",
    type=float,
    default=180.0,
    show_default=True,
    help="Seconds to wait for the server (a first start takes 30-50 s).",
)
@click.option(
    "--detach", is_flag=True, help="Leave the server running in the background and return."
)
def serve(
    host: str,
    port: int,
    data_dir: Path | None,
    username: str,
    password: str | None,
    api_key: str | None,
    executable: str | None,
    timeout: float,
    detach: bool,
) -> None:
    import os
    import secrets
    import signal
    import time

    from dsbuild.errors import UsageError
    from dsbuild.labelstudio.server import (
        AdminAccount,
        forget_server,
        read_account,
        record_server,
        running_server,
        start_server,
        stop_server,
        write_account,
    )

    data_dir = (data_dir or _default_data_dir()).resolve()
    left = running_server(data_dir)
    if left is not None:
        where = f"at {left['url']} (pid {left['pid']})"
        if left.get("owner") is None:
            raise UsageError(
                f"a Label Studio started with --detach is still running on {data_dir} {where}",
                f"use it, or stop it first with `kill -- -{left['pid']}`",
                code="DSB103",
            )
        if left["owner_alive"]:
            raise UsageError(
                f"`dsbuild labelstudio serve` (pid {left['owner']}) is already serving "
                f"{data_dir} {where}",
                f"use that server, or stop it first (Ctrl-C in its terminal, or "
                f"`kill {left['owner']}`)",
                code="DSB103",
            )
        stop_server(int(left["pid"]))
        forget_server(data_dir)
        click.echo(
            f"stopped a Label Studio {where} left running on {data_dir} by a `serve` "
            f"(pid {left['owner']}) that ended without stopping it",
            err=True,
        )
    account = read_account(data_dir)
    if account is None:
        account = AdminAccount(
            username, password or secrets.token_urlsafe(12), api_key or secrets.token_hex(20)
        )
        write_account(data_dir, account)
    elif api_key and api_key != account.token:
        click.echo(f"note: {data_dir} was created with another API token; using that one", err=True)

    # SIGTERM and SIGHUP end `serve` the way Ctrl-C (SIGINT) does: Label Studio is stopped
    # and waited for, whether it is still starting or serving.
    class Stop(Exception):
        pass

    def on_signal(signum, frame):  # noqa: ARG001
        raise Stop(signum)

    handled = (signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, on_signal) for sig in handled}
    server = None
    stopped_by: int | None = None
    try:
        click.echo(f"starting Label Studio (data dir {data_dir}) ...", err=True)
        server = start_server(
            data_dir, account, host=host, port=port, executable=executable, timeout=timeout
        )
        record_server(server, owner=None if detach else os.getpid())
        click.echo(
            f"Label Studio is ready at {server.url}\n"
            f"  login:     {account.username} / {account.password}\n"
            f"  API token: {account.token}\n"
            f"  log:       {server.log_file}\n"
            f"export LABEL_STUDIO_URL={server.url}\nexport LABEL_STUDIO_API_KEY={account.token}"
        )
        if detach:
            click.echo(
                f"running in the background as pid {server.pid}; "
                f"stop it with `kill -- -{server.pid}`"
            )
            server = None  # not ours to stop
            return
        click.echo(f"serving as pid {os.getpid()}; press Ctrl-C to stop it", err=True)
        while True:
            time.sleep(1.0)
            done, _ = os.waitpid(server.pid, os.WNOHANG)
            if done:
                forget_server(data_dir)
                pid, server = server.pid, None
                raise click.ClickException(
                    f"Label Studio (pid {pid}) exited; see {data_dir / 'server.log'}"
                )
    except KeyboardInterrupt:
        stopped_by = signal.SIGINT
    except Stop as exc:
        stopped_by = int(exc.args[0])
    finally:
        for sig in (*handled, signal.SIGINT):  # a second signal must not cut the stop short
            signal.signal(sig, signal.SIG_IGN)
        try:
            if server is not None:
                stop_server(server.pid)
                forget_server(data_dir)
                click.echo("Label Studio stopped", err=True)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            signal.signal(signal.SIGINT, signal.default_int_handler)
    if stopped_by is not None and stopped_by != signal.SIGINT:
        raise SystemExit(128 + stopped_by)
