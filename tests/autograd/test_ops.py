"""Every op passes gradcheck over hypothesis-generated shapes, broadcasting pairs
included; forward values are checked against plain formulas."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minirec.autograd import Tensor, gradcheck, no_grad
from minirec.autograd import ops as F

SETTINGS = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

dims = st.integers(1, 4)
shapes = st.lists(dims, min_size=0, max_size=3).map(tuple)
nonempty = st.lists(dims, min_size=1, max_size=3).map(tuple)


@st.composite
def broadcast_pair(draw):
    """Two shapes that broadcast: drop leading axes and set some axes to 1."""
    a = draw(st.lists(dims, min_size=1, max_size=3).map(tuple))
    drop = draw(st.integers(0, len(a)))
    b = list(a[drop:])
    for k in range(len(b)):
        if draw(st.booleans()):
            b[k] = 1
    if draw(st.booleans()):
        a, b = tuple(b), a
    return tuple(a), tuple(b)


def arr(xp, shape, seed=0, lo=-2.0, hi=2.0):
    return xp.asarray(np.random.default_rng(seed).uniform(lo, hi, size=shape))


def away_from(xp, shape, seed=0, gap=0.2):
    """Values in [-2, 2] at least `gap` from 0 (kinks of relu, abs...)."""
    r = np.random.default_rng(seed)
    v = r.uniform(gap, 2, size=shape) * r.choice([-1, 1], size=shape)
    return xp.asarray(v)


# -- binary arithmetic with broadcasting ----------------------------------------------
BINARY = {
    "add": F.add,
    "sub": F.sub,
    "mul": F.mul,
    "div": lambda a, b: F.div(a, b * b + 1),
    "pow": lambda a, b: F.pow(a * a + 0.5, b),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@SETTINGS
@given(pair=broadcast_pair())
def test_binary_ops_broadcast(xp, name, pair):
    sa, sb = pair
    gradcheck(BINARY[name], arr(xp, sa, 1), arr(xp, sb, 2))


@SETTINGS
@given(pair=broadcast_pair())
def test_forward_values_match_numpy_broadcasting(xp, pair):
    a, b = arr(xp, pair[0], 1), arr(xp, pair[1], 2)
    ta, tb = Tensor(a), Tensor(b)
    for got, want in [
        (ta + tb, a + b),
        (ta - tb, a - b),
        (ta * tb, a * b),
        (ta / (tb * tb + 1), a / (b * b + 1)),
    ]:
        assert got.shape == want.shape
        np.testing.assert_allclose(_np(got.data), _np(want), rtol=1e-12)


def _np(a):
    return a.get() if hasattr(a, "get") else np.asarray(a)


def test_scalars_and_reflected_operators(xp):
    a = arr(xp, (3, 2))
    gradcheck(lambda a: 2.0 - a * 3 + 1 / (a * a + 1) + (a + 1.5) ** 2 - (-a), a)
    t = Tensor(xp.ones(3, dtype=xp.float32))
    assert (t * 2.5).dtype == xp.float32  # Python scalars do not upcast float32


# -- elementwise functions -------------------------------------------------------------
SMOOTH = {
    "exp": F.exp,
    "log": lambda a: F.log(a * a + 0.5),
    "log1p": lambda a: F.log1p(a * a),
    "sqrt": lambda a: F.sqrt(a * a + 0.1),
    "sigmoid": F.sigmoid,
    "tanh": F.tanh,
    "softplus": F.softplus,
    "log_sigmoid": F.log_sigmoid,
    "pow3": lambda a: a**3,
    "pow_tensor": lambda a: F.pow(a * a + 0.5, a),
}
KINKED = {
    "relu": F.relu,
    "leaky_relu": lambda a: F.leaky_relu(a, 0.1),
    "abs": F.abs,
    "clip": lambda a: F.clip(a, -1.0, 1.0),
}


@pytest.mark.parametrize("name", sorted(SMOOTH))
@SETTINGS
@given(shape=shapes)
def test_smooth_unary_gradcheck(xp, name, shape):
    gradcheck(SMOOTH[name], arr(xp, shape, 3))


@pytest.mark.parametrize("name", sorted(KINKED))
@SETTINGS
@given(shape=shapes)
def test_kinked_unary_gradcheck(xp, name, shape):
    x = away_from(xp, shape, 4)
    if name == "clip":  # keep away from the clip bounds too
        x = xp.where(xp.abs(xp.abs(x) - 1) < 0.1, x * 0.5, x)
    gradcheck(KINKED[name], x)


def test_stable_functions_at_extremes(xp):
    z = Tensor(xp.asarray([-1000.0, -30.0, 0.0, 30.0, 1000.0], dtype=xp.float32))
    s = F.sigmoid(z).data
    ls = F.log_sigmoid(z).data
    sp = F.softplus(z).data
    for a in (s, ls, sp):
        assert bool(xp.all(xp.isfinite(a)))
    np.testing.assert_allclose(_np(s), [0, 9.357623e-14, 0.5, 1, 1], atol=1e-7)
    np.testing.assert_allclose(_np(ls), [-1000, -30, -np.log(2), 0, 0], atol=1e-6)
    np.testing.assert_allclose(_np(sp), [0, 0, np.log(2), 30, 1000], atol=1e-5)


# -- matmul, reductions, softmax ---------------------------------------------------
@SETTINGS
@given(
    batch=st.sampled_from([(), (2,), (1,), (2, 1)]),
    bb=st.sampled_from([(), (2,), (1,)]),
    n=dims,
    k=dims,
    m=dims,
)
def test_matmul_batched_and_broadcast(xp, batch, bb, n, k, m):
    gradcheck(F.matmul, arr(xp, batch + (n, k), 1), arr(xp, bb + (k, m), 2))


def test_matmul_with_vectors_and_linear(xp):
    gradcheck(F.matmul, arr(xp, (3,), 1), arr(xp, (3, 2), 2))
    gradcheck(F.matmul, arr(xp, (2, 3), 1), arr(xp, (3,), 2))
    gradcheck(F.linear, arr(xp, (4, 3), 1), arr(xp, (3, 2), 2), arr(xp, (2,), 3))
    gradcheck(F.linear, arr(xp, (2, 4, 3), 1), arr(xp, (3, 2), 2))
    gradcheck(F.outer, arr(xp, (2, 3), 1), arr(xp, (2, 4), 2))


@st.composite
def shape_and_axis(draw):
    shape = draw(nonempty)
    axis = draw(
        st.one_of(
            st.none(),
            st.integers(-len(shape), len(shape) - 1),
            st.lists(st.integers(0, len(shape) - 1), min_size=1, unique=True).map(
                tuple
            ),
        )
    )
    return shape, axis, draw(st.booleans())


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "logsumexp"])
@SETTINGS
@given(sak=shape_and_axis())
def test_reductions(xp, name, sak):
    shape, axis, keepdims = sak
    fn = getattr(F, name)
    x = arr(xp, shape, 5)  # continuous random values: no ties for max/min
    gradcheck(lambda a: fn(a, axis=axis, keepdims=keepdims), x)
    got = fn(Tensor(x), axis=axis, keepdims=keepdims).data
    if name == "logsumexp":
        want = xp.log(xp.exp(x).sum(axis=axis, keepdims=keepdims))
    else:
        want = getattr(xp, name)(x, axis=axis, keepdims=keepdims)
    assert got.shape == want.shape
    np.testing.assert_allclose(_np(got), _np(want), rtol=1e-10)


def test_max_splits_gradient_between_ties(xp):
    x = Tensor(xp.asarray([1.0, 3.0, 3.0]), requires_grad=True)
    F.max(x).backward()
    np.testing.assert_allclose(_np(x.grad), [0, 0.5, 0.5])


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@SETTINGS
@given(shape=nonempty, data=st.data())
def test_softmax_family(xp, name, shape, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    gradcheck(lambda a: getattr(F, name)(a, axis=axis), arr(xp, shape, 6))


def test_softmax_is_stable_and_normalized(xp):
    z = Tensor(xp.asarray([[1000.0, 1000.0, -1000.0], [0.0, 1.0, 2.0]]))
    s = F.softmax(z).data
    assert bool(xp.all(xp.isfinite(s)))
    np.testing.assert_allclose(_np(s.sum(-1)), [1, 1])
    np.testing.assert_allclose(_np(F.log_softmax(z).data[0, :2]), [-np.log(2)] * 2)
    np.testing.assert_allclose(_np(F.logsumexp(z).data[0]), 1000 + np.log(2))


# -- shapes and indexing -------------------------------------------------------------
@SETTINGS
@given(shape=nonempty, data=st.data())
def test_reshape_and_transpose(xp, shape, data):
    perm = tuple(data.draw(st.permutations(range(len(shape)))))
    gradcheck(lambda a: F.reshape(a, (-1,)) * 2, arr(xp, shape))
    gradcheck(lambda a: F.transpose(a, perm), arr(xp, shape))
    gradcheck(lambda a: a.T, arr(xp, shape))


def test_getitem_basic_boolean_and_integer(xp):
    x = arr(xp, (4, 3, 2))
    gradcheck(lambda a: a[1:3, ::2], x)
    gradcheck(lambda a: a[..., 0], x)
    gradcheck(lambda a: a[2], x)
    gradcheck(lambda a: a[xp.asarray([0, 2, 2, 3])], x)  # repeats add up
    gradcheck(lambda a: a[0][xp.asarray([1, 1, 0])], x)  # 2-D table gather
    gradcheck(lambda a: a[xp.asarray([[1, 0], [1, 1]])], arr(xp, (3,)))
    mask = xp.asarray(np.array([True, False, True, True]))
    gradcheck(lambda a: a[mask], x)
    gradcheck(lambda a: a[xp.asarray([0, 0]), xp.asarray([1, 1])], x)  # add.at path


@SETTINGS
@given(
    n=st.integers(1, 5),
    dim=st.integers(1, 3),
    idx_shape=st.lists(st.integers(1, 4), min_size=1, max_size=2).map(tuple),
    sparse=st.booleans(),
)
def test_embedding_gather_scatter(xp, n, dim, idx_shape, sparse):
    idx = xp.asarray(np.random.default_rng(7).integers(0, n, size=idx_shape))
    gradcheck(lambda W: F.embedding(W, idx, sparse=sparse), arr(xp, (n, dim)))


def test_sparse_and_dense_embedding_grads_agree(xp):
    W = Tensor(arr(xp, (50, 4)), requires_grad=True)
    Ws = Tensor(W.data.copy(), requires_grad=True)
    idx = xp.asarray(np.random.default_rng(0).integers(0, 50, size=300))
    g = arr(xp, (300, 4), 1)
    F.embedding(W, idx).backward(g)
    F.embedding(Ws, idx, sparse=True).backward(g)
    rg = Ws.grad
    assert len(rg.rows) == len(np.unique(_np(idx)))
    np.testing.assert_allclose(_np(rg.dense()), _np(W.grad), rtol=1e-12)
    ref = np.zeros((50, 4))
    np.add.at(ref, _np(idx), _np(g))
    np.testing.assert_allclose(_np(W.grad), ref, rtol=1e-12)


@SETTINGS
@given(shape=nonempty, data=st.data())
def test_concat_and_stack(xp, shape, data):
    axis = data.draw(st.integers(0, len(shape) - 1))
    other = list(shape)
    other[axis] = data.draw(dims)
    gradcheck(
        lambda a, b: F.concat([a, b, a], axis=axis),
        arr(xp, shape, 1),
        arr(xp, tuple(other), 2),
    )
    saxis = data.draw(st.integers(0, len(shape)))
    gradcheck(
        lambda a, b: F.stack([a, b], axis=saxis), arr(xp, shape, 1), arr(xp, shape, 2)
    )


@SETTINGS
@given(pair=broadcast_pair())
def test_where_broadcasts(xp, pair):
    sa, sb = pair
    cond = xp.asarray(
        np.random.default_rng(1).random(np.broadcast_shapes(sa, sb)) > 0.5
    )
    gradcheck(lambda a, b: F.where(cond, a, b), arr(xp, sa, 1), arr(xp, sb, 2))


# -- layer ops ------------------------------------------------------------------------
def test_dropout_mask_scaling_and_gradient(xp):
    rng = np.random.default_rng(0) if xp is np else xp.random.default_rng(0)
    x = Tensor(xp.ones((200, 50)), requires_grad=True)
    y = F.dropout(x, 0.3, True, rng)
    kept = y.data != 0
    assert 0.65 < float(kept.mean()) < 0.75
    np.testing.assert_allclose(_np(y.data[kept]), 1 / 0.7)
    y.sum().backward()
    np.testing.assert_allclose(_np(x.grad), _np(y.data))
    assert F.dropout(x, 0.3, False, rng) is x  # eval mode: identity
    with pytest.raises(ValueError, match="dropout p"):
        F.dropout(x, 1.0, True, rng)

    def f(a):
        r = np.random.default_rng(1) if xp is np else xp.random.default_rng(1)
        return F.dropout(a, 0.5, True, r)

    gradcheck(f, arr(xp, (3, 4)))


@SETTINGS
@given(shape=nonempty)
def test_layer_norm(xp, shape):
    if shape[-1] == 1:
        shape = shape[:-1] + (2,)
    gradcheck(F.layer_norm, arr(xp, shape, 8))
    y = F.layer_norm(Tensor(arr(xp, shape, 8)), eps=0.0).data
    np.testing.assert_allclose(_np(y.mean(-1)), 0, atol=1e-12)
    np.testing.assert_allclose(_np(y.std(-1)), 1, rtol=1e-9)


@SETTINGS
@given(
    n=st.integers(1, 2),
    c=st.integers(1, 2),
    o=st.integers(1, 2),
    hw=st.integers(3, 5),
    k=st.integers(1, 3),
    stride=st.integers(1, 2),
    padding=st.integers(0, 1),
)
def test_conv2d(xp, n, c, o, hw, k, stride, padding):
    x, w, b = arr(xp, (n, c, hw, hw), 1), arr(xp, (o, c, k, k), 2), arr(xp, (o,), 3)
    gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride, padding), x, w, b)


def test_conv2d_matches_direct_loops(xp):
    x, w = _np(arr(xp, (2, 3, 5, 5), 1)), _np(arr(xp, (4, 3, 2, 2), 2))
    got = _np(F.conv2d(Tensor(xp.asarray(x)), Tensor(xp.asarray(w)), stride=1).data)
    want = np.zeros((2, 4, 4, 4))
    for i in range(4):
        for j in range(4):
            want[:, :, i, j] = np.einsum(
                "nckl,ockl->no", x[:, :, i : i + 2, j : j + 2], w
            )
    np.testing.assert_allclose(got, want, rtol=1e-10)


@SETTINGS
@given(hw=st.integers(2, 6), k=st.integers(1, 3), stride=st.sampled_from([None, 1, 2]))
def test_max_pool2d(xp, hw, k, stride):
    if k > hw:
        k = hw
    x = arr(xp, (2, 2, hw, hw), 9)
    gradcheck(lambda a: F.max_pool2d(a, k, stride), x)
    y = F.max_pool2d(Tensor(x), k, stride).data
    s = stride or k
    np.testing.assert_allclose(_np(y[0, 0, 0, 0]), _np(x[0, 0, :k, :k].max()))
    assert y.shape[-1] == (hw - k) // s + 1


@SETTINGS
@given(shape=nonempty)
def test_bce_with_logits(xp, shape):
    y = xp.asarray(np.random.default_rng(2).random(shape) > 0.5).astype(xp.float64)
    gradcheck(lambda z: F.bce_with_logits(z, y), arr(xp, shape, 3))
    w = arr(xp, shape, 4, 0.1, 1.0)
    gradcheck(lambda z: F.bce_with_logits(z, y, w), arr(xp, shape, 3))
    z = arr(xp, shape, 3)
    p = 1 / (1 + xp.exp(-z))
    want = -(y * xp.log(p) + (1 - y) * xp.log(1 - p)).mean()
    got = F.bce_with_logits(Tensor(z), y).data
    np.testing.assert_allclose(float(got), float(want), rtol=1e-10)


# -- engine semantics -----------------------------------------------------------------
def test_backward_accumulates_and_zero_grad_resets(xp):
    x = Tensor(xp.asarray([1.0, 2.0]), requires_grad=True)
    y = (x * x).sum()
    y.backward()
    np.testing.assert_allclose(_np(x.grad), [2, 4])
    y.backward()  # the graph is kept: a second call adds the same gradient again
    np.testing.assert_allclose(_np(x.grad), [4, 8])
    x.zero_grad()
    (x * 3).sum().backward()
    np.testing.assert_allclose(_np(x.grad), [3, 3])


def test_shared_subexpressions_and_fanout(xp):
    x = Tensor(xp.asarray([0.5, -1.0]), requires_grad=True)
    y = x * 2
    z = (y * y + y).sum()  # dz/dx = (2y + 1) * 2
    z.backward()
    np.testing.assert_allclose(_np(x.grad), _np((2 * y.data + 1) * 2))


def test_no_grad_records_nothing(xp):
    x = Tensor(xp.ones(2), requires_grad=True)
    with no_grad():
        y = (x * 2).sum()
    assert not y.requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()
    z = x * 2
    with pytest.raises(ValueError, match="needs a scalar"):
        z.backward()


def test_default_dtype_is_float32_and_float64_is_kept(xp):
    assert Tensor([1, 2]).dtype == np.float32
    assert Tensor([1.0, 2.0]).dtype == np.float32  # Python floats: float32 too
    assert Tensor((0.5,)).dtype == np.float32 and Tensor(2.5).dtype == np.float32
    assert Tensor([1.0], dtype=np.float64).dtype == np.float64  # explicit
    assert Tensor(np.float64(1.0)).dtype == np.float64  # a NumPy float64 scalar
    assert Tensor(xp.zeros(2, dtype=xp.float64)).dtype == np.float64
    # integer and bool arrays keep their dtype (index tensors) and promote to the
    # floating partner's dtype in a binary op, as in PyTorch
    i = Tensor(xp.zeros(2, dtype=xp.int64))
    assert i.dtype == np.int64 and Tensor(xp.zeros(2, dtype=bool)).dtype == bool
    f32 = Tensor(xp.ones(2, dtype=xp.float32))
    for y in (i * f32, f32 + i, i - 2.5, 2.5 * Tensor(xp.ones(2, dtype=bool))):
        assert y.dtype == np.float32
    np.testing.assert_array_equal(_np((i - 2.5).data), [-2.5, -2.5])
    with pytest.raises(TypeError, match="needs floating data, got int64"):
        Tensor(xp.zeros(2, dtype=xp.int64), requires_grad=True)
    with pytest.raises(TypeError, match="index Tensor must hold integers or bools"):
        f32[Tensor([0, 1])]
    np.testing.assert_array_equal(_np(f32[Tensor(xp.asarray([1, 0]))].data), [1, 1])
    x = Tensor(xp.ones((2, 2), dtype=xp.float32), requires_grad=True)
    y = F.sigmoid(x @ x + 1.0).mean()
    y.backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32


def test_gradcheck_catches_a_wrong_backward(xp):
    from minirec.autograd.tensor import make_node

    def bad_square(a):
        return make_node(a.data**2, (a,), lambda g: (g * a.data,))  # forgot the 2

    with pytest.raises(AssertionError, match="worst element is input 0"):
        gradcheck(bad_square, arr(xp, (3,)))
    res = gradcheck(bad_square, arr(xp, (3,)), raise_on_fail=False)
    assert not res.ok and res.max_abs_err > 0.1
    with pytest.raises(ValueError, match="requires_grad"):
        gradcheck(bad_square, Tensor(arr(xp, (3,))))


@pytest.mark.parametrize("n_rows,batch", [(1000, 10), (10, 1000), (7, 7)])
def test_scatter_add_paths_agree_with_add_at(xp, n_rows, batch):
    """Both dense paths (sort + unique rows, and one CSR product) and the sparse one."""
    from minirec.autograd import scatter_add_dense, scatter_add_rows

    r = np.random.default_rng(n_rows)
    idx = r.integers(0, n_rows, size=batch)
    vals = r.normal(size=(batch, 3))
    ref = np.zeros((n_rows, 3))
    np.add.at(ref, idx, vals)
    got = scatter_add_dense(xp.asarray(idx), xp.asarray(vals), n_rows)
    np.testing.assert_allclose(_np(got), ref, rtol=1e-12, atol=1e-12)
    rows, sums = scatter_add_rows(xp.asarray(idx), xp.asarray(vals))
    np.testing.assert_array_equal(_np(rows), np.unique(idx))
    np.testing.assert_allclose(_np(sums), ref[np.unique(idx)], rtol=1e-12, atol=1e-12)


def test_arrays_on_the_left_build_graph_nodes(xp):
    t = Tensor(xp.asarray([1.0, 2.0]), requires_grad=True)
    y = xp.asarray([3.0, 4.0]) * t + xp.asarray([1.0, 1.0]) - t / 2.0
    assert isinstance(y, Tensor)
    y.sum().backward()
    np.testing.assert_allclose(_np(t.grad), [2.5, 3.5])
