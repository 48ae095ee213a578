"""`mmcf serve` under load: p50/p99 latency and requests/s at 1, 8 and 32 concurrent clients.

    python benchmarks/serve.py --model-dir DIR [--model KIND …]
                               [--synthetic-tracks 1000000 --work DIR2]
                               [--requests 400] [--seconds 60] [--n 20]
                               [--out benchmarks/results/serve.json]

Each model is served by `mmcf serve` in a subprocess on 127.0.0.1 (an ephemeral port), stopped when
its levels are done. Clients are threads of this process, each on its own keep-alive connection,
sending POST /recommend for playlists drawn from the model's vocabulary (title only, or a title and
1, 5, 10, 25 or 100 seeds from the 10,000 most popular tracks — the challenge's seed counts). Every
level stops after --requests requests or --seconds seconds, whichever comes first, after 5 warm-up
requests.

--synthetic-tracks N builds (once, under --work) an item-kNN model over a synthetic vocabulary of N
tracks with random neighbours (--neighbours per track) and benchmarks it too: serving cost at a
large vocabulary, not recommendation quality. The client threads share one Python process with each
other (not with the server); on a machine with few cores they compete with the server for CPU.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import ujson

from mmcf.models import store
from mmcf.models.knn import ItemKNN, KNNConfig
from mmcf.mpd.atomic import atomic_write
from mmcf.mpd.vocab import FILL_SIZE, Vocab

SEED_COUNTS = (0, 1, 5, 10, 25, 100)
TITLES = (
    "road trip",
    "chill",
    "workout",
    "party",
    "sleep",
    "throwback",
    "summer vibes",
    "rock",
    "study",
    "love",
)
WORDS = (
    "Golden",
    "Midnight",
    "Paper",
    "Ocean",
    "Silver",
    "Stone",
    "Magic",
    "Ghost",
    "Honey",
    "Wolf",
    "River",
    "Neon",
    "Velvet",
    "Thunder",
    "Echo",
    "Crystal",
)


def synthetic_model(work: Path, n_tracks: int, neighbours: int, seed: int = 0) -> Path:
    """An item-kNN model over n_tracks synthetic tracks
    (Zipf-like counts, random neighbours), built once."""
    model_dir = work / f"knn_{n_tracks}"
    if (model_dir / "knn" / "manifest.json").exists():
        return model_dir
    rng = np.random.default_rng(seed)
    n_artists = max(1, n_tracks // 10)
    artists = rng.integers(0, n_artists, n_tracks)
    words = len(WORDS)
    vocab = Vocab(
        track_uris=[f"spotify:track:syn{i:019d}" for i in range(n_tracks)],
        track_names=[
            f"{WORDS[i % words]} {WORDS[i // words % words]} {i}" for i in range(n_tracks)
        ],
        track_artist_uris=[f"spotify:artist:syn{a:018d}" for a in artists],
        track_counts=(1e6 / np.arange(1, n_tracks + 1) ** 0.8).astype(np.int64) + 5,
        artist_uris=[f"spotify:artist:syn{a:018d}" for a in range(n_artists)],
        artist_names=[f"Artist {a}" for a in range(n_artists)],
        artist_counts=np.full(n_artists, 10, dtype=np.int64),
        fill_uris=[f"spotify:track:syn{i:019d}" for i in range(min(FILL_SIZE, n_tracks))],
    )
    model = ItemKNN(KNNConfig(neighbours=neighbours))
    model.vocab = vocab
    model.similarity = sp.csr_matrix(
        (
            rng.random(n_tracks * neighbours, dtype=np.float32),
            rng.integers(0, n_tracks, n_tracks * neighbours),
            np.arange(0, n_tracks * neighbours + 1, neighbours),
        ),
        shape=(n_tracks, n_tracks),
    )
    vocab.save(store.vocab_path(model_dir))
    model.save(model_dir / "knn")
    return model_dir


def payloads(vocab: Vocab, count: int, n: int, seed: int = 0) -> list[bytes]:
    """Request bodies: a title, and seeds drawn from the
    most popular tracks, in the challenge's counts."""
    rng = random.Random(seed)
    pool = vocab.track_uris[:10_000]
    bodies = []
    for i in range(count):
        seeds = rng.sample(pool, min(SEED_COUNTS[i % len(SEED_COUNTS)], len(pool)))
        bodies.append(ujson.dumps({"title": rng.choice(TITLES), "tracks": seeds, "n": n}).encode())
    return bodies


