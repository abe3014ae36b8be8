"""The shared mini-batch training loop of the neural models (NCF, DeepFM, ConvNCF,
AutoRec), and their common estimator plumbing.

One epoch (:func:`train_loop`)::

    examples = make_epoch(epoch, rng)        # fresh negatives, shuffled (drawn here,
                                             # outside the step, so runs are seeded)
    for batch in slices of batch_size:
        loss = step(batch)                   # forward, backward, optimizer step
        stop with TrainingDivergedError if loss is NaN/inf (with advice)
    scheduler.step(); check the parameters are finite
    if a validation callback is given: score = valid(); keep the best parameters,
    stop after `patience` epochs without improvement, restore the best at the end.

Negative sampling (:func:`pointwise_epoch`, :func:`pairwise_epoch`): for every
training positive (u, i), `n_negatives` items u never interacted with are drawn
uniformly each epoch (:func:`minirec.data.sampling.sample_negatives`), as in NCF
(He et al. 2017, §4.1: "4 negatives per positive", re-sampled every iteration).

:class:`NeuralRecommender` is the base class of the autograd models: it holds an
``nn.Module`` in ``self.net_``, scores users in chunks under ``no_grad``, and saves /
loads the module's ``state_dict`` in the model file (the module is rebuilt from the
hyperparameters and the fitted sizes, never unpickled). Warm starts (NeuMF's
pre-trained GMF and MLP, ConvNCF's MF-BPR tables) are constructor parameters
holding models (:func:`fitted_start`); they are not stored in the model file.

Devices (``device="cpu" | "cuda"``, :class:`OnDevice`): with ``"cuda"`` the network,
its optimizer state, the epoch's shuffles, negatives, targets and batch indices are
CuPy arrays, drawn by a CuPy Generator seeded from the model's host Generator (the
host streams, and so the CPU results, are those of ``device="cpu"``); the data move
to the device once per fit. Scores, item vectors, model files and what validation
callbacks see are host NumPy arrays, copied explicitly.

Hyperparameter vocabulary of these models: ``k`` the latent size (embedding width,
AutoRec's bottleneck), ``n_epochs`` passes, ``n_negatives`` sampled negatives per
positive, ``lr``, ``reg``, ``batch_size``, ``seed``; ``hidden`` / ``layers`` are
layer sizes (``layers`` of NCF's tower includes its input, 2 × the embedding size).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar

import numpy as np

from .._utils import as_rng, check_positive_int, progress
from ..autograd import RowGrad, no_grad
from ..backends.device import canonical_device, namespace_for, to_host
from ..data.interactions import Interactions
from ..data.sampling import sample_negatives
from ..errors import DataError, TrainingDivergedError
from ..nn import Module
from ..optim import SGD, Adagrad, Adam, ExponentialLR, StepLR
from .base import Recommender

__all__ = [
    "NeuralRecommender",
    "OnDevice",
    "check_device",
    "check_batch_size",
    "check_n_negatives",
    "check_optimizer",
    "check_sizes",
    "epoch_hook",
    "fitted_start",
    "make_optimizer",
    "make_scheduler",
    "pairwise_epoch",
    "permutation",
    "pointwise_epoch",
    "shuffle",
    "NegativeSampler",
    "gradcheck_module",
    "train_loop",
]

OPTIMIZERS = ("adam", "sgd", "adagrad")
SCHEDULES = ("none", "exp", "step")


def check_batch_size(batch_size: Any) -> int:
    """`batch_size` as int, or a ValueError that says what to pass."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise ValueError(f"batch_size={batch_size!r}: must be a positive integer")
    if batch_size <= 0:
        raise ValueError(
            f"batch_size={batch_size!r}: must be a positive integer (e.g. 256 as in "
            "the NCF paper, or 1024-2048 for speed on a CPU)"
        )
    return int(batch_size)


