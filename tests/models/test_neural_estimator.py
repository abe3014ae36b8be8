"""The neural models (and FM) on the one estimator core: ``fit(data, *, valid,
on_epoch)`` only, warm starts as constructor parameters, one hyperparameter
vocabulary with the old names deprecated, ``sklearn.base.clone``, and model files
(with warm starts, and files written under the old names) that load."""

from __future__ import annotations

import inspect
import io
import json
import warnings

import numpy as np
import pytest

from minirec import Recommender
from minirec.models.autorec import AutoRec
from minirec.models.base import Recommender as Base
from minirec.models.bpr import BPR
from minirec.models.convncf import ConvNCF
from minirec.models.deepfm import DeepFM
from minirec.models.fm import FM
from minirec.models.ncf import GMF, NCFMLP, NeuMF
from minirec.models.rating_nets import DeepALS, PhiMF, RatingMLP

FAST = {
    GMF: dict(k=4, n_epochs=2, batch_size=64, lr=0.01),
    NCFMLP: dict(layers=(8, 4), n_epochs=2, batch_size=64, lr=0.01),
    NeuMF: dict(k=4, layers=(8, 4), pretrain_epochs=1, n_epochs=1, batch_size=64),
    ConvNCF: dict(k=4, channels=2, n_epochs=1, batch_size=64),
    DeepFM: dict(
        k=4, hidden=(8,), threshold=3.5, n_epochs=2, user_fields=None, item_fields=None
    ),
    AutoRec: dict(k=4, n_epochs=3, batch_size=8, lr=0.01, optimizer="adam"),
    PhiMF: dict(k=4, hidden=(4,), n_epochs=2, batch_size=128),
    RatingMLP: dict(k=4, hidden=(4,), n_epochs=2, batch_size=128),
    DeepALS: dict(k=4, n_epochs=2, batch_size=128),
}
NEURAL = list(FAST)


@pytest.fixture(scope="module")
def data(tiny_ratings):
    return tiny_ratings


def _valid(n_users=20, n_items=40, seed=3):
    r = np.random.default_rng(seed)
    return (np.arange(n_users), r.integers(0, n_items, n_users),
            r.integers(0, n_items, (n_users, 10)))  # fmt: skip


@pytest.mark.parametrize("cls", NEURAL + [FM], ids=lambda c: c.__name__)
def test_fit_is_the_base_fit_and_fit_args_match_the_flags(cls):
    """No model overrides fit; `_fit` takes exactly what its flags promise."""
    assert cls.fit is Base.fit
    params = list(inspect.signature(cls._fit).parameters)
    assert params[:2] == ["self", "data"]
    assert ("valid" in params) == cls.accepts_valid, params
    assert ("on_epoch" in params) == cls.iterative, params


@pytest.mark.parametrize("cls", NEURAL, ids=lambda c: c.__name__)
def test_on_epoch_gets_the_model_and_each_history_record(cls, data):
    calls = []

    def hook(mm, e, rec):
        calls.append((mm, e, rec))

    m = cls(**FAST[cls])
    m.fit(data, on_epoch=hook)
    assert calls and all(mm is m for mm, _, _ in calls)
    records = [h for h in m.history_ if h["epoch"] > 0]  # NeuMF's start is epoch 0
    assert [e for _, e, _ in calls] == [h["epoch"] for h in records]
    assert all(a is b for (_, _, a), b in zip(calls, records, strict=True))
    # nothing of the call is kept on the model
    assert not any(v is hook for v in vars(m).values())


@pytest.mark.parametrize("cls", [DeepFM, AutoRec, PhiMF], ids=lambda c: c.__name__)
def test_models_that_select_nothing_refuse_valid(cls, data):
    with pytest.raises(TypeError, match="takes no valid="):
        cls(**FAST[cls]).fit(data, valid=_valid())