class Server:
    """`mmcf serve` in a subprocess on an ephemeral loopback port;
    a context manager that stops it."""

    def __init__(self, model_dir: Path, kind: str | None, threads: int) -> None:
        command = [
            sys.executable,
            "-m",
            "mmcf.submission.cli",
            "--threads",
            str(threads),
            "serve",
            "--model-dir",
            str(model_dir),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
        ]
        started = time.perf_counter()
        self.process = subprocess.Popen(
            command + (["--model", kind] if kind else []), stdout=subprocess.PIPE, text=True
        )
        line = (
            self.process.stdout.readline()
        )  # "serving the 'KIND' model (N tracks) on http://…/ …"
        if "http://" not in line:
            self.process.kill()
            raise SystemExit(
                f"the server did not start (exit {self.process.wait()}); see its messages above"
            )
        self.startup_seconds = time.perf_counter() - started
        self.host, self.port = line.split("http://")[1].split("/")[0].split(":")
        self.kind = line.split("'")[1]

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def load(server: Server, bodies: list[bytes], clients: int, requests: int, seconds: float) -> dict:
    """`clients` threads on keep-alive connections share `requests` requests; latencies in ms."""
    import http.client

    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    counter = iter(range(requests))
    deadline = time.perf_counter() + seconds

    def client() -> None:
        connection = http.client.HTTPConnection(server.host, int(server.port), timeout=120)
        for i in counter:  # next() on a range iterator is atomic under the GIL
            if time.perf_counter() > deadline:
                break
            started = time.perf_counter()
            connection.request(
                "POST", "/recommend", bodies[i % len(bodies)], {"Content-Type": "application/json"}
            )
            response = connection.getresponse()
            response.read()
            with lock:
                latencies.append((time.perf_counter() - started) * 1000)
                errors[0] += response.status != 200
        connection.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    return {
        "clients": clients,
        "requests": len(latencies),
        "errors": errors[0],
        "seconds": round(wall, 2),
        "p50_ms": round(float(np.percentile(latencies, 50)), 2),
        "p99_ms": round(float(np.percentile(latencies, 99)), 2),
        "requests_per_s": round(len(latencies) / wall, 1),
    }


def benchmark(model_dir: Path, kind: str | None, args: argparse.Namespace) -> dict:
    vocab = store.load_vocab(model_dir)
    bodies = payloads(vocab, 600, args.n)
    with Server(model_dir, kind, args.server_threads) as server:
        load(server, bodies, 1, 5, args.seconds)  # warm-up
        levels = [load(server, bodies, c, args.requests, args.seconds) for c in args.clients]
    return {
        "model_dir": str(model_dir),
        "kind": server.kind,
        "tracks": vocab.n_tracks,
        "n": args.n,
        "server_threads": args.server_threads,
        "startup_seconds": round(server.startup_seconds, 1),
        "levels": levels,
    }


def table(runs: list[dict]) -> str:
    lines = [
        f"{'model':>10} {'tracks':>9} {'clients':>7} {'requests':>8} {'errors':>6} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'req/s':>7}"
    ]
    for run in runs:
        for level in run["levels"]:
            lines.append(
                f"{run['kind']:>10} {run['tracks']:>9} {level['clients']:>7} "
                f"{level['requests']:>8} {level['errors']:>6} {level['p50_ms']:>8.1f} "
                f"{level['p99_ms']:>8.1f} {level['requests_per_s']:>7.1f}"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, help="a trained model directory to serve")
    parser.add_argument(
        "--model",
        nargs="+",
        default=[None],
        help="model kinds to serve from --model-dir, one "
        "after the other (default: the one `mmcf serve` picks)",
    )
    parser.add_argument(
        "--synthetic-tracks",
        type=int,
        help="also serve a synthetic item-kNN model of this many tracks",
    )
    parser.add_argument(
        "--neighbours", type=int, default=10, help="neighbours per synthetic track (default 10)"
    )
    parser.add_argument(
        "--work", type=Path, default=Path("/tmp/mmcf-serve-bench"), help="where synthetic models go"
    )
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument(
        "--requests", type=int, default=400, help="requests per concurrency level (default 400)"
    )
    parser.add_argument(
        "--seconds", type=float, default=60, help="time cap per concurrency level (default 60)"
    )
    parser.add_argument("--n", type=int, default=20, help="tracks per recommendation (default 20)")
    parser.add_argument(
        "--server-threads", type=int, default=1, help="the server's torch threads (default 1)"
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/serve.json"))
    args = parser.parse_args()
    targets = [(args.model_dir, kind) for kind in args.model] if args.model_dir else []
    if args.synthetic_tracks:
        started = time.perf_counter()
        targets.append((synthetic_model(args.work, args.synthetic_tracks, args.neighbours), "knn"))
        print(
            f"synthetic model of {args.synthetic_tracks} tracks ready in "
            f"{time.perf_counter() - started:.0f} s"
        )
    if not targets:
        parser.error("give --model-dir, --synthetic-tracks or both")
    runs = []
    for model_dir, kind in targets:
        runs.append(benchmark(model_dir, kind, args))
        print(
            f"{runs[-1]['kind']} ({runs[-1]['tracks']} tracks): "
            f"server up in {runs[-1]['startup_seconds']} s"
        )
    print(table(runs))
    with atomic_write(args.out) as f:
        ujson.dump({"runs": runs}, f, indent=1)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
