"""ALS (explicit, ALS-WR with biases) and ImplicitALS (exact and CG)."""

from __future__ import annotations

import numpy as np
import pytest

from minirec import Interactions, TrainingDivergedError
from minirec.data.synthetic import checkerboard
from minirec.evaluation import evaluate_ratings
from minirec.models.als import ALS, ImplicitALS
from minirec.models.baselines import BiasedBaseline


def in_block_share(model, data, n_users, n_items, blocks, n=3):
    """Share of users whose top-n holds as many unseen items of their own block as
    possible (min(n, unseen in block))."""
    ids, _ = model.recommend(data.user_ids, n=n)
    ub = np.arange(n_users) * blocks // n_users
    ib = np.arange(n_items) * blocks // n_items
    item_pos = {raw: i for i, raw in enumerate(data.item_ids)}
    ok = []
    for u in range(n_users):
        seen = set(data.by_user.row(u).tolist())
        unseen_in = sum(1 for i in range(n_items) if ib[i] == ub[u] and i not in seen)
        got = sum(1 for x in ids[u] if ib[item_pos[x]] == ub[u])
        ok.append(got == min(n, unseen_in))
    return float(np.mean(ok))


@pytest.fixture(scope="module")
def planted():
    r = np.random.default_rng(1)
    m, n, k = 100, 70, 3
    P = r.normal(0, 0.7, (m, k))
    Q = r.normal(0, 0.7, (n, k))
    full = 3.5 + r.normal(0, 0.3, m)[:, None] + r.normal(0, 0.3, n)[None, :] + P @ Q.T
    u, i = np.nonzero(r.random((m, n)) < 0.6)
    data = Interactions.from_arrays(u, i, full[u, i])
    test = r.random(len(data)) < 0.2
    return data.subset(~test), data.subset(test)


def _objective(m: ALS, data: Interactions) -> float:
    """The ALS-WR objective with biases, computed densely."""
    u, i, r = data.users, data.items, data.ratings.astype(np.float64)
    e = r - (m.mu_ + m.bu_[u] + m.bi_[i] + np.einsum("ij,ij->i", m.P_[u], m.Q_[i]))
    nu, ni = data.user_counts(), data.item_counts()
    pen = (nu * ((m.P_.astype(np.float64) ** 2).sum(1) + m.bu_**2.0)).sum()
    pen += (ni * ((m.Q_.astype(np.float64) ** 2).sum(1) + m.bi_**2.0)).sum()
    return float((e**2).sum() + m.reg * pen)


def test_als_recovers_planted_structure_and_descends_monotonically(planted):
    train, test = planted
    m = ALS(k=3, reg=0.001, n_epochs=25, backend="numba", clip=False).fit(train)
    rmse = evaluate_ratings(m, test).metrics["RMSE"]
    base = evaluate_ratings(BiasedBaseline().fit(train), test).metrics["RMSE"]
    assert rmse < 0.1 < base
    # each alternation can only lower the objective (true ALS, unlike SGD)
    objs = [
        _objective(ALS(k=3, reg=0.05, n_epochs=t, backend="numba").fit(train), train)
        for t in (1, 2, 4, 8)
    ]
    assert all(a >= b - 1e-6 * a for a, b in zip(objs, objs[1:])), objs


