"""Shared helpers for the lessons (not part of the library).

* ``FULL``: True when the environment variable FULL=1 asks for full-size runs.
* ``data_root()``: the folder holding ml-100k/, ml-1m/, ... (MINIREC_DATA), or None
  (``MINIREC_DATA=none`` forces the synthetic fallback).
* ``load_ratings(name)``: that MovieLens set, or synthetic ratings without data.
* ``out_dir()``: where lessons save their figures (lessons/_build/), created on demand.
* ``savefig(fig, name)``: save a matplotlib figure there; in a notebook (the book) it
  is also shown inline, in a script a one-line note says where it went.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import matplotlib


def in_notebook() -> bool:
    """True inside a Jupyter kernel (a notebook, or the book's executed lessons)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and hasattr(shell, "kernel")


# In a notebook, Agg keeps the inline backend from showing a figure a second time:
# savefig displays it once, and a figure the lesson keeps open is not re-shown.
matplotlib.use("Agg" if in_notebook() else os.environ.get("MPLBACKEND", "Agg"))

FULL = os.environ.get("FULL", "0") not in ("0", "", "false", "no")
HERE = Path(__file__).resolve().parent


def data_root() -> Path | None:
    env = os.environ.get("MINIREC_DATA")
    if env == "none":  # MINIREC_DATA=none: run on the synthetic data on purpose
        return None
    if env and Path(env).is_dir():
        return Path(env)
    guess = HERE.parent.parent / "shared" / "data"
    return guess if guess.is_dir() else None


def has(name: str) -> bool:
    """True when dataset folder `name` (e.g. "ml-100k") is under the data root."""
    root = data_root()
    return root is not None and (root / name).is_dir()


def out_dir() -> Path:
    d = HERE / "_build"
    d.mkdir(exist_ok=True)
    return d


def savefig(fig, name: str) -> None:
    """Save `fig` as lessons/_build/`name`; show it inline when run as a notebook.

    The figure stays open (a later ``plt.close(fig)`` is harmless) and nothing is
    returned, so a notebook cell ending with this call shows only the picture.
    """
    path = out_dir() / name
    fig.savefig(path, dpi=100, bbox_inches="tight")
    if in_notebook():
        from IPython.display import Image, display

        display(Image(filename=str(path)))
    else:
        print(f"figure saved to {path.relative_to(HERE.parent)}")


# ------------------------------------------------------------------ data for lessons
def load_ratings(name: str = "ml-100k", seed: int = 0):
    """MovieLens `name` from the data root when present, else synthetic ratings.

    Real data: :func:`minirec.data.load_movielens`. Otherwise
    :func:`minirec.data.synthetic_ratings` (planted low-rank ratings with genres,
    titles and timestamps); if that is not importable in this build, a small
    generator here with the same columns. Prints which one the lesson runs on.
    """
    if has(name):
        from minirec.data import load_movielens

        data = load_movielens(name, path=data_root())
        print(f"data: {data!r} (from {data_root()})")
        return data
    try:
        from minirec.data import synthetic_ratings
    except ImportError:
        synthetic_ratings = _synthetic_ratings
    data = synthetic_ratings(n_users=600, n_items=400, seed=seed)
    print(f"data: {data!r} (synthetic: set MINIREC_DATA for MovieLens)")
    return data


GENRES = ["Action", "Comedy", "Drama", "Romance", "Sci-Fi", "Thriller"]


def _synthetic_ratings(
    n_users: int = 600,
    n_items: int = 400,
    k: int = 6,
    density: float = 0.06,
    seed: int = 0,
):
    """Fallback generator: planted rank-k ratings in 1..5 driven by genres, Zipf-like
    popularity, timestamps, genre columns and titles (like minirec.data's)."""
    import numpy as np
    import pandas as pd

    from minirec.data import Interactions

    rng = np.random.default_rng(seed)
    G = (rng.random((n_items, len(GENRES))) < 0.25).astype(np.int8)
    G[np.arange(n_items), rng.integers(0, len(GENRES), n_items)] = 1
    taste = rng.normal(size=(n_users, len(GENRES)))
    Q = G @ rng.normal(size=(len(GENRES), k)) / 2 + 0.3 * rng.normal(size=(n_items, k))
    P = taste @ rng.normal(size=(len(GENRES), k)) / 3
    pop = 1.0 / np.arange(1, n_items + 1) ** 0.8
    pop = pop[rng.permutation(n_items)]
    n = int(density * n_users * n_items)
    u = rng.integers(0, n_users, 3 * n)
    i = rng.choice(n_items, 3 * n, p=pop / pop.sum())
    key = np.unique(u.astype(np.int64) * n_items + i)
    key = rng.choice(key, min(n, len(key)), replace=False)
    u, i = key // n_items, key % n_items
    score = (P[u] * Q[i]).sum(1) + 0.5 * rng.normal(size=len(u))
    r = np.clip(np.round(3.5 + score), 1, 5)
    t = 880_000_000 + rng.integers(0, 20_000_000, len(u))  # not in file order
    items = pd.DataFrame(
        {
            "title": [f"Synthetic Movie {j} ({1970 + j % 30})" for j in range(n_items)],
            "year": 1970.0 + np.arange(n_items) % 30,
        }
    )
    for g, name in enumerate(GENRES):
        items[f"genre:{name}"] = G[:, g]
    return Interactions.from_arrays(
        u + 1,
        i + 1,
        r,
        timestamps=t,
        user_ids=np.arange(1, n_users + 1),
        item_ids=np.arange(1, n_items + 1),
        item_features=items,
        name="synthetic",
    )
