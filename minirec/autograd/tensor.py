"""The Tensor and the backward engine: reverse-mode autodiff in one small file.

The xp contract
---------------
A Tensor wraps one array ``data`` of an *array namespace* ``xp``: NumPy today, CuPy
later, unchanged. The core (this file and ``ops.py``) only calls what both namespaces
provide under the same name: array creation (``xp.zeros``, ``xp.asarray``...),
ufuncs, reductions, ``matmul``, ``argsort``, ``concatenate``, ``stack``, ``where``,
indexing, ``lib.stride_tricks.sliding_window_view``. It never calls ``np.`` directly on
data, never moves data to the host, and never uses ``np.add.at`` in a hot path. A
Tensor finds its namespace with :func:`array_namespace` (cupy if the array is a cupy
array, else numpy); CuPy is never imported unless a CuPy array shows up.

The one exception is the embedding scatter-add (:func:`scatter_add_rows`): it picks the
fastest kernel per namespace (a CSR matrix product from scipy / cupyx when installed,
else sort + ``add.reduceat``), with the same result on every path.

Dtypes: ``float32`` by default (for speed): Python scalars, lists and tuples
(``Tensor([1.0, 2.0])``) become ``float32``. Arrays (and NumPy scalars) keep their
dtype: ``float64`` arrays give ``float64`` graphs (what
:func:`~minirec.autograd.gradcheck` uses; the other way to ask for float64 is an
explicit ``dtype=``), and integer or bool arrays stay integer / bool, so that an
integer Tensor can index (``x[Tensor(idx)]``) as in PyTorch. Only a floating Tensor
can require grad. A binary op between an integer / bool Tensor and a floating one
computes in the floating dtype (PyTorch's promotion rule); an integer Tensor on its
own follows NumPy's rules.

Semantics of ``backward()``
---------------------------
``loss.backward()`` walks the graph once in reverse topological order and *adds* each
gradient into ``.grad`` of the leaf tensors that have ``requires_grad=True`` (leaves:
tensors made by the user, e.g. parameters). Gradients of intermediate tensors are not
kept. The graph is not freed, so calling ``backward()`` twice adds the gradient twice
(as in PyTorch with ``retain_graph=True``); call ``zero_grad()`` (or set ``.grad =
None``) between optimizer steps. Inside ``with no_grad():`` no graph is recorded.

A leaf's ``.grad`` is a dense array of the leaf's shape, or a :class:`RowGrad` (unique
row indices + their gradient rows) for an embedding table created with ``sparse=True``.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import numpy as np

from ..backends.device import canonical_device, move

DEFAULT_DTYPE = np.float32
_GRAD_ENABLED = True


def array_namespace(x: Any) -> ModuleType:
    """``cupy`` when `x` is a CuPy array, else ``numpy``."""
    if type(x).__module__.startswith("cupy"):
        return sys.modules["cupy"]
    return np


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Context manager: ops inside record no graph (inference, optimizer steps)."""
    global _GRAD_ENABLED
    prev, _GRAD_ENABLED = _GRAD_ENABLED, False
    try:
        yield
    finally:
        _GRAD_ENABLED = prev


def is_grad_enabled() -> bool:
    """False inside ``no_grad()``."""
    return _GRAD_ENABLED


class RowGrad:
    """A sparse gradient of a 2-D table: ``rows`` (unique, sorted) and ``values``
    (``len(rows) x dim``). ``dense()`` gives the full ``shape`` array."""

    __slots__ = ("rows", "values", "shape")
    __array_ufunc__ = None  # ndarray + RowGrad defers to RowGrad.__radd__

    def __init__(self, rows, values, shape: tuple[int, ...]):
        self.rows, self.values, self.shape = rows, values, tuple(shape)

    def dense(self):
        xp = array_namespace(self.values)
        out = xp.zeros(self.shape, dtype=self.values.dtype)
        out[self.rows] = self.values
        return out

    def __add__(self, other):
        if isinstance(other, RowGrad):
            xp = array_namespace(self.values)
            rows = xp.concatenate([self.rows, other.rows])
            vals = xp.concatenate([self.values, other.values])
            return RowGrad(*scatter_add_rows(rows, vals), self.shape)
        out = other.copy()  # dense + sparse
        out[self.rows] += self.values
        return out

    __radd__ = __add__

    def __repr__(self) -> str:
        return (
            f"RowGrad({len(self.rows)} of {self.shape[0]} rows, dim {self.shape[1:]})"
        )


