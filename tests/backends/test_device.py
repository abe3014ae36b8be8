"""Device placement of the autograd, tested without a GPU.

1. Without CuPy, every way of asking for the GPU raises BackendUnavailableError naming
   ``pip install 'minirec[gpu]'``: no silent fallback to the CPU.
2. The autograd core has no NumPy-only calls on its hot path. A fake ``cupy`` module
   (NumPy underneath) stands in for CuPy and behaves like it where it matters: its
   arrays refuse implicit conversion to NumPy (``np.asarray(x)`` raises, as CuPy's
   do), refuse to mix with host NumPy arrays, and every ``np.*`` function or ufunc
   applied to them is recorded. Each op's forward and backward, and a whole NCF-style
   training step (embeddings, MLP, BCE, Adam) run on fake-CuPy arrays must give the
   NumPy results with zero ``np.*`` calls recorded. What this does not check: CuPy's
   own gaps (an xp function CuPy lacks); ``tests/gpu`` runs the same on a real GPU.
"""

from __future__ import annotations

import copy
import sys
import types

import numpy as np
import pytest

from minirec.autograd import Tensor
from minirec.autograd import ops as F
from minirec.backends.device import canonical_device, move, to_host
from minirec.errors import BackendUnavailableError


# ----------------------------------------------------------------------------- 1
def _has_cupy() -> bool:
    try:
        import cupy  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.skipif(_has_cupy(), reason="CuPy is installed here")
def test_asking_for_the_gpu_without_cupy_names_the_install_command():
    from minirec import nn
    from minirec.backends import get_namespace

    msg = r"pip install 'minirec\[gpu\]'"
    t = Tensor(np.ones(3))
    with pytest.raises(BackendUnavailableError, match=msg):
        t.to("cupy")
    with pytest.raises(BackendUnavailableError, match=msg):
        Tensor([1.0, 2.0], device="cuda")
    lin = nn.Linear(3, 2, rng=0)
    before = lin.W.data.copy()
    with pytest.raises(BackendUnavailableError, match=msg):
        lin.to("cupy")
    assert isinstance(lin.W.data, np.ndarray)  # nothing moved, nothing lost
    np.testing.assert_array_equal(lin.W.data, before)
    with pytest.raises(BackendUnavailableError, match=r"minirec\[gpu\]"):
        get_namespace("cupy")
    assert t.to("numpy") is t and t.to("cpu") is t and t.device == "cpu"


def test_device_names():
    assert canonical_device("CUDA:0") == "cuda" and canonical_device("gpu") == "cuda"
    assert canonical_device("numpy") == "cpu"
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        canonical_device("tpu")
    with pytest.raises(ValueError, match="unknown device"):
        Tensor([1.0]).to("tpu")


# ----------------------------------------------------------------------------- 2
CALLS: list[str] = []  # np.* functions / ufuncs that touched a fake device array


class FakeArray:
    """A cupy.ndarray stand-in over a NumPy array (see the module docstring)."""

    __slots__ = ("_a",)
    __array_priority__ = 100  # below Tensor's 1000: FakeArray + Tensor -> Tensor

    def __init__(self, a):
        self._a = a

    # what CuPy forbids: implicit device -> host conversion
    def __array__(self, *args, **kwargs):
        raise TypeError(
            "Implicit conversion to a NumPy array is not allowed (fake CuPy)"
        )

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        CALLS.append(f"np.{ufunc.__name__}.{method}")
        out = getattr(ufunc, method)(*_unwrap(inputs), **_unwrap(kwargs))
        return _wrap(out)

    def __array_function__(self, func, types, args, kwargs):
        CALLS.append(f"np.{func.__name__}")
        return _wrap(func(*_unwrap(args), **_unwrap(kwargs)))

    @property
    def __cuda_array_interface__(self):
        return {"shape": self._a.shape, "typestr": self._a.dtype.str, "version": 3}

    def get(self):  # the explicit device -> host copy
        return self._a.copy()

    def __getattr__(self, name):
        if name.startswith("__"):  # no __array_interface__ etc.: like CuPy
            raise AttributeError(name)
        attr = getattr(self._a, name)
        if callable(attr):
            return lambda *a, **k: _wrap(attr(*_unwrap(a), **_unwrap(k)))
        return _wrap(attr)

    def __len__(self):
        return len(self._a)

    def __repr__(self):
        return f"FakeArray({self._a!r})"

    def __bool__(self):
        return bool(self._a)

    def __float__(self):
        return float(self._a)

    def __int__(self):
        return int(self._a)

    def __index__(self):
        return self._a.__index__()

    def __getitem__(self, idx):
        return _wrap(self._a[_unwrap(idx)])

    def __setitem__(self, idx, v):
        self._a[_unwrap(idx)] = _unwrap(v)


def _binop(name):
    def f(self, other):
        if isinstance(other, Tensor):
            return NotImplemented
        return _wrap(getattr(self._a, name)(_unwrap(other)))

    return f


def _inplace(name):
    def f(self, other):
        getattr(self._a, name)(_unwrap(other))
        return self

    return f


for _n in (
    "add sub mul truediv floordiv pow matmul mod and or xor lt le gt ge eq ne "
    "radd rsub rmul rtruediv rpow rmatmul"
).split():
    setattr(FakeArray, f"__{_n}__", _binop(f"__{_n}__"))
for _n in "iadd isub imul itruediv ipow".split():
    setattr(FakeArray, f"__{_n}__", _inplace(f"__{_n}__"))
