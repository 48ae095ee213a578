"""`mmcf demo`: synth → split → train → submit → verify → evaluate on the embedded synthetic MPD."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from mmcf.mpd.errors import UserError

log = logging.getLogger(__name__)


@dataclass
class DemoConfig:
    workdir: Path = Path("mmcf-demo")
    # small enough for about 5 minutes on 2 cores (the README's measured run); at 8,000 every track
    # fits under VocabConfig.max_tracks, the cutoff drops to 1 and the run got slower, not faster
    playlists: int = 10000
    per_category: int = 50
    seed: int = 0
    models: list[str] | None = None  # default: every model kind
    # validation playlists carved before training (epochs, ensemble weights)
    validation_per_category: int = 30
    # Shorter training than `mmcf train`'s defaults, to fit the demo's time budget on 2 cores: the
    # DAE samples every negative (no exact head: cheaper per epoch, somewhat lower R-precision; the
    # README has the measured figures).
    settings: dict[str, dict[str, str]] = field(
        default_factory=lambda: {
            "dae": {"epochs": "4", "tied_only_epochs": "5", "head_negatives": "0"},
            "cnn": {"epochs": "4"},
        }
    )


def run_demo(config: DemoConfig) -> str:
    # imported here, so that the command line can read DemoConfig's defaults without loading torch
    from mmcf.mpd.split import ValidationConfig, split_mpd
    from mmcf.mpd.synth import generate

    from ..evaluate import evaluate_submissions
    from ..submit import make_submission
    from ..verify import format_problems, verify_submission
    from .data import prepare_data
    from .kinds import KINDS, build_config
    from .training import train, training_order

    models = config.models or list(KINDS)
    work = config.workdir
    timings: dict[str, float] = {}

    def step(name: str, fn, *args, **kwargs):
        print(f"[demo] {name} ...", flush=True)
        started = time.perf_counter()
        result = fn(*args, **kwargs)
        timings[name] = time.perf_counter() - started
        return result

    step("synth", generate, work / "mpd", config.playlists, config.seed)
    paths = step("split", split_mpd, work / "mpd", work / "split", config.per_category, config.seed)
    model_dir = work / "model"
    data = step(
        "read training playlists",
        prepare_data,
        paths["train"],
        model_dir,
        validation=ValidationConfig(config.validation_per_category, config.seed),
        replace=True,
    )
    for kind in training_order(models):
        step(
            f"train {kind}",
            train,
            paths["train"],
            model_dir,
            kind,
            build_config(kind, config.settings.get(kind, {})),
            data=data,
        )
    submissions = []
    for kind in models:
        out = work / "submissions" / f"{kind}.csv.gz"
        step(
            f"submit {kind}",
            make_submission,
            model_dir,
            paths["challenge"],
            out,
            "mmcf-demo",
            "demo@example.org",
            kind,
            vocab=data.vocab,  # the vocabulary every model was trained with, read once
        )
        problems = step(f"verify {kind}", verify_submission, out, paths["challenge"])
        if problems:
            raise UserError(f"{out} failed verification:\n{format_problems(problems)}")
        submissions.append(out)
    report = step(
        "evaluate",
        evaluate_submissions,
        submissions,
        paths["answers"],
        paths["train"],
        json_path=work / "report.json",
        markdown_path=work / "report.md",
        html_path=work / "report.html",
    )
    import torch

    times = "\n".join(f"  {name:18s} {seconds:7.1f} s" for name, seconds in timings.items())
    return (
        f"{report}\n\nsteps ({torch.get_num_threads()} torch threads: "
        "results are exact for the same seed, thread count, CPU type and package versions):\n"
        f"{times}\n  {'total':18s} {sum(timings.values()):7.1f} s"
    )
