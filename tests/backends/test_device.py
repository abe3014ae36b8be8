"""Device placement of the autograd, tested without a GPU.

1. Without CuPy, every way of asking for the GPU raises BackendUnavailableError naming
   ``pip install 'minirec[gpu]'``: no silent fallback to the CPU.
2. The ops, layers, optimizers and a training step on the CuPy stand-in are in
   ``tests/autograd/test_standin.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from minirec.autograd import Tensor
from minirec.backends.device import canonical_device
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
