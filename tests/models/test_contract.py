"""The estimator contract, run for every registered model x kernel backend, and for
every model that takes ``device=`` also with ``device="cuda"`` on the CuPy stand-in
(tests/standin: CuPy's names, arrays that refuse implicit host conversion).

Each model appears in FAST_PARAMS with hyperparameters that train in well under a
second on the tiny planted data. A model that is registered and importable but has no
entry here fails `test_every_model_has_fast_params`, so nothing is silently left out.
"""

from __future__ import annotations

import functools
import inspect
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import standin

from minirec import Interactions, ModelFileError, Recommender, UnknownIdError
from minirec.backends import KERNEL_BACKENDS, available_backends
from minirec.backends.device import cuda_simulator_enabled
from minirec.errors import BackendUnavailableError
from minirec.models import REGISTRY, available_models, get_model_class

STANDIN = "standin"  # the case id for device="cuda" on the CuPy stand-in

# name -> constructor kwargs for a fast fit on the tiny data (one line each, please)
FAST_PARAMS: dict[str, dict] = {
    "gmf": {"k": 8, "n_epochs": 3, "batch_size": 64, "lr": 0.01},
    "ncf-mlp": {"layers": (16, 8), "n_epochs": 3, "batch_size": 64, "lr": 0.01},
    "neumf": {"k": 8, "layers": (16, 8), "pretrain_epochs": 2, "n_epochs": 1},
    "deepfm": {"k": 4, "hidden": (8,), "threshold": 3.5, "n_epochs": 2},
    "convncf": {"k": 4, "channels": 4, "n_epochs": 1, "batch_size": 64},
    "autorec": {"k": 8, "n_epochs": 5, "batch_size": 8, "lr": 0.01},
    "ease": {"reg": 10.0},
    "puresvd": {"k": 4},
    "phi-mf": {"k": 4, "hidden": (4,), "n_epochs": 2, "batch_size": 64},
    "rating-mlp": {"k": 4, "hidden": (4,), "n_epochs": 2, "batch_size": 64},
    "deep-als": {"k": 4, "n_epochs": 2, "batch_size": 64, "optimizer": "adam"},
    "mean": {},
    "baseline": {},
    "popularity": {},
    "random": {"seed": 1},
    "fm": {"k": 4, "n_epochs": 5, "lr": 0.02},
    "itemknn": {"n_neighbors": 5},
    "userknn": {"n_neighbors": 5, "task": "ranking"},
    "mf": {"k": 4, "n_epochs": 5, "lr": 0.02},
    "als": {"k": 3, "n_epochs": 3},
    "implicit-als": {"k": 4, "n_epochs": 3},
    "bpr": {"k": 4, "n_epochs": 3},
    "ranking-mf": {"k": 4, "n_epochs": 3, "lr": 0.05},
    "session-pop": {},
    "markov": {},
    "session-itemknn": {"n_neighbors": 5},
    "gru4rec": {"k": 8, "batch_size": 8, "n_negatives": 4, "n_epochs": 1},
    "sasrec": {"k": 8, "maxlen": 8, "n_blocks": 1, "n_epochs": 1, "batch_size": 16},
}

# models whose constructor takes backend= are tested on every kernel backend that
# runs here: numpy and numba always; cuda on a GPU, or on the CPU under Numba's CUDA
# simulator when NUMBA_ENABLE_CUDASIM=1 is set before Python starts (each GPU thread
# is then a Python thread: slow, so the simulator runs get the smaller data of
# `_data`). A backend that does not run here appears as skipped, with the reason;
# test_cuda_contract_under_simulator runs the cuda cases in a simulator subprocess,
# so they run in CI too.
BACKENDS = available_backends()
_MISSING = {
    b: "kernel backend 'cuda' unavailable: no CUDA GPU here and the CUDA simulator is "
    "off (NUMBA_ENABLE_CUDASIM unset); test_cuda_contract_under_simulator runs "
    "these cases in a simulator subprocess"
    if b == "cuda"
    else f"kernel backend {b!r} is not installed here"
    for b in KERNEL_BACKENDS
    if b not in BACKENDS
}
_SIMULATOR = "cuda" in BACKENDS and cuda_simulator_enabled()


def _takes_backend(name: str) -> bool:
    return "backend" in inspect.signature(get_model_class(name).__init__).parameters


def _rejected() -> dict[tuple[str, str], str]:
    """(model, backend) -> the model's own BackendUnavailableError text, for the
    models that have no kernels for a backend that runs here (a documented gap,
    checked by test_backend_without_kernels_is_rejected_clearly)."""
    out = {}
    for name in filter(_takes_backend, available_models()):
        for b in BACKENDS:
            try:
                get_model_class(name)(backend=b)
            except BackendUnavailableError as e:
                out[name, b] = str(e)
    return out


_REJECTED = _rejected()


def _takes_device(name: str) -> bool:
    return "device" in inspect.signature(get_model_class(name).__init__).parameters


def _cases():
    out = [
        pytest.param(name, STANDIN, id=f"{name}-{STANDIN}")
        for name in available_models()
        if _takes_device(name)
    ]
    for name in available_models():
        if not _takes_backend(name):
            out.append(pytest.param(name, None, id=name))
            continue
        out += [
            pytest.param(name, b, id=f"{name}-{b}")
            for b in BACKENDS
            if (name, b) not in _REJECTED
        ]
        out += [
            pytest.param(name, b, id=f"{name}-{b}", marks=pytest.mark.skip(why))
            for b, why in _MISSING.items()
        ]
    return out


def _make(name, backend):
    params = dict(FAST_PARAMS[name])
    if backend == STANDIN:
        params["device"] = "cuda"
    elif backend is not None:
        params["backend"] = backend
    return get_model_class(name)(**params)


