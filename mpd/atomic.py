"""Atomic file writes: write a temp file beside the target, fsync, rename.

Temp files are named `.NAME.<pid>-<random>.tmp`; one left by a killed writer (SIGKILL cannot be
cleaned up after) is removed by the next write of NAME once that pid is gone, or by
`remove_stale_temps` (a writer that sweeps a whole directory, e.g. `mmcf split`'s).
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import io
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import IO, Iterator

from .errors import UserError

FULL_BYTES = 64 * 2**20  # a write that fails with less free space than this failed for want of it
GZIP_LEVEL = 6  # level 9 is much slower on submissions for barely smaller files


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8"
) -> Iterator[IO]:
    """Open a temp file for writing; on success it replaces `path`, on failure it is removed.

    A `.gz` suffix writes gzip. The old file (if any) stays intact until the rename.
    """
    path = Path(path)
    binary = "b" in mode
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temps(path)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{path.name}.{os.getpid()}-", suffix=".tmp", dir=path.parent
        )
    except OSError as exc:
        raise UserError(f"{path}: cannot write here ({exc.strerror or exc})") from None
    raw = os.fdopen(fd, "wb")
    try:
        stream: IO = (
            gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=GZIP_LEVEL)
            if path.suffix == ".gz"
            else raw
        )
        out = stream if binary else io.TextIOWrapper(stream, encoding=encoding, newline="")
        yield out
        out.flush()
        if not binary:
            out.detach()
        if stream is not raw:
            stream.close()
        raw.flush()
        os.fchmod(raw.fileno(), 0o666 & ~_umask())  # mkstemp makes 0600; give what open() would
        os.fsync(raw.fileno())
        raw.close()
        try:
            os.replace(tmp, path)
        except OSError as exc:
            raise UserError(f"{path}: cannot write here ({exc.strerror or exc})") from None
    except BaseException as exc:
        raw.close()
        full = isinstance(exc, Exception) and disk_full(exc, path.parent)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if full:
            raise UserError(
                f"{path}: the disk is full; make room (or write elsewhere) and run again"
            ) from None
        raise


def disk_full(exc: Exception, directory: Path) -> bool:
    """Whether a failed write failed for want of space (torch reports it as a RuntimeError)."""
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return True
    with contextlib.suppress(OSError):
        return shutil.disk_usage(directory).free < FULL_BYTES
    return False


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _remove_stale_temps(path: Path) -> None:
    """Delete temp files of `path` whose writer process no longer exists."""
    remove_stale_temps(path.parent, re.escape(path.name))


def remove_stale_temps(directory: Path, name: str = ".+") -> None:
    """Delete the temp files in `directory` (of the files matching the regex `name`) whose writer
    process no longer exists."""
    pattern = re.compile(rf"\.({name})\.(\d+)-\w+\.tmp")
    if not os.path.isdir(directory):
        return
    with os.scandir(directory) as entries:
        stale = [
            e.path
            for e in entries
            if (m := pattern.fullmatch(e.name)) and not process_alive(int(m.group(2)))
        ]
    for tmp in stale:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def open_text(path: str | os.PathLike) -> IO[str]:
    """Open a text file for reading, transparently gunzipping `.gz`."""
    path = Path(path)
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")
