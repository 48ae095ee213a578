"""Long steps killed with SIGKILL resume (or restart) cleanly: the rerun's result equals an
uninterrupted run.

The killed runs are real `mmcf` processes with one method slowed down (THROTTLED below), so the kill
lands at a known point without making the test slow or flaky.
"""

from __future__ import annotations

import filecmp
import gzip
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest

from conftest import make_playlists, submit_argv, train_argv, write_mpd
from mmcf.mpd.split import split_mpd
from mmcf.submission.cli import main
from mmcf.submission.pipeline.training import train

REPO = Path(__file__).resolve().parents[1]
SUBMIT = ("--team", "t", "--email", "a@b.c")

# python -c THROTTLED MODULE OWNER NAME SECONDS -- ARGV: `mmcf ARGV` with OWNER.NAME (OWNER "-": the
# module's own function) sleeping SECONDS before each call. MODULE is a full name (mmcf.mpd.split):
# the bare one (mpd.split) imports a second copy from the checkout and slows nothing.
THROTTLED = """
import importlib, sys, time
module, owner, method, seconds = sys.argv[1:5]
module = importlib.import_module(module)
cls = module if owner == "-" else getattr(module, owner)
slow = getattr(cls, method)
def throttled(*args, **kwargs):
    time.sleep(float(seconds))
    return slow(*args, **kwargs)
setattr(cls, method, throttled)
from mmcf.submission.cli import main
sys.exit(main(sys.argv[6:]))
"""


def kill_when(
    argv: list, slow: tuple[str, str, str, float], ready: Callable[[], bool], timeout: float = 90
) -> None:
    """`mmcf ARGV` with `slow` = (module, class, method, seconds) throttled; SIGKILL at ready()."""
    module, owner, method, seconds = slow
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            THROTTLED,
            module,
            owner,
            method,
            str(seconds),
            "--",
            *map(str, argv),
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            assert process.poll() is None, (
                f"finished before the kill: {process.stderr.read().decode()[-2000:]}"
            )
            assert time.monotonic() < deadline, "timed out waiting for the point to kill at"
            time.sleep(0.02)
    finally:
        process.kill()  # SIGKILL
        process.wait(timeout=30)
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL


def run(capsys, *argv) -> int:
    code = main([str(a) for a in argv])
    _, err = capsys.readouterr()
    assert "Traceback" not in err and code == 0, err
    return code


def lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def text(path: Path) -> str:
    return gzip.decompress(path.read_bytes()).decode() if path.suffix == ".gz" else path.read_text()


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("resume")
    mpd = write_mpd(root / "mpd", make_playlists(400), per_slice=100)
    paths = split_mpd(mpd, root / "split", per_category=3, seed=0)
    train(paths["train"], root / "models", "knn")
    return {
        "root": root,
        "mpd": mpd,
        "train": paths["train"],
        "challenge": paths["challenge"],
        "models": root / "models",
    }


@pytest.fixture(scope="module")
def reference_submission(work) -> Path:
    """An uninterrupted knn submission."""
    from mmcf.submission.submit import make_submission

    return make_submission(
        work["models"], work["challenge"], work["root"] / "reference.csv.gz", "t", "a@b.c", "knn"
    )


# ---------------------------------------------------------------- mmcf submit


def test_submit_killed_after_a_batch_resumes(work, reference_submission, tmp_path, capsys, caplog):
    out = tmp_path / "sub.csv.gz"
    partial = tmp_path / "sub.csv.gz.partial"
    argv = [
        *submit_argv(work["models"], work["challenge"], out, "knn"),
        "--batch-size",
        5,
        *SUBMIT,
    ]
    kill_when(
        argv, ("mmcf.models.base", "Recommender", "recommend", 0.4), lambda: lines(partial) >= 6
    )
    assert not out.exists()
    answered = lines(partial) - 1
    assert 5 <= answered < 30, answered
    with open(partial, "ab") as f:  # and a line torn by a kill in the middle of a write
        f.write(b'{"pid": 123456, "uris": ["spotify:track:')
    caplog.set_level(logging.INFO, logger="mmcf.submission.submit")
    run(capsys, *argv)
    assert f"resuming: {answered} of 30 playlists already answered" in caplog.text
    assert text(out) == text(reference_submission)
    assert not partial.exists()
    run(capsys, "verify", out, "--challenge", work["challenge"])


@pytest.mark.parametrize("header", [b'{"settings": {"kind": "popularity"}}\n', b"not json\n", b""])
def test_submit_restarts_over_a_partial_of_other_settings(
    work, reference_submission, tmp_path, capsys, header
):
    out = tmp_path / "sub.csv.gz"
    partial = tmp_path / "sub.csv.gz.partial"
    pid = int(text(reference_submission).splitlines()[1].split(",")[0])
    partial.write_bytes(
        header + b'{"pid": %d, "uris": ["spotify:track:0000000000000000000000"]}\n' % pid
    )
    run(
        capsys,
        *submit_argv(work["models"], work["challenge"], out, "knn"),
        *SUBMIT,
    )
    assert text(out) == text(reference_submission) and not partial.exists()