@pytest.fixture(autouse=True)
def _cupy_standin(request, monkeypatch):
    """Installs the CuPy stand-in for the ``-standin`` cases, so ``device="cuda"``
    reaches it; afterwards no NumPy function may have touched a device array."""
    spec = getattr(request.node, "callspec", None)
    if spec is None or spec.params.get("backend") != STANDIN:
        yield
        return
    standin.install(monkeypatch)
    yield
    assert not standin.numpy_calls, f"np.* on device arrays: {standin.numpy_calls}"


@functools.lru_cache(maxsize=1)
def _sim_ratings() -> Interactions:
    """conftest's tiny_ratings recipe at a quarter of the size (30 x 25, ~300
    ratings) for the CUDA simulator, where every GPU thread is a Python thread."""
    r = np.random.default_rng(7)
    n_users, n_items = 30, 25
    full = 3 + r.normal(size=(n_users, 2)) @ r.normal(size=(n_items, 2)).T
    u, i = np.nonzero(r.random((n_users, n_items)) < 0.4)
    return Interactions.from_arrays(
        u + 1, i + 101, np.clip(full[u, i], 1, 5), timestamps=np.arange(len(u))
    )


def _data(backend, tiny_ratings) -> Interactions:
    return _sim_ratings() if backend == "cuda" and _SIMULATOR else tiny_ratings


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
            cache[key] = _make(name, backend).fit(_data(backend, tiny_ratings))
        return cache[key]

    return get


@pytest.mark.parametrize("name,backend", _cases())
def test_shapes_and_seen_filter(name, backend, fitted, tiny_ratings):
    tiny_ratings = _data(backend, tiny_ratings)  # smaller under the simulator
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
    tiny_ratings = _data(backend, tiny_ratings)  # smaller under the simulator
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
    tiny_ratings = _data(backend, tiny_ratings)  # smaller under the simulator
    a = _make(name, backend).fit(tiny_ratings)
    b = _make(name, backend).fit(tiny_ratings)
    users = tiny_ratings.user_ids[:10]
    np.testing.assert_allclose(
        a.recommend(users, n=5)[1], b.recommend(users, n=5)[1], rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("name,backend", _cases())
def test_save_load_round_trip(name, backend, fitted, tiny_ratings, tmp_path):
    tiny_ratings = _data(backend, tiny_ratings)  # smaller under the simulator
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


def test_backend_without_kernels_is_rejected_clearly():
    """A model with no kernels for a backend that runs here says so when it is
    built, naming itself and a backend that works; it never falls back silently
    (the contract above runs on every other model x backend)."""
    for (name, backend), msg in _REJECTED.items():
        cls = get_model_class(name)
        assert cls.__name__ in msg and "backend='" in msg, msg
        with pytest.raises(BackendUnavailableError):
            cls(**FAST_PARAMS.get(name, {}), backend=backend)


def test_cuda_contract_under_simulator():
    """The cuda cases of this file, in a subprocess with the CUDA simulator on (it
    must be set before numba is imported), so they run in CI without a GPU."""
    if "cuda" in BACKENDS:
        pytest.skip("cuda runs in this process (GPU or simulator): cases above")
    pytest.importorskip("numba.cuda", reason="numba-cuda is not installed")
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", NUMBA_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__]
        + ["-k", "cuda and not under_simulator"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    tail = proc.stdout[-3000:] + proc.stderr[-2000:]
    assert proc.returncode == 0, tail
    assert " passed" in proc.stdout and "skipped" not in proc.stdout, tail


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


@pytest.mark.parametrize("name", available_models())
def test_sklearn_clone_and_params(name):
    """scikit-learn's clone rebuilds every model from get_params; set_params
    validates like the constructor and names the closest valid hyperparameter."""
    base = pytest.importorskip("sklearn.base", reason="scikit-learn (dev extra)")
    m = _make(name, None)
    c = base.clone(m)
    assert type(c) is type(m) and c is not m
    assert repr(c) == repr(m)
    assert c.get_params(deep=False) == m.get_params(deep=False)
    names = list(m.get_params(deep=False))
    if names:
        with pytest.raises(ValueError, match="did you mean"):
            m.set_params(**{names[0] + "x": 1})


@pytest.mark.parametrize("name", available_models())
def test_class_importable_from_models(name):
    import minirec.models as models

    cls = get_model_class(name)
    assert getattr(models, cls.__name__) is cls
    assert cls.name == name


def test_fit_rejects_callbacks_it_cannot_honour(tiny_ratings):
    from minirec.models import BiasedBaseline

    with pytest.raises(TypeError, match="no epochs"):
        BiasedBaseline().fit(tiny_ratings, on_epoch=lambda *a: None)
    with pytest.raises(TypeError, match="valid"):
        BiasedBaseline().fit(tiny_ratings, valid=([0], [0], [[1]]))


#: names that drifted before docs/notation.md fixed one vocabulary
_DRIFTED = {"dim", "epochs", "n_iters", "n_neg", "n_sample", "hidden_size", "emb_size"}


@pytest.mark.parametrize("name", available_models())
def test_one_hyperparameter_vocabulary(name):
    """docs/notation.md: k latent size, n_epochs passes, n_negatives, n_neighbors;
    the old names live on only in renamed_params."""
    cls = get_model_class(name)
    params = set(inspect.signature(cls.__init__).parameters)
    assert not params & _DRIFTED, (cls.__name__, params & _DRIFTED)
    if name.endswith("knn"):
        assert "n_neighbors" in params and "k" not in params
    assert set(cls.renamed_params.values()) <= params
