"""The one exception family for user mistakes: the CLI prints it as one line, no traceback."""

from __future__ import annotations


class UserError(Exception):
    """Bad input or a bad request; the message names the file (and pid or line) at fault."""


class DataError(UserError):
    """A data file (MPD slice, challenge set, answers, submission) is malformed."""

    def __init__(self, path: object, problem: str, pid: object = None, line: int | None = None):
        where = str(path)
        if line is not None:
            where += f", line {line}"
        if pid is not None:
            where += f", pid {pid}"
        super().__init__(f"{where}: {problem}")
        self.path, self.problem, self.pid, self.line = path, problem, pid, line

    def __reduce__(self) -> tuple:
        """Pickle by the constructor's arguments: the error crosses from a reader process intact."""
        return (type(self), (self.path, self.problem, self.pid, self.line))


def quoted(value: object, limit: int = 40) -> str:
    """A value for an error message: quoted, cut to `limit` characters (ellipsis, quotes closed)."""
    if isinstance(value, str):
        return repr(value if len(value) <= limit else value[:limit] + "…")
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"
