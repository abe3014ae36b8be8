"""Every optimizer, gradient clipping and the LR schedules of minirec.optim against
torch.optim (float64): the same parameters and gradients, step after step, give the
same parameters. Gradients include zeros, tiny and huge entries, parameters that get
no gradient on some steps, and sparse (RowGrad) gradients against torch's sparse
ones."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minirec import optim
from minirec.autograd import RowGrad, Tensor

from .conftest import COUNTS, RTOL, SETTINGS, documented_difference, seeds

torch = pytest.importorskip("torch", reason="PyTorch (the dev extra) is the reference")

SHAPES = [(3,), (2, 4), (1,)]
STEPS = 6


def _grads(seed, skip):
    """One list per step of a gradient (or None) per parameter: normal entries with
    zeros, 1e-8 and ±1e3 mixed in; with `skip`, parameter 1 gets none on some steps."""
    r = np.random.default_rng(seed)
    out = []
    for t in range(STEPS):
        step = []
        for k, s in enumerate(SHAPES):
            g = r.normal(size=s)
            pick = r.random(s)
            g[pick < 0.15] = 0.0
            g[(pick > 0.9) & (pick < 0.95)] = 1e-8
            g[pick >= 0.95] = 1e3 * np.sign(g[pick >= 0.95])
            step.append(None if skip and k == 1 and t % 3 != 2 else g)
        out.append(step)
    return out


def run_both(make_mr, make_torch, seed, skip=False):
    """Step a minirec optimizer and a torch one on the same parameters and gradients
    and assert the same parameters after every step."""
    r = np.random.default_rng(seed + 1)
    x0 = [r.normal(size=s) for s in SHAPES]
    mp = [Tensor(x.copy(), requires_grad=True) for x in x0]
    tp = [torch.tensor(x, requires_grad=True) for x in x0]
    mo, to = make_mr(mp), make_torch(tp)
    for t, step in enumerate(_grads(seed, skip)):
        for m, tt, g in zip(mp, tp, step, strict=True):
            m.grad = None if g is None else g.copy()
            tt.grad = None if g is None else torch.tensor(g)
        mo.step()
        to.step()
        for k, (m, tt) in enumerate(zip(mp, tp, strict=True)):
            np.testing.assert_allclose(
                m.data,
                tt.detach().numpy(),
                rtol=RTOL,
                atol=1e-12,
                err_msg=f"parameter {k} after step {t + 1}",
            )
    COUNTS["cases"] += 1


lrs = st.sampled_from([1e-3, 0.1, 1.0])
decays = st.sampled_from([0.0, 0.01, 0.1])
betas = st.sampled_from([(0.9, 0.999), (0.5, 0.9), (0.0, 0.99)])
epss = st.sampled_from([1e-8, 1e-3])


@SETTINGS
@given(
    lr=lrs,
    momentum=st.sampled_from([0.0, 0.9]),
    wd=decays,
    seed=seeds,
    skip=st.booleans(),
)
def test_sgd(lr, momentum, wd, seed, skip):
    run_both(
        lambda p: optim.SGD(p, lr=lr, momentum=momentum, weight_decay=wd),
        lambda p: torch.optim.SGD(p, lr=lr, momentum=momentum, weight_decay=wd),
        seed,
        skip,
    )


@SETTINGS
@given(lr=lrs, eps=st.sampled_from([1e-10, 1e-3]), seed=seeds, skip=st.booleans())
def test_adagrad(lr, eps, seed, skip):
    run_both(
        lambda p: optim.Adagrad(p, lr=lr, eps=eps),
        lambda p: torch.optim.Adagrad(p, lr=lr, eps=eps),
        seed,
        skip,
    )


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
@SETTINGS
@given(lr=lrs, b=betas, eps=epss, wd=decays, seed=seeds, skip=st.booleans())
def test_adam_and_adamw(name, lr, b, eps, wd, seed, skip):
    """With `skip`, a parameter without a gradient on some steps: its bias correction
    counts only its own steps, as torch's per-parameter state['step'] does."""
    mr, ref = getattr(optim, name), getattr(torch.optim, name)
    run_both(
        lambda p: mr(p, lr=lr, betas=b, eps=eps, weight_decay=wd),
        lambda p: ref(p, lr=lr, betas=b, eps=eps, weight_decay=wd),
        seed,
        skip,
    )


