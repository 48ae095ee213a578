"""The HTML evaluation report: one inline SVG per metric with one bar per model × category carrying
the evaluated value, R-precision by seed count, the first-hit histogram; self-contained (no scripts,
no links)."""

from __future__ import annotations

import math
import random
from html.parser import HTMLParser

import pytest

from mmcf.mpd.challenge import CATEGORIES
from mmcf.mpd.metrics import METRICS, Answer, score_all, summarize
from mmcf.submission.report_html import html_report


class Charts(HTMLParser):
    """Bars of every <svg data-chart=…>: chart id → [(series, group, value)]."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: dict[str, list[tuple[str, str, float]]] = {}
        self.current: str | None = None
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.add(tag)
        if tag == "svg":
            self.current = attrs["data-chart"]
            self.charts[self.current] = []
        elif tag == "rect" and attrs.get("class") == "bar":
            self.charts[self.current].append(
                (attrs["data-series"], attrs["data-group"], float(attrs["data-value"]))
            )


@pytest.fixture(scope="module")
def scores():
    """Two models over 5 playlists per category:
    'good' finds early hits, 'poor' late ones, or none (1 in 4)."""
    rng = random.Random(0)
    answers = {
        pid: Answer(c.number, [f"t{pid}-{k}" for k in range(10)], ["a"])
        for pid, c in enumerate(c for c in CATEGORIES for _ in range(5))
    }
    good = {
        pid: [f"x{k}" for k in range(rng.randint(0, 30))] + a.tracks for pid, a in answers.items()
    }
    poor = {
        pid: [f"x{k}" for k in range(rng.randint(0, 400))] + a.tracks[: pid % 4 and 1]
        for pid, a in answers.items()
    }
    return {"good": score_all(good, answers, {}), "poor": score_all(poor, answers, {})}


def test_one_chart_per_metric_with_a_bar_per_model_and_category(scores):
    parser = Charts()
    parser.feed(html_report(scores, "50 held-out playlists"))
    groups = ["all"] + [f"cat {c.number}" for c in CATEGORIES]
    for metric in METRICS:
        bars = parser.charts[metric]
        assert [(s, g) for s, g, _ in bars] == [(s, g) for g in groups for s in ("good", "poor")]
        for name, group, value in bars:
            key = "all" if group == "all" else int(group.split()[1])
            assert value == pytest.approx(summarize(scores[name]).loc[key, metric])
    assert parser.tags.isdisjoint({"script", "link", "img", "iframe"})


def test_r_precision_by_seeds_and_first_hit_histogram(scores):
    parser = Charts()
    parser.feed(html_report(scores, ""))
    seeds = parser.charts["r_precision_by_seeds"]
    assert sorted({g for _, g, _ in seeds}, key=lambda g: int(g.split()[0])) == [
        "0 seeds",
        "1 seed",
        "5 seeds",
        "10 seeds",
        "25 seeds",
        "100 seeds",
    ]
    good = scores["good"]
    cat9_10 = good.loc[good["category"].isin([9, 10]), "r_precision"].mean()
    assert dict(((s, g), v) for s, g, v in seeds)[("good", "100 seeds")] == pytest.approx(cat9_10)
    hist = parser.charts["first_hit"]
    for model in ("good", "poor"):
        shares = [v for s, _, v in hist if s == model]
        assert len(shares) == 9 and sum(shares) == pytest.approx(100)
    by_bin = {(s, g): v for s, g, v in hist}
    assert by_bin[("good", "no hit")] == 0 and by_bin[("poor", "no hit")] == pytest.approx(
        100 * 13 / 50
    )
    assert not math.isnan(by_bin[("good", "1")])
