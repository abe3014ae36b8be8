"""The LLVM hints of backends/_codegen.py reach the generated code and change no
value; only the tuned kernels (numba_fast) use them."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import numba
import numpy as np
import pytest
from numba import njit

from minirec.backends import numba_fast
from minirec.backends._codegen import SPECIALIZED_K, prefetch_row, wide_vectors

BACKENDS = Path(__file__).resolve().parents[2] / "minirec" / "backends"

jit_only = pytest.mark.skipif(
    numba.config.DISABLE_JIT, reason="inspects the code the JIT generates"
)


@pytest.mark.parametrize(
    "kernel", [numba_fast._sgd_mf_rows, numba_fast.sgd_fm_blocks_epoch]
)
def test_the_kernels_dispatch_on_exactly_the_specialized_k(kernel):
    src = inspect.getsource(getattr(kernel, "py_func", kernel))
    assert tuple(int(x) for x in re.findall(r"if k == (\d+):", src)) == SPECIALIZED_K


@njit(inline="always", fastmath=True)
def _axpy(x, y, a):
    for f in range(x.shape[0]):
        y[f] += a * x[f]
    return y


@njit(cache=False, fastmath=True)
def _plain(x, y, a):
    return _axpy(x, y, a)


@njit(cache=False, fastmath=True)
def _wide(x, y, a):
    wide_vectors()
    return _axpy(x, y, a)


@jit_only
def test_wide_vectors_sets_the_function_attributes_and_changes_no_value():
    x = np.arange(64, dtype=np.float32)
    np.testing.assert_array_equal(
        _plain(x, np.ones(64, np.float32), np.float32(0.5)),
        _wide(x, np.ones(64, np.float32), np.float32(0.5)),
    )
    ir_wide = "\n".join(_wide.inspect_llvm().values())
    ir_plain = "\n".join(_plain.inspect_llvm().values())
    for attr in ('"prefer-vector-width"="512"', '"min-legal-vector-width"="512"'):
        assert attr in ir_wide
        assert attr not in ir_plain


@jit_only
def test_prefetch_row_is_a_hint_only():
    @njit(cache=False)
    def f(A, r):
        prefetch_row(A, r)
        return A[r].sum()

    A = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert f(A, 2) == A[2].sum()
    ir = "\n".join(f.inspect_llvm().values())
    assert "llvm.prefetch" in ir


def test_only_numba_fast_uses_the_hints():
    """The readable kernels (numpy_ops, numba_ops) carry no tuning: the hints of
    _codegen are imported by numba_fast alone."""
    users = sorted(
        str(p.relative_to(BACKENDS))
        for p in BACKENDS.rglob("*.py")
        if re.search(
            r"^\s*(from \S*_codegen import|import \S*_codegen)", p.read_text(), re.M
        )  # fmt: skip
    )
    assert users == ["numba_fast.py"]
