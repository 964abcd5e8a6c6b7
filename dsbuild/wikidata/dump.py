"""Stream the Wikidata JSON dump (`.json`, `.json.gz`, `.json.bz2`) one entity at a time.

Framing of the dump: a `[` line, then one entity per line ending in `,`, the last one
without the comma, then `]`. Real files are often cut short (`head -n`, an interrupted
download): a missing `]` and a truncated last line are reported (`DumpStats`, and the
`on_problem` callback) and the stream ends normally; a line that is not JSON is counted,
reported and skipped; a file that does not start like a dump is refused (InputError).
The compression is recognised by its magic bytes, not the file name.

Dump-scale runs are feasible because most lines are never parsed: a byte prefilter sees the
raw line first (`enwiki_title_of_line` finds the `enwiki` sitelink title with one `rfind`
from the end of the line, where the sitelinks are, ~3 µs for a 70 KB line against ~600 µs
for `json.loads`). Reading speed on the development VM (2 vCPU): plain ~1 GB/s, gzip
~430 MB/s of output with `rapidgzip`'s decoder (~270 MB/s with Python's zlib), bzip2
~37 MB/s with `indexed_bzip2` (~28 MB/s with Python's bz2; 1 GB benchmark input).
A parallel decompressor (`lbzip2`, `pbzip2`, `pigz`) is used when on PATH
(`decompressor="auto"`), in a child process that also overlaps with parsing; else those
libraries in-process when installed, else Python's; `decompressor="external"` also accepts
`bzip2`/`gzip`; `"python"` stays with Python's.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import re
import shutil
import subprocess
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from dsbuild.compression import compression_of
from dsbuild.errors import InputError

__all__ = [
    "DumpProblem",
    "DumpReader",
    "DumpStats",
    "enwiki_title_of_line",
    "iter_entities",
    "open_dump",
]

_BUFFER = 1 << 20
# External tools, best first: parallel decompressors, then the single-threaded classics.
# "auto" uses the parallel tools only. Measured on 2 vCPUs: `bzip2 -dc` and Python's bz2
# both ~46 MB/s; `gzip -dc` (216 MB/s) is slower than Python's zlib (~450 MB/s).
_FAST_TOOLS = {"bz2": ("lbzip2", "pbzip2"), "gz": ("pigz",)}
_TOOLS = {"bz2": ("lbzip2", "pbzip2", "bzip2"), "gz": ("pigz", "gzip")}


@dataclass(frozen=True)
class DumpProblem:
    """One thing wrong with the dump: `kind` is "malformed" (a line that is not JSON, skipped),
    "truncated" (the last line or the compressed stream was cut short) or "missing_end" (no
    closing `]`); `line` is the 1-based line number (0 when it is about the whole file)."""

    kind: str
    line: int
    detail: str


@dataclass
class DumpStats:
    """Counters of one pass over a dump; filled while streaming, final when it ends."""

    lines: int = 0  # physical lines read, framing included
    entities: int = 0  # entity lines handed on (passed the prefilter, parsed)
    skipped: int = 0  # entity lines the prefilter rejected (never parsed)
    malformed: int = 0  # lines that were not JSON (skipped)
    truncated: bool = False  # the last line or the compressed stream was cut short
    closed: bool = False  # the closing `]` was seen
    bytes: int = 0  # uncompressed bytes read
    problems: list[DumpProblem] = field(default_factory=list)  # the first 100

    def note(self, problem: DumpProblem) -> None:
        if len(self.problems) < 100:
            self.problems.append(problem)

    def counts(self) -> dict[str, int | bool]:
        """The counters (problems aside), as the store's meta and a part's counts keep them."""
        return {name: getattr(self, name) for name in _COUNTERS}

    def add(self, counts: Mapping[str, Any]) -> None:
        """Add the `counts()` of a later part of the same dump."""
        for name in _COUNTERS:
            if name in ("truncated", "closed"):
                setattr(self, name, getattr(self, name) or counts[name])
            else:
                setattr(self, name, getattr(self, name) + counts[name])


_COUNTERS = ("lines", "entities", "skipped", "malformed", "truncated", "closed", "bytes")


def _sniff(path: Path) -> str:
    """The compression ("bz2", "gz" or "plain"), from the first bytes of the file."""
    try:
        with open(path, "rb") as f:
            head = f.read(3)
    except OSError as exc:
        raise InputError(
            f"cannot read the Wikidata dump {path}: {exc.strerror or exc}",
            "check the path given for the Wikidata dump",
            code="DSB301",
        ) from exc
    return compression_of(head)


def _external_tool(kind: str, decompressor: str) -> str | None:
    if kind == "plain" or decompressor == "python":
        return None
    if decompressor not in ("auto", "external"):
        return decompressor  # an explicit tool name, e.g. "lbzip2"
    for tool in (_FAST_TOOLS if decompressor == "auto" else _TOOLS)[kind]:
        found = shutil.which(tool)
        if found:
            return found
    if decompressor == "external":
        raise InputError(
            f"no external {kind} decompressor on PATH ({', '.join(_TOOLS[kind])})",
            "install one, or use decompressor='python'",
            code="DSB301",
        )
    return None


@contextmanager
def open_dump(
    path: str | os.PathLike[str],
    *,
    decompressor: str = "auto",
) -> Iterator[tuple[IO[bytes], Callable[[], int]]]:
    """Open a dump for binary reading, decompressing `.bz2`/`.gz` (found by magic bytes).

    Yields `(stream, position)`: `position()` is how far into the file on disk the reader is
    (compressed bytes), for progress bars. `decompressor`: "auto" (a parallel tool in a
    child process when one is on PATH, else `rapidgzip`/`indexed_bzip2` in-process when the
    `shards` extra is installed, else Python), "python", "external", a tool name such as
    "lbzip2", or "threads:N" (in-process, N decompression threads of those libraries). A
    library reader hands over to Python's where it fails (`_LibraryReader`), so a cut or
    damaged file is reported the same way whichever reads it.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(
            f"Wikidata dump {path} not found",
            "check the path given for the Wikidata dump",
            code="DSB301",
        )
    kind = _sniff(path)
    if kind != "plain" and (decompressor.startswith("threads") or decompressor == "auto"):
        fast = _open_library(path, kind, decompressor)
        if fast is not None:
            with fast:
                yield io.BufferedReader(fast, buffer_size=_BUFFER), fast.position
            return
        decompressor = "auto"  # "threads:N" without the library: as "auto"
    tool = _external_tool(kind, decompressor)
    if tool is not None:
        yield from _open_external(path, tool)
        return
    raw = open(path, "rb", buffering=_BUFFER)
    try:
        stream = raw if kind == "plain" else _python_decompressor(kind, raw)
        if stream is raw:
            yield stream, raw.tell
        else:
            with stream:
                yield _buffered(stream, raw, path.stat().st_size), raw.tell
    finally:
        raw.close()


