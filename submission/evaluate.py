"""Score submissions against held-out answers and print the challenge's metrics per category."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
import ujson

from mmcf.mpd.atomic import atomic_write, open_text
from mmcf.mpd.cache import track_artists
from mmcf.mpd.challenge import read_challenge
from mmcf.mpd.errors import DataError, UserError
from mmcf.mpd.metrics import METRICS, NDCG_FORMS, Answer, coverage, score_all, summarize
from mmcf.mpd.split import read_answers
from mmcf.mpd.vocab import VocabConfig, track_cutoff

from .verify import format_problems, verify_submission

log = logging.getLogger(__name__)

LABELS = {"r_precision": "R-prec", "ndcg": "NDCG", "ndcg_g": "NDCG/|G|", "clicks": "clicks"}


def recommendation_rows(path: str | Path) -> Iterator[tuple[int, list[str]]]:
    """(pid, URIs) of each row of a submission CSV (.csv or .csv.gz), one at a time."""
    try:
        with open_text(path) as f:
            for line in f:
                line = line.strip()
                if not line or line.startswith("#") or line.startswith("team_info"):
                    continue
                head, *uris = [part.strip() for part in line.split(",")]
                yield int(head), uris
    except FileNotFoundError:
        raise DataError(path, "no such file") from None
    except (ValueError, OSError, EOFError, UnicodeDecodeError) as exc:
        raise DataError(
            path, f"not a readable submission ({exc}); run `mmcf verify` on it"
        ) from None


def category_table(summary: pd.DataFrame, metrics: Sequence[str] = METRICS) -> pd.DataFrame:
    """One model: rows = overall and categories, columns = metrics."""
    table = summary[[*metrics, "playlists"]].rename(columns=LABELS)
    table.index = ["all" if i == "all" else f"cat {i}" for i in table.index]
    return table


def compare_table(summaries: Mapping[str, pd.DataFrame], metric: str | None = None) -> pd.DataFrame:
    """Several models: rows = models; columns = metric × (all, categories)."""
    columns = {}
    for name, summary in summaries.items():
        row = {}
        for m in [metric] if metric else METRICS:
            for key, value in summary[m].items():
                row[(LABELS[m], "all" if key == "all" else str(key))] = value
        columns[name] = row
    return pd.DataFrame(columns).T


def vocabulary_coverage(
    answers: Mapping[int, Answer], counts: Mapping[str, int], min_count: int
) -> float:
    """Share of held-out track occurrences seen in ≥ min_count training playlists."""
    return coverage(answers, {u for u, c in counts.items() if c >= min_count})


def render(table: pd.DataFrame, fmt: str = "text") -> str:
    table = table.copy()
    if isinstance(table.columns, pd.MultiIndex):
        table.columns = [f"{m} {c}" for m, c in table.columns]
    if fmt == "markdown":
        return _markdown(table)
    return table.to_string(float_format=lambda v: f"{v:.4f}")


def _markdown(table: pd.DataFrame) -> str:
    head = "| | " + " | ".join(map(str, table.columns)) + " |"
    rule = "|---" * (len(table.columns) + 1) + "|"
    rows = [
        "| " + str(i) + " | " + " | ".join(_cell(v) for v in r) + " |" for i, r in table.iterrows()
    ]
    return "\n".join([head, rule, *rows])


def _cell(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def evaluate_submissions(
    paths: Sequence[str | Path],
    answers_path: str | Path,
    mpd_dir: str | Path,
    json_path: str | Path | None = None,
    markdown_path: str | Path | None = None,
    min_track_count: int | None = None,
    challenge: str | Path | None = None,
    verify: bool = True,
    ndcg: str = "rules",
    html_path: str | Path | None = None,
) -> str:
    """Score each submission;
    one submission gives a per-category table, several a model-by-model one.

    Each submission is first checked by the verifier against the challenge set (`challenge`, by
    default challenge_set.json beside the answers) and refused if invalid, unless `verify` is False.
    `ndcg` picks the NDCG shown ("rules": the rules text, "g": normalised by |G| as the
    leaderboard); the JSON has both. `html_path`: also a self-contained HTML report with charts.
    """
    answers = read_answers(answers_path)
    if verify:
        check_submissions(paths, challenge or Path(answers_path).with_name("challenge_set.json"))
    else:
        log.warning(
            "scoring without verification: an invalid submission can score higher than it should"
        )
    shown = ("r_precision", NDCG_FORMS[ndcg], "clicks")
    artist_of, counts = track_artists(mpd_dir)
    scores = {
        Path(p).name.split(".")[0]: score_all(recommendation_rows(p), answers, artist_of)
        for p in paths
    }
    summaries = {name: summarize(s) for name, s in scores.items()}
    if min_track_count is None:  # the data-size rule of `mmcf train`'s vocabulary
        min_track_count = track_cutoff(np.fromiter(counts.values(), np.int64), VocabConfig())
    share = vocabulary_coverage(answers, counts, min_track_count)
    tables = (
        {LABELS[m]: compare_table(summaries, m) for m in shown}
        if len(summaries) > 1
        else {name: category_table(s, shown) for name, s in summaries.items()}
    )
    note = (
        f"{len(answers)} held-out playlists; {share:.1%} of held-out tracks occur in "
        f"≥ {min_track_count} training playlists (the most any vocabulary-based model can reach)"
    )
    text = "\n\n".join(f"{title}\n{render(t)}" for title, t in tables.items()) + "\n\n" + note
    if markdown_path:
        with atomic_write(markdown_path) as f:
            f.write(
                "\n\n".join(
                    f"**{title}**\n\n{render(t, 'markdown')}" for title, t in tables.items()
                )
                + f"\n\n{note}\n"
            )
    if json_path:
        with atomic_write(json_path) as f:
            ujson.dump(
                {
                    "coverage": share,
                    "min_track_count": min_track_count,
                    "models": {n: _summary_json(s) for n, s in summaries.items()},
                },
                f,
                indent=2,
            )
    if html_path:
        from .report_html import write_html_report

        write_html_report(html_path, scores, note)
    return text


def check_submissions(paths: Sequence[str | Path], challenge: str | Path) -> None:
    """Refuse (UserError with the verifier's report) any submission the verifier rejects."""
    if not Path(challenge).exists():
        raise UserError(
            f"{challenge}: no challenge set to verify the submissions against; give --challenge, "
            "or --no-verify to score them unverified"
        )
    queries = read_challenge(challenge)
    for path in paths:
        problems = verify_submission(path, queries)
        if problems:
            raise UserError(
                f"{path}: INVALID, not scored (--no-verify scores it anyway):\n"
                f"{format_problems(problems)}"
            )


def _summary_json(summary: pd.DataFrame) -> dict:
    return {str(k): {m: float(v) for m, v in row.items()} for k, row in summary.iterrows()}