@pytest.mark.parametrize("kw", [{"weighted": False}, {"biased": False}])
def test_als_variants_and_backends_agree(planted, kw):
    train, test = planted
    a = ALS(k=3, n_epochs=3, backend="numpy", **kw).fit(train)
    b = ALS(k=3, n_epochs=3, backend="numba", **kw).fit(train)
    np.testing.assert_allclose(a.P_, b.P_, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(a.bi_, b.bi_, rtol=1e-3, atol=1e-4)
    if not kw.get("biased", True):
        assert not np.any(b.bu_) and b.mu_ == 0.0
    assert evaluate_ratings(b, test).metrics["RMSE"] < 1.0


@pytest.mark.parametrize("solver", ["cg", "cholesky"])
@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_implicit_als_checkerboard(solver, backend):
    """Users only interact inside their block: the top items of every user must be
    unseen items of the user's own block."""
    data = checkerboard(n_users=40, n_items=32, blocks=4, density=0.5, seed=0)
    m = ImplicitALS(
        k=4, reg=0.1, alpha=5.0, n_epochs=10, solver=solver, backend=backend
    ).fit(data)
    assert in_block_share(m, data, 40, 32, 4) > 0.95


def test_implicit_cg_approaches_the_exact_solver():
    data = checkerboard(n_users=50, n_items=30, blocks=3, density=0.4, seed=2)
    exact = ImplicitALS(
        k=5, reg=0.1, n_epochs=15, solver="cholesky", backend="numba"
    ).fit(data)
    cg = ImplicitALS(
        k=5, reg=0.1, n_epochs=15, solver="cg", cg_steps=3, backend="numba"
    ).fit(data)
    s1 = exact.score_items(np.arange(50))
    s2 = cg.score_items(np.arange(50))
    assert np.abs(s1 - s2).max() < 0.05


def test_implicit_numpy_and_numba_agree():
    data = checkerboard(n_users=30, n_items=20, blocks=2, seed=3)
    for solver in ("cg", "cholesky"):
        a = ImplicitALS(k=3, n_epochs=3, solver=solver, backend="numpy").fit(data)
        b = ImplicitALS(k=3, n_epochs=3, solver=solver, backend="numba").fit(data)
        np.testing.assert_allclose(a.Q_, b.Q_, rtol=1e-3, atol=1e-5)


def test_bad_input():
    for kw, match in [
        ({"k": 0}, "k=0"),
        ({"reg": -0.1}, "reg=-0.1"),
        ({"n_epochs": 0}, "n_epochs"),
        ({"backend": "jax"}, "choose one"),
    ]:
        with pytest.raises(ValueError, match=match):
            ALS(**kw)
        with pytest.raises(ValueError, match=match):
            ImplicitALS(**kw)
    with pytest.raises(ValueError, match="solver"):
        ImplicitALS(solver="lu")
    with pytest.raises(ValueError, match="alpha"):
        ImplicitALS(alpha=-1)
    neg = Interactions.from_arrays([1, 2, 2], [1, 1, 2], [1.0, -2.0, 1.0])
    with pytest.raises(ValueError, match="negative"):
        ImplicitALS().fit(neg)
    d = Interactions.from_arrays([1, 2], [3, 4], [5.0, 4.0])
    with pytest.raises(ValueError, match="empty"):
        ALS().fit(d.subset(np.array([], dtype=int)))


def test_nan_factors_are_reported(planted, monkeypatch):
    """A kernel that returns NaN (here: a NaN rating slipped past) stops training."""
    train, _ = planted
    bad = train.subset(np.arange(len(train)))
    bad.ratings[0] = np.inf
    with pytest.raises(TrainingDivergedError, match="ALS"):
        ALS(k=2, n_epochs=2, backend="numba").fit(bad)


def test_ml100k_random_split_quick(data_root):
    from minirec.data.movielens import load_movielens
    from minirec.data.split import random_split

    d = load_movielens("ml-100k", data_root / "ml-100k")
    train, test = random_split(d, 0.1, seed=0)
    m = ALS(k=16, reg=0.1, n_epochs=8, backend="numba").fit(train)
    rmse = evaluate_ratings(m, test).metrics["RMSE"]
    assert rmse < evaluate_ratings(BiasedBaseline().fit(train), test).metrics["RMSE"]


@pytest.mark.parametrize(
    "make",
    [
        lambda: ALS(k=3, reg=0.0, init_std=0.0, n_epochs=2, backend="numpy"),
        lambda: ImplicitALS(
            k=3, reg=0.0, init_std=0.0, n_epochs=2, solver="cholesky", backend="numpy"
        ),
    ],
    ids=["als", "implicit-als"],
)
def test_singular_systems_get_the_advice_of_the_compiled_backends(planted, make):
    """All-zero starting factors and reg=0 make every per-row system singular:
    NumPy's LinAlgError becomes TrainingDivergedError naming the epoch and the
    row, with the advice the divergence checks give."""
    model = make()
    with pytest.raises(TrainingDivergedError) as err:
        model.fit(checkerboard(n_users=20, n_items=12, blocks=2, seed=0))
    msg = str(err.value)
    assert f"{type(model).__name__}: training diverged at epoch 1, users" in msg
    assert "row 0" in msg and "raise reg" in msg and "lower k" in msg
    # a well-posed fold-in on the same backend keeps working (reg > 0)
    ok = ALS(k=3, n_epochs=2, backend="numpy").fit(planted[0])
    ok.fold_in([10**6], [ok.item_ids_[0]], [4.0])
    ok.set_params(reg=0.0)
    ok.Q_ = np.zeros_like(ok.Q_)  # no information at all in the item side
    ok.biased = False
    with pytest.raises(TrainingDivergedError, match="fold-in of 1 users.*raise reg"):
        ok.fold_in([10**6], [ok.item_ids_[0]], [4.0])


def test_n_iters_is_now_n_epochs():
    """One vocabulary: passes are n_epochs; the old name warns for one release."""
    for cls in (ALS, ImplicitALS):
        with pytest.warns(DeprecationWarning, match="n_epochs"):
            assert cls(n_iters=3).n_epochs == 3
