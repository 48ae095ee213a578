"""Atomic writes: a writer that fails or is killed mid-way leaves the old file intact and no temp
file behind. Plus two source checks: artefacts are written through atomic_write, and inputs are
never unpickled or eval'd.
"""

from __future__ import annotations

import ast
import gzip
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mmcf.mpd.atomic import atomic_write, remove_stale_temps
from mmcf.mpd.errors import UserError

REPO = Path(__file__).resolve().parents[1]
OLD = "old content ✓\n"
MODES = [("a.txt", "w"), ("a.json.gz", "w"), ("a.pt", "wb")]


def read(path: Path) -> str:
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return data.decode("utf-8")


def write_old(path: Path) -> None:
    with atomic_write(path) as f:
        f.write(OLD)


@pytest.mark.parametrize("name, mode", MODES)
def test_success_replaces(tmp_path, name, mode):
    path = tmp_path / name
    write_old(path)
    with atomic_write(path, mode) as f:
        f.write(b"new" if "b" in mode else "new ✓")
    assert read(path) == "new ✓"[: 3 if "b" in mode else None]
    assert os.listdir(tmp_path) == [name]


@pytest.mark.parametrize("name, mode", MODES)
def test_exception_inside_keeps_old_file(tmp_path, name, mode):
    path = tmp_path / name
    write_old(path)
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_write(path, mode) as f:
            f.write((b"x" if "b" in mode else "x") * 1_000_000)
            raise RuntimeError("boom")
    assert read(path) == OLD
    assert os.listdir(tmp_path) == [name]


def test_exception_with_no_old_file_leaves_nothing(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with atomic_write(tmp_path / "new.csv") as f:
            f.write("half")
            raise KeyboardInterrupt
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), RuntimeError("pos")])
def test_a_write_that_fills_the_disk_is_a_user_error(tmp_path, monkeypatch, error):
    """ENOSPC, or any failure with the disk found full after it (torch.save says "unexpected pos"):
    a clear error naming the file, the old file intact."""
    import shutil

    path = tmp_path / "a.pt"
    write_old(path)
    real = shutil.disk_usage
    with pytest.raises(UserError, match=f"{path}: the disk is full"):
        with atomic_write(path, "wb") as f:
            f.write(b"x")
            if isinstance(error, RuntimeError):  # the disk is full now
                monkeypatch.setattr(shutil, "disk_usage", lambda d: real(d)._replace(free=1000))
            raise error
    assert read(path) == OLD and os.listdir(tmp_path) == ["a.pt"]


KILLED_WRITER = """
import sys, time
from mmcf.mpd.atomic import atomic_write
path, mode = sys.argv[1], sys.argv[2]
with atomic_write(path, mode) as f:
    for _ in range(200):
        f.write(b"y" * 10_000 if "b" in mode else "y" * 10_000)
    f.flush()
    print("writing", flush=True)
    time.sleep(60)
"""


@pytest.mark.parametrize("name, mode", MODES)
def test_sigkill_mid_stream_keeps_old_file_and_next_write_leaves_no_temp(tmp_path, name, mode):
    """SIGKILL runs no cleanup, so the killed writer's
    temp file stays until the next write of that file."""
    path = tmp_path / name
    write_old(path)
    writer = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(path), mode],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout.readline().strip() == "writing"
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=30)
    assert writer.returncode == -signal.SIGKILL
    assert read(path) == OLD
    leftovers = sorted(set(os.listdir(tmp_path)) - {name})
    assert len(leftovers) == 1 and leftovers[0].startswith(f".{name}.{writer.pid}-")
    assert (tmp_path / leftovers[0]).stat().st_size > 0  # it was killed mid-stream
    with atomic_write(
        path, mode
    ) as f:  # the rerun writes as usual and sweeps the dead writer's temp
        f.write(b"again" if "b" in mode else "again")
    assert read(path) == "again" and os.listdir(tmp_path) == [name]


def test_temp_files_of_live_writers_are_kept(tmp_path):
    live = tmp_path / f".a.txt.{os.getpid()}-abc123.tmp"
    other = tmp_path / ".b.txt.999999999-abc123.tmp"  # another target's temp is not ours to touch
    live.write_text("in progress")
    other.write_text("in progress")
    write_old(tmp_path / "a.txt")
    assert sorted(os.listdir(tmp_path)) == sorted([live.name, other.name, "a.txt"])


def test_a_directory_sweep_removes_only_dead_writers_temps(tmp_path):
    live = tmp_path / f".a.txt.{os.getpid()}-abc123.tmp"
    dead = tmp_path / ".mpd.slice.0-99.json.999999999-abc123.tmp"
    kept = tmp_path / "mpd.slice.0-99.json"
    for path in (live, dead, kept):
        path.write_text("x")
    remove_stale_temps(tmp_path)
    assert sorted(os.listdir(tmp_path)) == sorted([live.name, kept.name])
    remove_stale_temps(tmp_path / "missing")  # nothing to sweep


@pytest.mark.parametrize("target", ["/proc/x/out.csv", "{file}/out.csv", "{dir}"])
def test_unwritable_target_is_a_user_error(tmp_path, target):
    (tmp_path / "file").write_text("keep")
    (tmp_path / "dir").mkdir()
    path = target.format(file=tmp_path / "file", dir=tmp_path / "dir")
    with pytest.raises(UserError, match=path):
        with atomic_write(path) as f:
            f.write("x")
    assert (tmp_path / "file").read_text() == "keep" and sorted(os.listdir(tmp_path)) == [
        "dir",
        "file",
    ]