def check_device(device: Any) -> Any:
    """`device` unchanged if it names the host or a GPU ("cpu", "cuda", ...; see
    :func:`minirec.backends.device.canonical_device`), else a ValueError. Whether
    CuPy and a GPU are there is checked when the model first needs them (fit,
    load), so that a model can be built, cloned and saved anywhere."""
    canonical_device(device)
    return device


class OnDevice:
    """The ``device`` plumbing of the autograd models (this module's doc).

    ``self.device`` is the constructor parameter; the helpers below are the only
    places the models move arrays between the host and the device."""

    device: str = "cpu"

    @property
    def xp(self):
        """The array namespace of ``self.device`` (numpy, or cupy: a clear
        BackendUnavailableError without CuPy or a GPU)."""
        return namespace_for(self.device)

    def _dev(self, a):
        """`a` (a host array) on the model's device: itself on the CPU, an explicit
        host -> device copy on a GPU."""
        xp = self.xp
        return a if xp is np else xp.asarray(a)

    def _place(self, net: Module) -> Module:
        """`net` (built on the host) moved to the model's device."""
        return net if self.xp is np else net.to(self.device)

    def to(self, device: str):
        """Move the fitted network (and later fits) to `device`; returns self."""
        check_device(device)
        net = getattr(self, "net_", None)
        if net is not None:
            net.to(device)
        self.device = device
        return self

    def _epoch_rng(self, rng: np.random.Generator):
        """The Generator that draws the epochs' shuffles and negatives: `rng` on the
        CPU; on a GPU a device Generator seeded by one draw from `rng`."""
        xp = self.xp
        if xp is np:
            return rng
        return xp.random.default_rng(int(rng.integers(2**63)))


def check_sizes(name: str, sizes: Any, allow_empty: bool = False) -> Sequence[int]:
    """Layer sizes: a list or tuple of positive ints, kept as the very object given
    (``sklearn.base.clone`` checks the constructor stores its arguments unchanged);
    another iterable becomes a list. ValueError naming `name` otherwise."""
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__iter__"):
        raise ValueError(f"{name}={sizes!r}: must be a sequence of positive integers")
    vals = [check_positive_int(name, x) for x in sizes]
    if not vals and not allow_empty:
        raise ValueError(f"{name}={sizes!r}: give at least one size")
    if isinstance(sizes, (list, tuple)) and all(type(x) is int for x in sizes):
        return sizes
    return vals


def check_n_negatives(data: Interactions, n_negatives: int, model: str) -> int:
    """Check every user has at least `n_negatives` items it has not interacted with."""
    n_negatives = check_positive_int("n_negatives", n_negatives)
    seen = data.by_user.lengths()
    # unique items per user (event logs may repeat an item)
    avail = data.n_items - seen
    k = int(np.argmin(avail))
    if avail[k] < n_negatives:
        raise DataError(
            f"{model}: n_negatives={n_negatives} negatives per positive requested, "
            f"but user {data.user_ids[k]!r} has only {int(avail[k])} items it has not "
            f"interacted with (of {data.n_items:,}); lower n_negatives to at most "
            f"{int(avail[k])} or drop users who have seen almost every item"
        )
    return n_negatives


def fitted_start(model: Recommender, data: Interactions, valid: Any = None):
    """A warm-start model, fitted: `model` itself when it is fitted already, else a
    fresh copy of it (same hyperparameters) fitted on `data` (with `valid` when it
    selects on validation cases). The copy keeps the caller's object unfitted, and
    it is what an unfitted start from ``sklearn.base.clone`` becomes."""
    if hasattr(model, "user_ids_"):
        return model
    fresh = type(model)(**model.get_params(deep=False))
    kw = {"valid": valid} if valid is not None and fresh.accepts_valid else {}
    return fresh.fit(data, **kw)


def epoch_hook(model: Recommender, on_epoch: Any) -> Callable[[int, dict], None] | None:
    """:func:`train_loop`'s ``on_epoch(epoch, record)`` from fit's
    ``on_epoch(model, epoch, record)`` (None stays None)."""
    if on_epoch is None:
        return None
    return lambda epoch, rec: on_epoch(model, epoch, rec)