def test_adam_bias_correction_counts_each_parameters_own_steps():
    """A parameter first trained at step 3 makes the same first move as one trained
    from step 1 (about lr per coordinate), as in torch."""
    run_both(
        lambda p: optim.Adam(p, lr=0.1),
        lambda p: torch.optim.Adam(p, lr=0.1),
        0,
        skip=True,
    )
    a, b = (
        Tensor(np.zeros(2), requires_grad=True),
        Tensor(np.zeros(2), requires_grad=True),
    )
    opt = optim.Adam([a, b], lr=0.1)
    for t in range(3):
        a.grad, b.grad = np.ones(2), (np.ones(2) if t == 2 else None)
        opt.step()
    np.testing.assert_allclose(b.data, -0.1, rtol=1e-6)


# -- sparse (RowGrad) gradients --------------------------------------------------------
N_ROWS, DIM = 7, 3


def run_sparse(make_mr, make_torch, seed):
    """A (7, 3) table whose gradient touches a few distinct rows per step: minirec gets
    a RowGrad, torch a sparse COO gradient."""
    r = np.random.default_rng(seed)
    x0 = r.normal(size=(N_ROWS, DIM))
    mp, tp = Tensor(x0.copy(), requires_grad=True), torch.tensor(x0, requires_grad=True)
    mo, to = make_mr([mp]), make_torch([tp])
    for t in range(STEPS):
        rows = np.sort(r.choice(N_ROWS, size=r.integers(1, 4), replace=False))
        vals = r.normal(size=(len(rows), DIM))
        mp.grad = RowGrad(rows, vals, (N_ROWS, DIM))
        tp.grad = torch.sparse_coo_tensor(
            rows[None], vals, (N_ROWS, DIM), check_invariants=True
        )
        mo.step()
        to.step()
        np.testing.assert_allclose(
            mp.data, tp.detach().numpy(), rtol=RTOL, atol=1e-12, err_msg=f"step {t + 1}"
        )
    COUNTS["cases"] += 1


@SETTINGS
@given(lr=lrs, seed=seeds, name=st.sampled_from(["SGD", "Adagrad"]))
@pytest.mark.filterwarnings("ignore:Sparse invariant checks:UserWarning")  # torch's
def test_sparse_sgd_and_adagrad(lr, seed, name):
    """Only the touched rows move (exact for these two: no momentum, no decay)."""
    mr, ref = getattr(optim, name), getattr(torch.optim, name)
    run_sparse(lambda p: mr(p, lr=lr), lambda p: ref(p, lr=lr), seed)


@SETTINGS
@given(lr=lrs, b=betas, eps=epss, seed=seeds)
def test_lazy_adam_is_sparse_adam(lr, b, eps, seed):
    """Adam(lazy=True) is torch.optim.SparseAdam: only touched rows move, their
    moments do not decay in between, ε is added to √v before the bias correction."""
    run_sparse(
        lambda p: optim.Adam(p, lr=lr, betas=b, eps=eps, lazy=True),
        lambda p: torch.optim.SparseAdam(p, lr=lr, betas=b, eps=eps),
        seed,
    )


def test_lazy_adam_weight_decay_touches_only_the_batch_rows():
    """SparseAdam has no weight decay; lazy Adam adds wd θ to the gradient of the
    touched rows only (AdamW: decays only those rows), so an untouched row never
    moves. Checked against that formula."""
    documented_difference("Adam(lazy=True, weight_decay)", "SparseAdam has no decay")
    lr, wd, (b1, b2), eps = 0.1, 0.5, (0.9, 0.999), 1e-8
    for cls in (optim.Adam, optim.AdamW):
        x0 = np.arange(6.0).reshape(3, 2) - 2
        p = Tensor(x0.copy(), requires_grad=True)
        opt = cls([p], lr=lr, weight_decay=wd, lazy=True)
        g = np.array([[0.5, -1.0]])
        p.grad = RowGrad(np.array([1]), g, (3, 2))
        opt.step()
        th = x0[1]
        gg = g[0] + (wd * th if cls is optim.Adam else 0)
        m, v = (1 - b1) * gg, (1 - b2) * gg * gg
        if cls is optim.AdamW:
            th = th - lr * wd * th
        th = th - lr * np.sqrt(1 - b2) / (1 - b1) * m / (np.sqrt(v) + eps)
        np.testing.assert_allclose(p.data[1], th, rtol=1e-12)
        np.testing.assert_array_equal(p.data[[0, 2]], x0[[0, 2]])


