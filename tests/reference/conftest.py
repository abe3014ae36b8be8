"""Shared machinery of the PyTorch reference tests (test_autograd_ref, test_nn_ref,
test_optim_ref): float64 everywhere, hypothesis derandomized with a bounded number of
examples, and :func:`compare`, which runs one computation in minirec and in torch on
the same arrays and asserts the same forward values and the same gradients.

Where minirec's definition differs from PyTorch on purpose, a test calls
:func:`documented_difference` with what differs and checks minirec's documented
formula instead; the run ends with a count of the reference cases compared and of the
documented differences.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from minirec.autograd import RowGrad, Tensor

RTOL, ATOL = 1e-9, 1e-11  # float64 on both sides; only the summation order differs

# derandomize: the same examples on every run and machine, no database needed
SETTINGS = settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

COUNTS = {"cases": 0}
DIFFERENCES: dict[str, str] = {}


def documented_difference(name: str, what: str) -> None:
    """Record that the case `name` checks minirec's own formula because it differs
    from PyTorch's on purpose (`what` says how)."""
    DIFFERENCES[name] = what


def pytest_terminal_summary(terminalreporter):
    if COUNTS["cases"] or DIFFERENCES:
        terminalreporter.write_line(
            f"minirec vs torch: {COUNTS['cases']} reference cases compared, "
            f"{len(DIFFERENCES)} documented differences checked against minirec's "
            f"formula ({', '.join(sorted(DIFFERENCES))})"
        )


def coverage():
    """``(covered, covers)``: a set of names and the decorator ``@covers(*names)``
    that adds to it, so a test module can assert that every public op / layer has a
    reference case."""
    covered: set[str] = set()

    def covers(*names):
        covered.update(names)
        return lambda fn: fn

    return covered, covers


# -- shapes ----------------------------------------------------------------------------
dims = st.integers(1, 4)
shapes = st.lists(dims, min_size=0, max_size=3).map(tuple)
nonempty = st.lists(dims, min_size=1, max_size=3).map(tuple)
seeds = st.integers(0, 2**16)
# the keyword strategies of a 2-D convolution case: image size, kernel, stride...
CONV = {
    "hw": st.tuples(st.integers(3, 6), st.integers(3, 6)),
    "k": st.integers(1, 3),
    "stride": st.integers(1, 2),
    "padding": st.integers(0, 1),
    "bias": st.booleans(),
}


@st.composite
def broadcast_pair(draw):
    """Two shapes that broadcast against each other: leading axes dropped on one side
    and size-1 axes on either side (both sides can have size 1 at different axes)."""
    full = draw(nonempty)
    a, b = list(full), list(full)
    for k in range(len(full)):
        side = draw(st.sampled_from(["none", "a", "b"]))
        if side == "a":
            a[k] = 1
        elif side == "b":
            b[k] = 1
    drop = draw(st.integers(0, len(full)))
    b = b[drop:]
    if draw(st.booleans()):
        a, b = b, a
    return tuple(a), tuple(b)


@st.composite
def axis_of(draw, shape, allow_none=True, allow_tuple=True):
    """An axis argument for `shape`: None, an int (negative half of the time) or a
    tuple of distinct ints (with negative ones)."""
    n = len(shape)
    kinds = (["none"] if allow_none else []) + (["int"] if n else [])
    if allow_tuple and n:
        kinds.append("tuple")
    kind = draw(st.sampled_from(kinds))
    if kind == "none":
        return None
    if kind == "int":
        return draw(st.integers(-n, n - 1))
    picked = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True))
    return tuple(k - n if draw(st.booleans()) else k for k in picked)


def normal(shape, seed, scale=1.0):
    return np.random.default_rng(seed).normal(0, scale, size=shape)


def grid(shape, seed, values=(-1.0, 0.0, 0.5, 1.0)):
    """Entries drawn from a few values: ties and exact kinks (0 of relu, abs)."""
    return np.random.default_rng(seed).choice(np.asarray(values), size=shape)


def positive(shape, seed, lo=0.1, hi=3.0):
    return np.random.default_rng(seed).uniform(lo, hi, size=shape)


# -- the comparison --------------------------------------------------------------------
def _np(x):
    if isinstance(x, Tensor):
        x = x.data
    if isinstance(x, RowGrad):
        x = x.dense()
    return x.get() if hasattr(x, "get") else np.asarray(x)


def _outputs(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def assert_same(got, want, what, rtol=RTOL, atol=ATOL):
    """`got` (NumPy) equals `want` (a torch tensor or array) in shape and value; NaN
    and infinities must sit at the same places."""
    want = want.detach().numpy() if hasattr(want, "detach") else np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} vs torch {want.shape}"
    np.testing.assert_allclose(
        got, want, rtol=rtol, atol=atol, equal_nan=True, err_msg=what
    )


def compare(mr_fn, torch_fn, *arrays, params=(), rtol=RTOL, atol=ATOL, seed=0):
    """Run ``mr_fn(*tensors)`` (float64 minirec Tensors of `arrays`, requires_grad)
    and ``torch_fn(*torch_tensors, *torch_params)`` (float64 torch tensors of the same
    arrays, then of the `params`: minirec Parameters a module uses inside `mr_fn`).

    Asserts the same output shapes, float64 dtype and values, then back-propagates
    ``Σ w · out`` (fixed random `w` per output) on both sides and asserts the same
    gradient for every array and every parameter (a missing gradient counts as 0).
    Returns the minirec outputs (a list)."""
    torch = pytest.importorskip("torch", reason="PyTorch is the reference")
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    for p in params:
        p.grad = None
    mt = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    tt = [torch.tensor(a, requires_grad=True) for a in arrays]
    tp = [torch.tensor(_np(p).astype(np.float64), requires_grad=True) for p in params]
    mout, tout = _outputs(mr_fn(*mt)), _outputs(torch_fn(*tt, *tp))
    assert len(mout) == len(tout), f"{len(mout)} outputs vs torch {len(tout)}"
    rng = np.random.default_rng(seed)
    ws = [rng.normal(size=o.shape) for o in mout]
    for k, (m, t) in enumerate(zip(mout, tout, strict=True)):
        assert m.dtype == np.float64, f"output {k}: dtype {m.dtype}, not float64"
        assert_same(_np(m), t, f"output {k}", rtol, atol)
    live = [(m, w) for m, w in zip(mout, ws, strict=True) if m.requires_grad]
    if live:
        loss = None
        for m, w in live:
            term = (m * Tensor(w)).sum()
            loss = term if loss is None else loss + term
        loss.backward()
    tl = [(t * torch.tensor(w)).sum() for t, w in zip(tout, ws, strict=True)]
    if any(t.requires_grad for t in tl):
        sum(tl).backward()
    for k, (m, t) in enumerate(zip(list(mt) + list(params), tt + tp, strict=True)):
        want = t.grad if t.grad is not None else torch.zeros_like(t)
        got = np.zeros(m.shape) if m.grad is None else _np(m.grad)
        assert_same(got, want, f"gradient of input {k}", rtol, atol)
    COUNTS["cases"] += 1
    return mout
