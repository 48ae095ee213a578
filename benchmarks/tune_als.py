"""implicit ALS tuned as a user would, at any scale: the grid of benchmarks/second_stage.py
(factors × regularisation), each setting fit on a model directory's training playlists and scored on
its validation playlists (never on a split's answers); the best is saved for `mmcf submit`.

    python benchmarks/tune_als.py MPD MODEL_DIR OUT_DIR [--out benchmarks/results/tune_als.json]

MODEL_DIR: made by `mmcf train --mpd MPD`; its vocabulary and validation carve are reused, and the
ALS trained there (if any) is scored instead of refit when its settings are a grid point. OUT_DIR
gets the same vocabulary and carve and the best ALS as OUT_DIR/als, so
`mmcf submit --model-dir OUT_DIR --model als` submits it; MODEL_DIR is not changed (its ALS is a
member of the default model). Prints the grid and writes it as JSON with the fit times.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import shutil
from pathlib import Path

import ujson
from second_stage import als_grid, grid_search

from mmcf.models.als import ALS
from mmcf.mpd.atomic import atomic_write
from mmcf.submission.pipeline.data import SOURCE_FILE, VALIDATION_DIR, prepare_data
from mmcf.submission.pipeline.loading import load_model, trained_kinds
from mmcf.models.store import vocab_path

log = logging.getLogger("benchmarks.tune_als")


def trained_als(model_dir: Path, vocab) -> ALS | None:
    return load_model(model_dir, "als", vocab) if "als" in trained_kinds(model_dir) else None


def copy_data(model_dir: Path, out_dir: Path) -> None:
    """OUT_DIR shares MODEL_DIR's vocabulary, validation carve and source record."""
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(vocab_path(model_dir), vocab_path(out_dir))
    shutil.copytree(model_dir / VALIDATION_DIR, out_dir / VALIDATION_DIR, dirs_exist_ok=True)
    shutil.copy2(model_dir / SOURCE_FILE, out_dir / SOURCE_FILE)  # last: marks the data complete


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mpd", type=Path, help="the training MPD directory of MODEL_DIR")
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/tune_als.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.out_dir.resolve() == args.model_dir.resolve():
        parser.error("OUT_DIR must differ from MODEL_DIR (whose ALS the default model uses)")

    data = prepare_data(args.mpd, args.model_dir)
    candidates, already = als_grid(), trained_als(args.model_dir, data.vocab)
    fitted = [
        n for n, m in candidates.items() if already is not None and m.config == already.config
    ]
    candidates.update((name, already) for name in fitted)  # trained by `mmcf train`: not refit
    found = grid_search(data, candidates, fitted)
    best = candidates[max(found, key=lambda name: found[name][0])]
    rows = [
        {
            **dataclasses.asdict(candidates[name].config),
            "validation_r_precision": round(score, 4),
            "fit_seconds": seconds,
        }
        for name, (score, seconds) in found.items()
    ]
    copy_data(args.model_dir, args.out_dir)
    best.save(args.out_dir / "als")
    result = {
        "training_playlists": len(data.corpus),
        "validation_playlists": len(data.validation.queries),
        "tracks_in_vocabulary": data.vocab.n_tracks,
        "chosen": dataclasses.asdict(best.config),
        "grid": rows,
    }
    print(f"{'factors':>8s} {'reg':>6s} {'val R-prec':>10s} {'fit s':>8s}")
    for row in rows:
        print(
            f"{row['factors']:8d} {row['regularization']:6g} {row['validation_r_precision']:10.4f} "
            f"{row['fit_seconds'] or '-':>8}"
        )
    with atomic_write(args.out) as f:
        ujson.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
