"""The same seed gives the same results:
a small demo run twice (other hash seeds) writes identical files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEMO = [
    *("--threads", "1", "demo", "--playlists", "1200", "--per-category", "4"),
    *("--models", "popularity", "knn", "dae", "cnn", "blend", "mmcf"),
]


def test_two_runs_of_a_small_pipeline_are_identical(tmp_path):
    """Hash randomisation differs between the runs;
    thread count is fixed (torch's reductions depend on it)."""
    runs = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        command = [sys.executable, "-m", "mmcf.submission.cli", *DEMO]
        runs.append(
            subprocess.Popen(
                command + ["--workdir", str(tmp_path / hash_seed)],
                cwd=REPO,
                env=env,
                text=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        )
    for process in runs:
        assert process.wait(timeout=600) == 0, process.stderr.read()[-3000:]
        process.stderr.close()
    first, second = tmp_path / "1", tmp_path / "2"
    assert (first / "report.json").read_bytes() == (second / "report.json").read_bytes()
    submissions = sorted(p.name for p in (first / "submissions").iterdir())
    kinds = ("blend", "cnn", "dae", "knn", "mmcf", "popularity")  # those asked for
    assert submissions == [f"{kind}.csv.gz" for kind in kinds]
    for name in submissions:
        assert (first / "submissions" / name).read_bytes() == (
            second / "submissions" / name
        ).read_bytes(), name