def test_valid_is_an_argument_not_state(data):
    v = _valid()
    m = ConvNCF(**{**FAST[ConvNCF], "n_epochs": 2}).fit(data, valid=v)
    assert all("valid" in h for h in m.history_)
    assert not any(x is v for x in vars(m).values())
    again = ConvNCF(**{**FAST[ConvNCF], "n_epochs": 2}).fit(data)
    assert not any("valid" in h for h in again.history_)


RENAMED = [
    (GMF, "n_neg", "n_negatives", 2),
    (NCFMLP, "n_neg", "n_negatives", 2),
    (NeuMF, "n_neg", "n_negatives", 2),
    (AutoRec, "hidden", "k", 7),
]


@pytest.mark.parametrize("cls,old,new,value", RENAMED, ids=lambda x: str(x))
def test_old_hyperparameter_names_warn_and_still_work(cls, old, new, value):
    with pytest.warns(DeprecationWarning, match=f"{old}=.*now called {new}"):
        m = cls(**{old: value})
    assert getattr(m, new) == value and old not in m.get_params()
    with (
        pytest.raises(TypeError, match=f"pass {new} only"),
        pytest.warns(DeprecationWarning),
    ):
        cls(**{old: value, new: value})
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        cls(**{new: value})  # the new name is silent


def test_vocabulary_is_shared():
    """Latent size k, passes n_epochs, negatives n_negatives (where they exist)."""
    for cls in NEURAL + [FM]:
        names = set(inspect.signature(cls.__init__).parameters)
        assert not names & {"dim", "emb_dim", "epochs", "n_iters", "n_neg",
                            "n_sample", "samples_per_epoch"}, cls  # fmt: skip
        assert "n_epochs" in names, cls
        assert "k" in names or cls is NCFMLP, cls  # NCFMLP: layers[0] = 2 k
    for cls in (GMF, NCFMLP, NeuMF, FM):
        assert "n_negatives" in inspect.signature(cls.__init__).parameters


def _same_params(a: Recommender, b: Recommender) -> None:
    pa, pb = a.get_params(deep=False), b.get_params(deep=False)
    assert pa.keys() == pb.keys()
    for k, v in pa.items():
        if isinstance(v, Recommender):
            assert type(pb[k]) is type(v) and pb[k] is not v
            assert not hasattr(pb[k], "user_ids_")  # a clone is unfitted
            _same_params(v, pb[k])
        else:
            assert pb[k] == v, k


def test_sklearn_clone_of_every_model(data):
    clone = pytest.importorskip(
        "sklearn.base",
        reason="scikit-learn (dev extra) is the reference of get_params / clone",
    ).clone
    gmf = GMF(k=4, n_epochs=1).fit(data)
    mlp = NCFMLP(layers=(8, 4), n_epochs=1).fit(data)
    models = [cls(**FAST[cls]) for cls in NEURAL] + [
        NeuMF(k=4, layers=(8, 4), gmf=gmf, mlp=mlp),
        ConvNCF(k=4, init_from=BPR(k=4, n_epochs=1).fit(data)),
        DeepFM(user_fields=["gender"], item_fields=("genres",)),
        FM(k=4, user_fields=["gender"], item_fields="auto"),
        FM(k=4, user_fields="age"),
        NCFMLP(layers=[16, 8]),
    ]
    for m in models:
        c = clone(m)
        assert type(c) is type(m)
        _same_params(m, c)
    # deep params reach into a warm start, and set_params too
    neu = NeuMF(k=4, layers=(8, 4), gmf=GMF(k=4))
    assert neu.get_params()["gmf__k"] == 4
    assert neu.set_params(gmf__lr=0.5).gmf.lr == 0.5