def _python_decompressor(kind: str, raw: IO[bytes]) -> IO[bytes]:
    """Python's own reader of a "bz2" (multistream too) or "gz" file opened as `raw`."""
    if kind == "bz2":
        import bz2

        return bz2.BZ2File(raw)
    import gzip

    return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]


def _open_library(path: Path, kind: str, decompressor: str) -> _LibraryReader | None:
    """An in-process reader of `path` by `rapidgzip` (gz) or `indexed_bzip2` (bz2), the
    `shards` extra, or None (not installed, or "auto" with a parallel tool on PATH, which
    runs on another core). "auto": one decompression thread; "threads:N": N (for bz2,
    N = the cores when not given). For gz, rapidgzip's single-threaded decoder is the fast
    one: 1 GB of gz output in 2.5 s against 4.0 s for Python's zlib on the development VM,
    while 2 threads took 3.2 s there (its parallel decoding pays off with more cores)."""
    if decompressor == "auto" and _external_tool(kind, "auto") is not None:
        return None
    try:
        module = importlib.import_module("rapidgzip" if kind == "gz" else "indexed_bzip2")
    except ImportError:
        return None
    threads = decompressor.partition(":")[2]
    n = int(threads) if threads else (1 if decompressor == "auto" else os.cpu_count() or 1)
    if kind == "gz":  # 2 MiB chunks: as fast, and half the memory (~230 MB, any file size)
        return _LibraryReader(
            path,
            kind,
            lambda: module.RapidgzipFile(str(path), parallelization=n, chunk_size=2 << 20),
        )
    return _LibraryReader(path, kind, lambda: module.open(str(path), parallelization=n))


