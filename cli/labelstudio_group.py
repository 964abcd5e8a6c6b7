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
    import secrets
    import time

    from dsbuild.labelstudio.server import (
        AdminAccount,
        read_account,
        start_server,
        stop_server,
        write_account,
    )

    data_dir = (data_dir or _default_data_dir()).resolve()
    account = read_account(data_dir)
    if account is None:
        account = AdminAccount(
            username, password or secrets.token_urlsafe(12), api_key or secrets.token_hex(20)
        )
        write_account(data_dir, account)
    elif api_key and api_key != account.token:
        click.echo(f"note: {data_dir} was created with another API token; using that one", err=True)
    click.echo(f"starting Label Studio (data dir {data_dir}) ...", err=True)
    server = start_server(
        data_dir, account, host=host, port=port, executable=executable, timeout=timeout
    )
    click.echo(
        f"Label Studio is ready at {server.url}\n"
        f"  login:     {account.username} / {account.password}\n"
        f"  API token: {account.token}\n"
        f"  log:       {server.log_file}\n"
        f"export LABEL_STUDIO_URL={server.url}\nexport LABEL_STUDIO_API_KEY={account.token}"
    )
    if detach:
        click.echo(
            f"running in the background as pid {server.pid}; stop it with `kill -- -{server.pid}`"
        )
        return
    click.echo("press Ctrl-C to stop it", err=True)
    import os

    try:
        while True:
            time.sleep(1.0)
            done, _ = os.waitpid(server.pid, os.WNOHANG)
            if done:
                raise click.ClickException(f"Label Studio exited; see {server.log_file}")
    except KeyboardInterrupt:
        pass
    finally:
        stop_server(server.pid)
        click.echo("Label Studio stopped", err=True)
