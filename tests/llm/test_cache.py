"""The LLM response cache: API, errors, threads, SIGKILL safety and two writing processes."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from dsbuild.errors import ConfigError, DsbuildError
from dsbuild.llm.cache import CACHE_FILENAME, ResponseCache, default_cache_dir, open_cache
from dsbuild.llm.types import BackendReply, ChatRequest, Usage


def _key(tag: object) -> str:
    return hashlib.sha256(str(tag).encode()).hexdigest()


def _reply(text: str = "hi", model: str = "gpt-4o-mini-2024-07-18") -> dict:
    return BackendReply(text, model, Usage(12, 3), "stop").to_dict()


# The child writes `n` puts (values sized 50..3000 bytes so WAL checkpoints happen often)
# and prints "<i> <key>" only after that put returned. The value is derived from the key so the
# parent can check it.
CHILD = r"""
import hashlib, sys
from dsbuild.llm.cache import ResponseCache
path, tag, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
cache = ResponseCache(path)
sys.stdout.write("ready\n"); sys.stdout.flush()
if len(sys.argv) > 4:
    sys.stdin.readline()  # wait for "go" so two writers really overlap
for i in range(n):
    key = hashlib.sha256(f"{tag}-{i}".encode()).hexdigest()
    cache.put(key, {"content": key * (1 + int(key[:4], 16) % 48), "model": tag, "i": i})
    sys.stdout.write(f"{i} {key}\n"); sys.stdout.flush()
