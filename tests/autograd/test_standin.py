"""Every autograd op and a whole training step on the CuPy stand-in (tests/standin).

The stand-in offers only the names the real CuPy / cupyx packages offer (read from
the CuPy wheel into tests/standin/cupy_names.json) and refuses implicit host
transfers; each op's forward and backward, and an NCF-style training step with each
optimizer, must give the NumPy results (rtol 1e-10 for the ops in float64, 1e-5 for
the float32 training step) with the data left on the device and no ``np.*`` call
on device data. The layer, loss and optimizer suites (tests/nn, tests/test_optim.py)
and the op suite (tests/autograd/test_ops.py) also run on the stand-in through their
``xp`` fixture.
"""

from __future__ import annotations

import copy
import json
import sys

import numpy as np
import pytest
from standin import (
    CUPY_VERSION,
    IMPLICIT,
    install,
    ndarray,
    numpy_calls,
)
from standin.generate_names import OUT, collect

from minirec.autograd import Tensor
from minirec.autograd import ops as F
from minirec.backends.device import move, to_host
from minirec.errors import BackendUnavailableError


@pytest.fixture
def standin(monkeypatch):
    yield install(monkeypatch)
    numpy_calls.clear()


def _real_cupy_importable() -> bool:
    try:
        import cupy  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.skipif(
    not _real_cupy_importable(),
    reason="the real cupy package is not installed here (pip install "
    "'minirec[gpu]', or cupy-cuda12x --no-deps into a --target on PYTHONPATH); "
    "cupy_names.json was generated from CuPy " + CUPY_VERSION,
)
def test_names_file_matches_the_installed_cupy():
    """cupy_names.json is what generate_names.py reads from the real package."""
    got = collect()
    if got["cupy_version"] != CUPY_VERSION:
        pytest.skip(
            f"installed CuPy {got['cupy_version']} is not the {CUPY_VERSION} the "
            "file was generated from; regenerate with tests/standin/generate_names.py"
        )
    assert got == json.loads(OUT.read_text())


