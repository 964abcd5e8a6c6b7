"""A local Label Studio server: start it, wait until it answers, stop it.

The server (`label-studio` 1.23.2) lives in its own virtualenv (`.venv-labelstudio`,
made by `make test` or by hand), because it pins old versions of packages dsbuild uses.
Facts this module encodes (measured on 1.23.2):

- `label-studio start --no-browser --internal-host H --port P --data-dir D` with
  `DJANGO_DB=sqlite`; `LABEL_STUDIO_USERNAME/PASSWORD/USER_TOKEN` create the admin and its
  token on the first start of a data dir, and `LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN=true`
  must be set too or that token gets 401;
- it reads stray `HOST`, `PORT`, `USERNAME`, `PASSWORD`, `DEBUG` variables (so we unset
  them) and silently moves to port+1 when the port is busy (so we refuse a busy port);
- a first start takes 30-50 s (database set-up), a restart of an existing data dir ~4 s:
  `prepare_data_dir` copies a template made once;
- its logging config sends each `django.*` record to its console handler and again to the
  root's (every request line twice), so the server runs with a settings module of ours
  (`DJANGO_SETTINGS_MODULE`, which `label-studio` honours) that imports Label Studio's and
  stops that propagation: the log has each line once;
- a server started by `serve` is recorded in `DATA-DIR/dsbuild-server.json` (its pid, URL
  and the pid of the `serve` that owns it) until it is stopped, so that the next `serve`
  finds a server a crash left behind (`running_server`).

Also a tiny command line for the Makefile::

    python -m dsbuild.labelstudio.server start --state DIR --session $$   # DIR/sessions/$$.env.sh
    python -m dsbuild.labelstudio.server stop --state DIR --session $$
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from dsbuild.errors import ServiceError, UsageError

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "LABEL_STUDIO_VERSION",
    "AdminAccount",
    "RunningServer",
    "find_executable",
    "free_port",
    "port_is_free",
    "prepare_data_dir",
    "running_server",
    "server_env",
    "start_server",
    "stop_server",
    "wait_ready",
]

LABEL_STUDIO_VERSION = "1.23.2"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
VENV_NAME = ".venv-labelstudio"
_CHECKOUT = Path(__file__).resolve().parents[2]  # an editable install's checkout

# Variables Label Studio reads under generic names: a user's shell often has some of them.
_STRAY_VARS = (
    "HOST",
    "PORT",
    "USERNAME",
    "PASSWORD",
    "DEBUG",
    "LABEL_STUDIO_HOST",
    "LABEL_STUDIO_PORT",
    "DJANGO_SETTINGS_MODULE",
    "DATABASE_URL",
)
_QUIET_VARS = {
    "SENTRY_DSN": "",
    "FRONTEND_SENTRY_DSN": "",
    "COLLECT_ANALYTICS": "false",
    "LATEST_VERSION_CHECK": "false",
    "LABEL_STUDIO_COLLECT_ANALYTICS": "false",
}


@dataclass(frozen=True)
class AdminAccount:
    """The admin a data dir is created with; the token is a legacy API token."""

    username: str
    password: str
    token: str

    @classmethod
    def generate(cls, username: str = "admin@dsbuild.local") -> AdminAccount:
        return cls(username, secrets.token_urlsafe(16), secrets.token_hex(20))


@dataclass
class RunningServer:
    """A server this process started: its pid, URL, token and log file."""

    pid: int
    url: str
    token: str
    data_dir: str
    log_file: str
    username: str = ""

    def to_json(self) -> dict:
        return asdict(self)


def find_executable(explicit: str | Path | None = None) -> Path:
    """The `label-studio` program: given, `$DSBUILD_LABEL_STUDIO_BIN`, the project's
    `.venv-labelstudio`, or PATH. Missing: UsageError saying how to install it."""
    candidates: list[Path] = []
    if explicit:
        candidates.append(Path(explicit))
    if os.environ.get("DSBUILD_LABEL_STUDIO_BIN"):
        candidates.append(Path(os.environ["DSBUILD_LABEL_STUDIO_BIN"]))
    here = Path.cwd()
    candidates.append(_CHECKOUT / VENV_NAME / "bin" / "label-studio")
    for folder in (here, *here.parents):
        candidates.append(folder / VENV_NAME / "bin" / "label-studio")
        if (folder / "pyproject.toml").is_file():
            break
    found = shutil.which("label-studio")
    if found:
        candidates.append(Path(found))
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    raise UsageError(
        "the Label Studio server program `label-studio` was not found",
        f"install it in its own virtualenv: python3 -m venv {VENV_NAME} && "
        f"{VENV_NAME}/bin/pip install label-studio=={LABEL_STUDIO_VERSION} "
        "(or set DSBUILD_LABEL_STUDIO_BIN)",
        code="DSB103",
    )


def server_env(account: AdminAccount, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for `label-studio start`: SQLite, the admin, no telemetry."""
    env = dict(os.environ if base is None else base)
    for name in _STRAY_VARS:
        env.pop(name, None)
    env.update(_QUIET_VARS)
    env.update(
        {
            "DJANGO_DB": "sqlite",
            "LABEL_STUDIO_USERNAME": account.username,
            "LABEL_STUDIO_PASSWORD": account.password,
            "LABEL_STUDIO_USER_TOKEN": account.token,
            "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
            "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "false",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


# A settings module that is Label Studio's, with `django.*` records logged once (see above).
_SETTINGS_MODULE = "dsbuild_labelstudio_settings"
_SETTINGS_SOURCE = """\
# Written by dsbuild: Label Studio's settings, with django's log records written once.
# Label Studio's settings module reads django.conf.settings while it is being imported, so
# it is registered under this module's name too before it runs: those reads see it.
import importlib.util
import sys

_spec = importlib.util.find_spec("label_studio.core.settings.label_studio")
_module = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = sys.modules[__name__] = _module
_spec.loader.exec_module(_module)
_module.LOGGING["loggers"].setdefault("django", {})["propagate"] = False
"""


def _settings_env(data_dir: Path) -> dict[str, str]:
    """Write our settings module under `data_dir` and return the variables that select it."""
    folder = Path(data_dir) / ".dsbuild"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{_SETTINGS_MODULE}.py").write_text(_SETTINGS_SOURCE, "utf-8")
    return {"DJANGO_SETTINGS_MODULE": _SETTINGS_MODULE, "PYTHONPATH": str(folder)}


def port_is_free(host: str, port: int) -> bool:
    """True when nothing listens on host:port (Label Studio would move to port+1 otherwise)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = DEFAULT_HOST) -> int:
    """A port nothing listens on now (asked of the kernel)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _get(url: str, token: str | None = None, timeout: float = 3.0) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Token {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _log_tail(log_file: str | Path | None, lines: int = 3) -> str:
    if not log_file:
        return ""
    try:
        text = Path(log_file).read_text("utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    tail = " | ".join(line.strip() for line in text[-lines:] if line.strip())
    return f" (log: {log_file}; last lines: {tail[:300]})" if tail else f" (log: {log_file})"


def wait_ready(
    url: str,
    token: str,
    *,
    timeout: float = 120.0,
    process: subprocess.Popen | None = None,
    log_file: str | Path | None = None,
) -> None:
    """Wait until `url/health` answers and the token is accepted; ServiceError otherwise."""
    deadline = time.monotonic() + timeout
    url = url.rstrip("/")
    while True:
        if process is not None and process.poll() is not None:
            raise ServiceError(
                f"Label Studio at {url} exited with code {process.returncode} while starting"
                + _log_tail(log_file),
                "read the log; a busy port or a data dir from another version are the usual causes",
            )
        try:
            status, _ = _get(f"{url}/health")
        except (OSError, urllib.error.URLError):
            status = 0
        if status == 200:
            status, _ = _get(f"{url}/api/current-user/whoami", token)
            if status == 200:
                return
            if status in (401, 403):
                raise ServiceError(
                    f"Label Studio at {url} is up but rejects the admin token (HTTP {status})",
                    "the data dir was created with another token or without "
                    "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN=true; delete the data dir (or its "
                    "template) and start again",
                )
        if time.monotonic() > deadline:
            raise ServiceError(
                f"Label Studio at {url} was not ready after {timeout:.0f} s" + _log_tail(log_file),
                "a first start takes 30-50 s; wait longer (--timeout) or read the log",
            )
        time.sleep(0.5)


def start_server(
    data_dir: str | Path,
    account: AdminAccount,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    executable: str | Path | None = None,
    log_file: str | Path | None = None,
    timeout: float = 120.0,
) -> RunningServer:
    """Start `label-studio` on host:port with `data_dir`, wait until ready, return it.

    The server runs in its own process group (so `stop_server` ends it and its workers).
    """
    program = find_executable(executable)
    if not port_is_free(host, port):
        raise UsageError(
            f"port {port} on {host} is in use (Label Studio would silently move to {port + 1})",
            "stop what listens there or choose another --port",
            code="DSB103",
        )
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = Path(log_file) if log_file else data_dir / "server.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = [
        str(program),
        "start",
        "--no-browser",
        "--internal-host",
        host,
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
    ]
    env = {**server_env(account), **_settings_env(data_dir)}
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            command,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=data_dir,
            start_new_session=True,
        )
    url = f"http://{host}:{port}"
    try:
        wait_ready(url, account.token, timeout=timeout, process=process, log_file=log_path)
    except BaseException:
        stop_server(process.pid)
        raise
    return RunningServer(
        process.pid, url, account.token, str(data_dir), str(log_path), account.username
    )


def stop_server(pid: int, timeout: float = 20.0) -> bool:
    """Stop the server whose process group leader is `pid` (TERM, then KILL); False if gone."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    except PermissionError:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                break
        except ChildProcessError:  # not our child: poll for its existence
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
        time.sleep(0.2)
    else:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:  # workers left in the group
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    return True


_ACCOUNT_FILE = "dsbuild-admin.json"
_SERVER_FILE = "dsbuild-server.json"


def record_server(server: RunningServer, *, owner: int | None) -> None:
    """Remember a started server in its data dir; `owner`: the pid of the `serve` that stops
    it (None: detached, nobody will)."""
    path = Path(server.data_dir) / _SERVER_FILE
    path.write_text(json.dumps({**server.to_json(), "owner": owner}) + "\n", "utf-8")
    path.chmod(0o600)


def forget_server(data_dir: str | Path) -> None:
    (Path(data_dir) / _SERVER_FILE).unlink(missing_ok=True)


def running_server(data_dir: str | Path) -> dict | None:
    """The server recorded in `data_dir` if it still runs (a label-studio process on that
    data dir, not a reused pid), with `owner_alive`: whether the `serve` that started it
    still runs. None (and the record removed) when it is gone."""
    path = Path(data_dir) / _SERVER_FILE
    try:
        info = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not _is_our_server(int(info["pid"]), str(Path(data_dir).resolve())):
        path.unlink(missing_ok=True)
        return None
    owner = info.get("owner")
    info["owner_alive"] = bool(owner) and owner != os.getpid() and _alive(int(owner))
    return info


def read_account(data_dir: str | Path) -> AdminAccount | None:
    """The admin account a data dir was created with (kept beside it by dsbuild), or None."""
    path = Path(data_dir) / _ACCOUNT_FILE
    if not path.is_file():
        return None
    data = json.loads(path.read_text("utf-8"))
    return AdminAccount(data["username"], data["password"], data["token"])


def write_account(data_dir: str | Path, account: AdminAccount) -> None:
    path = Path(data_dir) / _ACCOUNT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(account)) + "\n", "utf-8")
    path.chmod(0o600)


def prepare_data_dir(
    data_dir: str | Path,
    template: str | Path,
    account: AdminAccount,
    *,
    host: str = DEFAULT_HOST,
    executable: str | Path | None = None,
    timeout: float = 180.0,
) -> AdminAccount:
    """Make `data_dir` a fresh copy of `template`, creating the template first if needed.

    The template is made by one full start and stop (30-50 s); copies restart in ~4 s. The
    template keeps its own admin account, which is returned (and `account` used only when
    the template is new).
    """
    template, data_dir = Path(template), Path(data_dir)
    if read_account(template) is None or not (template / "label_studio.sqlite3").is_file():
        if template.exists():
            shutil.rmtree(template)
        building = template.with_name(template.name + ".building")
        if building.exists():
            shutil.rmtree(building)
        server = start_server(
            building,
            account,
            host=host,
            port=free_port(host),
            executable=executable,
            timeout=timeout,
        )
        stop_server(server.pid)
        write_account(building, account)
        (building / "server.log").unlink(missing_ok=True)
        building.rename(template)
    if data_dir.exists():
        shutil.rmtree(data_dir)
    shutil.copytree(template, data_dir)
    return read_account(data_dir)  # type: ignore[return-value]


# -- the Makefile's command line ------------------------------------------------------------
def _alive(pid: int) -> bool:
    """True while `pid` runs (a zombie, dead but not yet reaped, is not running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("State:"):
                return "Z" not in line.split()[1]
    except OSError:
        pass
    return True


def _is_our_server(pid: int, data_dir: str) -> bool:
    """True when `pid` is still a label-studio process on `data_dir` (not a reused pid)."""
    try:
        cmdline = (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return _alive(pid)
    return "label-studio" in cmdline and data_dir in cmdline


def _stop_session(folder: Path) -> int | None:
    info = folder / "server.json"
    pid = None
    if info.is_file():
        server = json.loads(info.read_text("utf-8"))
        pid = server["pid"]
        if _is_our_server(pid, server["data_dir"]):
            stop_server(pid)
    shutil.rmtree(folder, ignore_errors=True)
    return pid


def _clean_stale_sessions(sessions: Path) -> None:
    """Stop servers of sessions whose owner (the `make test` shell) is gone."""
    if not sessions.is_dir():
        return
    for folder in sessions.iterdir():
        if folder.name.isdigit() and not _alive(int(folder.name)):
            _stop_session(folder)


def _main(argv: list[str] | None = None) -> int:
    import argparse
    import fcntl

    parser = argparse.ArgumentParser(prog="python -m dsbuild.labelstudio.server")
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--state", required=True, help="folder of the template and the sessions")
    parser.add_argument(
        "--session",
        default=str(os.getppid()),
        help="session name: the pid of the shell that owns it [default: parent pid]",
    )
    parser.add_argument("--timeout", type=float, default=180.0)
    args = parser.parse_args(argv)
    state = Path(args.state).resolve()
    folder = state / "sessions" / args.session
    env_file = state / "sessions" / f"{args.session}.env.sh"
    if args.action == "stop":
        pid = _stop_session(folder)
        env_file.unlink(missing_ok=True)
        if pid is not None:
            print(f"Label Studio test server (pid {pid}) stopped")
        return 0
    state.mkdir(parents=True, exist_ok=True)
    (state / "sessions").mkdir(exist_ok=True)
    _clean_stale_sessions(state / "sessions")
    if folder.exists():
        _stop_session(folder)
    started = time.monotonic()
    try:
        with open(state / "template.lock", "w") as lock:  # one template build at a time
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            account = prepare_data_dir(
                folder / "data", state / "template", AdminAccount.generate(), timeout=args.timeout
            )
        server = start_server(folder / "data", account, port=free_port(), timeout=args.timeout)
    except Exception as exc:  # noqa: BLE001 - the tests skip with this reason instead of failing
        reason = " ".join(str(exc).split()).replace("'", "")
        env_file.write_text(f"export DSBUILD_TEST_LABEL_STUDIO_SKIP='{reason}'\n", "utf-8")
        print(f"Label Studio test server not started: {reason}", file=sys.stderr)
        return 1
    (folder / "server.json").write_text(json.dumps(server.to_json()) + "\n", "utf-8")
    env_file.write_text(
        f"export DSBUILD_TEST_LABEL_STUDIO_URL='{server.url}'\n"
        f"export DSBUILD_TEST_LABEL_STUDIO_TOKEN='{server.token}'\n",
        "utf-8",
    )
    print(
        f"Label Studio test server at {server.url} (pid {server.pid}, "
        f"ready in {time.monotonic() - started:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(_main())