class _LibraryReader(io.RawIOBase):
    """A library decompressor that hands over to Python's own where it fails.

    `rapidgzip` and `indexed_bzip2` are fast but say little about a damaged file: they
    raise a bare error, or (`rapidgzip`, a gz file cut in its first block) end early
    without one. So an error, or an end before the last byte was consumed, switches to Python's
    `gzip`/`bz2` reader, which skips the bytes already handed on and goes on from there:
    the stream stays one stream, and a cut or damaged file is reported as the standard
    reader reports it (EOFError, zlib.error, OSError), at the same line."""

    def __init__(self, path: Path, kind: str, opener: Callable[[], Any]) -> None:
        super().__init__()
        self._path, self._kind = path, kind
        self._size = path.stat().st_size
        self._fast: Any = opener()
        self._slow: Any = None
        self._raw: Any = None
        self._done = 0  # decompressed bytes handed on

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._fast is not None:
            try:
                n = self._fast.readinto(buffer)
                if n or self._whole():
                    self._done += n
                    return n
            except Exception:  # noqa: BLE001 - any failure: the standard reader will say why
                pass
            self._close_fast()
            self._open_slow()
        n = self._slow.readinto(buffer)
        self._done += n
        return n

    def _whole(self) -> bool:
        """At the end of the data: was the whole file read? `indexed_bzip2` raises on a cut
        file (and in threads it does not track its position); `rapidgzip` may end early."""
        return self._kind == "bz2" or self._fast.tell_compressed() // 8 >= self._size

    def _open_slow(self) -> None:
        self._raw = open(self._path, "rb", buffering=_BUFFER)
        stream = _python_decompressor(self._kind, self._raw)
        skip = self._done
        while skip:  # what the library already handed on
            got = len(stream.read(min(skip, 1 << 24)))
            if not got:
                raise EOFError("the compressed stream ends before the data already read")
            skip -= got
        self._slow = _FillReader(stream, self._raw, self._size)

    def _close_fast(self) -> None:
        fast, self._fast = self._fast, None
        try:
            fast.close()
        except Exception:  # noqa: BLE001 - a failed reader may fail to close too
            pass

    def position(self) -> int:
        """Compressed bytes of the file consumed (for progress)."""
        if self._fast is not None:
            return self._fast.tell_compressed() // 8
        return self._raw.tell() if self._raw is not None else 0

    def close(self) -> None:
        if self._fast is not None:
            self._close_fast()
        if self._slow is not None:
            self._slow.close()
            self._slow = None
        if self._raw is not None:
            self._raw.close()
            self._raw = None
        super().close()


def _buffered(stream: IO[bytes], raw: IO[bytes], size: int) -> IO[bytes]:
    """A 1 MiB read buffer (the decompressors' own 8 KiB one costs a call per few lines)."""
    return io.BufferedReader(_FillReader(stream, raw, size), buffer_size=_BUFFER)


