"""Every autograd model with ``device="cuda"`` on the CuPy stand-in (tests/standin).

The stand-in offers only what the real CuPy offers and refuses implicit host
transfers: a host array used in device indexing or arithmetic is a TypeError, and
every ``np.*`` function applied to a device array is recorded in ``numpy_calls``.
For each of the 11 models: fit (tiny planted data, 1-2 epochs), predict, recommend,
save, load onto the stand-in and onto the CPU. Outputs must be host NumPy arrays,
the parameters device arrays, and ``numpy_calls`` empty.

Random streams: on a device the shuffles and negatives come from a device
Generator (the stand-in's draws NumPy's stream for its seed, real CuPy another), so
a device fit is not the CPU fit; both must beat a random scorer by a margin. Where
the streams coincide they must agree: the same weights scored on either device
(a CPU model loaded onto the stand-in), and AutoRec's full-batch L-BFGS (no
random draw after the initialisation).

On a GPU machine ``MINIREC_TEST_XP=cupy pytest tests/models/test_device_models.py``
runs the same tests on the real CuPy (the stand-in-only checks are skipped there).
"""

from __future__ import annotations

import os
import sys
import warnings

import numpy as np
import pytest
import standin
from standin import numpy_calls

from minirec.data import Interactions, synthetic_ratings, synthetic_sessions
from minirec.data.sequences import as_sequences
from minirec.errors import BackendUnavailableError
from minirec.models import (
    BPR,
    GMF,
    NCFMLP,
    AutoRec,
    ConvNCF,
    DeepALS,
    DeepFM,
    GRU4Rec,
    NeuMF,
    PhiMF,
    RatingMLP,
    Recommender,
    SASRec,
)
from minirec.models._train import NegativeSampler, pointwise_epoch

# name -> (class, hyperparameters, task); seconds each on the tiny data
MODELS = {
    "gmf": (GMF, dict(k=8, n_epochs=2, batch_size=64, lr=0.02), "ranking"),
    "ncf-mlp": (
        NCFMLP,
        dict(layers=(16, 8), n_epochs=2, batch_size=64, lr=0.01, dropout=0.2),
        "ranking",
    ),
    "neumf": (
        NeuMF,
        dict(k=8, layers=(16, 8), pretrain_epochs=1, n_epochs=1, batch_size=64),
        "ranking",
    ),
    "deepfm": (
        DeepFM,
        dict(k=4, hidden=(8,), threshold=3.5, n_epochs=2, lr=0.01, dropout=0.2),
        "ctr",
    ),
    "convncf": (
        ConvNCF,
        dict(k=4, channels=4, n_epochs=2, batch_size=64, dropout=0.2, lr=0.01),
        "ranking",
    ),
    "autorec": (
        AutoRec,
        dict(k=8, reg=1.0, n_epochs=10, batch_size=8, lr=0.05, optimizer="adam"),
        "rating",
    ),
    "phi-mf": (PhiMF, dict(k=4, hidden=(4,), n_epochs=2, batch_size=64), "rating"),
    "rating-mlp": (
        RatingMLP,
        dict(k=4, hidden=(4,), n_epochs=2, batch_size=64),
        "rating",
    ),
    "deep-als": (
        DeepALS,
        dict(k=4, n_epochs=2, batch_size=64, optimizer="adam"),
        "rating",
    ),
    "gru4rec": (
        GRU4Rec,
        dict(k=8, batch_size=8, n_negatives=4, n_epochs=2, dropout=0.2, lr=0.02),
        "sequence",
    ),
    "sasrec": (
        SASRec,
        dict(k=8, maxlen=8, n_blocks=1, n_epochs=2, batch_size=16, lr=0.01),
        "sequence",
    ),
}


@pytest.fixture(scope="module")
def ratings():
    return synthetic_ratings(60, 40, k=3, density=0.15, seed=1)


@pytest.fixture(scope="module")
def sessions():
    return synthetic_sessions(n_sessions=120, n_items=30, n_next=1, seed=2)


REAL_CUPY = "cupy" in os.environ.get("MINIREC_TEST_XP", "").split(",")
standin_only = pytest.mark.skipif(
    REAL_CUPY, reason="checks the stand-in's own bookkeeping or NumPy-exact numerics"
)


