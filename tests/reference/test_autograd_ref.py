"""Every public op of minirec.autograd.ops, and every operator and method it installs
on Tensor, against PyTorch (CPU, float64): forward values and the gradients of all
inputs, on hypothesis-drawn shapes with size-1 axes on either side of a broadcast,
negative axes, negative and repeated indices, ties and extreme values.

Where minirec's definition differs on purpose the test says so
(:func:`documented_difference`) and checks the documented formula instead.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minirec.autograd import Tensor
from minirec.autograd import ops as F

from .conftest import (
    CONV,
    SETTINGS,
    axis_of,
    broadcast_pair,
    compare,
    coverage,
    dims,
    documented_difference,
    grid,
    nonempty,
    normal,
    positive,
    seeds,
    shapes,
)

torch = pytest.importorskip("torch", reason="PyTorch (the dev extra) is the reference")
TF = torch.nn.functional

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*encountered in.*:RuntimeWarning"  # log(0), 0 * inf: compared as values
)

COVERED, covers = coverage()  # the names some reference case below compares


def with_extremes(x, seed, values):
    """`x` with about a third of its entries replaced by `values` (extremes, 0...)."""
    x = np.array(x, dtype=np.float64)
    r = np.random.default_rng(seed + 1)
    pick = r.random(x.shape) < 1 / 3
    x[pick] = r.choice(np.asarray(values, dtype=np.float64), size=int(pick.sum()))
    return x


# -- elementwise unary -----------------------------------------------------------------
BIG = (-1000.0, -30.0, 30.0, 1000.0)
UNARY = {  # name: (torch function, input values, extra args)
    "neg": (torch.neg, lambda s, k: normal(s, k), ()),
    "exp": (
        torch.exp,
        lambda s, k: with_extremes(normal(s, k), k, (-700, 50, 700)),
        (),
    ),
    "log": (
        torch.log,
        lambda s, k: with_extremes(positive(s, k), k, (0.0, 1e-300, 1e300)),
        (),
    ),
    "log1p": (
        torch.log1p,
        lambda s, k: with_extremes(positive(s, k, -0.9), k, (-1.0, 1e-20, 1e300)),
        (),
    ),
    "sqrt": (
        torch.sqrt,
        lambda s, k: with_extremes(positive(s, k), k, (0.0, 1e-300, 1e300)),
        (),
    ),
    "abs": (torch.abs, lambda s, k: grid(s, k), ()),
    "relu": (torch.relu, lambda s, k: grid(s, k), ()),
    "leaky_relu": (
        lambda t, slope: TF.leaky_relu(t, slope),
        lambda s, k: grid(s, k),
        (0.1,),
    ),
    "clip": (
        lambda t, lo, hi: torch.clamp(t, lo, hi),
        lambda s, k: grid(s, k),
        (-1, 0.5),
    ),
    "sigmoid": (torch.sigmoid, lambda s, k: with_extremes(normal(s, k, 3), k, BIG), ()),
    "tanh": (torch.tanh, lambda s, k: with_extremes(normal(s, k, 3), k, BIG), ()),
    "softplus": (TF.softplus, lambda s, k: with_extremes(normal(s, k, 3), k, BIG), ()),
    "log_sigmoid": (
        TF.logsigmoid,
        lambda s, k: with_extremes(normal(s, k, 3), k, BIG),
        (),
    ),
}
OPERATOR = {"neg": "__neg__"}


@covers(*UNARY, "__neg__")
@pytest.mark.parametrize("name", sorted(UNARY))
@SETTINGS
@given(shape=shapes, seed=seeds, method=st.booleans())
def test_unary(name, shape, seed, method):
    """The op as a function (``F.exp(a)``) or as the Tensor method / operator."""
    ref, values, args = UNARY[name]
    fn = getattr(F, name)
    if method:
        fn = getattr(Tensor, OPERATOR.get(name, name))
    compare(lambda a: fn(a, *args), lambda t: ref(t, *args), values(shape, seed))


@covers("clip")
@SETTINGS
@given(shape=shapes, seed=seeds, side=st.sampled_from(["lo", "hi"]))
def test_clip_one_sided(shape, seed, side):
    kw = {"lo": 0.0} if side == "lo" else {"hi": 0.5}
    tkw = {"min": 0.0} if side == "lo" else {"max": 0.5}
    compare(lambda a: a.clip(**kw), lambda t: torch.clamp(t, **tkw), grid(shape, seed))


@covers("pow", "__pow__")
@pytest.mark.parametrize("p", [0, 1, 2, 3, -1, 0.5, -1.5, 2.5])
@SETTINGS
@given(shape=shapes, seed=seeds)
def test_pow_scalar_exponent(p, shape, seed):
    """Zero bases included: 0 ** 0 has gradient 0, 0 ** 0.5 an infinite one."""
    x = positive(shape, seed) if p != int(p) or p < 0 else grid(shape, seed)
    if p == 0.5:
        x = with_extremes(x, seed, (0.0,))
    compare(lambda a: a**p, lambda t: t**p, x)
    compare(lambda a: F.pow(a, p), lambda t: torch.pow(t, p), x)


# -- binary, broadcasting --------------------------------------------------------------
BINARY = {  # name: (operator, torch function, values of a, values of b)
    "add": ("__add__", torch.add, normal, normal),
    "sub": ("__sub__", torch.sub, normal, normal),
    "mul": ("__mul__", torch.mul, grid, normal),
    "div": (
        "__truediv__",
        torch.div,
        normal,
        lambda s, k: positive(s, k) * grid(s, k, (-1, 1)),
    ),
    "pow": (
        "__pow__",
        torch.pow,
        lambda s, k: with_extremes(positive(s, k), k, (0.0,)),
        lambda s, k: with_extremes(normal(s, k), k, (0.0, 1.0, 2.0)),
    ),
}


@covers(*BINARY, *(v[0] for v in BINARY.values()))
@pytest.mark.parametrize("name", sorted(BINARY))
@SETTINGS
@given(pair=broadcast_pair(), seed=seeds, method=st.booleans())
def test_binary_broadcast(name, pair, seed, method):
    """Gradients summed back over the broadcast axes of each side; pow with a zero
    base and a zero exponent follows PyTorch (0 where the limit is 0, no NaN)."""
    op, ref, va, vb = BINARY[name]
    fn = getattr(Tensor, op) if method else getattr(F, name)
    compare(fn, ref, va(pair[0], seed), vb(pair[1], seed + 7))


REFLECTED = {  # operator: (minirec with a constant c on the left, torch)
    "__radd__": (lambda c, a: c + a, lambda c, t: c + t),
    "__rsub__": (lambda c, a: c - a, lambda c, t: c - t),
    "__rmul__": (lambda c, a: c * a, lambda c, t: c * t),
    "__rtruediv__": (lambda c, a: c / a, lambda c, t: c / t),
    "__rpow__": (lambda c, a: c**a, lambda c, t: c**t),
}


@covers(*REFLECTED)
@pytest.mark.parametrize("name", sorted(REFLECTED))
@SETTINGS
@given(pair=broadcast_pair(), seed=seeds, scalar=st.booleans())
def test_reflected_operators(name, pair, seed, scalar):
    """A Python number or a NumPy array on the left (ndarray defers to Tensor)."""
    mr, ref = REFLECTED[name]
    c = 2.5 if scalar else positive(pair[0], seed + 3)
    tc = c if scalar else torch.tensor(c)
    x = positive(pair[1], seed) * (
        1 if name == "__rpow__" else grid(pair[1], seed, (-1, 1))
    )
    compare(lambda a: mr(c, a), lambda t: ref(tc, t), x)


def test_rpow_at_zero_base():
    """``0.0 ** x``: d/dx is 0 for x >= 0 (PyTorch), not 0 * log 0 = NaN."""
    x = np.array([0.0, 0.5, 2.0])
    compare(lambda a: 0.0**a, lambda t: 0.0**t, x)


@covers("where")
@SETTINGS
@given(pair=broadcast_pair(), seed=seeds, cond_first=st.booleans())
def test_where(pair, seed, cond_first):
    """The condition broadcasts too (it takes the shape of either operand)."""
    c = np.random.default_rng(seed).random(pair[0] if cond_first else pair[1]) < 0.5
    a, b = normal(pair[0], seed), normal(pair[1], seed + 1)
    tc = torch.tensor(c)
    compare(lambda x, y: F.where(c, x, y), lambda x, y: torch.where(tc, x, y), a, b)
    compare(
        lambda x, y: F.where(Tensor(c), x, y), lambda x, y: torch.where(tc, x, y), a, b
    )


# -- reductions ------------------------------------------------------------------------
def _dims(axis, ndim):
    return tuple(range(ndim)) if axis is None else axis


# max / min on a grid of 4 values, so most slices tie: minirec shares the gradient
# equally among the tied entries, which is torch.amax / amin (torch.max(dim) would pick
# one index)
REDUCTIONS = {
    "sum": (torch.sum, normal),
    "mean": (torch.mean, normal),
    "max": (torch.amax, grid),
    "min": (torch.amin, grid),
}


@covers(*REDUCTIONS)
@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@SETTINGS
@given(
    data=st.data(), shape=shapes, seed=seeds, keep=st.booleans(), method=st.booleans()
)
def test_reductions(name, data, shape, seed, keep, method):
    """Over None, an int or a tuple of axes (negative ones too), keepdims or not."""
    axis = data.draw(axis_of(shape))
    fn = getattr(Tensor, name) if method else getattr(F, name)
    ref, values = REDUCTIONS[name]
    compare(
        lambda a: fn(a, axis=axis, keepdims=keep),
        lambda t: ref(t, dim=_dims(axis, len(shape)), keepdim=keep),
        values(shape, seed),
    )


@covers("logsumexp")
@SETTINGS
@given(
    data=st.data(), shape=nonempty, seed=seeds, keep=st.booleans(), method=st.booleans()
)
def test_logsumexp(data, shape, seed, keep, method):
    axis = data.draw(axis_of(shape))
    fn = Tensor.logsumexp if method else F.logsumexp
    x = with_extremes(normal(shape, seed, 3), seed, (-1e3, 1e3, -1e300))
    compare(
        lambda a: fn(a, axis=axis, keepdims=keep),
        lambda t: torch.logsumexp(t, dim=_dims(axis, len(shape)), keepdim=keep),
        x,
    )


def test_logsumexp_of_infinities():
    """A slice of all -inf gives -inf and a slice with +inf gives +inf (not NaN); the
    gradient at those slices is NaN in minirec and in PyTorch alike."""
    inf = math.inf
    x = np.array(
        [[-inf, -inf, -inf], [1.0, inf, 2.0], [-inf, 0.0, 1.0], [inf, inf, -inf]]
    )
    (out,) = compare(
        lambda a: F.logsumexp(a, axis=1), lambda t: torch.logsumexp(t, 1), x
    )
    np.testing.assert_array_equal(out.data[:2], [-inf, inf])
    compare(lambda a: F.logsumexp(a, axis=0), lambda t: torch.logsumexp(t, 0), x.T)


@covers("softmax", "log_softmax")
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@SETTINGS
@given(data=st.data(), shape=nonempty, seed=seeds, method=st.booleans())
def test_softmax(name, data, shape, seed, method):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    fn = getattr(Tensor, name) if method else getattr(F, name)
    ref = getattr(torch, name)
    x = with_extremes(normal(shape, seed, 3), seed, (-1e3, 1e3, 0.0))
    compare(lambda a: fn(a, axis=axis), lambda t: ref(t, dim=axis), x)


# -- linear algebra --------------------------------------------------------------------
@st.composite
def matmul_shapes(draw):
    """Shapes of a @ b: 1-D on either or both sides, batch axes that broadcast with
    size 1 on either side."""
    n, k, m = draw(dims3)
    batch_a, batch_b = draw(broadcast_pair()) if draw(st.booleans()) else ((), ())
    a = (k,) if draw(st.integers(0, 3)) == 0 else batch_a + (n, k)
    b = (k,) if draw(st.integers(0, 3)) == 0 else batch_b + (k, m)
    return a, b


dims3 = st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4))


@covers("matmul", "__matmul__")
@SETTINGS
@given(ab=matmul_shapes(), seed=seeds, method=st.booleans())
def test_matmul(ab, seed, method):
    """NumPy's / PyTorch's rules, 1-D @ 1-D included (a scalar of shape ())."""
    fn = Tensor.__matmul__ if method else F.matmul
    compare(fn, torch.matmul, normal(ab[0], seed), normal(ab[1], seed + 1))


def test_dot_of_two_vectors_is_a_scalar():
    (out,) = compare(F.matmul, torch.matmul, np.arange(3.0), np.ones(3))
    assert out.shape == () and out.item() == 3.0


@covers("__rmatmul__")
@SETTINGS
@given(ab=matmul_shapes(), seed=seeds)
def test_rmatmul(ab, seed):
    """A NumPy array on the left of ``@`` defers to the Tensor on the right."""
    A = normal(ab[0], seed)
    compare(lambda b: A @ b, lambda t: torch.tensor(A) @ t, normal(ab[1], seed + 1))


@covers("linear")
@SETTINGS
@given(
    batch=st.lists(dims, min_size=0, max_size=2).map(tuple),
    io=st.tuples(dims, dims),
    seed=seeds,
    bias=st.booleans(),
)
def test_linear(batch, io, seed, bias):
    x, W, b = (
        normal(batch + (io[0],), seed),
        normal(io, seed + 1),
        normal(io[1], seed + 2),
    )
    if bias:
        compare(F.linear, lambda x, W, b: x @ W + b, x, W, b)
    else:
        compare(F.linear, lambda x, W: x @ W, x, W)


@covers("outer")
@SETTINGS
@given(pair=broadcast_pair(), mn=st.tuples(dims, dims), seed=seeds)
def test_outer(pair, mn, seed):
    a, b = normal(pair[0] + (mn[0],), seed), normal(pair[1] + (mn[1],), seed + 1)
    compare(F.outer, lambda a, b: a[..., :, None] * b[..., None, :], a, b)


# -- shapes and indexing ---------------------------------------------------------------
@covers("reshape")
@SETTINGS
@given(shape=shapes, seed=seeds, kind=st.integers(0, 3))
def test_reshape(shape, seed, kind):
    n = math.prod(shape)
    target = [(-1,), (n, 1), shape[::-1], (1, -1, 1)][kind]
    compare(
        lambda a: F.reshape(a, target), lambda t: t.reshape(target), normal(shape, seed)
    )
    compare(
        lambda a: a.reshape(*target), lambda t: t.reshape(target), normal(shape, seed)
    )
    compare(
        lambda a: a.reshape(target), lambda t: t.reshape(target), normal(shape, seed)
    )


@covers("transpose", "T")
@SETTINGS
@given(data=st.data(), shape=shapes, seed=seeds, form=st.integers(0, 3))
def test_transpose(data, shape, seed, form):
    """Any permutation, negative axes included, as F.transpose(a, axes),
    a.transpose(*axes), a.transpose(axes) or a.T (reversed axes)."""
    n = len(shape)
    perm = data.draw(st.permutations(range(n)))
    axes = tuple(k - n if data.draw(st.booleans()) else k for k in perm)
    fn = [
        lambda a: F.transpose(a, axes),
        lambda a: a.transpose(*axes),
        lambda a: a.transpose(axes),
        lambda a: a.T,
    ][form]
    ref = (
        (lambda t: t.permute(tuple(range(n - 1, -1, -1))))
        if form == 3
        else (lambda t: t.permute(tuple(axes)))
    )
    compare(fn, ref, normal(shape, seed))


def test_transpose_negative_axes_gradient():
    """The backward inverts the permutation of the normalized axes."""
    compare(
        lambda a: F.transpose(a, (-1, 0, 1)),
        lambda t: t.permute(-1, 0, 1),
        normal((2, 3, 4), 0),
    )
    compare(lambda a: a.transpose(0), lambda t: t.permute(0), normal((3,), 0))


def test_transpose_rejects_a_non_permutation():
    a = Tensor(np.zeros((2, 3)))
    for axes in ((0, 0), (0,), (0, 2), (1, -3)):
        with pytest.raises(ValueError, match="not a permutation of the 2 axes"):
            F.transpose(a, axes)


@st.composite
def int_index(draw, n, shape_max=3):
    """An integer index array for an axis of length `n`: negative and repeated
    entries, any shape up to 2-D (0-D included), every batch size."""
    ishape = draw(st.lists(st.integers(1, 5), min_size=0, max_size=2).map(tuple))
    flat = draw(
        st.lists(
            st.integers(-n, n - 1),
            min_size=math.prod(ishape),
            max_size=math.prod(ishape),
        )
    )
    return np.asarray(flat, dtype=np.int64).reshape(ishape)


@covers("getitem", "__getitem__")
@SETTINGS
@given(data=st.data(), shape=nonempty, seed=seeds, as_tensor=st.booleans())
def test_getitem_integer_arrays(data, shape, seed, as_tensor):
    """``a[idx]`` with an integer array (or integer Tensor) of any shape: negative and
    repeated rows scatter-add back, for every batch size and rank of `a`."""
    idx = data.draw(int_index(shape[0]))
    key = Tensor(idx) if as_tensor else idx
    compare(lambda a: a[key], lambda t: t[torch.tensor(idx)], normal(shape, seed))


def _by_torch(idx):
    ti = torch.tensor(idx)
    return lambda t: t[ti]


def test_negative_indices_every_batch_size():
    """Negative rows in the backward of a 1-, 2- and 3-D gather, for batches that take
    either scatter-add path (sort + unique rows, or the CSR product)."""
    for shape in ((5,), (5, 3), (5, 3, 2)):
        for n in (1, 2, 3, 10, 40):
            idx = np.resize(np.array([-1, -5, 2, -1]), n)
            compare(lambda a, i=idx: a[i], _by_torch(idx), normal(shape, n))


def test_index_with_an_integer_tensor():
    """An integer Tensor keeps its dtype, so it indexes like the array it holds."""
    idx = Tensor(np.array([[0, -1], [2, 2]]))
    assert idx.dtype == np.int64
    compare(lambda a: a[idx], lambda t: t[torch.tensor(idx.data)], normal((4, 3), 0))
    compare(
        lambda a: F.getitem(a, idx),
        lambda t: t[torch.tensor(idx.data)],
        normal((4,), 1),
    )


@st.composite
def basic_index(draw, shape):
    """A tuple of ints (negative too), slices (negative steps too), None and at
    most one Ellipsis, valid for `shape`."""
    items, k = [], 0
    ellipsis = draw(st.booleans())
    for n in shape:
        kind = draw(st.sampled_from(["int", "slice", "full"]))
        if kind == "int":
            items.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            start = draw(st.one_of(st.none(), st.integers(-n, n)))
            stop = draw(st.one_of(st.none(), st.integers(-n - 1, n)))
            step = draw(st.sampled_from([None, 1, 2, -1, -2]))
            items.append(slice(start, stop, step))
        else:
            items.append(slice(None))
        k += 1
        if draw(st.integers(0, 4)) == 0:
            items.append(None)
    if ellipsis and items:
        cut = draw(st.integers(0, len(items) - 1))
        items = items[:cut] + [Ellipsis] + [i for i in items[cut:] if i is None]
    return tuple(items)


def _by_positions(idx, shape):
    """The torch reference of ``a[idx]``: NumPy's indexing rules on an array of flat
    positions (the spec), then torch gathers those positions (torch has no negative
    slice steps)."""
    pos = torch.tensor(np.arange(math.prod(shape)).reshape(shape)[idx])
    return lambda t: t.reshape(-1)[pos]


@covers("getitem", "__getitem__")
@SETTINGS
@given(data=st.data(), shape=nonempty, seed=seeds)
def test_getitem_basic(data, shape, seed):
    """Ints, slices with any step, None and Ellipsis (NumPy's rules)."""
    idx = data.draw(basic_index(shape))
    compare(lambda a: a[idx], _by_positions(idx, shape), normal(shape, seed))


@covers("getitem", "__getitem__")
@SETTINGS
@given(data=st.data(), shape=nonempty, seed=seeds)
def test_getitem_boolean_and_mixed(data, shape, seed):
    """A boolean mask of the leading axes, and a tuple mixing a slice with integer
    arrays (the general advanced-indexing path, repeats summed)."""
    r = np.random.default_rng(seed)
    lead = data.draw(st.integers(1, len(shape)))
    mask = r.random(shape[:lead]) < 0.5
    compare(lambda a: a[mask], lambda t: t[torch.tensor(mask)], normal(shape, seed))
    if len(shape) >= 2:
        rows = r.integers(-shape[0], shape[0], size=3)
        cols = r.integers(-shape[1], shape[1], size=3)
        for idx in ((rows, cols), (slice(None), cols), (rows, slice(None, None, -1))):
            compare(
                lambda a, i=idx: a[i], _by_positions(idx, shape), normal(shape, seed)
            )


@covers("embedding")
@SETTINGS
@given(data=st.data(), nd=st.tuples(dims, dims), seed=seeds, sparse=st.booleans())
def test_embedding(data, nd, seed, sparse):
    """Rows gathered by an index array of any shape (negative and repeated entries);
    the gradient is the scatter-add, dense or a RowGrad of the touched rows."""
    idx = data.draw(int_index(nd[0]))
    compare(
        lambda W: F.embedding(W, idx, sparse=sparse),
        lambda W: W[torch.tensor(idx)],
        normal(nd, seed),
    )


@covers("concat", "stack")
@pytest.mark.parametrize("name", ["concat", "stack"])
@SETTINGS
@given(data=st.data(), shape=nonempty, seed=seeds, k=st.integers(1, 3))
def test_concat_stack(name, data, shape, seed, k):
    n = len(shape)
    if name == "concat":
        axis = data.draw(st.integers(-n, n - 1))
        sizes = data.draw(st.lists(dims, min_size=k, max_size=k))
        ax = axis % n
        arrs = [
            normal(shape[:ax] + (s,) + shape[ax + 1 :], seed + j)
            for j, s in enumerate(sizes)
        ]
        mr, ref = (
            (lambda *ts: F.concat(ts, axis=axis)),
            (lambda *ts: torch.cat(ts, dim=axis)),
        )
    else:
        axis = data.draw(st.integers(-n - 1, n))
        arrs = [normal(shape, seed + j) for j in range(k)]
        mr, ref = (
            (lambda *ts: F.stack(ts, axis=axis)),
            (lambda *ts: torch.stack(ts, dim=axis)),
        )
    compare(mr, ref, *arrs)


# -- layers with their own backward ----------------------------------------------------
@covers("dropout")
@SETTINGS
@given(
    shape=shapes,
    seed=seeds,
    p=st.sampled_from([0.0, 0.25, 0.5, 0.9]),
    training=st.booleans(),
)
def test_dropout(shape, seed, p, training):
    """torch's random stream is not NumPy's, so the mask is rebuilt from the same
    Generator (an entry is kept when its uniform draw is >= p) and torch computes
    a * mask / (1 - p) with it; eval mode and p = 0 are the identity."""
    documented_difference("dropout", "random mask from NumPy's Generator, not torch's")
    x = normal(shape, seed)
    keep = np.random.default_rng(seed).random(shape) >= p
    if training and p:
        ref = lambda t: t * torch.tensor(keep) / (1 - p)  # noqa: E731
    else:
        ref = lambda t: t  # noqa: E731
    rng = np.random.default_rng(seed)
    compare(lambda a: F.dropout(a, p, training=training, rng=rng), ref, x)


@covers("layer_norm")
@SETTINGS
@given(
    shape=nonempty,
    seed=seeds,
    eps=st.sampled_from([1e-5, 1e-3]),
    scale=st.sampled_from([1e-3, 1.0, 1e3]),
)
def test_layer_norm(shape, seed, eps, scale):
    compare(
        lambda a: F.layer_norm(a, eps),
        lambda t: TF.layer_norm(t, shape[-1:], eps=eps),
        normal(shape, seed, scale),
        rtol=1e-8,
    )


@covers("conv2d")
@SETTINGS
@given(
    nco=st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 3)),
    seed=seeds,
    **CONV,
)
def test_conv2d(nco, hw, k, stride, padding, bias, seed):
    n, c, o = nco
    x, w, b = (
        normal((n, c) + hw, seed),
        normal((o, c, k, k), seed + 1),
        normal(o, seed + 2),
    )

    def mr(x, w, b=None):
        return F.conv2d(x, w, b, stride=stride, padding=padding)

    def ref(x, w, b=None):
        return TF.conv2d(x, w, b, stride=stride, padding=padding)

    compare(mr, ref, *((x, w, b) if bias else (x, w)))


