"""Adam on listed rows of a matrix, in place: a small C kernel compiled once with the system's C
compiler (for lazy Adam's row-sparse updates).

torch has no in-place Adam on a subset of rows: lazy Adam gathers the rows of the weights and both
moments, runs the fused kernel on them and writes them back (six row copies around one pass). This
kernel reads and writes each listed row once, with the arithmetic of torch's fused CPU Adam
operation by operation (`exp_avg` by one fused multiply-add, `exp_avg_sq` by another, ε added after
the bias correction; no contraction otherwise), so the weights are bit-identical to the gathered
path (tests/test_lazy_adam.py checks the bits).

It is built on first use into a cache directory (`$XDG_CACHE_HOME/mmcf/native`, else
`~/.cache/mmcf/native`), keyed by the source, the flags and this CPU's features; the build takes
about half a second. Without a C compiler, when the build fails, for tensors it does not handle
(not CPU float32 rows), or with `MMCF_NATIVE=0`, lazy Adam keeps the gathered path.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from mmcf.mpd.atomic import atomic_write

log = logging.getLogger(__name__)

SOURCE = r"""
#include <math.h>
#include <stdint.h>
/* Adam on rows[0..n_rows) of p, m, v (row length n_cols), gradient row i for rows[i]. */
void sparse_adam(float *p, float *m, float *v, const float *g, const int64_t *rows,
                 int64_t n_rows, int64_t n_cols, double lr, double beta1, double beta2,
                 double eps, int64_t step) {
    const double bias1 = 1.0 - pow(beta1, (double)step), bias2 = 1.0 - pow(beta2, (double)step);
    const float neg_step_size = (float)(-(lr / bias1)), bias2_sqrt = (float)sqrt(bias2);
    const float w1 = (float)(1.0 - beta1), b2 = (float)beta2, w2 = (float)(1.0 - beta2);
    const float epsf = (float)eps;
    for (int64_t i = 0; i < n_rows; i++) {
        float *pr = p + rows[i] * n_cols, *mr = m + rows[i] * n_cols, *vr = v + rows[i] * n_cols;
        const float *gr = g + i * n_cols;
        for (int64_t j = 0; j < n_cols; j++) {
            const float gj = gr[j];
            const float mj = fmaf(w1, gj - mr[j], mr[j]);
            const float vj = fmaf(w2 * gj, gj, vr[j] * b2);
            mr[j] = mj;
            vr[j] = vj;
            pr[j] = pr[j] + neg_step_size * mj / (sqrtf(vj) / bias2_sqrt + epsf);
        }
    }
}
"""
# no contraction but the explicit fmaf (torch's kernel rounds each other operation); sqrtf and
# division are exact in IEEE arithmetic, so vectorising changes no bit
FLAGS = ["-O3", "-ffp-contract=off", "-fno-math-errno", "-shared", "-fPIC"]
NATIVE_FLAGS = ["-march=native"]  # tried first; the build falls back to the flags above alone
MIN_ROWS_PER_THREAD = 256


def available() -> bool:
    return kernel() is not None


def sparse_adam(
    p: torch.Tensor,
    m: torch.Tensor,
    v: torch.Tensor,
    rows: torch.Tensor,
    g: torch.Tensor,
    lr: float,
    betas: tuple[float, float],
    eps: float,
    step: int,
) -> bool:
    """Adam on the given distinct rows of p, m, v in place; False (nothing done) when the kernel
    is unavailable or the tensors are not contiguous CPU float32 matrices of one shape."""
    fn = kernel()
    if fn is None or not handles(p, m, v, rows, g):
        return False
    rows, g = rows.contiguous(), g.contiguous()
    n_cols = p.shape[1]
    matrices = (p.data_ptr(), m.data_ptr(), v.data_ptr())
    settings = (lr, betas[0], betas[1], eps, step)

    def run(lo: int, hi: int) -> None:  # ctypes releases the GIL: the parts run in parallel
        fn(*matrices, g[lo].data_ptr(), rows[lo].data_ptr(), hi - lo, n_cols, *settings)

    parts = min(torch.get_num_threads(), max(1, len(rows) // MIN_ROWS_PER_THREAD))
    bounds = [len(rows) * i // parts for i in range(parts + 1)]
    spans = [(lo, hi) for lo, hi in zip(bounds, bounds[1:]) if hi > lo]
    if len(spans) == 1:
        run(*spans[0])
    else:
        list(pool().map(lambda span: run(*span), spans))
    return True


def handles(
    p: torch.Tensor, m: torch.Tensor, v: torch.Tensor, rows: torch.Tensor, g: torch.Tensor
) -> bool:
    """Contiguous CPU float32 matrices of one shape, gradient rows of their length, int64 rows."""
    same = p.shape == m.shape == v.shape and p.dim() == 2 and g.dim() == 2
    return (
        same
        and rows.dtype == torch.int64
        and g.shape[1] == p.shape[1]
        and all(t.device.type == "cpu" and t.dtype == torch.float32 for t in (p, m, v, g))
        and all(t.is_contiguous() for t in (p, m, v))
    )


@functools.lru_cache(maxsize=1)
def pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="native-adam")


@functools.lru_cache(maxsize=1)
def kernel():
    """The compiled `sparse_adam`, or None (disabled, no compiler, or the build failed)."""
    if os.environ.get("MMCF_NATIVE", "1") == "0":
        return None
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        log.info("native Adam: no C compiler found; lazy Adam gathers rows instead")
        return None
    library = built(compiler)
    if library is None:
        return None
    try:
        fn = ctypes.CDLL(str(library)).sparse_adam
    except (OSError, AttributeError) as exc:  # a damaged or foreign file in the cache
        log.info("native Adam: cannot load %s (%s); lazy Adam gathers rows instead", library, exc)
        return None
    fn.restype = None
    fn.argtypes = [ctypes.c_void_p] * 5 + [ctypes.c_int64] * 2 + [ctypes.c_double] * 4
    fn.argtypes += [ctypes.c_int64]
    return fn


def built(compiler: str) -> Path | None:
    """The kernel's shared library, compiled into the cache unless already there."""
    key = hashlib.sha256("\0".join([SOURCE, compiler, *FLAGS, cpu_features()]).encode())
    directory = cache_directory()
    library = directory / f"native_adam_{key.hexdigest()[:16]}.so"
    if library.exists():
        return library
    try:
        directory.mkdir(parents=True, exist_ok=True)
        return compiled(compiler, directory, library)
    except OSError as exc:  # an unwritable cache: build nothing, keep the gathered path
        log.info(
            "native Adam: cannot build in %s (%s); lazy Adam gathers rows instead", directory, exc
        )
        return None


def compiled(compiler: str, directory: Path, library: Path) -> Path | None:
    """Compile SOURCE into `library` (through a temporary file), or None if the build fails."""
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        source, output = Path(tmp) / "native_adam.c", Path(tmp) / "native_adam.so"
        with atomic_write(source) as out:
            out.write(SOURCE)
        for extra in (NATIVE_FLAGS, []):
            command = [compiler, *FLAGS, *extra, str(source), "-o", str(output), "-lm"]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode == 0:
                os.replace(output, library)  # atomic: a concurrent build wins or loses whole
                return library
        log.info("native Adam: the build failed; lazy Adam gathers rows instead\n%s", done.stderr)
    return None


def cache_directory() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mmcf" / "native"


def cpu_features() -> str:
    """This CPU's model and flags (a library built for one CPU is not loaded on another)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return os.uname().machine
    lines = [
        line for line in info.splitlines() if line.startswith(("model name", "flags", "Features"))
    ]
    return "\n".join(sorted(set(lines)))
