"""The default model (the second stage) against its members, the plain MMCF blend and tuned peers.

One held-out split, real or synthetic (a directory made by `mmcf split`: train/,
challenge_set.json, answers.json). In one run:
  1. `mmcf train`'s default into MODEL_DIR (whatever is trained there already is reused), and the
     plain MMCF blend beside it;
  2. the peers a user would tune: implicit ALS (factors × regularisation) and item-kNN (neighbours),
     each chosen on MODEL_DIR's validation playlists (never on the split's answers);
  3. the exact-title lookup: the tracks of training playlists with the same normalised title;
  4. ablations: the second stage refit without each member, and without each feature group;
  5. the candidate recall at K of the default on the validation playlists.
Everything is scored on the split's challenge set; the table is printed and written as JSON (only
these aggregate figures: nothing of the data itself).

    python benchmarks/second_stage.py SPLIT MODEL_DIR --name real \
        [--out benchmarks/results/second_stage_real.json] [--no-ablations]
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import time
from pathlib import Path
from typing import Collection

import numpy as np
import ujson

from mmcf.ensemble.ranker import Ranker
from mmcf.models.als import ALS, ALSConfig
from mmcf.models.knn import ItemKNN, KNNConfig
from mmcf.models.title_lookup import TitleLookup, TitleLookupConfig
from mmcf.models.validation import r_precision, validate
from mmcf.mpd.atomic import atomic_write
from mmcf.mpd.challenge import read_challenge
from mmcf.ensemble.features import GROUPS
from mmcf.mpd.split import read_answers
from mmcf.submission.pipeline.data import prepare_data
from mmcf.submission.pipeline.kinds import DEFAULT_KIND
from mmcf.submission.pipeline.loading import load_model, trained_kinds
from mmcf.submission.pipeline.training import train, training_order

log = logging.getLogger("benchmarks.second_stage")
ALS_GRID = [(f, r) for f in (128, 256) for r in (0.05, 0.5)]
KNN_GRID = (200, 1000)


def train_default(split: Path, model_dir: Path) -> dict[str, float]:
    """`mmcf train` with no flags, then the plain blend; seconds per model trained now."""
    seconds = {}
    done = trained_kinds(model_dir) if model_dir.is_dir() else []
    for kind in training_order([k for k in (DEFAULT_KIND, "blend") if k not in done], done):
        started = time.perf_counter()
        train(split / "train", model_dir, kind)
        seconds[kind] = round(time.perf_counter() - started, 1)
    return seconds


def validation_r_precision(model, data) -> float:
    """The model's R-precision on the model directory's validation playlists."""
    validation = data.validation
    return r_precision(
        model.score, validation.queries, validation.answers, data.vocab, batch_size=256
    )


def grid_search(
    data, candidates: dict[str, object], fitted: Collection[str] = ()
) -> dict[str, tuple[float, float | None]]:
    """Fit each candidate setting (but those `fitted` already) and score it on the validation
    playlists: name → (validation R-precision, fit seconds or None)."""
    found = {}
    for name, model in candidates.items():
        started, seconds = time.perf_counter(), None
        if name not in fitted:
            model.fit(data.corpus, data.vocab)
            seconds = round(time.perf_counter() - started, 1)
        found[name] = validation_r_precision(model, data), seconds
        log.info("%s: validation R-precision %.4f", name, found[name][0])
    return found


def tuned(data, candidates: dict[str, object]) -> tuple[str, object, dict[str, float]]:
    """Fit each candidate setting; keep the best on the validation playlists."""
    found = {name: score for name, (score, _) in grid_search(data, candidates).items()}
    best = max(found, key=found.get)
    return best, candidates[best], {k: round(v, 4) for k, v in found.items()}


def als_grid() -> dict[str, ALS]:
    """The ALS settings a user would try, unfitted, by name."""
    return {
        f"factors={f} reg={r}": ALS(ALSConfig(factors=f, regularization=r)) for f, r in ALS_GRID
    }


def peers(data) -> tuple[dict[str, object], dict]:
    """ALS and item-kNN tuned on validation, and the exact-title lookup."""
    als_name, als, als_grid_scores = tuned(data, als_grid())
    knn_name, knn, knn_grid = tuned(
        data, {f"neighbours={k}": ItemKNN(KNNConfig(neighbours=k)) for k in KNN_GRID}
    )
    exact = TitleLookup(TitleLookupConfig(prior=0.0, word_weight=0.0)).fit(data.corpus, data.vocab)
    models = {f"implicit ALS ({als_name})": als, f"item-kNN ({knn_name})": knn}
    models["exact-title lookup"] = exact
    return models, {"als": als_grid_scores, "knn": knn_grid}


def ablations(model_dir: Path, data, default: Ranker) -> dict[str, Ranker]:
    """The second stage refit without each member, and without each feature group."""
    members = {m: load_model(model_dir, m) for m in default.config.members}
    out = {}
    settings = {
        f"without {m}": {"members": tuple(x for x in default.config.members if x != m)}
        for m in default.config.members
    }
    settings.update({f"without {g} features": {"without": (g,)} for g in GROUPS})
    for name, change in settings.items():
        config = dataclasses.replace(default.config, **change)
        out[name] = Ranker(config).fit(
            data.corpus, data.vocab, members=members, validation=data.validation
        )
    return out


def candidate_recall(ranker: Ranker, data) -> float:
    """Share of the validation playlists' hidden tracks among the default's candidates."""
    queries, found, total = data.validation.queries, 0, 0
    for start in range(0, len(queries), ranker.config.batch):
        batch = queries[start : start + ranker.config.batch]
        part = ranker.candidates(batch)
        for row, query in enumerate(batch):
            hidden = data.validation.answers[query.pid].tracks
            mine = set(part.tracks[part.rows == row].tolist())
            found += sum(data.vocab.track_index.get(u, -1) in mine for u in hidden)
            total += len(hidden)
    return found / max(total, 1)


def scored(model, queries, answers) -> dict:
    started = time.perf_counter()
    summary = validate(model, queries, answers)
    row = {m: round(float(summary.loc["all", m]), 4) for m in ("r_precision", "ndcg", "clicks")}
    row["title_only_r_precision"] = round(float(summary.loc[1, "r_precision"]), 4)
    row["per_category_r_precision"] = {
        str(c): round(float(v), 4) for c, v in summary["r_precision"].items() if c != "all"
    }
    row["recommend_seconds"] = round(time.perf_counter() - started, 1)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("split", type=Path, help="a directory made by `mmcf split`")
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("--name", required=True, help="what the split is (real, synthetic100k…)")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--no-ablations", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    out = args.out or Path(f"benchmarks/results/second_stage_{args.name}.json")

    fit_seconds = train_default(args.split, args.model_dir)
    data = prepare_data(args.split / "train", args.model_dir)
    default = load_model(args.model_dir, DEFAULT_KIND)
    models = {m: load_model(args.model_dir, m) for m in default.config.members}
    models["MMCF blend"] = load_model(args.model_dir, "blend")
    peer_models, grids = peers(data)
    models.update(peer_models)
    models["default (second stage)"] = default
    if not args.no_ablations:
        models.update(ablations(args.model_dir, data, default))
    queries = read_challenge(args.split / "challenge_set.json")
    answers = read_answers(args.split / "answers.json")
    rows = {}
    for name, model in models.items():
        rows[name] = scored(model, queries, answers)
        log.info("%s: %s", name, rows[name])
    best_peer = max(
        (n for n in rows if n.startswith(("implicit ALS", "item-kNN"))),
        key=lambda n: rows[n]["r_precision"],
    )
    mine, peer = rows["default (second stage)"], rows[best_peer]
    result = {
        "split": args.name,
        "training_playlists": len(data.corpus),
        "validation_playlists": len(data.validation.queries),
        "tracks_in_vocabulary": data.vocab.n_tracks,
        "fit_seconds_this_run": fit_seconds,
        "tuning_grids_validation_r_precision": grids,
        "candidate_recall_at_k": round(candidate_recall(default, data), 4),
        "k_per_source": default.config.candidates,
        "ratios_to_best_peer": {
            "peer": best_peer,
            "r_precision": round(mine["r_precision"] / peer["r_precision"], 3),
            "ndcg": round(mine["ndcg"] / peer["ndcg"], 3),
            "title_only_vs_exact_title": round(
                mine["title_only_r_precision"]
                / max(rows["exact-title lookup"]["title_only_r_precision"], 1e-9),
                3,
            ),
        },
        "rows": rows,
    }
    print(f"{'model':40s} {'R-prec':>7s} {'NDCG':>7s} {'clicks':>7s} {'cat 1':>7s}")
    for name, row in rows.items():
        print(
            f"{name:40s} {row['r_precision']:7.4f} {row['ndcg']:7.4f} {row['clicks']:7.2f} "
            f"{row['title_only_r_precision']:7.4f}"
        )
    print(ujson.dumps({k: v for k, v in result.items() if k != "rows"}, indent=1))
    with atomic_write(out) as f:
        ujson.dump(result, f, indent=2)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