# ---------------------------------------------------------------- source checks

PACKAGES = ("mpd", "models", "ensemble", "submission")
# Deliberate non-atomic writes: (file, function). The submit journal is append-only and survives
# torn lines.
APPEND_ONLY = {
    ("submission/submit.py", "make_submission"),
    ("submission/submit.py", "_load_partial"),
}


def python_files(roots: tuple[str, ...] | None = None) -> list[Path]:
    if roots is None:
        skip = {"venv", ".venv", ".git", "build", "dist", "node_modules"}
        return [
            p
            for p in REPO.rglob("*.py")
            if not skip & set(p.relative_to(REPO).parts)
            and not p.relative_to(REPO).parts[0].startswith(".")
        ]
    return [p for root in roots for p in (REPO / root).rglob("*.py")]


def calls(path: Path):
    """(function name or '', call node) for every call in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = []

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = (
                child.name
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
                else function
            )
            if isinstance(child, ast.Call):
                out.append((name, child))
            visit(child, name)

    visit(tree, "")
    return out


def dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    return "?"


def keyword(call: ast.Call, name: str):
    value = next((k.value for k in call.keywords if k.arg == name), None)
    return value.value if isinstance(value, ast.Constant) else value


def unsafe_load(call: ast.Call) -> str | None:
    """Why this call could run code from a file, or None."""
    name = dotted(call.func)
    if name in ("eval", "exec", "builtins.eval", "builtins.exec", "compile"):
        return "eval/exec"
    if name.split(".")[0] in (
        "pickle",
        "cPickle",
        "dill",
        "marshal",
        "shelve",
        "joblib",
        "cloudpickle",
    ):
        return "unpickling"
    if name.endswith("read_pickle") or name.endswith("Unpickler"):
        return "unpickling"
    if name.endswith("torch.load"):
        return (
            None
            if keyword(call, "weights_only") is True
            else "torch.load without weights_only=True"
        )
    if name in ("np.load", "numpy.load") and keyword(call, "allow_pickle") not in (None, False):
        return "np.load with allow_pickle"
    if name.endswith("yaml.load") and "Safe" not in dotted(
        keyword(call, "Loader") or ast.Name("?")
    ):
        return "yaml.load without SafeLoader"
    return None


def test_inputs_are_data_never_code():
    found = [
        f"{path.relative_to(REPO)}:{call.lineno}: {why}"
        for path in python_files()
        for _, call in calls(path)
        if (why := unsafe_load(call))
    ]
    assert not found, "\n".join(found)


def test_the_safety_check_catches_what_it_should():
    bad = [
        "torch.load(p)",
        "torch.load(p, weights_only=False)",
        "pickle.loads(b)",
        "eval(s)",
        "pd.read_pickle(p)",
        "np.load(p, allow_pickle=True)",
        "yaml.load(s)",
    ]
    good = [
        "torch.load(p, map_location='cpu', weights_only=True)",
        "net.eval()",
        "np.load(p)",
        "ujson.load(f)",
        "yaml.load(s, Loader=yaml.SafeLoader)",
    ]
    for source, expected in [(s, True) for s in bad] + [(s, False) for s in good]:
        call = ast.parse(source).body[0].value
        assert bool(unsafe_load(call)) == expected, source


def direct_write(call: ast.Call) -> bool:
    """A call that writes a file in place (not through atomic_write)."""
    name = dotted(call.func)
    if name.endswith(
        (
            "write_text",
            "write_bytes",
            "np.save",
            "np.savez",
            "np.savez_compressed",
            "to_csv",
            "to_json",
            "to_parquet",
            "to_pickle",
        )
    ):
        return True
    if name in ("open", "io.open", "gzip.open", "os.fdopen", "builtins.open") or name.endswith(
        ".open"
    ):
        mode = (
            call.args[1]
            if len(call.args) > 1
            else next((k.value for k in call.keywords if k.arg == "mode"), None)
        )
        return (
            isinstance(mode, ast.Constant)
            and isinstance(mode.value, str)
            and any(c in mode.value for c in "wax")
        )
    if name in ("torch.save", "sp.save_npz", "scipy.sparse.save_npz"):
        target = call.args[1] if name == "torch.save" else call.args[0]
        return not isinstance(target, ast.Name) or target.id not in ("f", "fh", "out", "stream")
    return False


def test_the_write_check_catches_what_it_should():
    bad = [
        "open(p, 'w')",
        "open(p, mode='ab')",
        "gzip.open(p, 'wt')",
        "path.write_text(s)",
        "np.save(p, a)",
        "torch.save(t, p)",
        "df.to_csv(p)",
    ]
    good = ["open(p)", "open(p, 'rb')", "torch.save(t, f)", "f.write(s)", "gzip.open(p, 'rt')"]
    for source, expected in [(s, True) for s in bad] + [(s, False) for s in good]:
        assert direct_write(ast.parse(source).body[0].value) == expected, source


def test_artefacts_are_written_atomically():
    found = []
    for path in python_files(PACKAGES):
        relative = str(path.relative_to(REPO))
        if relative == "mpd/atomic.py":
            continue
        for function, call in calls(path):
            if direct_write(call) and (relative, function) not in APPEND_ONLY:
                found.append(f"{relative}:{call.lineno} ({function}): {ast.unparse(call)[:80]}")
    assert not found, "write these through mpd.atomic.atomic_write:\n" + "\n".join(found)
