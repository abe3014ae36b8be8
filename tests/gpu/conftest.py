"""Tests under tests/gpu need a real CUDA GPU; each is marked ``gpu`` and is skipped,
with the reason, where there is none (CI, laptops). ``benchmarks/run_gpu.sh`` runs
them on a GPU machine. The same kernels run everywhere else under the Numba CUDA
simulator (tests/backends/test_cuda_ops.py)."""

from __future__ import annotations

import pytest

from minirec.backends.device import gpu_available


def pytest_collection_modifyitems(config, items):
    has_gpu = gpu_available()
    for item in items:
        if "gpu" not in item.keywords:
            continue
        if not has_gpu:
            item.add_marker(
                pytest.mark.skip(
                    reason="no CUDA GPU here (numba.cuda.is_available() is False, "
                    "or NUMBA_ENABLE_CUDASIM is set); run benchmarks/run_gpu.sh on "
                    "a GPU machine"
                )
            )
