"""The documents' neural rating models (models/rating_nets.py): doc 003's DeepALS
against MF, doc 001's PhiMF and RatingMLP learning, their registered names and
the old import path."""

from __future__ import annotations

import numpy as np
import pytest

from minirec.metrics import rmse
from minirec.models import get_model_class
from minirec.models.mf import MF
from minirec.models.rating_nets import DeepALS, PhiMF, RatingMLP


def test_deep_als_matches_mf_kernel(tiny_ratings):
    """Doc 003: MF's P and Q as embedding layers trained by autograd = the MF model
    (same init, same shuffles, per-rating SGD)."""
    kw = dict(k=4, lr=0.01, reg=0.05, reg_bias=0.02, n_epochs=2, seed=3)
    kw.update(init_std=0.05, lr_decay=0.9, biased=True)
    data = tiny_ratings.subset(np.arange(400))  # 400 ratings x 2 epochs of SGD steps
    mf = MF(backend="numpy", **kw).fit(data)
    deep = DeepALS(batch_size=1, optimizer="sgd", **kw).fit(data)
    np.testing.assert_allclose(deep.P_, mf.P_, atol=1e-5)
    np.testing.assert_allclose(deep.Q_, mf.Q_, atol=1e-5)
    u, i = data.users, data.items
    np.testing.assert_allclose(
        deep.predict_pairs(u, i), mf.predict_pairs(u, i), atol=1e-4
    )


def test_phi_mf_and_rating_mlp_beat_the_mean(tiny_ratings):
    """Doc 001 (E2): the formula's φ(p·q) and the code's MLP([p; q]) both learn."""
    y = tiny_ratings.ratings
    base = rmse(y, np.full(len(y), y.mean()))
    u, i = tiny_ratings.users, tiny_ratings.items
    for cls in (PhiMF, RatingMLP):
        m = cls(k=4, n_epochs=60, batch_size=64, lr=0.01, reg=0.0).fit(tiny_ratings)
        assert rmse(y, m.predict_pairs(u, i)) < 0.8 * base, cls.__name__


def test_registered_names_and_the_old_import_path():
    """The three have registry names; ``minirec.models.ncf`` still exports them
    (old imports, and model files naming ``minirec.models.ncf:PhiMF``)."""
    from minirec.models import ncf

    for name, cls in (("phi-mf", PhiMF), ("rating-mlp", RatingMLP),
                      ("deep-als", DeepALS)):  # fmt: skip
        assert get_model_class(name) is cls and cls.name == name
        assert getattr(ncf, cls.__name__) is cls


def test_on_epoch_reports_every_epoch_and_valid_is_refused(tiny_ratings):
    seen = []
    m = PhiMF(k=4, n_epochs=3, batch_size=128)
    m.fit(tiny_ratings, on_epoch=lambda mm, e, rec: seen.append((mm, e, rec)))
    assert [e for _, e, _ in seen] == [1, 2, 3]
    assert all(mm is m for mm, _, _ in seen)
    assert [r for _, _, r in seen] == m.history_
    with pytest.raises(TypeError, match="takes no valid="):
        DeepALS(n_epochs=1).fit(tiny_ratings, valid=([0], [0], [[1]]))


def test_bad_hyperparameters_name_the_argument():
    with pytest.raises(ValueError, match="optimizer='lbfgs'"):
        PhiMF(optimizer="lbfgs")
    with pytest.raises(ValueError, match="optimizer='rprop'"):
        DeepALS(optimizer="rprop")
    with pytest.raises(ValueError, match="hidden="):
        RatingMLP(hidden=(8, 0))
    with pytest.raises(ValueError, match="hidden="):
        PhiMF(hidden=8)
