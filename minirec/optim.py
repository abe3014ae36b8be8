"""Optimizers, learning-rate schedules and gradient clipping.

Each ``step()`` reads ``p.grad`` (dense array or sparse :class:`RowGrad`) and updates
``p.data`` in place; parameters without a gradient are skipped. Updates (g is the
gradient, t the step count from 1, η the learning rate ``lr``):

* ``SGD``:      v ← μ v + (g + wd θ);  θ ← θ - η v        (μ = momentum; v = g if μ = 0)
* ``Adagrad``:  G ← G + g²;  θ ← θ - η g / (√G + ε)
* ``Adam``:     m ← β₁m + (1-β₁)g;  v ← β₂v + (1-β₂)g²;  m̂ = m/(1-β₁ᵗ), v̂ = v/(1-β₂ᵗ);
                θ ← θ - η m̂ / (√v̂ + ε)        (Kingma & Ba 2015; wd adds wd θ to g)
* ``AdamW``:    Adam with decoupled decay: θ ← θ - η (m̂ / (√v̂ + ε) + wd θ)
                (Loshchilov & Hutter 2019)

Adam's t counts the steps in which *that parameter* had a gradient (as in PyTorch),
so a parameter skipped on some steps gets the same bias correction as one trained
alone. These updates equal ``torch.optim.SGD`` / ``Adagrad`` / ``Adam`` / ``AdamW``
(tests/reference/test_optim_ref.py).

Sparse gradients (``Embedding(sparse=True)``): SGD and Adagrad update only the touched
rows (exact: untouched rows have g = 0, no momentum / decay). Adam with ``lazy=True``
is ``torch.optim.SparseAdam``: m, v and θ change only on the touched rows (an
approximation: untouched rows' moments do not decay), and ε is added to √v before the
bias correction, θ ← θ - η √(1-β₂ᵗ)/(1-β₁ᵗ) m / (√v + ε), where dense Adam adds it
to √v̂; SparseAdam has no weight decay, lazy Adam applies ``weight_decay`` (or AdamW's
decoupled decay) to the touched rows only. ``lazy=False`` densifies the gradient and
is exact Adam.

Every ``FLUSH_EVERY`` steps, parameter entries below √tiny (1.1e-19 in float32)
and subnormal optimizer-state entries are set to 0: they change no result that
matters, and the subnormal arithmetic they cause is slow on CPUs
(:meth:`Optimizer.flush_tiny`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from ._utils import check_nonnegative, check_positive
from .autograd import RowGrad, Tensor

FLUSH_EVERY = 256  # steps between two flushes of tiny values (Optimizer.flush_tiny)


class Optimizer:
    """Base: holds the parameters (a list) and ``lr``; ``zero_grad()`` clears grads."""

    def __init__(self, params: Iterable[Tensor], lr: float):
        self.params = [p for p in params]
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        self.lr = check_positive("lr", lr)
        self.t = 0
        self.state: dict[int, dict] = {}

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def _state(self, p: Tensor, *names: str) -> list:
        st = self.state.setdefault(id(p), {})
        for n in names:
            if n not in st:
                st[n] = p.xp.zeros_like(p.data)
        return [st[n] for n in names]

    def step(self) -> None:
        self.t += 1
        for p in self.params:
            if p.grad is not None:
                self._update(p, p.grad)
        if self.t % FLUSH_EVERY == 0:
            self.flush_tiny()

    def flush_tiny(self) -> None:
        """Set to exactly 0 the parameter entries whose square is subnormal
        (|x| < √tiny, 1.1e-19 in float32) together with their optimizer state, and
        the optimizer-state entries that are subnormal (|x| < tiny, 1.2e-38).

        L2 regularisation shrinks the factor columns that a model stops using
        towards 0, and Adam keeps them hovering near 1e-30; every product of two
        such numbers (p ⊙ q, g²) is then subnormal, which x86 CPUs compute far
        more slowly (benchmarks/bench_flush.py, results in
        benchmarks/results/flush.md). A column that is exactly 0, moments
        included, gets exactly 0 gradient and stays 0. ``step()`` calls this every
        ``FLUSH_EVERY`` steps.
        """
        for p in self.params:
            xp, w = p.xp, p.data
            if w.dtype.kind != "f":
                continue
            dead = xp.abs(w) < math.sqrt(xp.finfo(w.dtype).tiny)
            w[dead] = 0
            for a in self.state.get(id(p), {}).values():
                a[dead] = 0  # else Adam's momentum pushes the entry back to ~1e-30
                a[xp.abs(a) < xp.finfo(a.dtype).tiny] = 0


def _dense(g):
    return g.dense() if isinstance(g, RowGrad) else g


class SGD(Optimizer):
    def __init__(
        self, params, lr: float = 0.01, momentum: float = 0.0, weight_decay: float = 0.0
    ):
        super().__init__(params, lr)
        self.momentum = check_nonnegative("momentum", momentum)
        self.weight_decay = check_nonnegative("weight_decay", weight_decay)

    def _update(self, p, g):
        if isinstance(g, RowGrad) and not self.momentum and not self.weight_decay:
            p.data[g.rows] -= self.lr * g.values
            return
        g = _dense(g)
        if self.weight_decay:
            g = g + self.weight_decay * p.data
        if self.momentum:
            (v,) = self._state(p, "v")
            v *= self.momentum
            v += g
            g = v
        p.data -= self.lr * g


class Adagrad(Optimizer):
    def __init__(self, params, lr: float = 0.01, eps: float = 1e-10):
        super().__init__(params, lr)
        self.eps = eps

    def _update(self, p, g):
        (G,) = self._state(p, "G")
        xp = p.xp
        if isinstance(g, RowGrad):
            r = g.rows
            G[r] += g.values * g.values
            p.data[r] -= self.lr * g.values / (xp.sqrt(G[r]) + self.eps)
            return
        G += g * g
        p.data -= self.lr * g / (xp.sqrt(G) + self.eps)


class Adam(Optimizer):
    """Adam; ``lazy=True`` updates only touched rows of sparse (RowGrad) gradients."""

    decoupled = False

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        lazy: bool = False,
    ):
        super().__init__(params, lr)
        b1, b2 = betas
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValueError(f"betas={betas!r}: each must be in [0, 1)")
        self.betas, self.eps, self.lazy = (b1, b2), eps, lazy
        self.weight_decay = check_nonnegative("weight_decay", weight_decay)
        self.steps: dict[int, int] = {}  # per parameter: the steps it had a gradient

    def _update(self, p, g):
        b1, b2 = self.betas
        m, v = self._state(p, "m", "v")
        xp = p.xp
        t = self.steps[id(p)] = self.steps.get(id(p), 0) + 1
        step = self.lr * math.sqrt(1 - b2**t) / (1 - b1**t)
        if isinstance(g, RowGrad) and self.lazy:  # SparseAdam: ε added to √v
            r, gv = g.rows, g.values
            if self.weight_decay and not self.decoupled:
                gv = gv + self.weight_decay * p.data[r]
            mr = b1 * m[r] + (1 - b1) * gv
            vr = b2 * v[r] + (1 - b2) * gv * gv
            m[r], v[r] = mr, vr
            if self.weight_decay and self.decoupled:
                p.data[r] -= self.lr * self.weight_decay * p.data[r]
            p.data[r] -= step * mr / (xp.sqrt(vr) + self.eps)
            return
        eps = self.eps * math.sqrt(1 - b2**t)  # so that ε is added to √v̂
        g = _dense(g)
        if self.weight_decay and not self.decoupled:
            g = g + self.weight_decay * p.data
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * (g * g)
        if self.weight_decay and self.decoupled:
            p.data -= (self.lr * self.weight_decay) * p.data
        p.data -= step * m / (xp.sqrt(v) + eps)


class AdamW(Adam):
    """Adam with decoupled weight decay (default 0.01)."""

    decoupled = True

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.01,
        lazy: bool = False,
    ):
        super().__init__(params, lr, betas, eps, weight_decay, lazy)


def clip_grad_norm(params: Iterable[Tensor], max_norm: float) -> float:
    """Scale all gradients by ``max_norm / (norm + 1e-6)`` when their joint L2 norm
    exceeds `max_norm` (torch.nn.utils.clip_grad_norm_); returns the norm before
    clipping. Works on dense and RowGrad gradients."""
    params = [p for p in params if p.grad is not None]
    total = 0.0
    for p in params:
        g = p.grad.values if isinstance(p.grad, RowGrad) else p.grad
        total += float((g * g).sum())
    norm = math.sqrt(total)
    if norm > max_norm:
        scale = max_norm / (norm + 1e-6)
        for p in params:
            g = p.grad
            if isinstance(g, RowGrad):
                p.grad = RowGrad(g.rows, g.values * scale, g.shape)
            else:
                p.grad = g * scale
    return norm


# -- learning-rate schedules ----------------------------------------------------------
class LRScheduler:
    """Sets ``optimizer.lr = base_lr * factor(epoch)``; call ``step()`` once per epoch
    (or per batch, as you choose); ``epoch`` counts the calls."""

    def __init__(self, optimizer: Optimizer):
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.epoch = 0

    def factor(self, epoch: int) -> float:
        raise NotImplementedError

    def step(self) -> float:
        self.epoch += 1
        self.optimizer.lr = self.base_lr * self.factor(self.epoch)
        return self.optimizer.lr


class StepLR(LRScheduler):
    """lr × gamma^(epoch // step_size)."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1):
        super().__init__(optimizer)
        self.step_size, self.gamma = step_size, gamma

    def factor(self, epoch):
        return self.gamma ** (epoch // self.step_size)


class ExponentialLR(LRScheduler):
    """lr × gamma^epoch."""

    def __init__(self, optimizer, gamma: float):
        super().__init__(optimizer)
        self.gamma = gamma

    def factor(self, epoch):
        return self.gamma**epoch


class CosineLR(LRScheduler):
    """Cosine from lr down to lr × min_factor over `total` epochs, then flat."""

    def __init__(self, optimizer, total: int, min_factor: float = 0.0):
        super().__init__(optimizer)
        self.total, self.min_factor = total, min_factor

    def factor(self, epoch):
        c = 0.5 * (1 + math.cos(math.pi * min(epoch, self.total) / self.total))
        return self.min_factor + (1 - self.min_factor) * c


class WarmupLR(LRScheduler):
    """Linear warm-up: lr × (epoch + 1) / warmup until it reaches lr at epoch
    warmup - 1, then `after`'s schedule from there (``after.factor(epoch - warmup +
    1)``), or flat when `after` is None. Sets lr/warmup already at construction."""

    def __init__(self, optimizer, warmup: int, after: LRScheduler | None = None):
        super().__init__(optimizer)
        self.warmup, self.after = warmup, after
        optimizer.lr = self.base_lr * self.factor(0)

    def factor(self, epoch):
        if epoch < self.warmup:
            return (epoch + 1) / self.warmup
        return 1.0 if self.after is None else self.after.factor(epoch - self.warmup + 1)