class _FillReader(io.RawIOBase):
    """A decompressing stream as the raw stream of a 1 MiB BufferedReader.

    Far from the end of the file it fills the buffer with one `readinto` (fastest: 450 MB/s
    of gzip output against 310 with `read1`). In the last 4 MiB of the compressed file it
    switches to `read1` calls, so when a cut file raises EOFError the data before the cut
    has been handed on (a `readinto` would drop up to a buffer of lines)."""

    def __init__(self, stream: IO[bytes], raw: IO[bytes], size: int) -> None:
        super().__init__()
        self._stream, self._raw, self._size = stream, raw, size
        self._error: EOFError | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._size - self._raw.tell() > 4 * _BUFFER:
            return self._stream.readinto(buffer)  # type: ignore[attr-defined]
        got, size = 0, len(buffer)
        while got < size and self._error is None:
            try:
                data = self._stream.read1(size - got)  # type: ignore[attr-defined]
            except EOFError as exc:
                self._error = exc
                break
            if not data:
                break
            buffer[got : got + len(data)] = data
            got += len(data)
        if got == 0 and self._error is not None:
            raise self._error
        return got


def _open_external(path: Path, tool: str) -> Iterator[tuple[IO[bytes], Callable[[], int]]]:
    """Decompress in a child process (`tool -dc path`): it runs on another core."""
    import tempfile

    size = path.stat().st_size
    errors = tempfile.TemporaryFile()  # a file, not a pipe: a chatty tool cannot block
    try:
        proc = subprocess.Popen(
            [tool, "-dc", str(path)], stdout=subprocess.PIPE, stderr=errors, bufsize=_BUFFER
        )
    except OSError as exc:
        errors.close()
        raise InputError(
            f"cannot run the decompressor {tool}: {exc.strerror or exc}",
            "use decompressor='python'",
            code="DSB301",
        ) from exc
    assert proc.stdout is not None
    stream = _CheckedPipe(proc, tool, errors)
    try:
        # A pipe has no position: progress jumps from 0 to the end.
        yield stream, lambda: size if stream.eof else 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
        errors.close()


class _CheckedPipe:
    """The decompressor's stdout; at EOF it checks the exit status: a cut compressed file
    raises EOFError (like Python's own decompressors), damaged data an InputError."""

    def __init__(self, proc: subprocess.Popen[bytes], tool: str, errors: IO[bytes]) -> None:
        self.proc, self.tool, self.eof = proc, tool, False
        self._out, self._errors = proc.stdout, errors

    def _finish(self) -> None:
        self.eof = True
        code = self.proc.wait()
        self._errors.seek(0)
        err = self._errors.read(4096).decode("utf-8", "replace").strip()
        if code == 0:
            return
        low = err.lower()
        if "unexpected" in low or "ends" in low or "truncated" in low or "eof" in low:
            raise EOFError(err)
        raise InputError(
            f"{Path(self.tool).name} failed on the dump (exit {code}): {err[:200]}",
            "the compressed file is damaged: download it again",
            code="DSB302",
        )

    def __iter__(self) -> Iterator[bytes]:
        assert self._out is not None
        yield from self._out
        self._finish()


# --- the enwiki title prefilter -----------------------------------------------------------

_KEY_AFTER = re.compile(rb"\s*:\s*\{\s*")
_STR = rb'"((?:[^"\\]|\\.)*)"'
_TITLE_FIRST = re.compile(rb'(?:"site"\s*:\s*"enwiki"\s*,\s*)?"title"\s*:\s*' + _STR)
_TITLE_ANY = re.compile(rb'"title"\s*:\s*' + _STR)


def enwiki_title_of_line(line: bytes) -> str | None:
    """The title of the `enwiki` sitelink of one raw dump line, or None, without parsing it.

    Searches from the end (sitelinks come last), so a typical line costs one short `rfind`.
    JSON escapes in the title (`\\u00e9`, `\\"`, `\\/`) are decoded, so the result equals
    `json.loads(line)["sitelinks"]["enwiki"]["title"]`.
    """
    end = len(line)
    while True:
        i = line.rfind(b'"enwiki"', 0, end)
        if i < 0:
            return None
        key = _KEY_AFTER.match(line, i + 8)
        if key is None:  # the value of "site":"enwiki", or an unrelated string: look further left
            end = i
            continue
        start = key.end()
        m = _TITLE_FIRST.match(line, start) or _TITLE_ANY.search(line, start, start + 4096)
        if m is None:
            return None
        raw = m.group(1)
        try:
            if b"\\" in raw:
                return json.loads(b'"' + raw + b'"')
            return raw.decode("utf-8")
        except ValueError:  # invalid escape or bytes: let the parser decide about the line
            return None