@pytest.fixture
def cupy(monkeypatch):
    """The stand-in, or the real CuPy with MINIREC_TEST_XP=cupy (it must import)."""
    if REAL_CUPY:
        import cupy

        yield cupy
        return
    yield standin.install(monkeypatch)
    numpy_calls.clear()


def _is_device(a) -> bool:
    return type(a).__module__.startswith("cupy")  # the stand-in's arrays say so too


def _data(task, ratings, sessions):
    return sessions if task == "sequence" else ratings


def _outputs(model, task, ratings) -> list[np.ndarray]:
    """What the model answers (all of it must be host NumPy arrays)."""
    if task == "sequence":
        prefixes = [list(model.item_ids_[:3]), list(model.item_ids_[3:5])]
        ids, scores = model.recommend_next(prefixes, n=5)
        return [model.score_next(prefixes), ids, scores, model.embeddings()["item"]]
    users, items = ratings.user_ids[:6], ratings.item_ids[:6]
    ids, scores = model.recommend(ratings.user_ids[:4], n=5)
    out = [model.predict(users, items), ids, scores]
    if type(model)._item_vectors is not Recommender._item_vectors:
        out += list(model.similar_items(ratings.item_ids[:2], n=3))
    return out


def _quality(model, task, ratings, sessions) -> tuple[float, float]:
    """(the model's figure, a random scorer's), higher is better: training AUC of
    the interacted items per user (rankers) or of the clicks among the rated pairs
    (DeepFM, rating >= 3.5), minus the training RMSE (rating models), Recall@10 of
    the next item (sequences)."""
    rng = np.random.default_rng(0)
    if task == "ranking":
        S = model.score_items(np.arange(ratings.n_users))
        pos = np.zeros(S.shape, dtype=bool)
        pos[ratings.users, ratings.items] = True
        return _auc(S, pos), _auc(rng.random(S.shape), pos)
    if task == "sequence":
        return _next_item_recall(model, sessions)
    r = ratings.ratings
    p = model.predict(ratings.user_ids[ratings.users], ratings.item_ids[ratings.items])
    if task == "ctr":
        clicks = (r >= 3.5)[None]
        return _auc(p[None], clicks), _auc(rng.random(clicks.shape), clicks)
    rand = rng.uniform(r.min(), r.max(), len(r))
    rmse = [float(np.sqrt(np.mean((x - r) ** 2))) for x in (p, rand)]
    return -rmse[0], -rmse[1]


def _next_item_recall(model, sessions) -> tuple[float, float]:
    seqs = [s for s in as_sequences(sessions, "sessions") if len(s) >= 2][:60]
    prefixes = [s[: t + 1] for s in seqs for t in range(len(s) - 1)]
    nxt = np.array([s[t + 1] for s in seqs for t in range(len(s) - 1)])
    ids, _ = model.recommend_next(prefixes, n=10)
    return float(np.mean((ids == nxt[:, None]).any(1))), 10 / model.n_items


def _auc(S: np.ndarray, pos: np.ndarray) -> float:
    """Mean over rows of P(score of a positive > score of a negative)."""
    rank = S.argsort(axis=1).argsort(axis=1)  # 0 = lowest
    n_pos, n_neg = pos.sum(1), (~pos).sum(1)
    u = (rank * pos).sum(1) - n_pos * (n_pos - 1) / 2
    return float(np.mean(u / (n_pos * n_neg)))


