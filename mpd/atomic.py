"""Atomic file writes: write a temp file beside the target, fsync, rename."""
from __future__ import annotations

import contextlib
import gzip
import io
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator

from .errors import UserError


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temp file for writing; on success it replaces `path`, on failure it is removed.

    A `.gz` suffix writes gzip. The old file (if any) stays intact until the rename.
    """
    path = Path(path)
    binary = "b" in mode
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise UserError(f"{path}: cannot write here ({exc.strerror or exc})") from None
    raw = os.fdopen(fd, "wb")
    try:
        stream: IO = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) if path.suffix == ".gz" else raw
        out = stream if binary else io.TextIOWrapper(stream, encoding=encoding, newline="")
        yield out
        out.flush()
        if not binary:
            out.detach()
        if stream is not raw:
            stream.close()
        raw.flush()
        os.fsync(raw.fileno())
        raw.close()
        os.replace(tmp, path)
    except BaseException:
        raw.close()
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def open_text(path: str | os.PathLike) -> IO[str]:
    """Open a text file for reading, transparently gunzipping `.gz`."""
    path = Path(path)
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")