def test_unfitted_warm_starts_are_fitted_as_copies_like_own_pretraining(data):
    """NeuMF(gmf=GMF(...), mlp=NCFMLP(...)) unfitted (what clone leaves) trains
    copies of them: with the hyperparameters NeuMF's own pre-training uses, the
    result is the same bit for bit, and the given models stay unfitted."""
    kw = dict(k=4, layers=(8, 4), pretrain_epochs=2, pretrain_lr=0.01, n_epochs=1,
              batch_size=64, seed=5)  # fmt: skip
    own = NeuMF(**kw).fit(data)
    common = dict(lr=0.01, n_epochs=2, batch_size=64, seed=5)
    gmf, mlp = GMF(k=4, **common), NCFMLP(layers=(8, 4), **common)
    given = NeuMF(**kw, gmf=gmf, mlp=mlp).fit(data)
    users = np.arange(data.n_users)
    np.testing.assert_array_equal(given.score_items(users), own.score_items(users))
    assert not hasattr(gmf, "user_ids_") and not hasattr(mlp, "user_ids_")
    assert given.gmf is gmf  # the parameter itself is left as given
    assert "GMF(" in given.fit_info_["gmf"] and "NCFMLP(" in given.fit_info_["mlp"]


def test_save_load_with_warm_starts(data, tmp_path):
    """The warm starts are not JSON: the file stores None for them (the network
    holds their weights) and names them in fit_info_; the model is not changed."""
    gmf = GMF(k=4, n_epochs=1).fit(data)
    mlp = NCFMLP(layers=(8, 4), n_epochs=1).fit(data)
    bpr = BPR(k=4, n_epochs=1).fit(data)
    users = np.arange(data.n_users)
    for m in (NeuMF(k=4, layers=(8, 4), n_epochs=1, gmf=gmf, mlp=mlp),
              ConvNCF(k=4, channels=2, n_epochs=1, init_from=bpr)):  # fmt: skip
        m.fit(data)
        back = Recommender.load(m.save(tmp_path / f"{m.name}.npz"))
        np.testing.assert_array_equal(back.score_items(users), m.score_items(users))
        for name in m.warm_start_params:
            assert getattr(back, name) is None
            assert getattr(m, name) is not None  # saving left the model alone
            assert back.fit_info_[name] == m.fit_info_[name]


def _rewrite_meta(path, out, edit) -> None:
    """Copy model file `path` to `out` with its JSON metadata changed by `edit`."""
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["__meta__"]))
    edit(meta)
    arrays["__meta__"] = np.array(json.dumps(meta))
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    out.write_bytes(buf.getvalue())


@pytest.mark.parametrize(
    "cls,old_names,old_class",
    [
        (GMF, {"n_negatives": "n_neg"}, None),
        (NeuMF, {"n_negatives": "n_neg"}, None),
        (AutoRec, {"k": "hidden"}, None),
        (PhiMF, {}, "minirec.models.ncf:PhiMF"),
        (DeepALS, {}, "minirec.models.ncf:DeepALS"),
    ],
    ids=lambda x: getattr(x, "__name__", None) or str(x),
)
def test_files_written_under_the_old_names_load(cls, old_names, old_class, data,
                                                tmp_path):  # fmt: skip
    """A file as an older minirec wrote it (old hyperparameter names; the rating
    models' class in minirec.models.ncf) loads, silently, to the same model."""
    m = cls(**FAST[cls]).fit(data)
    path = m.save(tmp_path / "new.npz")

    def edit(meta):
        meta["params"] = {old_names.get(k, k): v for k, v in meta["params"].items()}
        meta["params"].pop("gmf", None), meta["params"].pop("mlp", None)
        if old_class:
            meta["class"] = old_class

    _rewrite_meta(path, tmp_path / "old.npz", edit)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        back = Recommender.load(tmp_path / "old.npz")
    as_json = json.loads(json.dumps(m.get_params(deep=False)))  # tuples: lists
    assert type(back) is cls and back.get_params(deep=False) == as_json
    users = np.arange(data.n_users)
    np.testing.assert_array_equal(back.score_items(users), m.score_items(users))