def scatter_add_rows(idx, values):
    """Sum the rows of `values` that share an index: returns ``(rows, sums)`` with
    ``rows`` the unique sorted indices. The backward of an embedding gather.

    A stable sort and one CSR product rather than the obvious ``np.add.at``
    (benchmarks/results/autograd.md compares them); ``add.reduceat`` without a
    sparse module.
    """
    xp = array_namespace(values)
    order = xp.argsort(idx, kind="stable")
    s = idx[order]
    new = xp.empty(s.shape, dtype=bool)
    new[:1] = True
    new[1:] = s[1:] != s[:-1]
    starts = xp.flatnonzero(new)
    sparse = _sparse_module(xp)
    if sparse is not None:
        indptr = xp.concatenate([starts, xp.asarray([len(s)], dtype=starts.dtype)])
        ones = xp.ones(len(s), dtype=values.dtype)
        m = sparse.csr_matrix((ones, order, indptr), shape=(len(starts), len(s)))
        return s[starts], m @ values
    return s[starts], xp.add.reduceat(values[order], starts, axis=0)


def scatter_add_dense(idx, values, n_rows: int):
    """Like :func:`scatter_add_rows` but into a dense ``(n_rows, dim)`` array. When the
    batch is large next to the table, one CSR product (built from (row, col) pairs,
    no sort) does it; otherwise sort the batch and write the unique rows."""
    xp = array_namespace(values)
    sparse = _sparse_module(xp)
    if sparse is not None and 4 * len(idx) >= n_rows:
        n = len(idx)
        ones = xp.ones(n, dtype=values.dtype)
        m = sparse.csr_matrix((ones, (idx, xp.arange(n))), shape=(n_rows, n))
        return m @ values
    rows, sums = scatter_add_rows(idx, values)
    out = xp.zeros((n_rows,) + values.shape[1:], dtype=values.dtype)
    out[rows] = sums
    return out


def _sparse_module(xp):
    try:
        if xp is np:
            import scipy.sparse as sparse
        else:
            import cupyx.scipy.sparse as sparse
    except ImportError:
        return None
    return sparse


