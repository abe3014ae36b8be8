"""The shared base of the factor models: MF, ALS, ImplicitALS, BPR, RankingMF.

Each scores a (user, item) pair with the terms it learns of

    s(u, i) = mu + b + b_u + b_i + p_u · q_i

``P_`` (n_users x k) and ``Q_`` (n_items x k) always; ``bu_`` / ``bi_`` (per-user and
per-item biases), ``mu_`` (a float, the global mean of rating models) and ``b_`` (a
learned scalar, stored as a 1-array) when the model has them. Models with a
``biased`` hyperparameter use no bias term when it is False. :class:`FactorModel`
gives the scoring, item and user vectors (similar_items / similar_users / export)
and the saved state from the names in ``factor_state``; the backend checks and the
factor initialisation the five models share live here too.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .._utils import aligned_empty
from ..backends import get_kernels, resolve_backend
from ..data.interactions import CSR
from ..errors import BackendUnavailableError
from .base import Recommender


def check_backend(backend: str | None) -> str | None:
    """Validate a ``backend=`` argument early (the module is loaded at fit time)."""
    if backend is None:
        return None
    if not isinstance(backend, str):
        raise ValueError(f"backend={backend!r}: must be 'numpy', 'numba' or 'cuda'")
    resolve_backend(backend)  # raises ValueError naming the choices
    return backend.lower()


def host_kernels():
    """The fastest host kernel module (for host-side work of GPU models)."""
    try:
        return get_kernels("numba")
    except BackendUnavailableError:
        return get_kernels("numpy")


def init_factors(rng: np.random.Generator, n: int, k: int, std: float) -> np.ndarray:
    """An (n, k) float32 matrix with N(0, std²) entries, starting on a cache line
    (``aligned_empty``), so that with k = 64 a row is 4 whole cache lines."""
    out = aligned_empty((n, k), np.float32)
    out[...] = rng.normal(0.0, std, size=(n, k))
    return out


class FactorModel(Recommender):
    """Base of the models that score with user and item factors (module docstring).

    Subclasses set ``factor_state`` (the state arrays, stored as attributes with a
    trailing underscore) and implement ``_fit``.
    """

    #: state arrays, each the attribute ``name + "_"`` (e.g. "P" -> ``P_``)
    factor_state: ClassVar[tuple[str, ...]] = ("P", "Q")
    # arrays and metadata a model file must hold (minirec.models._modelfile)
    state_schema: ClassVar[dict[str, str]] = {
        "P": "float32 (n_users, k)",
        "Q": "float32 (n_items, k)",
        "bu": "float32 (n_users,) optional",
        "bi": "float32 (n_items,) optional",
        "b": "float32 (1,) optional",
    }

    def _offsets(self, u: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(mu + b + b_u for users `u`, b_i for every item); None where absent."""
        if not getattr(self, "biased", True):
            return None, None
        user = None
        bu = getattr(self, "bu_", None)
        if bu is not None:
            const = getattr(self, "mu_", 0.0)
            b = getattr(self, "b_", None)
            if b is not None:
                const = const + b[0]
            user = const + bu[u]
        return user, getattr(self, "bi_", None)

    def _raw(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        s = np.einsum("ij,ij->i", self.P_[u], self.Q_[i])
        user, item = self._offsets(u)
        if user is not None and item is not None:
            s = s + (user + item[i])
        elif item is not None:
            s = s + item[i]
        elif user is not None:
            s = s + user
        return s.astype(np.float32)

    def _predict_pairs(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        s = self._raw(u, i)
        if getattr(self, "clip", False):
            return np.clip(s, *self.rating_range_)
        return s

    def _score(self, u: np.ndarray) -> np.ndarray:
        s = self.P_[u] @ self.Q_.T
        user, item = self._offsets(u)
        if user is not None and item is not None:
            s += user[:, None] + item[None, :]
        elif item is not None:
            s += item[None, :]
        elif user is not None:
            s += user[:, None]
        return s

    def _item_vectors(self) -> np.ndarray:
        return self.Q_

    def _user_vectors(self) -> np.ndarray:
        return self.P_

    def _state(self) -> dict:
        return {name: getattr(self, name + "_") for name in self.factor_state}

    def _set_state(self, s: dict) -> None:
        for name in self.factor_state:
            setattr(self, name + "_", s[name])

    # ------------------------------------------------------------------ fold-in
    #: user-side state arrays that fold-in computes (the rest stays frozen)
    user_state: ClassVar[tuple[str, ...]] = ("P",)

    def _fold_in(self, u: np.ndarray, rows: CSR) -> None:
        """Compute the user-side state of users `u` from `rows` with the item side
        frozen (:meth:`_fold_in_users`), into grown copies of the user arrays."""
        vals = self._fold_in_users(rows)
        n = len(self.user_ids_)
        for name in self.user_state:
            setattr(
                self, name + "_", grown(getattr(self, name + "_"), n, u, vals[name])
            )

    def _fold_in_users(self, rows: CSR) -> dict[str, np.ndarray]:
        """The user-side arrays (``user_state``) of the users of `rows`, one row
        each, from their histories alone."""
        raise NotImplementedError(
            f"{type(self).__name__} cannot fold in users without refitting; refit "
            "it on data that includes them"
        )


def grown(a: np.ndarray, n: int, rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    """A new array: `a` grown (zeros) to `n` rows, rows `rows` set to `values`. The
    fitted array is never written, so a shallow copy of the model stays as it was."""
    out = np.zeros((n,) + a.shape[1:], dtype=a.dtype)
    out[: len(a)] = a
    out[rows] = values
    return out


def shuffled_by_user(
    user: np.ndarray,
    items: np.ndarray,
    targets: np.ndarray,
    n_users: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Samples (user, item, target) laid out one row per user, each user's samples
    in a fresh random order: (items, targets, mask) of shape (n_users, L), L the
    most samples of a user, `mask` marking the real ones."""
    order = np.lexsort((rng.random(len(user)), user))
    counts = np.bincount(user, minlength=n_users)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    user = user[order]
    place = np.arange(len(user)) - starts[user]
    L = int(counts.max(initial=0))
    out_i = np.zeros((n_users, L), dtype=np.int64)
    out_t = np.zeros((n_users, L), dtype=targets.dtype)
    mask = np.zeros((n_users, L), dtype=bool)
    out_i[user, place] = items[order]
    out_t[user, place] = targets[order]
    mask[user, place] = True
    return out_i, out_t, mask


def sgd_fold_in(epochs, step) -> None:
    """SGD on user-side parameters with the item side frozen, all users at once.

    `epochs` yields ``(items, targets, mask, lr)`` per epoch, the samples laid out
    by :func:`shuffled_by_user`. For each column t, ``step(users, items, targets,
    lr)`` updates the users that have a t-th sample from it: each user sees its
    samples one at a time, in its own order, as in a training epoch. `users` is a
    slice when every user has a t-th sample (one user, say): views, not copies.
    """
    for items, targets, mask, lr in epochs:
        full = mask.all(axis=0)
        for t in range(mask.shape[1]):
            act = slice(None) if full[t] else np.flatnonzero(mask[:, t])
            step(act, items[act, t], targets[act, t], lr)
