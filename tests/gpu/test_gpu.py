"""On a real GPU: the CUDA kernels, the CuPy autograd and the models with
``backend="cuda"`` against the CPU. Skipped (with the reason) without a GPU."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.gpu

_SIM_CASES = Path(__file__).resolve().parents[1] / "backends" / "test_cuda_ops.py"


def _cases_module():
    spec = importlib.util.spec_from_file_location("_cuda_cases", _SIM_CASES)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_CASE_NAMES = sorted(
    n[len("case_") :]
    for n in _SIM_CASES.read_text().split("\ndef ")
    if n.startswith("case_")
    for n in [n.split("(")[0]]
)


def _need_cupy():
    from minirec.backends.device import cupy_available

    if not cupy_available():
        pytest.skip("CuPy is not installed: pip install 'minirec[gpu]'")
    import cupy

    return cupy


@pytest.mark.parametrize("case", _CASE_NAMES)
def test_simulator_case_on_the_real_gpu(case):
    """Every case that runs under the simulator in CI, on the device."""
    result = _cases_module().run_cases([case])[case]
    if result != "ok":
        pytest.fail(result)


def test_kernels_take_cupy_arrays_zero_copy():
    cupy = _need_cupy()

    from minirec.backends import cuda_ops as C
    from minirec.backends import numpy_ops as N

    r = np.random.default_rng(0)
    m, n, k, R = 50, 40, 8, 2000
    users = r.integers(0, m, R).astype(np.int32)
    items = r.integers(0, n, R).astype(np.int32)
    ratings = r.uniform(1, 5, R).astype(np.float32)
    order = r.permutation(R).astype(np.int64)
    host = [r.normal(0, 0.1, s).astype(np.float32) for s in ((m, k), (n, k))]
    host += [np.zeros(m, np.float32), np.zeros(n, np.float32)]
    dev = [cupy.asarray(a) for a in host]
    ptrs = [d.data.ptr for d in dev]
    data = [cupy.asarray(a) for a in (users, items, ratings, order)]
    la = N.sgd_mf_epoch(
        users, items, ratings, order, *host, 3.0, 0.01, 0.02, 0.01, True
    )
    lb = C.sgd_mf_epoch(*data, *dev, 3.0, 0.01, 0.02, 0.01, True)
    np.testing.assert_allclose(lb, la, rtol=1e-4)
    assert [d.data.ptr for d in dev] == ptrs  # updated in place on the device
    for h, d in zip(host, dev, strict=True):
        np.testing.assert_allclose(cupy.asnumpy(d), h, rtol=1e-4, atol=1e-5)


def test_autograd_training_step_on_cupy_matches_numpy():
    import copy

    cupy = _need_cupy()

    from minirec import nn
    from minirec.autograd import ops as F
    from minirec.optim import Adam

    class Tiny(nn.Module):
        def __init__(self):
            self.U = nn.Embedding(70, 8, rng=1)
            self.I = nn.Embedding(90, 8, rng=2)
            self.mlp = nn.MLP([16, 12, 6], rng=3)
            self.out = nn.Linear(6, 1, rng=4)

        def forward(self, u, i):
            h = F.concat([self.U(u), self.I(i)], axis=1)
            return self.out(self.mlp(h)).reshape(-1)

    cpu = Tiny()
    gpu = copy.deepcopy(cpu).to("cupy")
    assert all(isinstance(p.data, cupy.ndarray) for p in gpu.parameters())
    rng = np.random.default_rng(0)
    batches = [
        (rng.integers(0, 70, 256), rng.integers(0, 90, 256), rng.integers(0, 2, 256))
        for _ in range(5)
    ]
    losses = {}
    for name, model in (("cpu", cpu), ("gpu", gpu)):
        xp = model.U.W.xp
        opt = Adam(model.parameters(), lr=0.01)
        losses[name] = []
        for u, i, y in batches:
            loss = nn.losses.bce_with_logits(
                model(xp.asarray(u), xp.asarray(i)), xp.asarray(y.astype(np.float32))
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses[name].append(loss.item())
    np.testing.assert_allclose(losses["gpu"], losses["cpu"], rtol=1e-4)
    for (_, pc), (_, pg) in zip(
        cpu.named_parameters(), gpu.named_parameters(), strict=True
    ):
        np.testing.assert_allclose(pg.numpy(), pc.data, rtol=1e-3, atol=1e-5)


def test_mf_hogwild_cuda_rmse_equals_cpu_rmse():
    """Target: results equal to the CPU backend's within tolerance (same seed, same
    data): train and held-out RMSE of Hogwild MF on the GPU vs Numba threads."""
    from minirec.data.synthetic import synthetic_ratings
    from minirec.models import get_model_class

    data = synthetic_ratings(n_users=2000, n_items=800, density=0.05, seed=0)
    rng = np.random.default_rng(0)
    test = rng.random(len(data)) < 0.1
    train, held = data.subset(np.flatnonzero(~test)), data.subset(np.flatnonzero(test))
    MF = get_model_class("mf")
    kw = dict(k=16, n_epochs=15, lr=0.01, seed=0, hogwild=True)
    out = {}
    for backend in ("numba", "cuda"):
        m = MF(backend=backend, **kw).fit(train)
        pred = m.predict(
            held.user_ids[held.users], held.item_ids[held.items], unknown="mean"
        )
        out[backend] = float(np.sqrt(np.mean((pred - held.ratings) ** 2)))
    assert abs(out["cuda"] - out["numba"]) < 0.02 * out["numba"], out
