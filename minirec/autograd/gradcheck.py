"""``gradcheck``: compare the autograd gradient with central differences in float64."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .tensor import RowGrad, Tensor, array_namespace


@dataclass
class GradcheckResult:
    """What :func:`gradcheck` found. ``max_abs_err`` / ``max_rel_err`` are the largest
    errors over all checked elements; ``worst_input`` / ``worst_index`` name the
    element furthest past the tolerance (largest ``err - (atol + rtol |numeric|)``),
    with the analytic and the numeric value there. ``message`` says what failed when
    it is not an element (a gradient of the wrong shape)."""

    ok: bool
    max_abs_err: float
    max_rel_err: float
    worst_input: int
    worst_index: tuple[int, ...]
    analytic: float
    numeric: float
    message: str = ""

    def __str__(self) -> str:
        verdict = "passed" if self.ok else "FAILED"
        if self.message:
            return f"gradcheck {verdict}: {self.message}"
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
    fails when ``|analytic - numeric| > atol + rtol * |numeric|``. A gradient whose
    shape is not its input's shape fails outright (e.g. a backward that forgot to sum
    over broadcast axes).

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
    worst_score = max_abs = max_rel = -np.inf
    for k, t in enumerate(ts):
        if not t.requires_grad:
            continue
        g = t.grad
        if isinstance(g, RowGrad):
            g = g.dense()
        if g is not None and tuple(g.shape) != t.shape:
            best = GradcheckResult(
                False,
                np.inf,
                np.inf,
                k,
                (),
                np.nan,
                np.nan,
                f"input {k} has shape {t.shape} but its gradient has shape "
                f"{tuple(g.shape)}; its backward must return a gradient of the "
                "input's shape (sum over the axes broadcasting added)",
            )
            break
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
            rel = err / max(abs(num), 1e-12)
            max_abs, max_rel = _nanmax(max_abs, err), _nanmax(max_rel, rel)
            score = err - (atol + rtol * abs(num))
            if not score <= worst_score:  # a NaN score is the worst of all
                worst_score = np.inf if np.isnan(score) else score
                best = GradcheckResult(
                    score <= 0, err, rel, k, tuple(int(i) for i in idx), ana, num
                )
    if not best.message:
        best.max_abs_err, best.max_rel_err = max(max_abs, 0.0), max(max_rel, 0.0)
    if raise_on_fail and not best.ok:
        raise AssertionError(str(best))
    return best


def _nanmax(a: float, b: float) -> float:
    """max(a, b), NaN when either is NaN (a NaN error must not hide)."""
    return float("nan") if a != a or b != b else max(a, b)


def _host(a):
    return a.get() if hasattr(a, "get") else a