@covers("max_pool2d")
@SETTINGS
@given(
    nc=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    hw=st.tuples(st.integers(2, 6), st.integers(2, 6)),
    k=st.integers(1, 2),
    stride=st.sampled_from([None, 1, 2]),
    seed=seeds,
)
def test_max_pool2d_with_ties(nc, hw, k, stride, seed):
    """Values on a grid, so windows tie: both send the gradient to the first maximum
    of the window in row-major order."""
    x = grid(nc + hw, seed)
    compare(
        lambda a: F.max_pool2d(a, k, stride),
        lambda t: TF.max_pool2d(t, k, stride if stride else k),
        x,
    )


@covers("bce_with_logits")
@SETTINGS
@given(shape=shapes, seed=seeds, weighted=st.booleans(), soft=st.booleans())
def test_bce_with_logits(shape, seed, weighted, soft):
    """Logits up to ±1000 (stable), 0/1 or soft targets, optional weights."""
    r = np.random.default_rng(seed)
    z = with_extremes(normal(shape, seed, 3), seed, BIG)
    y = r.random(shape) if soft else (r.random(shape) < 0.5).astype(np.float64)
    w = r.random(shape) if weighted else None
    tw = None if w is None else torch.tensor(w)
    compare(
        lambda a: F.bce_with_logits(a, y, w),
        lambda t: TF.binary_cross_entropy_with_logits(t, torch.tensor(y), weight=tw),
        z,
    )


