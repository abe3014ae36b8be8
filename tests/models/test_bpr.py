"""BPR: sampler, checkerboard, backends, divergence, errors."""

from __future__ import annotations

import numpy as np
import pytest

from minirec import Interactions, TrainingDivergedError
from minirec.data.synthetic import checkerboard
from minirec.evaluation import evaluate_full
from minirec.models.bpr import BPR, sample_triples, seen_index


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


def _keys(data):
    return np.sort(data.users.astype(np.int64) * data.n_items + data.items)


def test_sampler_draws_only_unseen_negatives_reproducibly():
    data = checkerboard(n_users=30, n_items=20, blocks=2, density=0.8, seed=0)
    keys = _keys(data)
    a = sample_triples(
        np.random.default_rng(5), data.users, data.items, data.n_items, 5000, keys
    )
    b = sample_triples(
        np.random.default_rng(5), data.users, data.items, data.n_items, 5000, keys
    )
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    # the bitmap membership test gives the very same draws
    _, bitmap = seen_index(data)
    c = sample_triples(
        np.random.default_rng(5),
        data.users,
        data.items,
        data.n_items,
        5000,
        keys,
        bitmap,
    )
    for x, y in zip(a, c):
        np.testing.assert_array_equal(x, y)
    # and so does the Numba test in the users' CSR rows (the one BPR uses)
    d = sample_triples(
        np.random.default_rng(5),
        data.users,
        data.items,
        data.n_items,
        5000,
        data.by_user,
    )
    for x, y in zip(a, d):
        np.testing.assert_array_equal(x, y)
    u, i, j = a
    assert np.isin(u.astype(np.int64) * data.n_items + i, keys).all()
    assert not np.isin(u.astype(np.int64) * data.n_items + j, keys).any()
    # negatives are spread over the unseen items (uniform, not a fixed few)
    assert len(np.unique(j)) > 15


def test_sampler_fails_clearly_for_users_who_saw_everything():
    d = Interactions.from_arrays([1, 1, 2], [1, 2, 1], None)
    with pytest.raises(ValueError, match="could not sample negatives"):
        sample_triples(
            np.random.default_rng(0), d.users, d.items, d.n_items, 50, _keys(d)
        )


@pytest.mark.parametrize(
    "backend,hogwild", [("numpy", False), ("numba", False), ("numba", True)]
)
def test_bpr_checkerboard(backend, hogwild):
    data = checkerboard(n_users=40, n_items=32, blocks=4, density=0.5, seed=1)
    # a pure dot product (item biases would rank popular items of other blocks up)
    m = BPR(
        k=4,
        lr=0.1,
        n_epochs=60,
        item_bias=False,
        backend=backend,
        hogwild=hogwild,
        seed=0,
    ).fit(data)
    assert in_block_share(m, data, 40, 32, 4) >= 0.95
    losses = [h["bpr_loss"] for h in m.history_]
    assert losses[-1] < 0.5 * losses[0]


def test_numpy_and_numba_train_the_same_bpr():
    data = checkerboard(n_users=20, n_items=16, blocks=2, seed=2)
    a = BPR(k=3, n_epochs=3, backend="numpy").fit(data)
    b = BPR(k=3, n_epochs=3, backend="numba").fit(data)
    np.testing.assert_allclose(a.P_, b.P_, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(a.bi_, b.bi_, rtol=1e-4, atol=1e-6)
    c = BPR(k=3, n_epochs=3, backend="numba").fit(data)
    np.testing.assert_array_equal(b.Q_, c.Q_)
    assert np.any(b.bi_)
    nob = BPR(k=3, n_epochs=3, item_bias=False, backend="numba").fit(data)
    assert not np.any(nob.bi_)


def test_bpr_divergence_stops_with_advice():
    data = checkerboard(n_users=30, n_items=20, blocks=2, seed=0)
    with pytest.raises(TrainingDivergedError, match="BPR.*lower lr"):
        BPR(k=8, lr=1e30, init_std=1.0, n_epochs=5, backend="numba").fit(data)


def test_bad_input():
    for kw, match in [
        ({"k": -1}, "k=-1"),
        ({"reg": -1}, "reg=-1"),
        ({"lr": 0}, "lr=0"),
        ({"samples_per_epoch": 0}, "samples_per_epoch"),
        ({"backend": "mxnet"}, "choose one"),
    ]:
        with pytest.raises(ValueError, match=match):
            BPR(**kw)


def test_bpr_on_ml100k_beats_popularity(data_root):
    """A short run on ML-100k: BPR must beat popularity under full ranking."""
    from minirec.data.movielens import load_movielens
    from minirec.data.split import random_split
    from minirec.models.baselines import Popularity

    d = load_movielens("ml-100k", data_root / "ml-100k")
    train, test = random_split(d, 0.2, seed=0)
    m = BPR(k=32, n_epochs=15, backend="numba").fit(train)
    ndcg = evaluate_full(m, test, ks=(10,)).metrics["NDCG@10"]
    pop = evaluate_full(Popularity().fit(train), test, ks=(10,)).metrics["NDCG@10"]
    assert ndcg > pop