def test_standin_is_strict(standin):
    """The stand-in must catch the mistakes it is meant to catch."""
    x = standin.asarray(np.arange(3.0))
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.asarray(x)
    assert IMPLICIT.startswith("Implicit conversion")
    with pytest.raises(TypeError, match="Unsupported type"):
        x + np.ones(3)
    with pytest.raises(TypeError, match="host NumPy array"):
        standin.concatenate([x, np.ones(3)])
    with pytest.raises(TypeError, match="host NumPy array"):
        x[np.array([0, 1])]
    with pytest.raises(TypeError, match="unexpected keyword"):
        standin.argsort(x, order="x")  # NumPy's argsort takes order=, CuPy's not
    # names CuPy lacks are missing here too: NumPy has them
    for name in ("insert", "geomspace", "block"):
        assert hasattr(np, name)
        with pytest.raises(AttributeError, match="CuPy"):
            getattr(standin, name)
    g = standin.random.default_rng(0)
    assert isinstance(g.random(3), ndarray)
    for name in ("normal", "choice", "permutation", "shuffle"):
        with pytest.raises(AttributeError, match="cupy.random.Generator"):
            getattr(g, name)
    with pytest.raises(AttributeError, match="cupy.ndarray"):
        _ = x.itemset
    # what CuPy allows: scalar reads, explicit copies both ways, 0-d reductions
    assert float(x.sum()) == 3.0 and isinstance(x.sum(), ndarray)
    np.testing.assert_array_equal(x.get(), [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(standin.asnumpy(x), [0.0, 1.0, 2.0])
    assert standin.asarray(x) is x and standin.array(x) is not x
    # np.* on device data dispatches as in CuPy, and is recorded
    numpy_calls.clear()
    np.exp(x)
    np.concatenate([x, x])
    assert numpy_calls == ["np.exp.__call__", "np.concatenate"]


def test_gpu_errors_say_what_is_missing(monkeypatch):
    """CuPy importable without a device: "no CUDA device found", no install advice;
    CuPy missing: the install command."""
    from minirec import nn
    from minirec.backends import get_namespace

    install(monkeypatch, devices=0)
    for ask in (
        lambda: get_namespace("cupy"),
        lambda: Tensor([1.0], device="cuda"),
        lambda: nn.Linear(2, 2, rng=0).to("cuda"),
    ):
        with pytest.raises(BackendUnavailableError, match="no CUDA device found") as e:
            ask()
        assert "pip install" not in str(e.value)
    monkeypatch.setitem(sys.modules, "cupy", None)  # import fails
    with pytest.raises(BackendUnavailableError, match=r"pip install 'minirec\[gpu\]'"):
        get_namespace("cupy")


def _leaf(rng, shape, positive=False, dtype=np.float64):
    a = rng.normal(size=shape)
    if positive:
        a = np.abs(a) + 0.5
    return a.astype(dtype)


# op name -> (function of tensors, list of (shape, positive) inputs)
IDX = np.array([0, 2, 2, 1])
OPS = {
    "add": (lambda a, b: a + b, [((3, 4), 0), ((4,), 0)]),
    "sub": (lambda a, b: a - b, [((3, 4), 0), ((3, 1), 0)]),
    "mul": (lambda a, b: a * b * 2.0, [((3, 4), 0), ((3, 4), 0)]),
    "div": (lambda a, b: a / b, [((3, 4), 0), ((3, 4), 1)]),
    "pow": (lambda a: a**3, [((3, 4), 0)]),
    "pow_tensor": (lambda a, b: a**b, [((3, 4), 1), ((3, 4), 0)]),
    "exp_log": (lambda a: (a.exp() + a.log()).log1p(), [((3, 4), 1)]),
    "sqrt_abs": (lambda a: a.sqrt() + a.abs(), [((3, 4), 1)]),
    "clip": (lambda a: a.clip(-0.5, 0.5), [((3, 4), 0)]),
    "activations": (
        lambda a: (
            a.sigmoid()
            + a.tanh()
            + a.relu()
            + a.leaky_relu()
            + a.softplus()
            + a.log_sigmoid()
        ),
        [((3, 4), 0)],
    ),
    "matmul": (lambda a, b: a @ b, [((2, 3, 4), 0), ((4, 5), 0)]),
    "linear": (
        lambda x, W, b: F.linear(x, W, b),
        [((3, 4), 0), ((4, 2), 0), ((2,), 0)],
    ),
    "outer": (lambda a, b: F.outer(a, b), [((3, 4), 0), ((3, 2), 0)]),
    "reductions": (
        lambda a: a.sum(axis=1) + a.mean(axis=1) + a.max(axis=1) + a.min(axis=1),
        [((3, 4), 0)],
    ),
    "logsumexp_softmax": (
        lambda a: (
            a.logsumexp(axis=1) + a.softmax().sum(1) * 0.3 + a.log_softmax().mean(1)
        ),
        [((3, 4), 0)],
    ),
    "reshape_transpose": (lambda a: a.reshape(4, 3).T * 2.0, [((3, 4), 0)]),
    "getitem_slice": (lambda a: a[1:, ::2], [((3, 4), 0)]),
    "getitem_bool": (lambda a: a[a.data > 0], [((3, 4), 0)]),
    "embedding": (lambda W: F.embedding(W, W.xp.asarray(IDX)), [((4, 3), 0)]),
    "embedding_sparse": (
        lambda W: F.embedding(W, W.xp.asarray(IDX), sparse=True) * 1.0,
        [((4, 3), 0)],
    ),
    "getitem_int_array": (lambda a: a[a.xp.asarray(IDX)], [((4, 2, 3), 0)]),
    "concat_stack": (
        lambda a, b: F.concat([a, b], axis=1).sum(1) + F.stack([a, b]).sum(0).sum(1),
        [((3, 4), 0), ((3, 4), 0)],
    ),
    "where": (lambda a, b: F.where(a.data > 0, a, b), [((3, 4), 0), ((3, 4), 0)]),
    "layer_norm": (lambda a: F.layer_norm(a), [((3, 5), 0)]),
    "conv_pool": (
        lambda x, w, b: F.max_pool2d(F.conv2d(x, w, b, padding=1), 2),
        [((2, 2, 4, 4), 0), ((3, 2, 3, 3), 0), ((3,), 0)],
    ),
    "bce_with_logits": (
        lambda z: F.bce_with_logits(z, z.xp.asarray(np.array([1.0, 0.0, 1.0]))),
        [((3,), 0)],
    ),
}


def _run(fn, arrays):
    ts = [Tensor(a, requires_grad=True) for a in arrays]
    out = fn(*ts)
    out.sum().backward() if out.ndim else out.backward()
    grads = []
    for t in ts:
        g = t.grad
        grads.append(g.dense() if hasattr(g, "dense") else g)
    return out.data, grads


@pytest.mark.parametrize("name", sorted(OPS))
def test_op_runs_on_standin_without_numpy_calls(name, standin):
    fn, specs = OPS[name]
    rng = np.random.default_rng(0)
    arrays = [_leaf(rng, shape, pos) for shape, pos in specs]
    want_out, want_grads = _run(fn, arrays)
    numpy_calls.clear()
    out, grads = _run(fn, [standin.asarray(a) for a in arrays])
    assert numpy_calls == [], f"{name}: NumPy-only calls on device data: {numpy_calls}"
    assert isinstance(out, ndarray), f"{name}: result left the device"
    np.testing.assert_allclose(out.get(), want_out, rtol=1e-10)
    for g, w in zip(grads, want_grads, strict=True):
        assert isinstance(g, ndarray), f"{name}: a gradient left the device"
        np.testing.assert_allclose(g.get(), w, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "sparse,opt_name", [(False, "adam"), (True, "adam-lazy"), (True, "sgd-adagrad")]
)
def test_ncf_training_step_on_standin(standin, sparse, opt_name):
    """model.to("cupy"): NCF-style embeddings + MLP + BCE + optimizer, three steps;
    dense and sparse (RowGrad) embedding gradients."""
    from minirec import nn
    from minirec.optim import SGD, Adagrad, Adam

    class Tiny(nn.Module):
        def __init__(self):
            self.U = nn.Embedding(7, 4, rng=1, sparse=sparse)
            self.I = nn.Embedding(9, 4, rng=2, sparse=sparse)
            self.mlp = nn.MLP([8, 6, 3], rng=3)
            self.out = nn.Linear(3, 1, rng=4)

        def forward(self, u, i):
            h = F.concat([self.U(u), self.I(i)], axis=1)
            return self.out(self.mlp(h)).reshape(-1)

    cpu = Tiny()
    gpu = copy.deepcopy(cpu).to("cupy")
    assert all(isinstance(p.data, ndarray) for p in gpu.parameters())
    rng = np.random.default_rng(0)
    batches = [
        (rng.integers(0, 7, 16), rng.integers(0, 9, 16), rng.integers(0, 2, 16))
        for _ in range(3)
    ]
    losses = {}
    for name, model in (("cpu", cpu), ("gpu", gpu)):
        xp = model.U.W.xp
        if opt_name == "sgd-adagrad":  # SGD (momentum) for the MLP, Adagrad for rows
            opt = _Both(
                Adagrad(model.U.parameters() + model.I.parameters(), lr=0.05),
                SGD(
                    model.mlp.parameters() + model.out.parameters(),
                    lr=0.05,
                    momentum=0.9,
                ),
            )
        else:
            opt = Adam(model.parameters(), lr=0.01, lazy=opt_name == "adam-lazy")
        numpy_calls.clear()
        losses[name] = []
        for u, i, y in batches:
            u, i = xp.asarray(u), xp.asarray(i)  # explicit host -> device copies
            y = xp.asarray(y.astype(np.float32))
            loss = nn.losses.bce_with_logits(model(u, i), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses[name].append(loss.item())
        if name == "gpu":
            assert numpy_calls == [], f"np.* calls in the training step: {numpy_calls}"
    np.testing.assert_allclose(losses["gpu"], losses["cpu"], rtol=1e-5)
    for (n, pc), (_, pg) in zip(
        cpu.named_parameters(), gpu.named_parameters(), strict=True
    ):
        assert isinstance(pg.data, ndarray), n
        np.testing.assert_allclose(to_host(pg.data), pc.data, rtol=1e-5, atol=1e-7)
    # and back: explicit device -> host
    back = gpu.to("numpy")
    assert all(isinstance(p.data, np.ndarray) for p in back.parameters())


class _Both:
    def __init__(self, *opts):
        self.opts = opts

    def zero_grad(self):
        for o in self.opts:
            o.zero_grad()

    def step(self):
        for o in self.opts:
            o.step()


def test_tensor_device_and_to_on_standin(standin):
    t = Tensor([1.0, 2.0], device="cuda", requires_grad=True)
    assert t.device == "cuda" and isinstance(t.data, ndarray)
    assert t.data.dtype == Tensor([1.0, 2.0]).dtype  # as on the CPU
    h = t.to("cpu")
    assert h.device == "cpu" and h.requires_grad and h is not t
    np.testing.assert_array_equal(h.numpy(), [1.0, 2.0])
    assert t.to("cupy") is t
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0])  # .numpy() copies via .get()
    assert isinstance(move(np.zeros(2), "cuda"), ndarray)