# -- clipping and schedules ------------------------------------------------------------
@SETTINGS
@given(
    max_norm=st.sampled_from([1e-3, 0.5, 1.0, 1e3]), seed=seeds, sparse=st.booleans()
)
def test_clip_grad_norm(max_norm, seed, sparse):
    """torch.nn.utils.clip_grad_norm_ (the same 1e-6 in the scale), a RowGrad counted
    by its rows."""
    r = np.random.default_rng(seed)
    gs = [r.normal(size=s) for s in SHAPES]
    mp = [Tensor(np.zeros(s), requires_grad=True) for s in SHAPES]
    tp = [torch.zeros(s, dtype=torch.float64, requires_grad=True) for s in SHAPES]
    for m, t, g in zip(mp, tp, gs, strict=True):
        m.grad, t.grad = g.copy(), torch.tensor(g)
    if sparse:
        mp[1].grad = RowGrad(np.array([0]), gs[1][:1], SHAPES[1])
        tp[1].grad = torch.tensor(np.concatenate([gs[1][:1], 0 * gs[1][1:]]))
    got = optim.clip_grad_norm(mp, max_norm)
    want = torch.nn.utils.clip_grad_norm_(tp, max_norm)
    assert got == pytest.approx(float(want), rel=1e-12)
    for m, t in zip(mp, tp, strict=True):
        g = m.grad.dense() if isinstance(m.grad, RowGrad) else m.grad
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-12)
    COUNTS["cases"] += 1


def _lrs(mr_sched, torch_sched, torch_opt, n):
    got, want = [], []
    for _ in range(n):
        got.append(mr_sched.step())
        torch_opt.step()
        torch_sched.step()
        want.append(torch_opt.param_groups[0]["lr"])
    return np.array(got), np.array(want)


def _pair(lr):
    mr = optim.SGD([Tensor(np.zeros(1), requires_grad=True)], lr=lr)
    t = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    return mr, t


SCHEDULES = {  # name: (minirec schedule, torch schedule), built on an (mr, torch) pair
    "StepLR": (
        lambda o: optim.StepLR(o, step_size=3, gamma=0.5),
        lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
    ),
    "ExponentialLR": (
        lambda o: optim.ExponentialLR(o, gamma=0.8),
        lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.8),
    ),
    "CosineLR": (
        lambda o: optim.CosineLR(o, total=10, min_factor=0.1),
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(
            o, T_max=10, eta_min=0.1 * o.param_groups[0]["lr"]
        ),
    ),
    "WarmupLR": (
        lambda o: optim.WarmupLR(o, warmup=4),
        lambda o: torch.optim.lr_scheduler.LinearLR(
            o, start_factor=0.25, total_iters=3
        ),
    ),
    "WarmupLR+ExponentialLR": (
        lambda o: optim.WarmupLR(o, warmup=4, after=optim.ExponentialLR(o, gamma=0.5)),
        lambda o: torch.optim.lr_scheduler.SequentialLR(
            o,
            [
                torch.optim.lr_scheduler.LinearLR(o, start_factor=0.25, total_iters=3),
                torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.5),
            ],
            milestones=[3],
        ),
    ),
}


@pytest.mark.parametrize("name", sorted(SCHEDULES))
@pytest.mark.filterwarnings("ignore::UserWarning")  # SequentialLR's deprecation notes
def test_lr_schedules(name):
    """The learning rate after each of 10 epochs (CosineLR over its `total` epochs:
    after it minirec stays flat and torch's cosine turns back up, see below)."""
    mr_make, torch_make = SCHEDULES[name]
    mo, to = _pair(0.3)
    ms, ts = mr_make(mo), torch_make(to)
    assert mo.lr == pytest.approx(to.param_groups[0]["lr"], rel=1e-12)  # epoch 0
    got, want = _lrs(ms, ts, to, 10)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    COUNTS["cases"] += 1


def test_cosine_lr_after_total_stays_flat():
    """CosineAnnealingLR is periodic (it rises again after T_max); CosineLR stays at
    lr × min_factor from epoch `total` on, as documented."""
    documented_difference("CosineLR", "flat after total epochs, torch's cosine rises")
    mo, to = _pair(0.3)
    ms = optim.CosineLR(mo, total=4, min_factor=0.1)
    ts = torch.optim.lr_scheduler.CosineAnnealingLR(to, T_max=4, eta_min=0.03)
    got, want = _lrs(ms, ts, to, 8)
    np.testing.assert_allclose(got[:4], want[:4], rtol=1e-12)
    np.testing.assert_allclose(got[4:], 0.03, rtol=1e-12)
    assert want[-1] > 0.03
