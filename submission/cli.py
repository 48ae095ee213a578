"""`mmcf`: the command line. Each subcommand parses its arguments and calls one library function."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Callable, Sequence

from mmcf.mpd.errors import UserError
from mmcf.submission.pipeline.kinds import DEFAULT_KIND, KINDS

log = logging.getLogger("mmcf")
COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str):
    def register(fn):
        COMMANDS[name] = fn
        return fn

    return register


@command("synth")
def cmd_synth(args) -> int:
    from mmcf.mpd.synth import generate

    files = generate(args.out, args.playlists, args.seed)
    print(f"wrote {args.playlists} playlists in {len(files)} slice files to {args.out}")
    return 0


@command("stats")
def cmd_stats(args) -> int:
    from mmcf.mpd.stats import MPD_PUBLISHED, format_stats, mpd_stats

    print(format_stats(mpd_stats(args.mpd), MPD_PUBLISHED))
    return 0


@command("split")
def cmd_split(args) -> int:
    from mmcf.mpd.split import split_mpd

    paths = split_mpd(args.mpd, args.out, args.per_category, args.seed)
    print("\n".join(f"{name:10s} {path}" for name, path in paths.items()))
    return 0


@command("train")
def cmd_train(args) -> int:
    from mmcf.models import distributed
    from mmcf.submission.pipeline.kinds import build_config, kind_class
    from mmcf.submission.pipeline.training import requirements, train, training_plan

    plan = training_plan(args.model_dir, args.model)
    for member in sorted(set(requirements(args.model)) - set(plan)):
        print(f"{member}: trained already in {args.model_dir} (`--model {member}` retrains it)")
    try:
        for kind in plan:
            settings = _settings(args.set, args.epochs, args.seed, args.device, kind)
            config = build_config(kind, settings, args.preset)
            if (
                distributed.init_from_env(getattr(config, "device", "auto"))
                and not distributed.is_main()
                and not kind_class(kind).data_parallel
            ):
                continue  # under torchrun only the DAE trains data-parallel; rank 0 trains the rest
            train(
                args.mpd,
                args.model_dir,
                kind,
                config,
                resume=args.resume,
                validation=_validation_config(args),
            )
            if distributed.is_main():
                print(f"trained {kind} → {Path(args.model_dir) / kind}")
    finally:
        distributed.cleanup()
    return 0


def _validation_config(args):
    """The validation carve asked for on the command line (None:
    the model directory's, or the default)."""
    from mmcf.mpd.split import ValidationConfig

    given = {
        k: v
        for k, v in (("per_category", args.val_per_category), ("seed", args.val_seed))
        if v is not None
    }
    return ValidationConfig(**given) if given else None


def _settings(pairs: Sequence[str], epochs, seed, device, kind: str) -> dict[str, str]:
    """--set KEY=VALUE pairs plus the named flags the model's config knows."""
    import dataclasses

    from mmcf.submission.pipeline.kinds import build_config

    settings = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep:
            raise UserError(f"--set expects KEY=VALUE, got {pair!r}")
        settings[key.strip()] = value.strip()
    config = build_config(kind, {})
    known = {f.name for f in dataclasses.fields(config)} if config is not None else set()
    named = (("epochs", epochs), ("tied_only_epochs", epochs), ("seed", seed), ("device", device))
    for key, value in named:  # --epochs bounds every network, the DAE's tied-only one too
        if value is not None and key in known:
            settings.setdefault(key, str(value))
    return settings


@command("submit")
def cmd_submit(args) -> int:
    from mmcf.submission.submit import make_submission

    kind = _chosen_model(args)
    out = make_submission(
        args.model_dir, args.challenge, args.out, args.team, args.email, kind, args.batch_size
    )
    print(f"wrote {out}")
    return 0


@command("verify")
def cmd_verify(args) -> int:
    from mmcf.submission.verify import format_problems, verify_submission

    problems = verify_submission(args.submission, args.challenge)
    if problems:
        print(format_problems(problems), file=sys.stderr)
        print(f"{args.submission}: INVALID", file=sys.stderr)
        return 1
    print(f"{args.submission}: valid")
    return 0


@command("evaluate")
def cmd_evaluate(args) -> int:
    from mmcf.submission.evaluate import evaluate_submissions

    print(
        evaluate_submissions(
            args.submission,
            args.answers,
            args.mpd,
            json_path=args.json,
            markdown_path=args.markdown,
            min_track_count=args.min_track_count,
            challenge=args.challenge,
            verify=not args.no_verify,
            ndcg=args.ndcg,
            html_path=args.html,
        )
    )
    return 0


@command("recommend")
def cmd_recommend(args) -> int:
    from mmcf.submission.pipeline.query import recommend_cli

    print(
        recommend_cli(
            args.model_dir, args.title, args.track, args.n, _chosen_model(args), as_json=args.json
        )
    )
    return 0


@command("serve")
def cmd_serve(args) -> int:
    from mmcf.submission.serve import ServeConfig, serve

    serve(ServeConfig(Path(args.model_dir), args.host, args.port, _chosen_model(args)))
    return 0


@command("demo")
def cmd_demo(args) -> int:
    from mmcf.submission.pipeline.demo import DemoConfig, run_demo

    print(
        run_demo(
            DemoConfig(
                workdir=Path(args.workdir),
                playlists=args.playlists,
                per_category=args.per_category,
                seed=args.seed,
                models=args.models,
            )
        )
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mmcf",
        description="MMCF playlist continuation: data, models, "
        "challenge submissions and evaluation.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: all cores)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("synth", help="generate a synthetic MPD (same schema as the real one)")
    p.add_argument("--out", required=True, help="output directory for mpd.slice.*.json")
    p.add_argument(
        "--playlists", type=int, default=20000, help="number of playlists (default 20000)"
    )
    p.add_argument("--seed", type=int, default=0)

    p = sub.add_parser(
        "stats", help="statistics of an MPD directory beside MPD's published figures"
    )
    p.add_argument("mpd", help="MPD directory or slice file")

    p = sub.add_parser(
        "split", help="hold out a challenge-shaped set: train/, challenge_set.json, answers.json"
    )
    p.add_argument("--mpd", required=True, help="MPD directory")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument(
        "--per-category", type=int, default=1000, help="playlists per category (default 1000)"
    )
    p.add_argument("--seed", type=int, default=0)

    p = sub.add_parser("train", help="train a model into a model directory")
    p.add_argument("--mpd", required=True, help="training MPD directory")
    p.add_argument("--model-dir", required=True)
    p.add_argument(
        "--model",
        default=DEFAULT_KIND,
        choices=list(KINDS),
        help=f"model to train (default {DEFAULT_KIND}: the second stage, a ranker over its "
        "members' candidates; blend: the published MMCF ensemble; members a model requires "
        "that are not trained in --model-dir yet are trained first)",
    )
    p.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="override a model setting (repeatable)"
    )
    p.add_argument("--epochs", type=int, help="maximum epochs (dae, cnn)")
    p.add_argument("--seed", type=int)
    p.add_argument("--device", choices=["auto", "cpu", "cuda"])
    p.add_argument(
        "--preset",
        choices=["reference"],
        help="start from a named setting (reference = the published MMCF hyper-parameters)",
    )
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    p.add_argument(
        "--val-per-category",
        type=int,
        help="validation playlists carved per category from the training set before any model "
        "trains; they choose epochs and blend weights and train the ranker (default 50; fixed "
        "for a model directory by its first training)",
    )
    p.add_argument("--val-seed", type=int, help="seed of the validation carve (default 0)")

    p = sub.add_parser("submit", help="write a challenge submission with a trained model")
    p.add_argument("--model-dir", required=True)
    p.add_argument("--challenge", required=True, help="challenge_set.json")
    p.add_argument("--out", required=True, help="submission file (.csv or .csv.gz)")
    p.add_argument("--team", required=True)
    p.add_argument("--email", required=True)
    _model_option(p)
    p.add_argument("--batch-size", type=int, default=500)

    p = sub.add_parser("verify", help="check a submission against every rule of the challenge")
    p.add_argument("submission")
    p.add_argument("--challenge", required=True)

    p = sub.add_parser(
        "evaluate", help="R-precision, NDCG and clicks of submissions, overall and per category"
    )
    p.add_argument("--submission", required=True, nargs="+", help="one or more submission files")
    p.add_argument("--answers", required=True, help="answers.json written by `mmcf split`")
    p.add_argument(
        "--mpd", required=True, help="training MPD directory (for artists and vocabulary coverage)"
    )
    p.add_argument("--json", help="also write the results as JSON here")
    p.add_argument("--markdown", help="also write the tables as Markdown here")
    p.add_argument("--html", help="also write a self-contained HTML report with charts here")
    p.add_argument(
        "--min-track-count",
        type=int,
        help="vocabulary cutoff for the coverage figure (default: the one `mmcf train` chooses "
        "for this training set)",
    )
    p.add_argument(
        "--challenge",
        help="challenge set the submissions answer, to verify them first "
        "(default: challenge_set.json beside --answers)",
    )
    p.add_argument(
        "--no-verify",
        action="store_true",
        help="score submissions the verifier rejects (a warning)",
    )
    p.add_argument(
        "--ndcg",
        choices=["rules", "g"],
        default="rules",
        help="NDCG shown: 'rules' = the rules "
        "text (ideal DCG over the hits within the 500); 'g' = normalised by |G|, the form of the "
        "leaderboard and the top teams' papers: use it to compare with published figures. "
        "--json has both",
    )

    p = sub.add_parser("recommend", help="continue one playlist from a title and/or a few tracks")
    p.add_argument("--model-dir", required=True)
    p.add_argument("--title", default=None)
    p.add_argument(
        "--track", action="append", default=[], metavar="URI", help="seed track URI (repeatable)"
    )
    p.add_argument("-n", type=int, default=20, help="how many tracks (default 20)")
    _model_option(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    p = sub.add_parser("serve", help="answer recommendations over HTTP (JSON API and a web page)")
    p.add_argument("--model-dir", required=True)
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1, this machine only)",
    )
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 = any free port)")
    _model_option(p)

    p = sub.add_parser(
        "demo", help="synth → split → train → submit → verify → evaluate, end to end"
    )
    from mmcf.submission.pipeline.demo import DemoConfig

    demo = DemoConfig()  # the defaults live in one place
    p.add_argument("--workdir", default=str(demo.workdir))
    p.add_argument("--playlists", type=int, default=demo.playlists)
    p.add_argument("--per-category", type=int, default=demo.per_category)
    p.add_argument("--seed", type=int, default=demo.seed)
    p.add_argument(
        "--models", nargs="+", default=None, help="models to compare (default: all available)"
    )
    return parser


def _chosen_model(args) -> str:
    """--model, or the best model trained in --model-dir (said on stderr)."""
    from mmcf.submission.pipeline.loading import choose_kind

    kind = choose_kind(args.model_dir, args.model)
    if args.model is None:
        print(f"model: {kind} (the best trained in {args.model_dir})", file=sys.stderr)
    return kind


def _model_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        choices=list(KINDS),
        help=f"model kind (default: {DEFAULT_KIND} if trained, else the only model trained)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    try:
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        return COMMANDS[args.command](args)
    except UserError as exc:
        print(f"mmcf {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"mmcf {args.command}: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print(f"mmcf {args.command}: error: out of memory", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
