"""Write a challenge submission CSV (`.csv` or `.csv.gz`),
atomically, refusing anything the rules forbid."""

from __future__ import annotations

import logging
import numbers
import os
import re
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from mmcf.mpd.atomic import atomic_write
from mmcf.mpd.errors import UserError, quoted

log = logging.getLogger(__name__)

N_TRACKS = 500  # recommendations per playlist, exactly
TRACKS = (
    "main",
    "creative",
)  # the challenge's two tracks (competitions), named in the team_info line
URI = r"spotify:track:[0-9A-Za-z]{22}"
_ROW = re.compile(rf"{URI}(?:, {URI}){{{N_TRACKS - 1}}}")  # exactly N_TRACKS URIs joined by ", "

Recommendations = Mapping[int, Sequence[str]] | Iterable[tuple[int, Sequence[str]]]


def team_info_line(team: str, email: str, track: str = "main") -> str:
    """The first line of a submission: `team_info,<team>,<track>,<email>`."""
    if track not in TRACKS:
        raise UserError(f"track must be one of {', '.join(TRACKS)}, not {track!r}")
    for what, value in (("team name", team), ("email", email)):
        if not isinstance(value, str) or not value.strip():
            raise UserError(f"the {what} is empty")
        if any(c in value for c in ",\r\n"):
            raise UserError(
                f"the {what} {value!r} contains a comma or a line break, which the CSV cannot hold"
            )
    if "@" not in email:
        raise UserError(f"the email {email!r} has no '@'")
    return f"team_info,{team.strip()},{track},{email.strip()}"


def submission_row(pid: int, uris: Sequence[str]) -> str:
    """One CSV line `<pid>, <uri 1>, …, <uri 500>` (no newline);
    UserError naming the pid if the row breaks a rule."""
    if not isinstance(pid, numbers.Integral) or isinstance(pid, bool) or pid < 0:
        raise UserError(f"pid {pid!r} is not a non-negative integer")
    uris = list(uris)
    if len(uris) != N_TRACKS:
        raise UserError(f"pid {pid}: {len(uris)} tracks, a submission needs exactly {N_TRACKS}")
    if len(set(uris)) != N_TRACKS:
        repeated = next(u for i, u in enumerate(uris) if u in uris[:i])
        raise UserError(f"pid {pid}: track {repeated} is recommended more than once")
    if not all(isinstance(u, str) for u in uris) or not _ROW.fullmatch(line := ", ".join(uris)):
        bad = next(u for u in uris if not (isinstance(u, str) and re.fullmatch(URI, u)))
        raise UserError(
            f"pid {pid}: malformed track URI {quoted(bad, 60)} "
            "(expected spotify:track:<22 base-62>)"
        )
    return f"{int(pid)}, {line}"


def write_submission(
    path: str | os.PathLike,
    recommendations: Recommendations,
    team: str,
    email: str,
    track: str = "main",
) -> Path:
    """Write the submission CSV for `recommendations`
    (pid → 500 URIs, or (pid, URIs) pairs) atomically.

    A `.gz` suffix gzips it. Raises UserError (and leaves any previous file at `path` untouched) if
    a row has other than 500 distinct well-formed URIs, a pid repeats, or the team name / email
    cannot go in a CSV. Whether every challenge pid is present and no seed is recommended is
    `verify_submission`'s job.
    """
    path = Path(path)
    header = team_info_line(team, email, track)
    rows = recommendations.items() if isinstance(recommendations, Mapping) else recommendations
    seen: set[int] = set()
    with atomic_write(path) as out:
        out.write(header + "\n")
        for pid, uris in rows:
            line = submission_row(pid, uris)
            if pid in seen:
                raise UserError(f"pid {pid} appears twice in the recommendations")
            seen.add(pid)
            out.write(line + "\n")
        if not seen:
            raise UserError(f"{path}: no recommendations to write")
    log.info("wrote %d playlists to %s", len(seen), path)
    return path