def _on_device(model) -> bool:
    return all(_is_device(p.data) for p in model.net_.parameters())


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_on_standin(name, cupy, ratings, sessions, tmp_path):
    """fit / predict / recommend / save / load with device="cuda": parameters on the
    device, answers on the host, no np.* call on device data, file round trips."""
    cls, params, task = MODELS[name]
    data = _data(task, ratings, sessions)
    numpy_calls.clear()
    model = cls(**params, device="cuda").fit(data)
    assert _on_device(model)
    out = _outputs(model, task, ratings)
    for a in out:
        assert type(a) is np.ndarray, f"{name}: an answer is a {type(a).__name__}"
    path = model.save(tmp_path / "m.npz")
    with np.load(path, allow_pickle=False) as f:  # the file holds host arrays
        assert "__meta__" in f.files
    back = Recommender.load(path)
    assert back.device == "cuda" and _on_device(back)
    host = Recommender.load(path, device="cpu")
    assert host.device == "cpu"
    assert all(type(p.data) is np.ndarray for p in host.net_.parameters())
    assert numpy_calls == [], f"{name}: np.* calls on device data: {numpy_calls}"
    for got in (_outputs(back, task, ratings), _outputs(host, task, ratings)):
        for a, b in zip(got, out, strict=True):
            if a.dtype.kind == "f":
                np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
            else:
                np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_standin_fit_learns_as_cpu_does(name, cupy, ratings, sessions):
    """The device fit draws another random stream: both fits beat a random scorer
    by a margin, and a CPU model scored on the device gives the CPU's scores."""
    cls, params, task = MODELS[name]
    data = _data(task, ratings, sessions)
    cpu = cls(**params).fit(data)
    dev = cls(**params, device="cuda").fit(data)
    q_cpu, rand = _quality(cpu, task, ratings, sessions)
    q_dev, _ = _quality(dev, task, ratings, sessions)
    margin = {"ranking": 0.05, "ctr": 0.05, "rating": 0.3, "sequence": 0.1}[task]
    assert q_cpu > rand + margin, (name, q_cpu, rand)
    assert q_dev > rand + margin, (name, q_dev, rand)
    moved = cls(**params).fit(data).to("cuda")  # same weights as `cpu`, on the device
    assert _on_device(moved)
    for a, b in zip(
        _outputs(moved, task, ratings), _outputs(cpu, task, ratings), strict=True
    ):
        if a.dtype.kind == "f":
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        else:
            np.testing.assert_array_equal(a, b)


@standin_only
def test_lbfgs_autorec_equals_cpu(cupy, ratings):
    """Full-batch L-BFGS draws nothing after the initialisation: the device fit is
    the CPU fit (weights copied in and gradients out each evaluation)."""
    params = dict(k=8, n_epochs=5, patience=2)
    cpu = AutoRec(**params).fit(ratings)
    dev = AutoRec(**params, device="cuda").fit(ratings)
    assert _on_device(dev) and numpy_calls == []
    assert [h["epoch"] for h in dev.history_] == [h["epoch"] for h in cpu.history_]
    np.testing.assert_allclose(
        [h["loss"] for h in dev.history_], [h["loss"] for h in cpu.history_], rtol=1e-5
    )
    u, i = ratings.user_ids[ratings.users], ratings.item_ids[ratings.items]
    np.testing.assert_allclose(dev.predict(u, i), cpu.predict(u, i), rtol=1e-5)


def test_warm_starts_move_onto_the_device(cupy, ratings):
    """NeuMF from CPU-trained GMF / MLP and ConvNCF from a CPU BPR (and from a
    device GMF into a CPU ConvNCF): the starts' arrays are copied across."""
    kw = dict(n_epochs=1, batch_size=64)
    gmf = GMF(k=8, **kw).fit(ratings)
    mlp = NCFMLP(layers=(16, 8), **kw).fit(ratings)
    neumf = NeuMF(k=8, layers=(16, 8), gmf=gmf, mlp=mlp, device="cuda", **kw)
    neumf.fit(ratings)
    assert _on_device(neumf) and not _on_device(gmf)
    bpr = BPR(k=4, n_epochs=2).fit(ratings)
    conv = ConvNCF(k=4, channels=4, init_from=bpr, device="cuda", **kw).fit(ratings)
    assert _on_device(conv)
    gmf_dev = GMF(k=4, device="cuda", **kw).fit(ratings)
    conv_cpu = ConvNCF(k=4, channels=4, init_from=gmf_dev, **kw).fit(ratings)
    assert not _on_device(conv_cpu)
    assert numpy_calls == [], numpy_calls


