"""The estimator contract, run for every registered model x kernel backend.

Each model appears in FAST_PARAMS with hyperparameters that train in well under a
second on the tiny planted data. A model that is registered and importable but has no
entry here fails `test_every_model_has_fast_params`, so nothing is silently left out.
"""

from __future__ import annotations

import numpy as np
import pytest

from minirec import Interactions, ModelFileError, Recommender, UnknownIdError
from minirec.models import REGISTRY, available_models, get_model_class

# name -> constructor kwargs for a fast fit on the tiny data (one line each, please)
FAST_PARAMS: dict[str, dict] = {
    "gmf": {"k": 8, "n_epochs": 3, "batch_size": 64, "lr": 0.01},
    "ncf-mlp": {"layers": (16, 8), "n_epochs": 3, "batch_size": 64, "lr": 0.01},
    "neumf": {"k": 8, "layers": (16, 8), "pretrain_epochs": 2, "n_epochs": 1},
    "deepfm": {"k": 4, "hidden": (8,), "threshold": 3.5, "n_epochs": 2},
    "convncf": {"k": 4, "channels": 4, "n_epochs": 1, "batch_size": 64},
    "autorec": {"hidden": 8, "n_epochs": 5, "batch_size": 8, "lr": 0.01},
    "mean": {},
    "baseline": {},
    "popularity": {},
    "random": {"seed": 1},
    "fm": {"k": 4, "n_epochs": 5, "lr": 0.02},
    "itemknn": {"k": 5},
    "userknn": {"k": 5, "task": "ranking"},
    "mf": {"k": 4, "n_epochs": 5, "lr": 0.02},
    "als": {"k": 3, "n_iters": 3},
    "implicit-als": {"k": 4, "n_iters": 3},
    "bpr": {"k": 4, "n_epochs": 3},
}

# models whose constructor takes backend= are tested on each of these
BACKENDS = ["numpy", "numba"]


def _cases():
    out = []
    for name in available_models():
        cls = get_model_class(name)
        import inspect

        if "backend" in inspect.signature(cls.__init__).parameters:
            out += [pytest.param(name, b, id=f"{name}-{b}") for b in BACKENDS]
        else:
            out.append(pytest.param(name, None, id=name))
    return out


def _make(name, backend):
    params = dict(FAST_PARAMS[name])
    if backend is not None:
        params["backend"] = backend
    return get_model_class(name)(**params)


def test_every_model_has_fast_params():
    missing = [n for n in available_models() if n not in FAST_PARAMS]
    assert not missing, f"add FAST_PARAMS entries for {missing}"
    assert set(FAST_PARAMS) <= set(REGISTRY)


@pytest.fixture(scope="module")
def fitted(tiny_ratings):
    cache = {}

    def get(name, backend):
        key = (name, backend)
        if key not in cache:
            cache[key] = _make(name, backend).fit(tiny_ratings)
        return cache[key]

    return get


@pytest.mark.parametrize("name,backend", _cases())
def test_shapes_and_seen_filter(name, backend, fitted, tiny_ratings):
    m = fitted(name, backend)
    users = tiny_ratings.user_ids[:5]
    ids, scores = m.recommend(users, n=7)
    assert ids.shape == (5, 7) and scores.shape == (5, 7)
    assert np.all(np.diff(scores, axis=1) <= 1e-6), "scores must be sorted best first"
    for r in range(len(users)):
        seen = set(tiny_ratings.item_ids[tiny_ratings.by_user.row(r)].tolist())
        assert not seen & set(ids[r].tolist()), "a seen item was recommended"
        assert len(set(ids[r].tolist())) == 7
    # without filtering, seen items may come back and scores are still sorted
    ids2, _ = m.recommend(users[:1], n=7, filter_seen=False)
    assert ids2.shape == (1, 7)
    p = m.predict(users[:3], tiny_ratings.item_ids[:3])
    assert p.shape == (3,) and np.all(np.isfinite(p))


@pytest.mark.parametrize("name,backend", _cases())
def test_unknown_ids_and_bad_n(name, backend, fitted, tiny_ratings):
    m = fitted(name, backend)
    with pytest.raises(UnknownIdError, match="unknown user id"):
        m.recommend([999_999], n=3)
    with pytest.raises(UnknownIdError, match="unknown item id"):
        m.predict([tiny_ratings.user_ids[0]], [999_999])
    ids, _ = m.recommend([999_999], n=3, unknown="popular")
    assert ids.shape == (1, 3)
    for bad in (0, -1, tiny_ratings.n_items + 1):
        with pytest.raises(ValueError, match="n="):
            m.recommend(tiny_ratings.user_ids[:1], n=bad)


@pytest.mark.parametrize("name,backend", _cases())
def test_deterministic(name, backend, tiny_ratings):
    a = _make(name, backend).fit(tiny_ratings)
    b = _make(name, backend).fit(tiny_ratings)
    users = tiny_ratings.user_ids[:10]
    np.testing.assert_allclose(
        a.recommend(users, n=5)[1], b.recommend(users, n=5)[1], rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("name,backend", _cases())
def test_save_load_round_trip(name, backend, fitted, tiny_ratings, tmp_path):
    m = fitted(name, backend)
    path = m.save(tmp_path / "model.npz")
    m2 = Recommender.load(path)
    assert type(m2) is type(m)
    users = tiny_ratings.user_ids[:8]
    np.testing.assert_allclose(
        m.recommend(users, 5)[1], m2.recommend(users, 5)[1], rtol=1e-6
    )
    np.testing.assert_array_equal(m.recommend(users, 5)[0], m2.recommend(users, 5)[0])
    # a truncated copy fails with a clear error, never arbitrary code
    data = path.read_bytes()
    bad = tmp_path / "truncated.npz"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError):
        Recommender.load(bad)


def test_not_a_model_file(tmp_path):
    p = tmp_path / "x.npz"
    p.write_bytes(b"#!/bin/sh\necho pwned\n")
    with pytest.raises(ModelFileError, match="not a readable minirec model"):
        Recommender.load(p)
    q = tmp_path / "y.npz"
    np.savez(q, a=np.arange(3))
    with pytest.raises(ModelFileError, match="not a minirec model"):
        Recommender.load(q)


def test_fit_type_and_empty_errors():
    from minirec.models import BiasedBaseline

    with pytest.raises(TypeError, match="Interactions"):
        BiasedBaseline().fit([(1, 2, 3.0)])
    d = Interactions.from_arrays([1, 2], [3, 4], [5.0, 4.0])
    with pytest.raises(ValueError, match="empty"):
        BiasedBaseline().fit(d.subset(np.array([], dtype=int)))