# -- every op is covered ---------------------------------------------------------------
def _installed_methods():
    """The Tensor attributes that ops._install defines (operators, methods, T)."""
    out = set()
    for name, v in vars(Tensor).items():
        fn = v.fget if isinstance(v, property) else v
        if getattr(fn, "__module__", None) == F.__name__:
            out.add(name)
    return out


def test_every_public_op_and_tensor_method_has_a_reference_case():
    """A new op in ops.__all__, or a new Tensor method installed from ops, fails this
    test until some case above compares it with torch."""
    public = {n for n in vars(F) if not n.startswith("_") and callable(getattr(F, n))}
    public = {
        n for n in public if getattr(getattr(F, n), "__module__", "") == F.__name__
    }
    assert public == set(F.__all__), "ops.__all__ is not the list of the public ops"
    missing = (set(F.__all__) | _installed_methods()) - COVERED
    assert not missing, f"no reference case for {sorted(missing)}"
    assert len(_installed_methods()) > 30  # the enumeration found the operators


def test_gradient_shapes_match_the_inputs_after_broadcasting():
    """Not only the values: a broadcast operand gets a gradient of its own shape."""
    a = Tensor(np.ones((3, 1)), requires_grad=True)
    b = Tensor(np.ones((1, 4)), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (a * b + a / b - b**a).sum().backward()
    assert a.grad.shape == (3, 1) and b.grad.shape == (1, 4)