for _n in ("neg", "pos", "abs", "invert"):
    setattr(
        FakeArray,
        f"__{_n}__",
        (lambda n: lambda self: _wrap(getattr(self._a, n)()))(f"__{_n}__"),
    )
FakeArray.__module__ = "cupy"  # array_namespace() recognises CuPy by the module


def _unwrap(x, host_ok=False):
    if isinstance(x, FakeArray):
        return x._a
    if isinstance(x, np.ndarray) and x.ndim > 0 and not host_ok:
        raise TypeError(
            f"a host NumPy array {x.shape} was mixed into a device op (fake CuPy); "
            "move it with xp.asarray first"
        )
    if isinstance(x, (list, tuple)):
        return type(x)(_unwrap(v, host_ok) for v in x)
    if isinstance(x, dict):
        return {k: _unwrap(v, host_ok) for k, v in x.items()}
    return x


def _wrap(x):
    if isinstance(x, np.ndarray):
        return FakeArray(x)
    if isinstance(x, np.generic):  # CuPy reductions give 0-d device arrays
        return FakeArray(np.asarray(x))
    if isinstance(x, tuple):
        return tuple(_wrap(v) for v in x)
    if isinstance(x, list):
        return [_wrap(v) for v in x]
    return x


class _Proxy:
    """Wraps a numpy submodule or ufunc so that calls unwrap / wrap arrays."""

    def __init__(self, target):
        self._t = target

    def __call__(self, *a, **k):
        return _wrap(self._t(*_unwrap(a), **_unwrap(k)))

    def __getattr__(self, name):
        return _lookup(getattr(self._t, name))


_HOST_OK = {"asarray", "array", "ascontiguousarray"}  # explicit host -> device


def _lookup(attr, name=""):
    if isinstance(attr, type) or isinstance(attr, (int, float, str)):
        return attr  # dtypes, constants
    if name in _HOST_OK:
        return lambda *a, **k: _wrap(
            np.array(_unwrap(a[0], host_ok=True), *a[1:], **_unwrap(k))
        )
    if isinstance(attr, (types.ModuleType, np.ufunc)) or callable(attr):
        return _Proxy(attr)
    return attr


def _fake_cupy() -> types.ModuleType:
    m = types.ModuleType("cupy")
    m.ndarray = FakeArray
    m.cuda = types.SimpleNamespace(
        runtime=types.SimpleNamespace(getDeviceCount=lambda: 1)
    )
    m.asnumpy = lambda x: x.get()
    m.__getattr__ = lambda name: (
        _lookup(getattr(np, name), name) if not name.startswith("__") else None
    )
    return m


@pytest.fixture
def fake_cupy(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", _fake_cupy())
    monkeypatch.setitem(sys.modules, "cupyx", None)  # no cupyx.scipy.sparse
    CALLS.clear()
    yield sys.modules["cupy"]
    CALLS.clear()


def test_fake_cupy_is_strict(fake_cupy):
    """The stand-in must catch the mistakes it is meant to catch."""
    x = fake_cupy.asarray(np.arange(3.0))
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.asarray(x)
    with pytest.raises(TypeError, match="host NumPy array"):
        x + np.ones(3)
    np.exp(x)
    np.concatenate([x, x])
    assert CALLS == ["np.exp.__call__", "np.concatenate"]


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
def test_op_runs_on_fake_cupy_without_numpy_calls(name, fake_cupy):
    fn, specs = OPS[name]
    rng = np.random.default_rng(0)
    arrays = [_leaf(rng, shape, pos) for shape, pos in specs]
    want_out, want_grads = _run(fn, arrays)
    CALLS.clear()
    out, grads = _run(fn, [fake_cupy.asarray(a) for a in arrays])
    assert CALLS == [], f"{name}: NumPy-only calls on device data: {CALLS}"
    assert isinstance(out, FakeArray), f"{name}: result left the device"
    np.testing.assert_allclose(out.get(), want_out, rtol=1e-10)
    for g, w in zip(grads, want_grads, strict=True):
        assert isinstance(g, FakeArray), f"{name}: a gradient left the device"
        np.testing.assert_allclose(g.get(), w, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "sparse,opt_name", [(False, "adam"), (True, "adam-lazy"), (True, "sgd-adagrad")]
)
def test_ncf_training_step_on_fake_cupy(fake_cupy, sparse, opt_name):
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
    assert all(isinstance(p.data, FakeArray) for p in gpu.parameters())
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
        CALLS.clear()
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
            assert CALLS == [], f"NumPy-only calls in the training step: {CALLS}"
    np.testing.assert_allclose(losses["gpu"], losses["cpu"], rtol=1e-5)
    for (n, pc), (_, pg) in zip(
        cpu.named_parameters(), gpu.named_parameters(), strict=True
    ):
        assert isinstance(pg.data, FakeArray), n
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


def test_tensor_device_and_to_on_fake_cupy(fake_cupy):
    t = Tensor([1.0, 2.0], device="cuda", requires_grad=True)
    assert t.device == "cuda" and isinstance(t.data, FakeArray)
    assert t.data.dtype == Tensor([1.0, 2.0]).dtype  # as on the CPU
    h = t.to("cpu")
    assert h.device == "cpu" and h.requires_grad and h is not t
    np.testing.assert_array_equal(h.numpy(), [1.0, 2.0])
    assert t.to("cupy") is t
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0])  # .numpy() copies via .get()
    assert isinstance(move(np.zeros(2), "cuda"), FakeArray)
