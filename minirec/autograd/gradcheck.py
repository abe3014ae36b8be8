"""``gradcheck``: compare the autograd gradient with central differences in float64."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .tensor import RowGrad, Tensor, array_namespace


@dataclass
class GradcheckResult:
    """What :func:`gradcheck` found. ``worst`` names the input and element with the
    largest error, with the analytic and the numeric value there."""

    ok: bool
    max_abs_err: float
    max_rel_err: float
    worst_input: int
    worst_index: tuple[int, ...]
    analytic: float
    numeric: float

    def __str__(self) -> str:
        verdict = "passed" if self.ok else "FAILED"
        return (
            f"gradcheck {verdict}: worst element is input {self.worst_input} at index "
            f"{self.worst_index}: autograd {self.analytic:.8g} vs finite differences "
            f"{self.numeric:.8g} (abs err {self.max_abs_err:.3g}, "
            f"rel err {self.max_rel_err:.3g})"
        )

    def __bool__(self) -> bool:
        return self.ok


def gradcheck(
    f: Callable[..., Tensor],
    *inputs,
    eps: float = 1e-6,
    atol: float = 1e-6,
    rtol: float = 1e-4,
    seed: int = 0,
    raise_on_fail: bool = True,
) -> GradcheckResult:
    """Check the gradient of ``f(*inputs)`` w.r.t. every input with requires_grad.

    The output (any shape) is reduced to a scalar ``L = Σ out * w`` with fixed random
    weights ``w``, so every output element is checked. For each element x of each
    input, the numeric derivative is ``(L(x + eps) - L(x - eps)) / (2 eps)``; an element
    fails when ``|analytic - numeric| > atol + rtol * |numeric|``.

    Parameters
    ----------
    f : callable
        Takes the inputs (Tensors), returns a Tensor. Must be deterministic (reseed any
        dropout inside it).
    *inputs : Tensor or array
        Arrays become float64 Tensors with requires_grad=True; Tensors are used as
        given; every input is copied to float64 (the originals are never touched).
    eps, atol, rtol : float
        Step and tolerances.
    seed : int
        Seed of the projection weights.
    raise_on_fail : bool
        Raise AssertionError with the worst element (default) or return the result.

    Returns
    -------
    GradcheckResult
        ``ok``, the worst errors, and where they are.
    """
    ts = []
    for x in inputs:  # contiguous float64 copies, so perturbing a flat view works
        rg = x.requires_grad if isinstance(x, Tensor) else True
        data = x.data if isinstance(x, Tensor) else x
        ts.append(Tensor(array_namespace(data).array(data, dtype="float64"), rg))
    if not any(t.requires_grad for t in ts):
        raise ValueError("gradcheck: no input has requires_grad=True; nothing to check")
    out = f(*ts)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: f must return a Tensor, got {type(out).__name__}")
    xp = array_namespace(out.data)
    w = xp.asarray(np.random.default_rng(seed).normal(size=out.shape))

    def loss() -> float:
        return float((f(*ts).data * w).sum())

    (out * Tensor(w)).sum().backward()
    best = GradcheckResult(True, 0.0, 0.0, -1, (), 0.0, 0.0)
    worst_score = -np.inf
    for k, t in enumerate(ts):
        if not t.requires_grad:
            continue
        g = t.grad
        if isinstance(g, RowGrad):
            g = g.dense()
        analytic = np.zeros(t.shape) if g is None else np.asarray(_host(g), dtype=float)
        flat = t.data.reshape(-1)  # a view: perturb in place
        for e in range(flat.size):
            old = flat[e].item()
            flat[e] = old + eps
            up = loss()
            flat[e] = old - eps
            down = loss()
            flat[e] = old
            num = (up - down) / (2 * eps)
            idx = np.unravel_index(e, t.shape) if t.shape else ()
            ana = float(analytic[idx])
            err = abs(ana - num)
            score = err - (atol + rtol * abs(num))
            if score > worst_score:
                worst_score = score
                best = GradcheckResult(
                    score <= 0,
                    err,
                    err / max(abs(num), 1e-12),
                    k,
                    tuple(int(i) for i in idx),
                    ana,
                    num,
                )
    if raise_on_fail and not best.ok:
        raise AssertionError(str(best))
    return best


def _host(a):
    return a.get() if hasattr(a, "get") else a
