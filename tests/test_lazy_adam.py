"""LazyAdam: runs of consecutive rows are updated in place as slices, exactly as gathered rows."""

from __future__ import annotations

import torch

from mmcf.models.training.lazy_adam import LazyAdam, row_runs


def sparse_steps(min_run: int, steps: int = 4) -> tuple[torch.Tensor, ...]:
    """Weights and moments after `steps` row-sparse steps: a head run, a shorter run, scattered
    rows."""
    n, d = 600, 16
    p = torch.nn.Parameter(torch.randn(n, d, generator=torch.Generator().manual_seed(1)))
    opt = LazyAdam([p], lr=0.01, min_run=min_run)
    for step in range(steps):
        gen = torch.Generator().manual_seed(10 + step)
        scattered = torch.randint(100, n, (80,), generator=gen)
        rows = torch.unique(torch.cat([torch.arange(100), torch.arange(300, 340), scattered]))
        g = torch.randn(len(rows), d, generator=gen)
        p.grad = torch.sparse_coo_tensor(rows.unsqueeze(0), g, p.shape, check_invariants=False)
        opt.step()
    return p.detach(), opt.m[0], opt.v[0]


def test_runs_in_place_give_the_same_bits_as_gathered_rows():
    gathered = sparse_steps(min_run=10**9)  # every row gathered and written back
    for min_run in (1, 30, 64):
        for ours, reference in zip(sparse_steps(min_run), gathered):
            assert torch.equal(ours, reference)


def test_untouched_rows_stay_as_they_were():
    before = torch.randn(600, 16, generator=torch.Generator().manual_seed(1))
    after, m, _ = sparse_steps(min_run=30, steps=1)
    gen = torch.Generator().manual_seed(10)
    scattered = torch.randint(100, 600, (80,), generator=gen)
    touched = torch.unique(torch.cat([torch.arange(100), torch.arange(300, 340), scattered]))
    still = torch.ones(600, dtype=torch.bool)
    still[touched] = False
    assert torch.equal(after[still], before[still]) and (m[still] == 0).all()
    assert (after[touched] != before[touched]).any(1).all()


def test_row_runs():
    rows = torch.tensor([0, 1, 2, 3, 7, 9, 10, 11, 20])
    runs, rest = row_runs(rows, 3)
    assert runs == [(0, 0, 4), (9, 5, 3)]  # (first row, position in rows, length)
    assert rest.tolist() == [4, 8]
    assert row_runs(rows, 5)[0] == [] and row_runs(rows, 5)[1].tolist() == list(range(9))
    empty_runs, empty_rest = row_runs(torch.tensor([], dtype=torch.long), 3)
    assert empty_runs == [] and empty_rest.numel() == 0
