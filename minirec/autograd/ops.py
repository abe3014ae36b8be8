"""The ops: each forward computes on ``x.data`` with the array namespace ``xp``, and its
``backward(g)`` right under it returns the gradient for each input (None to skip),
with the derivative on one comment line. ``g`` is dL/d(out). Written once against
``xp`` (see the contract in tensor.py). Every op here is checked by gradcheck in
tests/autograd/ and against PyTorch (forward and gradients) in tests/reference/.
"""

from __future__ import annotations

import math

__all__ = [  # the public ops; tests/reference/ checks each one against PyTorch
    "abs",
    "add",
    "bce_with_logits",
    "clip",
    "concat",
    "conv2d",
    "div",
    "dropout",
    "embedding",
    "exp",
    "getitem",
    "layer_norm",
    "leaky_relu",
    "linear",
    "log",
    "log1p",
    "log_sigmoid",
    "log_softmax",
    "logsumexp",
    "matmul",
    "max",
    "max_pool2d",
    "mean",
    "min",
    "mul",
    "neg",
    "outer",
    "pow",
    "relu",
    "reshape",
    "sigmoid",
    "softmax",
    "softplus",
    "sqrt",
    "stack",
    "sub",
    "sum",
    "tanh",
    "transpose",
    "where",
]

from .tensor import (
    RowGrad,
    Tensor,
    as_tensor,
    make_node,
    scatter_add_dense,
    scatter_add_rows,
)