class Tensor:
    """An array with a gradient. See the module docstring for the xp contract.

    ``dtype=None`` gives float32 for Python scalars / lists / tuples and keeps the
    dtype of arrays (float64 stays float64, as gradcheck needs; integer and bool
    arrays stay integer / bool, e.g. to index); pass ``dtype=`` to choose
    explicitly. ``requires_grad=True`` needs a floating dtype (TypeError otherwise).
    """

    __slots__ = ("data", "grad", "requires_grad", "_parents", "_backward", "name")
    __array_priority__ = 1000  # so ndarray + Tensor calls Tensor.__radd__

    def __init__(
        self,
        data,
        requires_grad: bool = False,
        dtype=None,
        name: str = "",
        device: str | None = None,
    ):
        if isinstance(data, Tensor):
            data = data.data
        # Python scalars, lists and tuples carry no dtype: they become float32
        from_python = not hasattr(data, "dtype")
        if device is not None:  # "cpu"/"numpy" or "cuda"/"cupy": an explicit transfer
            data = move(data, device)
        xp = array_namespace(data)
        if dtype is not None:
            data = xp.asarray(data, dtype=dtype)
        else:
            data = xp.asarray(data)
            if from_python or data.dtype.kind not in "fiub":
                data = data.astype(DEFAULT_DTYPE)
        if requires_grad and data.dtype.kind != "f":
            raise TypeError(
                f"Tensor(requires_grad=True) needs floating data, got {data.dtype}; "
                "pass dtype=np.float32 (or float64) to make a parameter of it"
            )
        self.data = data
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._parents: tuple[Tensor, ...] = ()
        self._backward: Callable | None = None
        self.name = name

    # -- basic properties ------------------------------------------------------------
    @property
    def xp(self) -> ModuleType:
        return array_namespace(self.data)

    @property
    def device(self) -> str:
        """``"cpu"`` (NumPy data) or ``"cuda"`` (CuPy data)."""
        return "cpu" if self.xp is np else "cuda"

    def to(self, device: str) -> Tensor:
        """This tensor on `device` (``"cpu"``/``"numpy"`` or ``"cuda"``/``"cupy"``):
        ``self`` when already there, else a new leaf holding a copy (an explicit
        transfer) with the same ``requires_grad``, cut from the graph. Without CuPy
        or a GPU: BackendUnavailableError naming ``pip install 'minirec[gpu]'``."""
        if canonical_device(device) == self.device:
            return self
        return Tensor(move(self.data, device), self.requires_grad, name=self.name)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def size(self) -> int:
        return self.data.size

    def __len__(self) -> int:
        return len(self.data)

    def numpy(self) -> np.ndarray:
        """The data as a NumPy array (copied to the host for CuPy)."""
        d = self.data
        return d.get() if hasattr(d, "get") else np.asarray(d)

    def item(self) -> float:
        return (
            float(self.data.reshape(-1)[0]) if self.data.size == 1 else self.data.item()
        )

    def detach(self) -> Tensor:
        """The same data, cut from the graph."""
        return Tensor(self.data)

    def zero_grad(self) -> None:
        self.grad = None

    def __repr__(self) -> str:
        rg = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({self.data!r}{rg})"

    # -- the engine --------------------------------------------------------------------
    def backward(self, grad=None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (see module doc).

        `grad` is the upstream gradient (default 1 for a scalar; required otherwise).
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward() on a tensor that does not require grad: make the inputs "
                "with requires_grad=True (or nn parameters) and do not call it inside "
                "no_grad()"
            )
        if grad is None:
            if self.data.size != 1:
                raise ValueError(
                    f"backward() without grad needs a scalar, got shape {self.shape}; "
                    "reduce it (e.g. .sum() or .mean()) or pass grad="
                )
            grad = self.xp.ones_like(self.data)
        order = _topo_order(self)
        grads: dict[int, Any] = {id(self): grad}
        for t in reversed(order):
            g = grads.pop(id(t), None)
            if g is None:
                continue
            if t._backward is None:  # a leaf
                t.grad = g if t.grad is None else t.grad + g
                continue
            for p, pg in zip(t._parents, t._backward(g), strict=True):
                if pg is None or not p.requires_grad:
                    continue
                k = id(p)
                grads[k] = pg if k not in grads else grads[k] + pg


def _topo_order(root: Tensor) -> list[Tensor]:
    """Tensors that `root` depends on (and requires grad), parents before children."""
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        t, done = stack.pop()
        if done:
            order.append(t)
            continue
        if id(t) in seen:
            continue
        seen.add(id(t))
        stack.append((t, True))
        for p in t._parents:
            if p.requires_grad and id(p) not in seen:
                stack.append((p, False))
    return order


def make_node(data, parents: tuple[Tensor, ...], backward: Callable) -> Tensor:
    """The result of an op: records `parents` and `backward(g) -> grads` when a graph is
    being built and some parent requires grad; a plain constant otherwise."""
    out = Tensor.__new__(Tensor)
    out.data, out.grad, out.name = data, None, ""
    if _GRAD_ENABLED and any(p.requires_grad for p in parents):
        out.requires_grad, out._parents, out._backward = True, parents, backward
    else:
        out.requires_grad, out._parents, out._backward = False, (), None
    return out


def as_tensor(x, like: Tensor | None = None) -> Tensor:
    """`x` if it is a Tensor; else a constant Tensor (for Python scalars and lists:
    the dtype of `like` when that is floating, else float32)."""
    if isinstance(x, Tensor):
        return x
    if like is not None and not hasattr(x, "dtype"):
        dtype = like.dtype if like.dtype.kind == "f" else DEFAULT_DTYPE
        return Tensor(like.xp.asarray(x, dtype=dtype))
    if like is not None:
        return Tensor(like.xp.asarray(x))
    return Tensor(x)
