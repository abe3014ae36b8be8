"""Fold-in of the factor models (users and items computed with the other side
frozen), the CG solver's empty rows, ALS explain and the partial_fit methods.

References: scikit-learn's Ridge for the explicit ALS half-step, the dense
Hu-Koren-Volinsky formula (every item in C_u, no YᵀY trick) for the implicit one,
and the fitted models themselves (a fold-in of a user's own history must give back
its fitted factors once ALS has converged)."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from minirec import Interactions
from minirec.data.synthetic import checkerboard, synthetic_ratings
from minirec.errors import UnknownIdError
from minirec.models.als import ALS, ImplicitALS
from minirec.models.bpr import BPR
from minirec.models.mf import MF
from minirec.models.ranking_mf import RankingMF

ROOT = Path(__file__).resolve().parents[2]
CPU_BACKENDS = ["numpy", "numba"]


@pytest.fixture(scope="module")
def ratings() -> Interactions:
    return synthetic_ratings(n_users=60, n_items=40, density=0.3, seed=3)


@pytest.fixture(scope="module")
def blocks() -> Interactions:
    return checkerboard(n_users=48, n_items=36, blocks=4, density=0.5, seed=1)


def with_empty_rows(data: Interactions, users=(2, 7), items=(0, 5, 9)) -> Interactions:
    """`data` without any interaction of the given internal users and items (the
    id maps keep them, so the model has rows with no entries)."""
    keep = ~np.isin(data.users, users) & ~np.isin(data.items, items)
    return data.subset(keep)


def history(model, u: int) -> tuple[np.ndarray, np.ndarray]:
    """Raw item ids of internal user `u`'s training items, and the user id
    repeated (the pairs fold_in takes)."""
    items = model.item_ids_[model.seen_items(u)]
    return np.repeat(model.user_ids_[u], len(items)), items


# ----------------------------------------------------------------- CG empty rows
@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("solver", ["cg", "cholesky"])
def test_rows_without_interactions_get_exactly_zero_factors(
    blocks, ratings, solver, backend
):
    data = with_empty_rows(blocks)
    m = ImplicitALS(k=4, reg=0.0, n_epochs=3, solver=solver, backend=backend)
    m.fit(data)
    assert not np.any(m.P_[[2, 7]]) and not np.any(m.Q_[[0, 5, 9]])
    assert np.all(np.abs(m.Q_[1]) > 0)  # the others are learned
    # cosine similarity ignores length: a zero item must not reach a top list
    ids, _ = m.similar_items(m.item_ids_[[1, 2, 3]], 10)
    assert not np.isin(ids, m.item_ids_[[0, 5, 9]]).any()
    e = ALS(k=3, n_epochs=2, backend=backend).fit(with_empty_rows(ratings))
    assert not np.any(e.P_[[2, 7]]) and not np.any(e.Q_[[0, 5, 9]])


def test_cuda_empty_rows_are_zero_under_the_simulator():
    """The CUDA solvers (CG warm-started at non-zero factors, both Cholesky ones)
    on the CPU simulator (it must be on before numba is imported: a subprocess)."""
    pytest.importorskip("numba.cuda", reason="numba-cuda is not installed")
    code = textwrap.dedent(
        """
        import numpy as np
        from minirec.backends import cuda_ops as C
        g = np.random.default_rng(0)
        indptr = np.array([0, 2, 2, 3], dtype=np.int64)  # row 1 has no entries
        indices = np.array([0, 2, 1], dtype=np.int32)
        conf = np.full(3, 3.0, dtype=np.float32)
        Y = g.normal(size=(3, 2)).astype(np.float32)
        X = g.normal(size=(3, 2)).astype(np.float32) + 1.0
        YtY = (Y.T @ Y).astype(np.float32)
        for solve in (
            lambda X: C.implicit_als_cg(indptr, indices, conf, Y, YtY, X, 0.0, 3),
            lambda X: C.implicit_als_solve(indptr, indices, conf, Y, YtY, X, 0.1),
            lambda X: C.als_solve(indptr, indices, conf, Y, X, 0.1, True),
        ):
            X1 = X.copy()
            solve(X1)
            assert not X1[1].any() and X1[0].all() and X1[2].all(), X1
        print("ok")
        """
    )
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", NUMBA_NUM_THREADS="1")
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr[-3000:]


# ----------------------------------------------------------------- ALS fold-in
@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_implicit_fold_in_matches_the_dense_formula(blocks, backend):
    m = ImplicitALS(k=5, reg=0.3, alpha=3.0, n_epochs=4, backend=backend).fit(blocks)
    items = m.item_ids_[[1, 4, 4, 8]][[0, 1, 3]]
    counts = np.array([1.0, 2.0, 0.0], dtype=np.float32)
    m.fold_in([999, 999, 999], items, counts)
    Q = m.Q_.astype(np.float64)
    c = np.ones(m.n_items)
    p = np.zeros(m.n_items)
    idx = m.item_index(items)
    c[idx] += m.alpha * counts
    p[idx] = 1.0
    x = np.linalg.solve(Q.T @ (c[:, None] * Q) + m.reg * np.eye(m.k), Q.T @ (c * p))
    np.testing.assert_allclose(m.P_[-1], x, rtol=1e-4, atol=1e-6)
    assert m.user_ids_[-1] == 999 and set(m.seen_items(m.n_users - 1)) == set(idx)


@pytest.mark.parametrize("weighted", [True, False])
def test_explicit_fold_in_is_a_ridge_regression(ratings, weighted):
    from sklearn.linear_model import Ridge

    m = ALS(k=4, reg=0.1, n_epochs=3, weighted=weighted, backend="numpy").fit(ratings)
    items = m.item_ids_[[3, 6, 10, 20, 33]]
    r = np.array([5, 1, 4, 2, 3], dtype=np.float32)
    m.fold_in(np.full(5, -1), items, r)
    i = m.item_index(items)
    design = np.hstack([m.Q_[i], np.ones((5, 1))])
    alpha = m.reg * 5 if weighted else m.reg
    ref = Ridge(alpha=alpha, fit_intercept=False, solver="cholesky")
    ref.fit(design, r - m.mu_ - m.bi_[i])
    got = np.append(m.P_[-1], m.bu_[-1])
    np.testing.assert_allclose(got, ref.coef_, rtol=1e-4, atol=1e-5)


@pytest.fixture(scope="module")
def held_out(blocks):
    """Train/test split leaving one item per user out."""
    r = np.random.default_rng(5)
    test = np.zeros(len(blocks), dtype=bool)
    for u in range(blocks.n_users):
        rows = np.flatnonzero(blocks.users == u)
        test[r.choice(rows)] = True
    return blocks.subset(~test), blocks.subset(test)


@pytest.mark.parametrize(
    "make",
    [
        lambda: ImplicitALS(k=4, reg=0.5, n_epochs=60, solver="cholesky"),
        lambda: ALS(k=3, reg=0.1, n_epochs=60, clip=False),
    ],
    ids=["implicit-als", "als"],
)
def test_fold_in_of_the_full_history_reproduces_the_fitted_user(
    held_out, ratings, make
):
    """At convergence a user's factors are the half-step solution from its own
    history: folding it in again gives them back, and its withheld item ranks
    where the fitted model ranks it."""
    model = make()
    train, test = held_out
    if isinstance(model, ALS):
        train, test = ratings, None
    fitted = model.fit(train)
    folded = copy.deepcopy(fitted)
    users = np.concatenate([history(fitted, u)[0] for u in range(fitted.n_users)])
    items = np.concatenate([history(fitted, u)[1] for u in range(fitted.n_users)])
    vals = None
    if isinstance(model, ALS):
        vals = np.concatenate([fitted._seen.row_data(u) for u in range(fitted.n_users)])
    folded.fold_in(users, items, vals)
    scale = np.abs(fitted.P_).max()
    np.testing.assert_allclose(folded.P_, fitted.P_, atol=2e-3 * scale)
    if isinstance(model, ALS):
        np.testing.assert_allclose(folded.bu_, fitted.bu_, atol=1e-3)
    if test is None:
        return
    a = fitted.score_items(test.users)
    b = folded.score_items(test.users)
    for s in (a, b):
        for r, u in enumerate(test.users):
            s[r, fitted.seen_items(u)] = -np.inf
    rank_a = (a > a[np.arange(len(a)), test.items][:, None]).sum(1)
    rank_b = (b > b[np.arange(len(b)), test.items][:, None]).sum(1)
    np.testing.assert_array_equal(rank_a, rank_b)


def test_fold_in_ignores_the_previous_state_and_validates(blocks):
    m = ImplicitALS(k=4, n_epochs=3, solver="cholesky").fit(blocks)
    u0, i0 = history(m, 0)
    a = copy.deepcopy(m).fold_in(u0, i0).P_[0]
    b = copy.deepcopy(m).fold_in(u0[:1], i0[:1]).fold_in(u0, i0).P_[0]
    np.testing.assert_array_equal(a, b)
    with pytest.raises(UnknownIdError, match="unknown item id"):
        m.fold_in([1], [10**9])
    with pytest.raises(ValueError, match="r >= 0"):
        m.fold_in([1], i0[:1], [-1.0])


# ----------------------------------------------------------------- SGD fold-in
def in_block_share(model, users, n_users, n_items, blocks, n=3):
    """Share of the users (internal indices, copies of user u % n_users of the
    checkerboard) whose top-n holds as many unseen items of their block as there
    can be (min(n, unseen in the block))."""
    ids, _ = model.recommend(model.user_ids_[users], n=n)
    ib = model.item_index(ids.ravel()).reshape(ids.shape) * blocks // n_items
    ub = (users % n_users) * blocks // n_users
    block_size = n_items // blocks
    unseen = np.array([block_size - len(model.seen_items(u)) for u in users])
    got = (ib == ub[:, None]).sum(1)
    return float(np.mean(got == np.minimum(n, unseen)))


@pytest.mark.parametrize(
    "make",
    [
        lambda: BPR(k=8, n_epochs=30, lr=0.05),
        lambda: RankingMF(k=8, n_epochs=15, lr=0.05, n_negatives=4),
        lambda: ImplicitALS(k=4, reg=0.1, n_epochs=8),
    ],
    ids=["bpr", "ranking-mf", "implicit-als"],
)
def test_folded_in_new_users_rank_as_well_as_fitted_ones(blocks, make):
    """Copies of the training users, folded in as new users, find their own block
    as the fitted users do, with the item side left exactly as it was."""
    m = make().fit(blocks)
    before = {k: v.copy() for k, v in m._state().items()}
    n = m.n_users
    users = np.concatenate(
        [np.full(len(history(m, u)[1]), 10_000 + u) for u in range(n)]
    )
    items = np.concatenate([history(m, u)[1] for u in range(n)])
    m.fold_in(users, items)
    assert m.n_users == 2 * n
    fitted = in_block_share(m, np.arange(n), n, 36, 4)
    new = in_block_share(m, np.arange(n, 2 * n), n, 36, 4)
    assert new >= 0.9 and new >= fitted - 0.05, (new, fitted)
    for name, arr in before.items():
        now = getattr(m, name + "_")
        if name in m.user_state:
            np.testing.assert_array_equal(now[:n], arr)
        else:
            np.testing.assert_array_equal(now, arr)


def test_mf_fold_in_predicts_like_the_fitted_user(ratings):
    m = MF(k=4, lr=0.02, n_epochs=40, lr_decay=1.0, seed=1).fit(ratings)
    users = np.concatenate([np.full(len(history(m, u)[1]), -1 - u) for u in range(60)])
    items = np.concatenate([history(m, u)[1] for u in range(60)])
    vals = np.concatenate([m._seen.row_data(u) for u in range(60)])
    fitted = m.predict(ratings.user_ids[ratings.users], ratings.item_ids[ratings.items])
    m.fold_in(users, items, vals)
    new = m.predict(-1 - ratings.users, ratings.item_ids[ratings.items])
    err_fit = np.sqrt(np.mean((fitted - ratings.ratings) ** 2))
    err_new = np.sqrt(np.mean((new - ratings.ratings) ** 2))
    # the same training schedule on the same ratings, Q frozen: as close a fit
    assert err_new < 1.1 * err_fit, (err_new, err_fit)
    assert np.corrcoef(fitted, new)[0, 1] > 0.95


# ----------------------------------------------------------------- partial_fit
@pytest.mark.parametrize("make", [ImplicitALS, ALS], ids=["implicit-als", "als"])
def test_partial_fit_items_adds_an_item_like_an_existing_one(ratings, make):
    m = make(k=4, n_epochs=40, reg=0.1).fit(ratings)
    j = 7  # a new item with exactly item j's interactions
    users = m.user_ids_[ratings.users[ratings.items == j]]
    vals = ratings.ratings[ratings.items == j]
    n_before = m.n_items
    m.partial_fit_items(np.full(len(users), 10**6), users, vals)
    assert m.n_items == n_before + 1 and m.item_ids_[-1] == 10**6
    scale = np.abs(m.Q_[:-1]).max()
    np.testing.assert_allclose(m.Q_[-1], m.Q_[j], atol=3e-3 * scale)
    if isinstance(m, ALS):
        assert abs(m.bi_[-1] - m.bi_[j]) < 3e-3 * max(1.0, abs(m.bi_[j]))
    u = m.user_index(users[:1])[0]
    assert n_before in m.seen_items(u) and j in m.seen_items(u)
    assert m.item_popularity_[-1] == len(users)
    np.testing.assert_allclose(m.item_mean_[-1], vals.mean(), rtol=1e-6)
    ids, _ = m.recommend(m.user_ids_[:5], n=m.n_items - 15, filter_seen=False)
    assert (ids == 10**6).any()
    # recalculating an existing item from one user replaces its interactions
    m.partial_fit_items([m.item_ids_[j]], users[:1])
    assert (ratings.items == j).sum() > 1
    assert [x for x in range(m.n_users) if j in m.seen_items(x)] == [u]
    with pytest.raises(UnknownIdError, match="unknown user id"):
        m.partial_fit_items([m.item_ids_[0]], [10**9])


def test_partial_fit_users_is_fold_in(blocks):
    m = ImplicitALS(k=4, n_epochs=3).fit(blocks)
    u, i = history(m, 3)
    a = copy.deepcopy(m).partial_fit_users(u, i)
    b = copy.deepcopy(m).fold_in(u, i)
    np.testing.assert_array_equal(a.P_, b.P_)


# ----------------------------------------------------------------- explain
def test_implicit_explain_sums_to_the_folded_in_score(blocks):
    m = ImplicitALS(k=5, reg=0.2, alpha=4.0, n_epochs=5, solver="cg").fit(blocks)
    user, item = m.user_ids_[4], m.item_ids_[30]
    ids, contrib = m.explain(user, item)
    assert set(ids) == set(m.item_ids_[m.seen_items(4)])
    assert np.all(np.diff(contrib) <= 0)
    folded = copy.deepcopy(m).fold_in(*history(m, 4))
    score = folded.predict([user], [item])[0]
    assert abs(contrib.sum() - score) < 1e-4
    # each term is c_j q_iᵀ W_u q_j (Hu et al. 2008 §5), W_u by explicit inverse
    Q = m.Q_.astype(np.float64)
    I_u = m.item_index(ids)
    c = 1.0 + m.alpha * np.ones(len(I_u))
    W = np.linalg.inv(Q.T @ Q + (Q[I_u].T * (c - 1)) @ Q[I_u] + m.reg * np.eye(m.k))
    np.testing.assert_allclose(contrib, c * (Q[I_u] @ W @ Q[30]), rtol=1e-6)
    top_ids, top = m.explain(user, item, n=3)
    np.testing.assert_array_equal(top_ids, ids[:3])
    # any history, for any user id
    ids2, c2 = m.explain("someone", item, user_items=ids[:2])
    folded.fold_in([10**7, 10**7], ids[:2])
    assert abs(c2.sum() - folded.predict([10**7], [item])[0]) < 1e-4


def test_explicit_explain_sums_to_the_personal_part_of_the_score(ratings):
    m = ALS(k=4, reg=0.1, n_epochs=3, clip=False).fit(ratings)
    user, item = m.user_ids_[9], m.item_ids_[2]
    ids, contrib = m.explain(user, item)
    folded = copy.deepcopy(m)
    folded.fold_in(*history(m, 9), m._seen.row_data(9))
    score = folded.predict([user], [item])[0]
    base = m.mu_ + m.bi_[2]
    assert abs(base + contrib.sum() - score) < 1e-4
    with pytest.raises(UnknownIdError):
        m.explain(10**9, item)


def test_new_string_ids_keep_their_length(ratings):
    d = Interactions.from_arrays(
        [f"u{x}" for x in ratings.users], [f"i{x}" for x in ratings.items]
    )
    m = ImplicitALS(k=3, n_epochs=2).fit(d)
    m.partial_fit_items(["a-much-longer-item-id"] * 2, ["u1", "u2"])
    assert m.item_ids_[-1] == "a-much-longer-item-id"
    assert m.item_index(["a-much-longer-item-id"])[0] == m.n_items - 1
    n = ImplicitALS(k=3, n_epochs=2).fit(ratings)  # integer ids
    with pytest.raises(ValueError, match="new item id 'x' is not a int64"):
        n.partial_fit_items(["x"], [n.user_ids_[0]])
