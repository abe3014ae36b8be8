"""Shared fixtures. Real-data tests find MovieLens through MINIREC_DATA (CI sets it to
../shared/data); without it they are skipped with that reason."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("MINIREC_PROGRESS", "0")


def _data_root() -> Path | None:
    env = os.environ.get("MINIREC_DATA")
    if env and Path(env).is_dir():
        return Path(env)
    return None


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The folder holding ml-100k/, ml-1m/, ncf/, ... (skips without MINIREC_DATA)."""
    root = _data_root()
    if root is None:
        pytest.skip("real MovieLens data not found: set MINIREC_DATA=../shared/data")
    return root


@pytest.fixture(scope="session")
def run_without_jit():
    """``run(code) -> stdout``: run a Python snippet in a fresh interpreter with
    NUMBA_DISABLE_JIT=1 (every Numba kernel is then plain Python); a non-zero exit
    fails the test with the snippet's stderr."""

    def run(code: str, timeout: float = 120) -> str:
        env = dict(os.environ, NUMBA_DISABLE_JIT="1")
        out = subprocess.run(
            [sys.executable, "-c", code],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert out.returncode == 0, out.stderr
        return out.stdout

    return run


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def tiny_ratings():
    """A small explicit-feedback Interactions with planted rank-2 structure."""
    from minirec import Interactions

    r = np.random.default_rng(42)
    n_users, n_items, k = 60, 40, 2
    P = r.normal(size=(n_users, k))
    Q = r.normal(size=(n_items, k))
    full = 3 + P @ Q.T
    mask = r.random((n_users, n_items)) < 0.5
    u, i = np.nonzero(mask)
    ratings = np.clip(full[u, i], 1, 5)
    return Interactions.from_arrays(
        u + 1, i + 101, ratings, timestamps=np.arange(len(u))
    )