cache.close()
"""


def _expected(key: str, tag: str, i: int) -> dict:
    return {"content": key * (1 + int(key[:4], 16) % 48), "model": tag, "i": i}


def _spawn(path: Path, tag: str, n: int, *, wait_for_go: bool = False) -> subprocess.Popen:
    args = [sys.executable, "-c", CHILD, str(path), tag, str(n)] + (["go"] if wait_for_go else [])
    return subprocess.Popen(
        args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def _ready(proc: subprocess.Popen) -> subprocess.Popen:
    assert proc.stdout.readline() == b"ready\n", proc.stderr.read().decode()
    return proc


def test_put_get_roundtrip_contains_len_and_persistence(tmp_path):
    path = tmp_path / "c.sqlite3"
    req = ChatRequest("openai:gpt-4o-mini", ({"role": "user", "content": "héllo 日本"},))
    with ResponseCache(path) as cache:
        assert cache.get(req.key()) is None and req.key() not in cache and len(cache) == 0
        cache.put(req.key(), _reply("Grüße 😀"))
        assert cache.get(req.key()) == _reply("Grüße 😀")
        assert req.key() in cache and 42 not in cache and len(cache) == 1
        entry = cache.entry(req.key())
        assert entry.model == "gpt-4o-mini-2024-07-18" and abs(entry.created - time.time()) < 60
        cache.put(req.key(), _reply("second"), model="other")  # last writer wins
        assert cache.get(req.key())["content"] == "second" and len(cache) == 1
        assert cache.entry(req.key()).model == "other"
    with ResponseCache(path) as again:
        assert BackendReply.from_dict(again.get(req.key())).content == "second"
        assert again.delete(req.key()) and not again.delete(req.key())
        assert len(again) == 0


def test_pragmas_are_wal_normal_with_busy_timeout(tmp_path):
    with ResponseCache(tmp_path / "c.sqlite3", timeout=7) as cache:
        conn = cache._conn
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 7000


def test_get_many_and_contains_many_chunk_long_key_lists(tmp_path):
    with ResponseCache(tmp_path / "c.sqlite3") as cache:
        present = [_key(i) for i in range(1300)]
        for i, k in enumerate(present):
            cache.put(k, {"i": i})
        asked = present + [_key(f"miss{i}") for i in range(1300)] + present[:5]
        random.Random(1).shuffle(asked)
        got = cache.get_many(asked)
        assert set(got) == set(present)
        assert all(got[k] == {"i": i} for i, k in enumerate(present))
        assert cache.contains_many(iter(asked)) == set(present)
        assert cache.get_many([]) == {} and cache.contains_many([]) == set()
        assert sorted(cache.keys()) == sorted(present)


def test_bad_values_and_keys_are_refused(tmp_path):
    with ResponseCache(tmp_path / "c.sqlite3") as cache:
        with pytest.raises(DsbuildError, match="not JSON"):
            cache.put(_key(1), {"x": object()})
        with pytest.raises(DsbuildError, match="not JSON"):
            cache.put(_key(1), {"x": float("nan")})
        with pytest.raises(DsbuildError, match="must be a dict"):
            cache.put(_key(1), ["a list"])
        with pytest.raises(DsbuildError, match="non-empty string"):
            cache.put("", {})
        assert len(cache) == 0


def test_close_is_idempotent_and_use_after_close_fails(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite3")
    cache.close()
    cache.close()
    assert cache.closed
    with pytest.raises(DsbuildError, match="after close"):
        cache.get(_key(1))


def test_corrupt_file_is_a_one_line_config_error_naming_the_file(tmp_path):
    path = tmp_path / CACHE_FILENAME
    path.write_bytes(b"this is not a database, just garbage " * 200)
    with pytest.raises(ConfigError) as info:
        open_cache(tmp_path)
    err = info.value
    assert err.code == "DSB108" and str(path) in str(err) and "move the file away" in str(err)
    assert "\n" not in str(err)


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "c.sqlite3"
    ResponseCache(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(ConfigError, match="newer dsbuild"):
        ResponseCache(path)


def test_open_cache_creates_folders_and_uses_default_dir(tmp_path, monkeypatch):
    nested = tmp_path / "a" / "b"
    with open_cache(nested) as cache:
        assert cache.path == nested / CACHE_FILENAME and cache.path.exists()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert default_cache_dir() == tmp_path / "xdg" / "dsbuild"
    monkeypatch.setattr("dsbuild.llm.cache.default_cache_dir", lambda: tmp_path / "dflt")
    with open_cache(None) as cache:
        assert cache.path == tmp_path / "dflt" / CACHE_FILENAME


def test_unwritable_cache_folder_is_a_config_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="cache folder") as info:
        open_cache(blocker / "sub")
    assert info.value.code == "DSB108"


def test_threads_share_one_cache(tmp_path):
    errors: list[BaseException] = []
    with ResponseCache(tmp_path / "c.sqlite3") as cache:

        def work(t: int) -> None:
            try:
                for i in range(200):
                    k = _key(f"{t}-{i}")
                    cache.put(k, {"t": t, "i": i})
                    assert cache.get(k) == {"t": t, "i": i}
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert not errors, errors
        assert len(cache) == 800


@pytest.mark.parametrize("round_", range(4))
def test_sigkill_while_putting_keeps_db_intact_and_every_returned_put(tmp_path, round_):
    """Kill a writer mid-stream, several times into the same file; nothing reported is lost."""
    seed = random.SystemRandom().randrange(2**32)
    rng = random.Random(seed)
    path = tmp_path / "c.sqlite3"
    reported: dict[str, tuple[str, int]] = {}
    for kill in range(3):
        tag = f"r{round_}k{kill}"
        proc = _ready(_spawn(path, tag, 100_000))
        target = rng.randint(20, 2500)
        for _ in range(target):
            line = proc.stdout.readline()
            assert line, f"seed {seed}: child died: {proc.stderr.read().decode()}"
            i, key = line.decode().split()
            reported[key] = (tag, int(i))
        os.kill(proc.pid, signal.SIGKILL)
        rest = proc.stdout.read()  # buffered: includes what readline() already pulled in
        proc.wait(timeout=10)
        proc.stdin.close(), proc.stdout.close(), proc.stderr.close()
        assert proc.returncode == -signal.SIGKILL, f"seed {seed}: child ended before the kill"
        for raw in rest.decode().split("\n"):
            fields = raw.split()
            if len(fields) == 2 and len(fields[1]) == 64:  # complete lines only
                reported[fields[1]] = (tag, int(fields[0]))

    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)], f"seed {seed}"
    conn.close()
    with ResponseCache(path) as cache:
        got = cache.get_many(reported)
        missing = [k for k in reported if k not in got]
        assert not missing, f"seed {seed}: {len(missing)} returned puts lost"
        for key, (tag, i) in reported.items():
            assert got[key] == _expected(key, tag, i), f"seed {seed}: wrong value for {key}"


def test_two_processes_put_into_one_file_at_once(tmp_path):
    path = tmp_path / "c.sqlite3"  # a new file: both children also race to create it
    n = 1500
    procs = [_spawn(path, tag, n, wait_for_go=True) for tag in ("a", "b")]
    for proc in procs:
        _ready(proc)
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
    outs = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
        outs.append([line.split()[1] for line in out.decode().splitlines()])
    assert all(len(o) == n for o in outs)
    with ResponseCache(path) as cache:
        assert len(cache) == 2 * n
        assert cache.check() == "ok"
        for tag, out in zip(("a", "b"), outs):
            got = cache.get_many(out)
            assert all(got[k] == _expected(k, tag, i) for i, k in enumerate(out))