def test_callbacks_get_host_arrays(cupy, ratings):
    """fit(valid=...) scores HR@10 through the host API; on_epoch sees host answers."""
    rng = np.random.default_rng(0)
    users = np.arange(10)
    pos = ratings.by_user.indices[ratings.by_user.indptr[users]]
    neg = rng.integers(0, ratings.n_items, size=(10, 5))
    seen = []

    def on_epoch(model, epoch, record):
        seen.append(type(model.predict(ratings.user_ids[:3], ratings.item_ids[:3])))

    GMF(k=8, n_epochs=2, batch_size=64, device="cuda").fit(
        ratings, valid=(users, pos, neg), on_epoch=on_epoch
    )
    assert seen == [np.ndarray, np.ndarray]
    neumf = NeuMF(k=8, layers=(16, 8), pretrain_epochs=1, n_epochs=1, alpha="valid")
    neumf.set_params(device="cuda").fit(ratings, valid=(users, pos, neg))
    assert _on_device(neumf) and len(neumf.alpha_scores_) == 11
    assert numpy_calls == [], numpy_calls


def test_negative_sampler_on_standin(cupy):
    """Device draws are never a training pair: the vectorized rounds, the exact
    draw for a user who has seen all items but one, and the host fallback (no
    bitmap) copied over; all on the device, no np.* call."""
    n = 30
    users = [0] * (n - 1) + [1, 1, 2, 3]
    items = list(range(n - 1)) + [0, 1, 2, 3]
    data = Interactions.from_arrays(users, items, item_ids=np.arange(n))
    rng = cupy.random.default_rng(0)
    for bitmap in (True, False):
        sampler = NegativeSampler(data, cupy)
        if not bitmap:
            sampler.bitmap = None  # as for too many user x item cells
        u, i, y = pointwise_epoch(data, 3, rng, sampler)
        assert all(_is_device(a) for a in (u, i, y))
        u, i, y = u.get(), i.get(), y.get()
        train = set(zip(data.users.tolist(), data.items.tolist()))
        got = set(zip(u[y == 0].tolist(), i[y == 0].tolist()))
        assert not got & train
        assert set(i[(y == 0) & (u == 0)].tolist()) == {n - 1}  # its only unseen
        assert (y == 1).sum() == len(data) and (y == 0).sum() == 3 * len(data)
    assert numpy_calls == [], numpy_calls


@pytest.mark.parametrize("name", sorted(MODELS))
def test_device_is_a_plain_parameter(name):
    """sklearn's clone keeps `device`; a bad name is a ValueError at construction."""
    clone = pytest.importorskip("sklearn.base").clone
    cls, params, _ = MODELS[name]
    model = cls(**params, device="cuda")
    assert model.get_params()["device"] == "cuda"
    assert clone(model).device == "cuda"
    assert cls(**params).device == "cpu"
    with pytest.raises(ValueError, match="unknown device"):
        cls(**params, device="tpu")


@standin_only
@pytest.mark.parametrize("name", sorted(MODELS))
def test_cuda_without_gpu_is_a_clear_error(name, monkeypatch, ratings, sessions):
    """No CuPy: the install command; CuPy but no device: "no CUDA device found"."""
    cls, params, task = MODELS[name]
    data = _data(task, ratings, sessions)
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy fails
    with pytest.raises(BackendUnavailableError, match=r"pip install 'minirec\[gpu\]'"):
        cls(**params, device="cuda").fit(data)
    standin.install(monkeypatch, devices=0)
    with pytest.raises(BackendUnavailableError, match="no CUDA device found") as e:
        cls(**params, device="cuda").fit(data)
    assert "pip install" not in str(e.value)


@standin_only
def test_load_onto_a_missing_gpu_and_device_of_host_models(
    monkeypatch, ratings, tmp_path
):
    """load(device="cuda") without a GPU is the clear error; load(device=...) of a
    model without a device hyperparameter says so."""
    from minirec.models import MF

    path = GMF(k=4, n_epochs=1).fit(ratings).save(tmp_path / "gmf.npz")
    monkeypatch.setitem(sys.modules, "cupy", None)
    with pytest.raises(BackendUnavailableError, match="pip install"):
        Recommender.load(path, device="cuda")
    mf = MF(k=2, n_epochs=1).fit(ratings).save(tmp_path / "mf.npz")
    with pytest.raises(ValueError, match="no device"):
        Recommender.load(mf, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Recommender.load(path, device="cpu").device == "cpu"
