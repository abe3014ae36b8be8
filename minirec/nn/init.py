"""Initializers: arrays (float32 by default) for parameters, drawn from a NumPy
Generator and moved to the namespace `xp`.

* ``xavier_uniform(fan_in, fan_out)``: U(-a, a), a = sqrt(6 / (fan_in + fan_out))
  (Glorot & Bengio 2010), for tanh / sigmoid / linear layers.
* ``he_normal(fan_in, fan_out)``: N(0, 2 / fan_in) (He et al. 2015), for ReLU layers.
* ``normal(shape, std)``: N(0, std^2), for embeddings (std 0.01 in NCF).
"""

from __future__ import annotations

import math

import numpy as np

from .._utils import as_rng


def _to(xp, a, dtype):
    xp = xp or np
    return xp.asarray(a.astype(dtype))


def xavier_uniform(shape, rng=None, xp=None, dtype=np.float32):
    """Glorot uniform for a weight of `shape` (fan_in, fan_out, ...)."""
    fan_in, fan_out = _fans(shape)
    a = math.sqrt(6.0 / (fan_in + fan_out))
    return _to(xp, as_rng(rng).uniform(-a, a, size=shape), dtype)


def he_normal(shape, rng=None, xp=None, dtype=np.float32):
    """He normal for a weight of `shape` (fan_in first)."""
    fan_in, _ = _fans(shape)
    return _to(xp, as_rng(rng).normal(0, math.sqrt(2.0 / fan_in), size=shape), dtype)


def normal(shape, std: float = 0.01, rng=None, xp=None, dtype=np.float32):
    """N(0, std^2)."""
    return _to(xp, as_rng(rng).normal(0, std, size=shape), dtype)


def zeros(shape, xp=None, dtype=np.float32):
    return (xp or np).zeros(shape, dtype=dtype)


def _fans(shape):
    """(fan_in, fan_out): Linear weights are (in, out); conv weights (O, C, kh, kw)."""
    if len(shape) == 2:
        return shape[0], shape[1]
    if len(shape) == 4:
        rf = shape[2] * shape[3]
        return shape[1] * rf, shape[0] * rf
    n = int(np.prod(shape))
    return n, n


INITIALIZERS = {"xavier": xavier_uniform, "he": he_normal}