# --- the reader ---------------------------------------------------------------------------


class DumpReader:
    """One pass over a dump: framing, counters and problem reports; see the module docstring.

    `lines(prefilter)` yields the raw entity lines (trailing `,` and newline removed) that
    pass `prefilter(raw_line)`; a consumer that cannot parse one calls `bad_line(line, err)`.
    `entities(prefilter)` parses them with `json.loads`. `progress` gets one task advanced
    in bytes of the file on disk.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        decompressor: str = "auto",
        on_problem: Callable[[DumpProblem], None] | None = None,
        progress: Any = None,
        stats: DumpStats | None = None,
        part: Any = None,
    ) -> None:
        self.path = Path(path)
        # a `LinePart` (dsbuild.wikidata.shards): read only its lines, and make only the
        # checks that belong to it (the start of the file, its end); None: the whole file
        self.part = part
        self.decompressor = decompressor
        self.on_problem = on_problem
        self.progress = progress
        self.stats = stats if stats is not None else DumpStats()
        self._last_unterminated = False

    def _report(self, kind: str, line: int, detail: str) -> None:
        problem = DumpProblem(kind, line, detail)
        self.stats.note(problem)
        if self.on_problem is not None:
            self.on_problem(problem)

    @property
    def at_last_unterminated_line(self) -> bool:
        """True while the line just yielded is the stream's last and has no newline."""
        return self._last_unterminated

    def bad_line(self, line: bytes, error: Exception | str) -> None:
        """Count a line that does not parse: "truncated" when it is the unterminated last
        line of the stream, else "malformed"."""
        st = self.stats
        detail = f"{str(error)[:120]}; starts {line[:60]!r}"
        if self._last_unterminated:
            st.truncated = True
            self._report("truncated", st.lines, f"the last line is cut short ({detail})")
        else:
            st.malformed += 1
            self._report("malformed", st.lines, detail)

    def lines(self, prefilter: Callable[[bytes], bool] | None = None) -> Iterator[bytes]:
        """Entity lines that pass `prefilter` (which sees the raw line, newline and comma
        included); framing lines and empty lines are dropped."""
        st = self.stats
        with ExitStack() as stack:
            task = None
            if self.progress is not None:
                task = stack.enter_context(
                    self.progress.task(f"reading {self.path.name}", total=self.path.stat().st_size)
                )
            part = self.part
            if part is None:
                stream, position = stack.enter_context(
                    open_dump(self.path, decompressor=self.decompressor)
                )
            else:
                stream, position = part.lines(), lambda: 0
            done = 0
            started = part is not None and not part.first
            seen_entity = False
            yielded = 0
            try:
                for raw in stream:
                    st.lines += 1
                    st.bytes += len(raw)
                    if task is not None and not st.lines & 1023:
                        pos = position()
                        task.advance(pos - done)
                        done = pos
                    if not started:
                        started = self._check_start(raw)
                    if len(raw) < 4:
                        tok = raw.strip()
                        if tok == b"]":
                            st.closed = True
                            continue
                        if tok in (b"[", b""):
                            continue
                    self._last_unterminated = not raw.endswith(b"\n")
                    if not seen_entity:  # before the prefilter, which skips a foreign file whole
                        head = raw.rstrip()
                        seen_entity = self._check_entity(head[:-1] if head.endswith(b",") else head)
                    if prefilter is not None and not prefilter(raw):
                        st.skipped += 1
                        if self._last_unterminated:
                            self._check_final(raw)
                        continue
                    line = raw.rstrip()
                    if line.endswith(b","):
                        line = line[:-1]
                    yielded += 1
                    yield line
            except EOFError as exc:  # the compressed stream itself was cut short
                st.truncated = True
                self._report(
                    "truncated",
                    st.lines,
                    f"the compressed stream ends early at byte "
                    f"{position()} of {self.path.stat().st_size} on disk: {exc}",
                )
            except (OSError, zlib.error) as exc:  # damaged compressed data, a read error
                raise InputError(
                    f"cannot read the Wikidata dump {self.path} after line {st.lines}: {exc}",
                    "the file is damaged or unreadable: download it again",
                    code="DSB302",
                ) from exc
            if task is not None:
                task.advance(max(self.path.stat().st_size - done, 0))
        if self.part is not None and not self.part.last:
            return  # the end of the file (and its checks) belongs to the last part
        if self.part is None and not yielded and not st.skipped and not st.truncated:
            raise InputError(
                f"the Wikidata dump {self.path} holds no entities "
                f"({'it is empty' if st.bytes == 0 else f'{st.lines} line(s) of framing only'})",
                "give the JSON dump (latest-all.json.bz2 or .gz); download it again",
                code="DSB304",
            )
        if not st.closed:
            self._report("missing_end", 0, "no closing ']' (the file was cut short?)")

    def _check_entity(self, line: bytes) -> bool:
        """Refuse a file whose first entity line is not a Wikidata entity (a JSON object with
        an `id` and a `type`); True once one is seen. Runs on one line only: no cost per line."""
        try:
            first = json.loads(line)
        except (ValueError, RecursionError):
            return False  # a malformed line: counted by the consumer; look at the next one
        if isinstance(first, dict) and isinstance(first.get("id"), str) and "type" in first:
            return True
        keys = sorted(first)[:8] if isinstance(first, dict) else type(first).__name__
        raise InputError(
            f"{self.path} is not a Wikidata JSON dump: line {self.stats.lines} is not an "
            f"entity (no id and type; it has {keys})",
            "give the JSON dump (latest-all.json.bz2 or .gz)",
            code="DSB302",
        )

    def _check_start(self, raw: bytes) -> bool:
        """True once the first non-blank line is seen; refuse files that are not dumps."""
        head = raw.lstrip()[:1]
        if not head:
            return False
        if head not in (b"[", b"{"):
            raise InputError(
                f"{self.path} is not a Wikidata JSON dump (it starts with {raw[:40]!r})",
                "give the JSON dump (latest-all.json.bz2 or .gz), not the XML or RDF one",
                code="DSB302",
            )
        return True

    def _check_final(self, raw: bytes) -> None:
        """The unterminated last line was not wanted; still say if it is cut short."""
        line = raw.rstrip()
        if line.endswith(b","):
            line = line[:-1]
        try:
            json.loads(line)
        except ValueError as exc:
            self.bad_line(line, exc)

    def entities(self, prefilter: Callable[[bytes], bool] | None = None) -> Iterator[dict]:
        """Parsed entities (`json.loads` of each line passing `prefilter`)."""
        for line in self.lines(prefilter):
            try:
                entity = json.loads(line)
            except ValueError as exc:
                self.bad_line(line, exc)
                continue
            if not isinstance(entity, dict):
                self.bad_line(line, "not a JSON object")
                continue
            self.stats.entities += 1
            yield entity


def iter_entities(
    path: str | os.PathLike[str],
    *,
    prefilter: Callable[[bytes], bool] | None = None,
    on_problem: Callable[[DumpProblem], None] | None = None,
    stats: DumpStats | None = None,
    decompressor: str = "auto",
    progress: Any = None,
) -> Iterator[dict]:
    """Stream the entities of a Wikidata JSON dump; see the module docstring.

    `prefilter(raw_line) -> bool` runs on the raw bytes before parsing (e.g.
    `lambda line: enwiki_title_of_line(line) in needed`). Pass a `DumpStats` to read the
    counters (malformed, truncated, closed, ...) when the iterator is exhausted.
    """
    reader = DumpReader(
        path, decompressor=decompressor, on_problem=on_problem, progress=progress, stats=stats
    )
    return reader.entities(prefilter)
