"""Baselines that prove the pipeline end to end and that every model must beat.

* :class:`GlobalMean`: r̂_ui = μ (the mean training rating).
* :class:`BiasedBaseline`: r̂_ui = μ + b_u + b_i, fitted as Surprise's ``BaselineOnly``
  with its default alternating least squares (Koren 2010, §2.1):

  .. math::
      b_i \\leftarrow \\frac{\\sum_{u \\in U_i} (r_{ui} - μ - b_u)}{λ_i + |U_i|},
      b_u \\leftarrow \\frac{\\sum_{i \\in I_u} (r_{ui} - μ - b_i)}{λ_u + |I_u|}

  items first, then users, ``n_epochs`` times (λ_i = 10, λ_u = 15, 10 epochs as
  Surprise). Cost per epoch O(|R|). Predictions are clipped to the training rating
  range, as Surprise clips to the rating scale.
* :class:`Popularity`: score_i = number of training interactions of item i.
* :class:`Random`: uniform random scores (seeded); the floor for ranking metrics.
"""

from __future__ import annotations

import numpy as np

from .._utils import as_rng, check_nonnegative, check_positive_int
from ..data.interactions import Interactions
from .base import Recommender


class GlobalMean(Recommender):
    """Predicts the global mean rating for every pair."""

    name = "mean"
    predicts_ratings = True

    def __init__(self) -> None:
        pass

    def _fit(self, data: Interactions) -> None:
        self.mu_ = self.global_mean_

    def _score(self, u: np.ndarray) -> np.ndarray:
        return np.full((len(u), self.n_items), self.global_mean_, dtype=np.float32)

    def _predict_pairs(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        return np.full(len(u), self.global_mean_, dtype=np.float32)


class BiasedBaseline(Recommender):
    """μ + b_u + b_i by alternating least squares (Surprise's BaselineOnly).

    Parameters
    ----------
    reg_u, reg_i : float
        Ridge penalties λ_u and λ_i on the user and item biases (Surprise: 15, 10).
    n_epochs : int
        Alternations (Surprise: 10).
    clip : bool
        Clip predictions to the training rating range.
    """

    name = "baseline"
    predicts_ratings = True
    # arrays and metadata a model file must hold (minirec.models._modelfile)
    state_schema = {
        "bu": "float32 (n_users,)",
        "bi": "float32 (n_items,)",
        "mu_range": "float64 (3,)",
    }

    def __init__(
        self,
        reg_u: float = 15.0,
        reg_i: float = 10.0,
        n_epochs: int = 10,
        clip: bool = True,
    ) -> None:
        self.reg_u = check_nonnegative("reg_u", reg_u)
        self.reg_i = check_nonnegative("reg_i", reg_i)
        self.n_epochs = check_positive_int("n_epochs", n_epochs)
        self.clip = bool(clip)

    def _fit(self, data: Interactions) -> None:
        u, i, r = data.users, data.items, data.ratings.astype(np.float64)
        mu = r.mean()
        nu = np.bincount(u, minlength=data.n_users)
        ni = np.bincount(i, minlength=data.n_items)
        bu = np.zeros(data.n_users)
        bi = np.zeros(data.n_items)
        for _ in range(self.n_epochs):
            bi = np.bincount(i, weights=r - mu - bu[u], minlength=data.n_items) / (
                self.reg_i + ni
            )
            bu = np.bincount(u, weights=r - mu - bi[i], minlength=data.n_users) / (
                self.reg_u + nu
            )
        self.mu_ = float(mu)
        self.bu_ = bu.astype(np.float32)
        self.bi_ = bi.astype(np.float32)
        self.rating_range_ = (float(r.min()), float(r.max()))

    def _clip(self, x: np.ndarray) -> np.ndarray:
        return np.clip(x, *self.rating_range_) if self.clip else x

    def _score(self, u: np.ndarray) -> np.ndarray:
        return self._clip(self.mu_ + self.bu_[u][:, None] + self.bi_[None, :])

    def _predict_pairs(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        return self._clip(self.mu_ + self.bu_[u] + self.bi_[i])

    def _state(self) -> dict:
        return {
            "bu": self.bu_,
            "bi": self.bi_,
            "mu_range": np.array([self.mu_, *self.rating_range_]),
        }

    def _set_state(self, s: dict) -> None:
        self.bu_, self.bi_ = s["bu"], s["bi"]
        self.mu_, lo, hi = (float(x) for x in s["mu_range"])
        self.rating_range_ = (lo, hi)


class Popularity(Recommender):
    """Scores each item by its number of training interactions."""

    name = "popularity"

    def __init__(self) -> None:
        pass

    def _fit(self, data: Interactions) -> None:
        pass

    def _score(self, u: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.item_popularity_, (len(u), self.n_items)).copy()

    def _predict_pairs(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        return self.item_popularity_[i]


class Random(Recommender):
    """Uniform random scores; the same (seed, user) always gets the same scores."""

    name = "random"

    def __init__(self, seed: int = 0) -> None:
        self.seed = int(seed)

    def _fit(self, data: Interactions) -> None:
        pass

    def _score(self, u: np.ndarray) -> np.ndarray:
        out = np.empty((len(u), self.n_items), dtype=np.float32)
        for r, uu in enumerate(u):
            out[r] = as_rng([self.seed, int(uu)]).random(self.n_items)
        return out
