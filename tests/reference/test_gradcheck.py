"""gradcheck itself: it fails on wrong backwards (sign, scale, a missing input, a
gradient of the wrong shape, an unreduced broadcast, NaN) and passes on correct ones,
and its result reports the largest errors over all elements."""

from __future__ import annotations

import numpy as np
import pytest

from minirec.autograd import Tensor, gradcheck
from minirec.autograd import ops as F
from minirec.autograd.tensor import make_node


def _product(wrong=None):
    """``a * b`` with a (3, 1) broadcast against b (3, 4), whose backward is made
    wrong in one way: "sign", "scale", "missing" (no gradient for b), "unreduced"
    (a's gradient not summed over the broadcast axis), "padded" (a's correct
    gradient broadcast to the output's shape: right values, wrong shape), "nan"."""

    def f(a, b):
        def backward(g):
            ga, gb = (g * b.data).sum(axis=1, keepdims=True), g * a.data
            if wrong == "sign":
                ga = -ga
            elif wrong == "scale":
                gb = 2 * gb
            elif wrong == "missing":
                gb = None
            elif wrong == "unreduced":
                ga = g * b.data
            elif wrong == "padded":
                ga = np.broadcast_to(ga, g.shape)
            elif wrong == "nan":
                gb = gb * np.nan
            return ga, gb

        return make_node(a.data * b.data, (a, b), backward)

    return f


def _inputs():
    r = np.random.default_rng(0)
    return r.normal(size=(3, 1)), r.normal(size=(3, 4))


def test_passes_on_correct_backwards():
    a, b = _inputs()
    assert gradcheck(_product(), a, b).ok
    assert gradcheck(F.mul, a, b).ok
    assert gradcheck(lambda a, b: F.matmul(a.T, b), a, b).ok
    W = np.random.default_rng(1).normal(size=(5, 2))
    idx = np.array([[0, -1], [4, 4]])
    assert gradcheck(lambda W: F.embedding(W, idx, sparse=True), W).ok
    res = gradcheck(_product(), a, b)
    assert res.max_abs_err < 1e-8 and "passed" in str(res)


@pytest.mark.parametrize("wrong", ["sign", "scale", "missing", "unreduced", "nan"])
def test_fails_on_wrong_backwards(wrong):
    a, b = _inputs()
    with pytest.raises(AssertionError, match="gradcheck FAILED"):
        gradcheck(_product(wrong), a, b)
    res = gradcheck(_product(wrong), a, b, raise_on_fail=False)
    assert not res.ok and not bool(res)
    want_input = 0 if wrong in ("sign", "unreduced") else 1
    assert res.worst_input == want_input


def test_a_gradient_of_the_wrong_shape_fails_even_with_the_right_values():
    """The 'padded' gradient holds a's correct gradient in every column: indexing it
    at a's elements finds the right numbers, so only the shape check catches it."""
    a, b = _inputs()
    res = gradcheck(_product("padded"), a, b, raise_on_fail=False)
    assert not res.ok and res.worst_input == 0
    assert "input 0 has shape (3, 1) but its gradient has shape (3, 4)" in str(res)
    with pytest.raises(AssertionError, match="sum over the axes broadcasting added"):
        gradcheck(_product("padded"), a, b)


def test_max_abs_err_is_the_maximum_over_all_elements():
    """Element 0 has a large derivative, so a large error that is still inside rtol;
    element 1 a small error outside atol. The worst element (furthest past the
    tolerance) is 1, the largest absolute error is element 0's."""
    scale = np.array([1e4, 1.0])
    w = np.random.default_rng(0).normal(size=2)  # gradcheck's projection (seed 0)
    off = np.array([0.5e-4 * abs(w[0]) * 1e4, 1e-3])  # in / out of the tolerance

    def f(a):
        return make_node(a.data * scale, (a,), lambda g: (g * scale + off,))

    res = gradcheck(f, np.array([0.3, -0.7]), raise_on_fail=False)
    assert not res.ok and res.worst_index == (1,)
    np.testing.assert_allclose(res.max_abs_err, off.max(), rtol=1e-4)
    rel = off / np.abs(w * scale)
    np.testing.assert_allclose(res.max_rel_err, rel.max(), rtol=1e-4)


def test_no_input_to_check_and_a_non_tensor_output_are_named():
    with pytest.raises(ValueError, match="no input has requires_grad"):
        gradcheck(F.exp, Tensor(np.ones(2)))
    with pytest.raises(TypeError, match="must return a Tensor"):
        gradcheck(lambda a: a.data, np.ones(2))
