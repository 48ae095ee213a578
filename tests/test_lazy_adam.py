"""LazyAdam: runs of consecutive rows are updated in place as slices, and every row in place by the
compiled kernel, with the same bits as gathered rows."""

from __future__ import annotations

import pytest
import torch

from mmcf.models.training import lazy_adam, native_adam
from mmcf.models.training.lazy_adam import LazyAdam, Run, row_runs

N_ROWS = 600


def batch_rows(step: int) -> torch.Tensor:
    """The rows of step `step`'s gradient: a head run, a shorter run, scattered rows."""
    scattered = torch.randint(100, N_ROWS, (80,), generator=torch.Generator().manual_seed(step))
    return torch.unique(torch.cat([torch.arange(100), torch.arange(300, 340), scattered]))


def sparse_steps(
    shape: tuple[int, ...], min_run: int, steps: int = 4, native: bool = False
) -> tuple[torch.Tensor, ...]:
    """Weights and moments after `steps` row-sparse steps from seeded weights."""
    p = torch.nn.Parameter(torch.randn(shape, generator=torch.Generator().manual_seed(1)))
    opt = LazyAdam([p], lr=0.01, min_run=min_run, native=native)
    for step in range(steps):
        rows = batch_rows(step)
        g = torch.randn((len(rows), *shape[1:]), generator=torch.Generator().manual_seed(50 + step))
        p.grad = torch.sparse_coo_tensor(rows.unsqueeze(0), g, p.shape, check_invariants=False)
        opt.step()
    return p.detach(), opt.m[0], opt.v[0]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("shape", [(N_ROWS, 256), (N_ROWS, 64), (N_ROWS, 48), (N_ROWS,)])
def test_runs_in_place_give_the_same_bits_as_gathered_rows(monkeypatch, threads, shape):
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    found = []
    real = lazy_adam.row_runs
    monkeypatch.setattr(lazy_adam, "row_runs", lambda *a: found.append(real(*a)) or found[-1])
    try:
        gathered = sparse_steps(shape, min_run=10**9)  # every row gathered and written back
        for min_run in (1, 30, 64):
            for ours, reference in zip(sparse_steps(shape, min_run), gathered):
                assert torch.equal(ours, reference)
    finally:
        torch.set_num_threads(before)
    sliced = any(runs for runs, _ in found)
    assert sliced == (len(shape) == 2 and shape[1] % 64 == 0)  # only whole-vector rows are sliced


@pytest.fixture
def native_kernel():
    native_adam.kernel.cache_clear()
    if not native_adam.available():
        pytest.skip("no C compiler to build the native Adam kernel")
    yield
    native_adam.kernel.cache_clear()


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("shape", [(N_ROWS, 256), (N_ROWS, 64), (N_ROWS, 48), (N_ROWS,)])
def test_the_native_kernel_gives_the_same_bits_as_torchs_fused_adam(native_kernel, threads, shape):
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        native = sparse_steps(shape, min_run=64, steps=6, native=True)
        gathered = sparse_steps(shape, min_run=10**9, steps=6)
    finally:
        torch.set_num_threads(before)
    for ours, reference in zip(native, gathered):
        assert torch.equal(ours, reference)


def test_the_native_kernel_updates_in_place_and_only_the_listed_rows(native_kernel):
    p, m, v = (torch.randn(N_ROWS, 64) for _ in range(3))
    before = [t.clone() for t in (p, m, v)]
    rows = torch.tensor([3, 4, 500])
    assert native_adam.sparse_adam(p, m, v, rows, torch.randn(3, 64), 0.01, (0.9, 0.999), 1e-8, 1)
    for now, then in zip((p, m, v), before):
        assert (now[rows] != then[rows]).any(1).all()
        still = torch.ones(N_ROWS, dtype=torch.bool)
        still[rows] = False
        assert torch.equal(now[still], then[still])
    assert not native_adam.sparse_adam(
        p.double(), m, v, rows, torch.randn(3, 64), 0.01, (0.9, 0.999), 1e-8, 1
    )


@pytest.mark.parametrize("environment", [{"MMCF_NATIVE": "0"}, {"CC": "/bin/false"}, "damaged"])
def test_without_the_native_kernel_lazy_adam_gathers_rows(monkeypatch, tmp_path, environment):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # nothing built before
    if environment == "damaged":  # a cached library that is not one
        damaged = tmp_path / "native_adam_damaged.so"
        damaged.write_bytes(b"not a shared library")
        monkeypatch.setattr(native_adam, "built", lambda compiler: damaged)
    else:
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
    native_adam.kernel.cache_clear()
    try:
        assert not native_adam.available()
        for ours, reference in zip(
            sparse_steps((N_ROWS, 64), min_run=30, native=True),
            sparse_steps((N_ROWS, 64), min_run=30),
        ):
            assert torch.equal(ours, reference)
    finally:
        native_adam.kernel.cache_clear()


def test_untouched_rows_stay_as_they_were():
    before = torch.randn((N_ROWS, 64), generator=torch.Generator().manual_seed(1))
    after, m, _ = sparse_steps((N_ROWS, 64), min_run=30, steps=1)
    touched = batch_rows(0)
    still = torch.ones(N_ROWS, dtype=torch.bool)
    still[touched] = False
    assert torch.equal(after[still], before[still]) and (m[still] == 0).all()
    assert (after[touched] != before[touched]).any(1).all()


def test_row_runs():
    rows = torch.tensor([0, 1, 2, 3, 7, 9, 10, 11, 20])
    runs, rest = row_runs(rows, 3)
    assert runs == [Run(row=0, at=0, length=4), Run(row=9, at=5, length=3)]
    assert rest.tolist() == [4, 8]
    assert row_runs(rows, 5)[0] == [] and row_runs(rows, 5)[1].tolist() == list(range(9))
    assert row_runs(torch.tensor([5]), 1)[0] == [Run(5, 0, 1)]
    empty_runs, empty_rest = row_runs(torch.tensor([], dtype=torch.long), 3)
    assert empty_runs == [] and empty_rest.numel() == 0