# ------------------------------------------------------------ mmcf split (resumes slice by slice)


def test_split_killed_midway_resumes(work, tmp_path, capsys):
    reference = tmp_path / "reference"
    split_mpd(work["mpd"], reference, per_category=3, seed=0)
    out = tmp_path / "split"
    first = out / "train" / "mpd.slice.0-99.json"
    kill_when(
        ["split", "--mpd", work["mpd"], "--out", out, "--per-category", 3, "--seed", 0],
        ("mmcf.mpd.split", "-", "read_slice_fast", 0.3),
        lambda: first.exists(),
    )
    assert not (out / "challenge_set.json").exists()
    run(capsys, "split", "--mpd", work["mpd"], "--out", out, "--per-category", 3, "--seed", 0)
    compare = filecmp.dircmp(reference, out)
    assert not compare.diff_files and not compare.left_only and not compare.right_only
    names = os.listdir(reference / "train")
    _, mismatch, errors = filecmp.cmpfiles(reference / "train", out / "train", names, shallow=False)
    assert len(names) == 4 and not mismatch and not errors
    assert not [p for p in out.rglob(".*.tmp")]


# ---------------------------------------------------------------- mmcf train


def test_train_killed_midway_restarts(work, tmp_path, capsys):
    """kNN has no checkpoints: a rerun after a kill (vocabulary written) trains from the start."""
    models = tmp_path / "models"
    argv = ["train", "--mpd", work["train"], "--model-dir", models, "--model", "knn"]
    kill_when(
        argv, ("mmcf.models.knn", "ItemKNN", "fit", 30), lambda: (models / "source.json").exists()
    )
    assert not (models / "knn").exists()
    run(capsys, *argv)
    assert filecmp.cmp(
        models / "knn" / "similarity.npz", work["models"] / "knn" / "similarity.npz", shallow=False
    )
    assert filecmp.cmp(models / "vocab.json.gz", work["models"] / "vocab.json.gz", shallow=False)


def _dae_resume_missing() -> str | None:
    try:
        from mmcf.models.dae import DAE
    except Exception as exc:  # noqa: BLE001 - any import problem means "not in place yet"
        return f"mmcf.models.dae is not importable ({type(exc).__name__}: {exc})"
    missing = [name for name in ("config_class", "resumable") if not getattr(DAE, name, None)]
    if missing:
        return (
            f"mmcf.models.dae.DAE lacks {' and '.join(missing)}: without them "
            "`mmcf train --model dae` refuses --set and never passes checkpoint_dir/resume "
            "to DAE.fit"
        )
    return None


DAE_SETTINGS = [
    "--set",
    "configs=5",
    "--set",
    "epochs=3",
    "--set",
    "tied_epochs=1",
    "--set",
    "hidden=16",
    "--set",
    "batch_size=100",
    "--set",
    "patience=5",
    "--val-per-category",
    "2",
]


@pytest.mark.skipif(bool(_dae_resume_missing()), reason=_dae_resume_missing() or "")
def test_dae_training_killed_after_an_epoch_resumes(tmp_path, capsys, caplog):
    import torch

    from mmcf.models.dae import DAE
    from mmcf.models.store import load_vocab

    mpd = write_mpd(tmp_path / "mpd", make_playlists(200), per_slice=100)
    reference, models = tmp_path / "reference", tmp_path / "models"
    run(capsys, "train", "--mpd", mpd, "--model-dir", reference, "--model", "dae", *DAE_SETTINGS)
    argv = [
        *train_argv(mpd, models, "dae"),
        "--resume",
        *DAE_SETTINGS,
    ]
    checkpoint = models / "dae" / "checkpoints" / "dae-5.ckpt.pt"
    kill_when(argv, ("mmcf.models.dae.training", "DAETraining", "epoch", 1.0), checkpoint.exists)
    assert not (models / "dae" / "manifest.json").exists()
    caplog.set_level(logging.INFO, logger="mmcf.models.training.trainer")
    run(capsys, *argv)
    assert "resuming after epoch 1" in caplog.text
    assert not checkpoint.parent.exists()  # the saved model is what they were for
    ours, theirs = (DAE.load(d / "dae", load_vocab(d)) for d in (models, reference))
    assert ours.history == theirs.history
    for name, tensor in theirs.nets["5"].tensors().items():
        assert torch.allclose(ours.nets["5"].tensors()[name], tensor, atol=1e-6), name