def check_optimizer(optimizer: Any) -> str:
    """`optimizer` if it is one of :data:`OPTIMIZERS`, else a ValueError."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer={optimizer!r}: choose one of {OPTIMIZERS}")
    return optimizer


def make_optimizer(
    name: str, params: list, lr: float, weight_decay: float = 0.0, lazy: bool = True
):
    """``"adam"`` (lazy on sparse embedding grads), ``"sgd"`` or ``"adagrad"``."""
    if name == "adam":
        return Adam(params, lr=lr, weight_decay=weight_decay, lazy=lazy)
    if name == "sgd":
        return SGD(params, lr=lr, weight_decay=weight_decay)
    if name == "adagrad":
        return Adagrad(params, lr=lr)
    raise ValueError(f"optimizer={name!r}: choose one of {OPTIMIZERS}")


def make_scheduler(name: str, opt, gamma: float, step_size: int = 1):
    """``"none"``, ``"exp"`` (lr × gamma^epoch) or ``"step"`` (× gamma every
    `step_size` epochs); stepped once per epoch."""
    if name == "none":
        return None
    if name == "exp":
        return ExponentialLR(opt, gamma)
    if name == "step":
        return StepLR(opt, step_size, gamma)
    raise ValueError(f"lr_schedule={name!r}: choose one of {SCHEDULES}")


# ------------------------------------------------------------------ sampling
def permutation(rng, n: int, xp=np):
    """A random permutation of ``range(n)``: ``rng.permutation`` on the host; on a
    device (whose Generator has no permutation) the argsort of n uniform keys."""
    if xp is np:
        return rng.permutation(n)
    return xp.argsort(rng.random(n))


def shuffle(rng, a, xp=np) -> None:
    """Shuffle `a` in place: ``rng.shuffle`` on the host; on a device (whose
    Generator has no shuffle) by the argsort of uniform keys."""
    if xp is np:
        rng.shuffle(a)
    else:
        a[...] = a[xp.argsort(rng.random(len(a)))]


class NegativeSampler:
    """Uniform negatives for the positives of `data`, as NCF's sampler: for each
    positive draw j uniformly and redraw while (u, j) is a training pair. Items may
    repeat within a row (NCF's sampler allows it). A bitmap of the training pairs
    (n_users × n_items bits as bytes) makes one round a vectorized lookup; users
    who have seen nearly everything fall back to an exact draw from their unseen
    items. ``check_n_neg`` has already made sure every user has unseen items.

    With a device namespace `xp` the bitmap and the positives (``users``,
    ``items``) are copied to the device once and the draws run there, with the
    device Generator passed in; without a bitmap (too many cells) each call draws
    on the host with a Generator seeded from the device one and copies the result
    over (one explicit copy per epoch)."""

    def __init__(self, data: Interactions, xp=np):
        self.n_items = data.n_items
        self.data = data
        self.xp = xp
        cells = data.n_users * data.n_items
        self.bitmap = None
        if cells <= 200_000_000:
            self.bitmap = np.zeros(cells, dtype=bool)
            self.bitmap[data.users.astype(np.int64) * data.n_items + data.items] = True
        self.users, self.items = data.users, data.items
        if xp is not np:
            self.users, self.items = xp.asarray(data.users), xp.asarray(data.items)
            if self.bitmap is not None:
                self.bitmap = xp.asarray(self.bitmap)

    def __call__(self, users, n: int, rng):
        xp = self.xp
        if self.bitmap is None:
            if xp is np:
                return sample_negatives(self.data, users, n, seed=rng, unique=False)
            host_rng = np.random.default_rng(int(rng.integers(0, 2**62, size=1)[0]))
            neg = sample_negatives(
                self.data, to_host(users), n, seed=host_rng, unique=False
            )
            return xp.asarray(neg)
        u = xp.repeat(users.astype(xp.int64), n)
        j = rng.integers(0, self.n_items, size=len(u))
        todo = xp.flatnonzero(self.bitmap[u * self.n_items + j])
        for _ in range(50):
            if len(todo) == 0:
                break
            j[todo] = rng.integers(0, self.n_items, size=len(todo))
            todo = todo[self.bitmap[u[todo] * self.n_items + j[todo]]]
        for t in range(len(todo)):  # a user with almost every item seen: exact draw
            k = int(todo[t])
            row = self.bitmap[int(u[k]) * self.n_items : (int(u[k]) + 1) * self.n_items]
            free = xp.flatnonzero(~row)
            if xp is np:
                j[k] = rng.choice(free)
            else:  # CuPy's Generator has no choice
                j[todo[t : t + 1]] = free[rng.integers(0, len(free), size=1)]
        return j.reshape(len(users), n).astype(xp.int32)


def pointwise_epoch(
    data: Interactions, n_neg: int, rng: np.random.Generator, sampler=None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(users, items, labels) of one epoch: every positive with label 1 and `n_neg`
    fresh uniform negatives per positive with label 0, shuffled. Arrays of the
    sampler's namespace (on its device, drawn with the device Generator `rng`)."""
    sampler = sampler or NegativeSampler(data)
    xp, u, i = sampler.xp, sampler.users, sampler.items
    neg = sampler(u, n_neg, rng)
    users = xp.concatenate([u, xp.repeat(u, n_neg)]).astype(xp.int32)
    items = xp.concatenate([i, neg.ravel()]).astype(xp.int32)
    labels = xp.zeros(len(users), dtype=xp.float32)
    labels[: len(u)] = 1.0
    perm = permutation(rng, len(users), xp)
    return users[perm], items[perm], labels[perm]


def pairwise_epoch(
    data: Interactions, rng: np.random.Generator, sampler=None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(users, positives, negatives) triples for BPR: one fresh negative per
    positive, shuffled (on the sampler's device, as :func:`pointwise_epoch`)."""
    sampler = sampler or NegativeSampler(data)
    xp = sampler.xp
    neg = sampler(sampler.users, 1, rng)[:, 0]
    perm = permutation(rng, len(data), xp)
    return (
        sampler.users[perm].astype(xp.int32),
        sampler.items[perm].astype(xp.int32),
        neg[perm].astype(xp.int32),
    )


# ------------------------------------------------------------------ the loop
def _finite(net: Module) -> str | None:
    for name, p in net.named_parameters():
        if not bool(p.xp.isfinite(p.data).all()):
            return name
    return None


def train_loop(
    *,
    model: str,
    net: Module,
    opt,
    n_epochs: int,
    batch_size: int,
    make_epoch: Callable[[int, np.random.Generator], Sequence[np.ndarray]],
    step: Callable[[tuple], float],
    rng: np.random.Generator,
    scheduler=None,
    valid: Callable[[], float] | None = None,
    patience: int = 3,
    advice: str = "lower lr (e.g. by 10x) or raise reg",
    verbose: bool = False,
    on_epoch: Callable[[int, dict], None] | None = None,
    score_start: bool = False,
) -> list[dict]:
    """Run mini-batch training; returns the history (one dict per epoch).

    `step(batch)` gets a tuple of array slices and returns the batch loss (float).
    `valid()` returns a score where higher is better (e.g. HR@10 on held-out
    users); with it the best epoch's parameters are kept and training stops after
    `patience` epochs without improvement. Raises TrainingDivergedError (naming the
    epoch, batch and what to change) when the loss or a parameter is NaN/inf.
    With `score_start` (a network that starts from trained weights, e.g. NeuMF
    fused from pre-trained GMF and MLP) the starting weights are scored too, as
    "epoch 0" of the history, and kept if no epoch beats them.
    """
    history: list[dict] = []
    best, best_state, bad = -math.inf, None, 0
    if valid is not None and score_start:
        best, best_state = float(valid()), net.state_dict()
        history.append({"epoch": 0, "valid": best, "best": True})
        if verbose:
            print(f"{model} epoch=0 (start), valid={best:.5g}", flush=True)
    for epoch in progress(range(1, n_epochs + 1), desc=model, unit="epoch"):
        t0 = time.perf_counter()
        arrays = make_epoch(epoch, rng)
        n = len(arrays[0])
        total, count = 0.0, 0
        for b, s in enumerate(range(0, n, batch_size)):
            batch = tuple(a[s : s + batch_size] for a in arrays)
            loss = step(batch)
            if not math.isfinite(loss):
                raise TrainingDivergedError(
                    f"{model}: training diverged at epoch {epoch}, batch {b} (loss = "
                    f"{loss}); {advice} (lr was {opt.lr:g})."
                )
            m = len(batch[0])
            total += loss * m
            count += m
        bad_param = _finite(net)
        if bad_param is not None:
            raise TrainingDivergedError(
                f"{model}: parameter {bad_param} became NaN/inf at epoch {epoch}; "
                f"{advice} (lr was {opt.lr:g})."
            )
        rec = {
            "epoch": epoch,
            "loss": total / max(count, 1),
            "lr": opt.lr,
            "seconds": time.perf_counter() - t0,
        }
        if scheduler is not None:
            scheduler.step()
        if valid is not None:
            score = float(valid())
            rec["valid"] = score
            if score > best + 1e-9:
                best, bad = score, 0
                best_state = net.state_dict()
                rec["best"] = True
            else:
                bad += 1
        history.append(rec)
        if on_epoch is not None:
            on_epoch(epoch, rec)
        if verbose:
            print(
                f"{model} " + ", ".join(f"{k}={v:.5g}" for k, v in rec.items()),
                flush=True,
            )
        if valid is not None and bad >= patience:
            break
    if best_state is not None:
        net.load_state_dict(best_state)
    return history


def grad_norm(net: Module) -> float:
    """Joint L2 norm of the current gradients (dense or sparse)."""
    total = 0.0
    for p in net.parameters():
        g = p.grad
        if g is None:
            continue
        g = g.values if isinstance(g, RowGrad) else g
        total += float((g * g).sum())
    return math.sqrt(total)


# ------------------------------------------------------------------ the base class
class NeuralRecommender(OnDevice, Recommender):
    """Base of the autograd models: ``self.net_`` is an ``nn.Module`` whose
    ``forward(u, i)`` returns one score per (internal user, internal item) pair.

    Subclasses implement ``_build(n_users, n_items, rng) -> Module`` and
    ``_fit(data, valid=None, on_epoch=None)``; this class gives scoring in chunks,
    the validation score and save/load. ``fit(data, valid=...)`` takes validation
    cases ``(users (n,), pos_items (n,), neg_items (n, m))`` of internal indices:
    HR@10 on them after every epoch keeps the best epoch and stops after
    ``patience`` epochs without improvement (models that do not select on them set
    ``accepts_valid = False``). With ``device="cuda"`` the network lives on the GPU
    (:class:`OnDevice`): ``_build`` makes it on the host, ``_place`` moves it.
    """

    iterative = True
    accepts_valid = True
    #: constructor parameters holding warm-start models (written as None to the
    #: model file: the fitted network already holds what they gave)
    warm_start_params: ClassVar[tuple[str, ...]] = ()

    #: pairs scored per forward pass when ranking all items
    score_chunk: int = 1 << 16

    def _valid_fn(self, valid: Any) -> Callable[[], float] | None:
        """HR@10 of the validation cases `valid` (see the class doc), or None."""
        if valid is None:
            return None
        u, p, neg = (np.asarray(a) for a in valid)
        if neg.ndim != 2 or len(u) != len(p) or len(neg) != len(u):
            raise ValueError(
                "valid must be (users (n,), pos_items (n,), neg_items (n, m)) of "
                f"internal indices, got shapes {u.shape}, {p.shape}, {neg.shape}"
            )

        def hr10() -> float:
            pos_s = self.predict_pairs(u, p)
            neg_s = self.predict_pairs(np.repeat(u, neg.shape[1]), neg.ravel())
            neg_s = neg_s.reshape(neg.shape)
            rank = (neg_s >= pos_s[:, None]).sum(axis=1)
            return float((rank < 10).mean())

        return hr10

    def _warm_start_info(self, starts: dict[str, Recommender]) -> None:
        """Name the warm starts used in ``fit_info_`` (saved with the model)."""
        for name, m in starts.items():
            self.fit_info_[name] = repr(m)

    def save(self, path):
        """As :meth:`Recommender.save`; warm-start parameters are written as None
        (``fit_info_`` names them)."""
        if not self.warm_start_params:
            return super().save(path)
        stored = copy.copy(self)
        for name in self.warm_start_params:
            setattr(stored, name, None)
        return Recommender.save(stored, path)

    def _build(self, n_users: int, n_items: int, rng) -> Module:
        raise NotImplementedError

    def _forward_scores(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        """Scores of pairs in chunks, eval mode, no graph."""
        self.net_.eval()
        out = np.empty(len(u), dtype=np.float32)
        c = self.score_chunk
        with no_grad():
            for s in range(0, len(u), c):
                uu, ii = self._dev(u[s : s + c]), self._dev(i[s : s + c])
                out[s : s + c] = self.net_(uu, ii).numpy()
        self.net_.train()
        return out

    def _predict_pairs(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        return self._forward_scores(u, i)

    def _score(self, u: np.ndarray) -> np.ndarray:
        n_items = self.n_items
        items = np.arange(n_items, dtype=np.int64)
        out = np.empty((len(u), n_items), dtype=np.float32)
        per = max(1, self.score_chunk // n_items)  # users per forward pass
        for s in range(0, len(u), per):
            uu = u[s : s + per]
            out[s : s + per] = self._forward_scores(
                np.repeat(uu, n_items), np.tile(items, len(uu))
            ).reshape(len(uu), n_items)
        return out

    def _state(self) -> dict:
        return {f"net/{k}": to_host(v) for k, v in self.net_.state_dict().items()}

    def _set_state(self, s: dict) -> None:
        net = self._build(len(self.user_ids_), len(self.item_ids_), 0)
        net.load_state_dict(
            {k[len("net/") :]: v for k, v in s.items() if k.startswith("net/")}
        )
        self.net_ = self._place(net)


def batches(n: int, size: int) -> Iterator[slice]:
    """Slices of ``range(n)`` of length `size` (the last may be shorter)."""
    for s in range(0, n, size):
        yield slice(s, s + size)


def seeded(seed: int) -> np.random.Generator:
    return as_rng(seed)


# ------------------------------------------------------------------ gradcheck
def _set_path(root: Module, path: str, value) -> None:
    *head, last = path.split(".")
    obj = root
    for part in head:
        obj = obj[int(part)] if isinstance(obj, (list, tuple)) else getattr(obj, part)
    if isinstance(obj, list):
        obj[int(last)] = value
    else:
        setattr(obj, last, value)


def gradcheck_module(
    net: Module,
    loss_fn: Callable[[], Any],
    names: Sequence[str] | None = None,
    **kwargs,
):
    """:func:`minirec.autograd.gradcheck` of ``loss_fn()`` with respect to the
    parameters of `net` (all, or those in `names`), in float64.

    The parameters are swapped for the float64 tensors gradcheck perturbs while it
    runs and put back afterwards; `loss_fn` must be deterministic (eval mode or
    reseeded dropout). Keep the net tiny: each element costs two forward passes.
    """
    from ..autograd import gradcheck

    named = [(n, p) for n, p in net.named_parameters() if names is None or n in names]
    if not named:
        raise ValueError(f"gradcheck_module: no parameter matches names={names!r}")

    def f(*ts):
        for (n, _), t in zip(named, ts, strict=True):
            _set_path(net, n, t)
        return loss_fn()

    try:
        return gradcheck(f, *[p for _, p in named], **kwargs)
    finally:
        for n, p in named:
            _set_path(net, n, p)
