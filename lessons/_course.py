"""Shared helpers for the lessons (not part of the library).

* ``FULL``: True when the environment variable FULL=1 asks for full-size runs.
* ``data_root()``: the folder holding ml-100k/, ml-1m/, ... (MINIREC_DATA), or None.
* ``out_dir()``: where lessons save their figures (lessons/_build/), created on demand.
* ``savefig(fig, name)``: save a matplotlib figure there and say where.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use(os.environ.get("MPLBACKEND", "Agg"))

FULL = os.environ.get("FULL", "0") not in ("0", "", "false", "no")
HERE = Path(__file__).resolve().parent


def data_root() -> Path | None:
    env = os.environ.get("MINIREC_DATA")
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


def savefig(fig, name: str) -> Path:
    path = out_dir() / name
    fig.savefig(path, dpi=100, bbox_inches="tight")
    print(f"figure saved to {path.relative_to(HERE.parent)}")
    return path
