"""`dsbuild labelstudio serve` owns its Label Studio child: a SIGTERM to `serve` stops it.

A real `serve` runs as a subprocess, on a free port, with its own data dir (a copy of the
template `make test` keeps in build/labelstudio, made first if missing). The test sends it
SIGTERM, the way `kill <serve pid>` does, and checks that it exits and that no process of
Label Studio's process group, or any other on that data dir, is left, and that the port is
closed. It skips when the `label-studio` program cannot be found.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow]

STATE = Path(__file__).resolve().parents[2] / "build" / "labelstudio"  # the Makefile's LS_STATE


def _processes() -> dict[int, tuple[int, str, str]]:
    """pid → (process group, state letter, command line) of every process now running."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (
                (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            )
        except OSError:
            continue
        # after "(comm)": state, ppid, pgrp, ...
        fields = stat[stat.rindex(")") + 2 :].split()
        found[int(entry.name)] = (int(fields[2]), fields[0], cmdline.strip())
    return found


def _left(group: int, data_dir: Path) -> list[str]:
    """Live (not zombie) processes of Label Studio's group or on its data dir."""
    return [
        f"{pid} {cmd[:160]}"
        for pid, (pgrp, state, cmd) in _processes().items()
        if state != "Z" and (pgrp == group or str(data_dir) in cmd)
    ]


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def data_dir(tmp_path) -> Path:
    from dsbuild.labelstudio.server import AdminAccount, find_executable, prepare_data_dir

    try:
        find_executable(None)
    except Exception as exc:  # noqa: BLE001 - no Label Studio program is a skip reason
        pytest.skip(f"no label-studio program: {exc}")
    STATE.mkdir(parents=True, exist_ok=True)
    folder = tmp_path / "data"
    with open(STATE / "template.lock", "w") as lock:  # as the Makefile's server start does
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        prepare_data_dir(folder, STATE / "template", AdminAccount.generate())
    return folder.resolve()


def test_sigterm_to_serve_stops_label_studio(data_dir: Path, tmp_path: Path) -> None:
    from dsbuild.labelstudio.server import free_port, stop_server

    port = free_port()
    out, err = tmp_path / "serve.out", tmp_path / "serve.err"
    with open(out, "wb") as o, open(err, "wb") as e:
        serve = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from dsbuild.cli import main; main()",
                "labelstudio",
                "serve",
                "--port",
                str(port),
                "--data-dir",
                str(data_dir),
                "--timeout",
                "170",
            ],
            stdout=o,
            stderr=e,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # a signal to the test's group does not reach it
        )
    record = data_dir / "dsbuild-server.json"
    server_pid = None
    try:
        deadline = time.monotonic() + 180
        while "serving as pid" not in err.read_text("utf-8", "replace"):
            assert serve.poll() is None, (
                f"serve exited with {serve.returncode}: {err.read_text('utf-8', 'replace')}"
            )
            assert time.monotonic() < deadline, "serve was not ready after 180 s"
            time.sleep(0.3)
        server_pid = int(json.loads(record.read_text("utf-8"))["pid"])
        assert json.loads(record.read_text("utf-8"))["owner"] == serve.pid
        assert _port_open(port)
        group = os.getpgid(server_pid)
        assert group == server_pid  # Label Studio leads its own process group
        assert _left(group, data_dir), "no Label Studio process found while serving"

        sent = time.monotonic()
        os.kill(serve.pid, signal.SIGTERM)
        code = serve.wait(timeout=60)
        took = time.monotonic() - sent
        left = _left(group, data_dir)
        print(
            f"\nkill -TERM {serve.pid} (serve; Label Studio pid {server_pid}): serve exited "
            f"with {code} after {took:.1f} s; Label Studio processes left: {len(left)}"
        )
        assert left == [], left
        assert code == 128 + signal.SIGTERM
        assert not _port_open(port)
        assert not record.exists()  # the record of a running server is removed with it
        assert "Label Studio stopped" in err.read_text("utf-8", "replace")
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
        if server_pid is not None and _left(server_pid, data_dir):
            stop_server(server_pid)  # the test's own server: never leave it running