def _unb(g, shape):
    """Sum `g` over the axes that broadcasting added, back down to `shape`."""
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    if extra:
        g = g.sum(axis=tuple(range(extra)))
    axes = tuple(k for k, n in enumerate(shape) if n == 1 and g.shape[k] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


def _axes(axis, ndim):
    """`axis` (None, int or tuple) as a sorted tuple of non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    axis = (axis,) if isinstance(axis, int) else axis
    return tuple(sorted(a % ndim for a in axis))


def _keep(g, axis, ndim, keepdims):
    """Put back the reduced axes of `g` (size 1) so it broadcasts against the input."""
    if keepdims or ndim == 0:
        return g
    shape = list(g.shape)
    for a in _axes(axis, ndim):
        shape.insert(a, 1)
    return g.reshape(shape)


def _pair(a, b):
    """Both operands as Tensors; an integer / bool one takes the dtype of a floating
    partner (PyTorch's promotion: int64 * float32 is float32, not NumPy's float64)."""
    a = as_tensor(a, b if isinstance(b, Tensor) else None)
    b = as_tensor(b, a)
    if a.dtype.kind != "f" and b.dtype.kind == "f":
        a = Tensor(a.data.astype(b.dtype))
    elif b.dtype.kind != "f" and a.dtype.kind == "f":
        b = Tensor(b.data.astype(a.dtype))
    return a, b


# -- arithmetic (broadcasting) --------------------------------------------------------
def add(a, b) -> Tensor:
    a, b = _pair(a, b)

    def backward(g):  # d(a+b)/da = 1, d(a+b)/db = 1
        return _unb(g, a.shape), _unb(g, b.shape)

    return make_node(a.data + b.data, (a, b), backward)


def sub(a, b) -> Tensor:
    a, b = _pair(a, b)

    def backward(g):  # d(a-b)/da = 1, d(a-b)/db = -1
        return _unb(g, a.shape), _unb(-g, b.shape)

    return make_node(a.data - b.data, (a, b), backward)


def mul(a, b) -> Tensor:
    a, b = _pair(a, b)

    def backward(g):  # d(ab)/da = b, d(ab)/db = a
        return (
            _unb(g * b.data, a.shape) if a.requires_grad else None,
            _unb(g * a.data, b.shape) if b.requires_grad else None,
        )

    return make_node(a.data * b.data, (a, b), backward)


def div(a, b) -> Tensor:
    a, b = _pair(a, b)

    def backward(g):  # d(a/b)/da = 1/b, d(a/b)/db = -a/b^2
        return (
            _unb(g / b.data, a.shape) if a.requires_grad else None,
            _unb(-g * a.data / (b.data * b.data), b.shape) if b.requires_grad else None,
        )

    return make_node(a.data / b.data, (a, b), backward)


def neg(a: Tensor) -> Tensor:
    def backward(g):  # d(-a)/da = -1
        return (-g,)

    return make_node(-a.data, (a,), backward)


def pow(a, p) -> Tensor:
    """``a ** p``; `p` a number or a Tensor (then ``a`` must be >= 0 for a real
    result). As in PyTorch, d/da is 0 where p == 0 and d/dp is 0 where a == 0 and
    p >= 0 (the limits of p a^(p-1) and a^p log a), not the NaN of ``0 * inf``."""
    a = as_tensor(a, p if isinstance(p, Tensor) else None)
    if not isinstance(p, Tensor):
        out = a.data**p

        def backward(g):  # d(a^p)/da = p a^(p-1); 0 when p == 0
            if p == 0:
                return (a.xp.zeros(a.shape, dtype=g.dtype),)
            return (g * p * a.data ** (p - 1),)

        return make_node(out, (a,), backward)
    a, p = _pair(a, p)
    out = a.data**p.data

    def backward2(g):  # d(a^p)/da = p a^(p-1), d(a^p)/dp = a^p log a
        xp = a.xp
        ga = gp = None
        if a.requires_grad:
            d = xp.where(p.data == 0, 0, p.data * a.data ** (p.data - 1))
            ga = _unb(g * d, a.shape)
        if p.requires_grad:
            zero = (a.data == 0) & (p.data >= 0)
            d = xp.where(zero, 0, out * xp.log(xp.where(zero, 1, a.data)))
            gp = _unb(g * d, p.shape)
        return ga, gp

    return make_node(out, (a, p), backward2)


# -- elementwise functions ------------------------------------------------------------
def exp(a: Tensor) -> Tensor:
    out = a.xp.exp(a.data)

    def backward(g):  # d exp(a) = exp(a)
        return (g * out,)

    return make_node(out, (a,), backward)


def log(a: Tensor) -> Tensor:
    def backward(g):  # d log(a) = 1/a
        return (g / a.data,)

    return make_node(a.xp.log(a.data), (a,), backward)


def log1p(a: Tensor) -> Tensor:
    def backward(g):  # d log(1+a) = 1/(1+a)
        return (g / (1 + a.data),)

    return make_node(a.xp.log1p(a.data), (a,), backward)


def sqrt(a: Tensor) -> Tensor:
    out = a.xp.sqrt(a.data)

    def backward(g):  # d sqrt(a) = 1/(2 sqrt(a))
        return (g / (2 * out),)

    return make_node(out, (a,), backward)


def abs(a: Tensor) -> Tensor:
    def backward(g):  # d|a| = sign(a)
        return (g * a.xp.sign(a.data),)

    return make_node(a.xp.abs(a.data), (a,), backward)


def clip(a: Tensor, lo=None, hi=None) -> Tensor:
    xp = a.xp
    out = xp.clip(a.data, lo, hi)

    def backward(g):  # d clip(a) = 1 inside [lo, hi], 0 outside
        return (g * (out == a.data),)

    return make_node(out, (a,), backward)


def _sigmoid(xp, x):
    e = xp.exp(-xp.abs(x))  # never overflows
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _softplus(xp, x):
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))


def sigmoid(a: Tensor) -> Tensor:
    out = _sigmoid(a.xp, a.data)

    def backward(g):  # d s(a) = s(a)(1-s(a))
        return (g * out * (1 - out),)

    return make_node(out, (a,), backward)


def tanh(a: Tensor) -> Tensor:
    out = a.xp.tanh(a.data)

    def backward(g):  # d tanh(a) = 1 - tanh(a)^2
        return (g * (1 - out * out),)

    return make_node(out, (a,), backward)


def relu(a: Tensor) -> Tensor:
    out = a.xp.maximum(a.data, 0)

    def backward(g):  # d relu(a) = [a > 0]
        return (g * (a.data > 0),)

    return make_node(out, (a,), backward)


def leaky_relu(a: Tensor, slope: float = 0.01) -> Tensor:
    pos = a.data > 0

    def backward(g):  # d = 1 if a > 0 else slope
        return (a.xp.where(pos, g, slope * g),)

    return make_node(a.xp.where(pos, a.data, slope * a.data), (a,), backward)


def softplus(a: Tensor) -> Tensor:
    def backward(g):  # d log(1+e^a) = s(a)
        return (g * _sigmoid(a.xp, a.data),)

    return make_node(_softplus(a.xp, a.data), (a,), backward)


def log_sigmoid(a: Tensor) -> Tensor:
    """log s(a) = -softplus(-a), stable for any a."""

    def backward(g):  # d log s(a) = 1 - s(a) = s(-a)
        return (g * _sigmoid(a.xp, -a.data),)

    return make_node(-_softplus(a.xp, -a.data), (a,), backward)


# -- linear algebra -------------------------------------------------------------------
def matmul(a, b) -> Tensor:
    """``a @ b`` with NumPy's rules: batched over leading axes, 1-D operands allowed."""
    a, b = _pair(a, b)
    if a.ndim == 1 and b.ndim == 1:  # the dot product: a scalar, shape ()
        return reshape(matmul(reshape(a, (1, -1)), b), ())
    if a.ndim == 1:
        out = matmul(reshape(a, (1, -1)), b)
        return reshape(out, out.shape[:-2] + out.shape[-1:])
    if b.ndim == 1:
        out = matmul(a, reshape(b, (-1, 1)))
        return reshape(out, out.shape[:-1])

    def backward(g):  # d(AB)/dA = g B^T, d(AB)/dB = A^T g
        return (
            _unb(g @ b.data.swapaxes(-1, -2), a.shape) if a.requires_grad else None,
            _unb(a.data.swapaxes(-1, -2) @ g, b.shape) if b.requires_grad else None,
        )

    return make_node(a.data @ b.data, (a, b), backward)


def linear(x: Tensor, W: Tensor, b: Tensor | None = None) -> Tensor:
    """Fused ``x @ W + b`` for x (..., in), W (in, out), b (out,): one node, not two."""
    x2 = x.data.reshape(-1, x.shape[-1])
    out = x2 @ W.data
    if b is not None:
        out += b.data
    out = out.reshape(x.shape[:-1] + (W.shape[1],))

    def backward(g):  # dx = g W^T, dW = x^T g, db = 1^T g (sum of the rows)
        g2 = g.reshape(-1, W.shape[1])
        gx = (g2 @ W.data.T).reshape(x.shape) if x.requires_grad else None
        gW = x2.T @ g2 if W.requires_grad else None
        if b is None:
            return gx, gW
        ones = x.xp.ones(len(g2), dtype=g2.dtype)  # a BLAS product beats .sum(axis=0)
        return gx, gW, (ones @ g2 if b.requires_grad else None)

    return make_node(out, (x, W) if b is None else (x, W, b), backward)


def outer(a: Tensor, b: Tensor) -> Tensor:
    """Batched outer product: a (..., m), b (..., n) -> (..., m, n)."""
    return mul(reshape(a, a.shape + (1,)), reshape(b, b.shape[:-1] + (1, b.shape[-1])))


# -- reductions -----------------------------------------------------------------------
def sum(a: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    def backward(g):  # d sum(a)/da = 1, broadcast back
        return (a.xp.broadcast_to(_keep(g, axis, a.ndim, keepdims), a.shape),)

    return make_node(a.data.sum(axis=axis, keepdims=keepdims), (a,), backward)


def mean(a: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    n = math.prod(a.shape[k] for k in _axes(axis, a.ndim))

    def backward(g):  # d mean(a)/da = 1/n
        return (a.xp.broadcast_to(_keep(g, axis, a.ndim, keepdims) / n, a.shape),)

    return make_node(a.data.mean(axis=axis, keepdims=keepdims), (a,), backward)


def _extremum(a: Tensor, axis, keepdims, fn) -> Tensor:
    out = fn(a.data, axis=axis, keepdims=True)

    def backward(g):  # d max(a)/da = 1 at the arg max (shared equally among ties)
        mask = a.data == out
        return (
            _keep(g, axis, a.ndim, keepdims) * mask / mask.sum(axis, keepdims=True),
        )

    data = out if keepdims else out.reshape(_reduced_shape(a.shape, axis))
    return make_node(data, (a,), backward)


def _reduced_shape(shape, axis):
    ax = _axes(axis, len(shape))
    return tuple(n for k, n in enumerate(shape) if k not in ax)


def max(a: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    return _extremum(a, axis, keepdims, a.xp.max)


def min(a: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    return _extremum(a, axis, keepdims, a.xp.min)


def logsumexp(a: Tensor, axis=-1, keepdims: bool = False) -> Tensor:
    """log Σ exp(a) along `axis`; -inf for an all -inf slice, +inf for a slice with
    +inf (as in PyTorch; the gradient there is NaN in both)."""
    xp = a.xp
    m = xp.max(a.data, axis=axis, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0)  # an infinite max would give inf - inf = NaN
    lse = m + xp.log(xp.exp(a.data - m).sum(axis=axis, keepdims=True))

    def backward(g):  # d lse(a)/da = softmax(a)
        return (_keep(g, axis, a.ndim, keepdims) * xp.exp(a.data - lse),)

    out = lse if keepdims else lse.reshape(_reduced_shape(a.shape, axis))
    return make_node(out, (a,), backward)


def softmax(a: Tensor, axis=-1) -> Tensor:
    xp = a.xp
    e = xp.exp(a.data - xp.max(a.data, axis=axis, keepdims=True))
    s = e / e.sum(axis=axis, keepdims=True)

    def backward(g):  # d s_i/da_j = s_i (δ_ij - s_j)  =>  s * (g - Σ g s)
        return (s * (g - (g * s).sum(axis=axis, keepdims=True)),)

    return make_node(s, (a,), backward)


def log_softmax(a: Tensor, axis=-1) -> Tensor:
    xp = a.xp
    z = a.data - xp.max(a.data, axis=axis, keepdims=True)
    out = z - xp.log(xp.exp(z).sum(axis=axis, keepdims=True))

    def backward(g):  # d log s_i/da_j = δ_ij - s_j  =>  g - softmax * Σ g
        return (g - xp.exp(out) * g.sum(axis=axis, keepdims=True),)

    return make_node(out, (a,), backward)


# -- shape and indexing ---------------------------------------------------------------
def reshape(a: Tensor, shape) -> Tensor:
    def backward(g):  # reshape back
        return (g.reshape(a.shape),)

    return make_node(a.data.reshape(shape), (a,), backward)


def transpose(a: Tensor, axes=None) -> Tensor:
    """Permute the axes (reverse them when `axes` is None); negative axes count from
    the end, and an int is a 1-axis permutation (``x.transpose(0)`` of a 1-D x)."""
    if axes is not None:
        axes = (axes,) if isinstance(axes, int) else tuple(axes)
        n = a.ndim
        if len(axes) != n or sorted(k % n if -n <= k < n else n for k in axes) != list(
            range(n)
        ):
            raise ValueError(
                f"transpose: axes {axes} are not a permutation of the {n} axes of a "
                f"tensor of shape {a.shape}"
            )
        axes = tuple(k % n for k in axes)
    inv = None if axes is None else tuple(sorted(range(a.ndim), key=axes.__getitem__))

    def backward(g):  # transpose back with the inverse permutation
        return (g.transpose(inv),)

    return make_node(a.data.transpose(axes), (a,), backward)


def _is_basic(idx) -> bool:
    items = idx if isinstance(idx, tuple) else (idx,)
    return all(isinstance(i, (int, slice)) or i is None or i is Ellipsis for i in items)


def getitem(a: Tensor, idx) -> Tensor:
    """``a[idx]``: slicing, ints, and integer / boolean arrays."""
    if isinstance(idx, Tensor):
        if idx.dtype.kind not in "iub":
            raise TypeError(
                f"indexing with a Tensor of dtype {idx.dtype}: an index Tensor must "
                "hold integers or bools; build it from an integer array "
                "(Tensor(np.array([...])) keeps int64; Tensor([0, 1]) is float32)"
            )
        idx = idx.data
    if hasattr(idx, "dtype") and idx.dtype.kind in "iu" and a.ndim >= 1:
        return embedding(a, idx) if a.ndim == 2 else _gather_rows(a, idx)
    xp = a.xp
    unique = _is_basic(idx) or getattr(getattr(idx, "dtype", None), "kind", "") == "b"

    def backward(g):  # d a[idx]/da scatters g back into zeros of a's shape
        z = xp.zeros(a.shape, dtype=g.dtype)
        if unique:
            z[idx] = g  # no index repeats: plain assignment
        else:  # general advanced indexing (rare; the hot path is `embedding`)
            xp.add.at(z, idx, g)
        return (z,)

    return make_node(a.data[idx], (a,), backward)


def _gather_rows(a: Tensor, idx) -> Tensor:
    """``a[idx]`` for an integer array and a non-2-D `a`, through `embedding`."""
    flat = reshape(a, (a.shape[0], -1))
    out = embedding(flat, idx)
    return reshape(out, idx.shape + a.shape[1:])


def embedding(weight: Tensor, idx, sparse: bool = False) -> Tensor:
    """Gather rows: ``weight.data[idx]`` for an integer array `idx` of any shape; out
    has shape ``idx.shape + (dim,)``. The backward is a scatter-add of the rows
    (:func:`scatter_add_rows`), as a :class:`RowGrad` when ``sparse=True``."""
    if isinstance(idx, Tensor):
        idx = idx.data
    dim = weight.shape[1]

    def backward(g):  # d W[idx]/dW: row idx[k] gets g[k] (summed over repeats)
        flat, g2 = idx.reshape(-1), g.reshape(-1, dim)
        if flat.dtype.kind == "i":  # a negative index -k is row n - k
            flat = weight.xp.where(flat < 0, flat + weight.shape[0], flat)
        if sparse:
            return (RowGrad(*scatter_add_rows(flat, g2), weight.shape),)
        return (scatter_add_dense(flat, g2, weight.shape[0]),)

    out = weight.xp.take(weight.data, idx, axis=0)  # a row gather, as W[idx]
    return make_node(out, (weight,), backward)


def concat(tensors, axis: int = 0) -> Tensor:
    tensors = [as_tensor(t) for t in tensors]
    xp = tensors[0].xp
    ax = axis % tensors[0].ndim
    ends = []
    for t in tensors:
        ends.append((ends[-1] if ends else 0) + t.shape[ax])

    def backward(g):  # each input gets its own slice of g
        pre = (slice(None),) * ax
        pieces = zip(tensors, ends, strict=True)
        return tuple(g[pre + (slice(e - t.shape[ax], e),)] for t, e in pieces)

    return make_node(
        xp.concatenate([t.data for t in tensors], axis=ax), tuple(tensors), backward
    )


def stack(tensors, axis: int = 0) -> Tensor:
    tensors = [as_tensor(t) for t in tensors]
    xp = tensors[0].xp
    ax = axis % (tensors[0].ndim + 1)

    def backward(g):  # input k gets g[..., k, ...] along the new axis
        pre = (slice(None),) * ax
        return tuple(g[pre + (k,)] for k in range(len(tensors)))

    return make_node(
        xp.stack([t.data for t in tensors], axis=ax), tuple(tensors), backward
    )


def where(cond, a, b) -> Tensor:
    """``a`` where `cond` (a boolean array) is true, else ``b``."""
    if isinstance(cond, Tensor):
        cond = cond.data
    a, b = _pair(a, b)
    xp = a.xp

    def backward(g):  # d/da = [cond], d/db = [not cond]
        return _unb(xp.where(cond, g, 0), a.shape), _unb(xp.where(cond, 0, g), b.shape)

    return make_node(xp.where(cond, a.data, b.data), (a, b), backward)


# -- layers that need their own backward ----------------------------------------------
def dropout(a: Tensor, p: float, training: bool = True, rng=None) -> Tensor:
    """Inverted dropout: zero each entry with probability `p`, scale the rest by
    1/(1-p). `rng` has ``.random(shape, dtype)`` (a numpy / cupy Generator)."""
    if not training or p == 0:
        return a
    if not 0 <= p < 1:
        raise ValueError(f"dropout p={p!r}: must be in [0, 1)")
    xp = a.xp
    u = (
        rng.random(a.shape, dtype=a.dtype)
        if rng is not None
        else xp.random.random(a.shape)
    )
    mask = (u >= p).astype(a.dtype) / a.dtype.type(1 - p)

    def backward(g):  # d(a m)/da = m
        return (g * mask,)

    return make_node(a.data * mask, (a,), backward)


def layer_norm(a: Tensor, eps: float = 1e-5) -> Tensor:
    """Normalize over the last axis: (a - mean) / sqrt(var + eps) (no scale/shift)."""
    mu = a.data.mean(axis=-1, keepdims=True)
    xc = a.data - mu
    rstd = 1 / a.xp.sqrt((xc * xc).mean(axis=-1, keepdims=True) + eps)
    xhat = xc * rstd

    def backward(g):  # dx = rstd (g - mean(g) - xhat mean(g xhat))
        return (
            rstd
            * (
                g
                - g.mean(-1, keepdims=True)
                - xhat * (g * xhat).mean(-1, keepdims=True)
            ),
        )

    return make_node(xhat, (a,), backward)


def _windows(xp, x, kh, kw, stride):
    """(N, C, H, W) -> view (N, C, Ho, Wo, kh, kw) of the sliding windows."""
    v = xp.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))
    return v[:, :, ::stride, ::stride]


def conv2d(
    x: Tensor, w: Tensor, b: Tensor | None = None, stride: int = 1, padding: int = 0
) -> Tensor:
    """2-D cross-correlation: x (N,C,H,W), w (O,C,kh,kw), b (O,) -> (N,O,Ho,Wo)."""
    xp = x.xp
    _, _, kh, kw = w.shape
    pad = ((0, 0), (0, 0), (padding, padding), (padding, padding))
    xpad = xp.pad(x.data, pad) if padding else x.data
    win = _windows(xp, xpad, kh, kw, stride)
    ho, wo = win.shape[2], win.shape[3]
    out = xp.tensordot(win, w.data, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2)
    if b is not None:
        out = out + b.data.reshape(1, -1, 1, 1)

    def backward(g):  # dw = Σ g ⊗ window, dx = Σ_{ij} g w[:, :, i, j] at offset (i, j)
        gw = (
            xp.tensordot(g, win, axes=([0, 2, 3], [0, 2, 3]))
            if w.requires_grad
            else None
        )
        gx = None
        if x.requires_grad:
            gx = xp.zeros(xpad.shape, dtype=g.dtype)
            for i in range(kh):
                for j in range(kw):
                    part = xp.tensordot(g, w.data[:, :, i, j], axes=([1], [0]))
                    gx[
                        :, :, i : i + stride * ho : stride, j : j + stride * wo : stride
                    ] += part.transpose(0, 3, 1, 2)
            if padding:
                gx = gx[:, :, padding:-padding, padding:-padding]
        gb = g.sum(axis=(0, 2, 3)) if b is not None and b.requires_grad else None
        return (gx, gw) if b is None else (gx, gw, gb)

    return make_node(out, (x, w) if b is None else (x, w, b), backward)


def max_pool2d(x: Tensor, kernel: int, stride: int | None = None) -> Tensor:
    """Max over k x k windows of x (N, C, H, W), step `stride` (default `kernel`)."""
    xp = x.xp
    s = stride or kernel
    win = _windows(xp, x.data, kernel, kernel, s)
    n, c, ho, wo = win.shape[:4]
    arg = win.reshape(n, c, ho, wo, kernel * kernel).argmax(axis=-1)
    out = win.max(axis=(4, 5))

    def backward(g):  # d max/dx = 1 at each window's arg max, 0 elsewhere
        gx = xp.zeros(x.shape, dtype=g.dtype)
        for i in range(kernel):
            for j in range(kernel):
                gx[:, :, i : i + s * ho : s, j : j + s * wo : s] += g * (
                    arg == i * kernel + j
                )
        return (gx,)

    return make_node(out, (x,), backward)


def bce_with_logits(z: Tensor, y, weight=None) -> Tensor:
    """Fused, stable mean binary cross-entropy of logits `z` vs targets `y` in [0, 1]:
    mean(w * (softplus(z) - y z)). Never computes log(sigmoid) directly."""
    xp = z.xp
    y = xp.asarray(y.data if isinstance(y, Tensor) else y, dtype=z.dtype)
    w = (
        None
        if weight is None
        else xp.asarray(weight.data if isinstance(weight, Tensor) else weight, z.dtype)
    )
    per = _softplus(xp, z.data) - y * z.data
    if w is not None:
        per = per * w
    n = z.data.size

    def backward(g):  # d/dz [softplus(z) - y z] = s(z) - y
        d = _sigmoid(xp, z.data) - y
        return ((g / n) * (d if w is None else d * w),)

    return make_node(per.mean(), (z,), backward)


# -- make the ops methods and operators of Tensor --------------------------------------
def _install() -> None:
    T = Tensor
    T.__add__ = add
    T.__radd__ = lambda a, b: add(b, a)
    T.__sub__ = sub
    T.__rsub__ = lambda a, b: sub(b, a)
    T.__mul__ = mul
    T.__rmul__ = lambda a, b: mul(b, a)
    T.__truediv__ = div
    T.__rtruediv__ = lambda a, b: div(b, a)
    T.__neg__ = neg
    T.__pow__ = pow
    T.__rpow__ = lambda a, b: pow(b, a)
    T.__matmul__ = matmul
    T.__rmatmul__ = lambda a, b: matmul(b, a)
    T.__getitem__ = getitem
    T.sum, T.mean, T.max, T.min = sum, mean, max, min
    T.exp, T.log, T.log1p, T.sqrt, T.abs, T.clip = exp, log, log1p, sqrt, abs, clip
    T.sigmoid, T.tanh, T.relu, T.softplus = sigmoid, tanh, relu, softplus
    T.log_sigmoid, T.leaky_relu = log_sigmoid, leaky_relu
    T.softmax, T.log_softmax, T.logsumexp = softmax, log_softmax, logsumexp
    T.reshape = lambda a, *shape: reshape(a, shape[0] if len(shape) == 1 else shape)
    T.transpose = lambda a, *axes: transpose(
        a, (axes[0] if len(axes) == 1 else axes) if axes else None
    )
    T.T = property(lambda a: transpose(a))


_install()
