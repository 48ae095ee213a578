"""The evaluation report as one self-contained HTML file
(inline SVG charts, no scripts, opens from disk).

Charts, every model side by side: each metric per challenge category (and overall), R-precision by
the number of seed tracks (the categories' 0, 1, 5, 10, 25, 100), and where the first held-out track
appears in the ranking. Each chart has its numbers in a table below it.
"""

from __future__ import annotations

import math
from html import escape
from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd

from mmcf.mpd.atomic import atomic_write
from mmcf.mpd.challenge import CATEGORIES
from mmcf.mpd.metrics import METRICS, summarize

from .svg_chart import bar_chart

TITLES = {
    "r_precision": "R-precision (higher is better)",
    "ndcg": "NDCG, rules text (higher is better)",
    "ndcg_g": "NDCG normalised by |G|, the leaderboard's form (higher is better)",
    "clicks": "Clicks: pages of 10 before the first hit (lower is better)",
}
RANK_BINS = ((1, 1), (2, 5), (6, 10), (11, 20), (21, 50), (51, 100), (101, 200), (201, 500))
STYLE = """body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 62em; \
padding: 0 1em; color: #222; }
svg.chart { max-width: 100%; height: auto; display: block; margin: .5em 0; }
svg .grid { stroke: #e4e4e4; } h2 { font-size: 1.15em; margin: 1.6em 0 .2em; }
svg .tick, svg .label, svg .legend { font-size: 12px; fill: #444; }
table { border-collapse: collapse; font-size: 12.5px; margin-bottom: 2.5em; }
th, td { padding: .2em .55em; border-bottom: 1px solid #eee; text-align: right; \
font-variant-numeric: tabular-nums; }
th:first-child, td:first-child { text-align: left; } .note { color: #555; }"""


def category_names() -> str:
    """'cat 1: title, 0 seeds; cat 2: title, first 1; …' — what each category shows a model."""
    return "; ".join(
        f"cat {c.number}: {'title' if c.title else 'no title'}, "
        f"{c.seeds if c.seeds <= 1 else ('first ' if c.in_order else 'random ') + str(c.seeds)}"
        " seed"
        f"{'' if c.seeds == 1 else 's'}"
        for c in CATEGORIES
    )


def metric_charts(summaries: Mapping[str, pd.DataFrame]) -> list[tuple[str, str, list[str], dict]]:
    """(chart id, title, groups, model → values) of each metric over 'all' and the categories."""
    keys = list(next(iter(summaries.values())).index)
    groups = ["all" if k == "all" else f"cat {k}" for k in keys]
    return [
        (
            m,
            TITLES.get(m, m),
            groups,
            {name: [float(s.loc[k, m]) for k in keys] for name, s in summaries.items()},
        )
        for m in METRICS
    ]


def seeds_chart(scores: Mapping[str, pd.DataFrame]) -> tuple[str, str, list[str], dict]:
    """Mean R-precision per number of seed tracks (categories with the same count pooled)."""
    seeds_of = {c.number: c.seeds for c in CATEGORIES}
    counts = sorted({seeds_of[c] for s in scores.values() for c in s["category"].unique()})
    series = {
        name: [float(s.loc[s["category"].map(seeds_of) == k, "r_precision"].mean()) for k in counts]
        for name, s in scores.items()
    }
    groups = [f"{k} seed{'' if k == 1 else 's'}" for k in counts]
    return (
        "r_precision_by_seeds",
        "R-precision by number of seed tracks (higher is better)",
        groups,
        series,
    )


def first_hit_chart(scores: Mapping[str, pd.DataFrame]) -> tuple[str, str, list[str], dict]:
    """Share of playlists (%) whose first hit falls
    in each rank range, and with no hit in the 500."""
    groups = [f"{lo}" if lo == hi else f"{lo}–{hi}" for lo, hi in RANK_BINS] + ["no hit"]
    series = {}
    for name, s in scores.items():
        rank = s["first_hit"] + 1
        shares = [((rank >= lo) & (rank <= hi)).mean() for lo, hi in RANK_BINS] + [
            rank.isna().mean()
        ]
        series[name] = [100 * float(v) for v in shares]
    return (
        "first_hit",
        "Rank of the first hit in the 500 recommended: % of playlists",
        groups,
        series,
    )


def numbers_table(groups: Sequence[str], series: Mapping[str, Sequence[float]], fmt) -> str:
    head = "".join(f"<th>{escape(g)}</th>" for g in groups)
    rows = "".join(
        f"<tr><td>{escape(name)}</td>"
        + "".join(f"<td>{'' if math.isnan(v) else fmt(v)}</td>" for v in values)
        + "</tr>"
        for name, values in series.items()
    )
    return f"<table><tr><th></th>{head}</tr>{rows}</table>"


def html_report(scores: Mapping[str, pd.DataFrame], note: str) -> str:
    """The page for per-playlist scores (mpd.metrics.score_all) of each model."""
    summaries = {name: summarize(s) for name, s in scores.items()}
    plain, percent = ("{:.4f}".format, "{:g}".format), ("{:.1f}%".format, "{:g}%".format)
    charts = [(*chart, *plain) for chart in metric_charts(summaries)]
    charts += [(*seeds_chart(scores), *plain), (*first_hit_chart(scores), *percent)]
    body = [
        f"<h1>Evaluation: {escape(', '.join(scores))}</h1>",
        f"<p class='note'>{escape(note)}</p>",
        f"<p class='note'>{escape(category_names())}.</p>",
    ]
    for chart_id, title, groups, series, fmt, tick_fmt in charts:
        body += [
            f"<h2>{escape(title)}</h2>",
            bar_chart(chart_id, title, groups, series, fmt, tick_fmt),
            numbers_table(groups, series, fmt),
        ]
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<title>mmcf evaluation</title>"
        f"<style>{STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def write_html_report(path: str | Path, scores: Mapping[str, pd.DataFrame], note: str) -> None:
    with atomic_write(path) as f:
        f.write(html_report(scores, note))
