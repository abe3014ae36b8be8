"""The kernel contract (minirec/backends/base.py): every backend implements every
kernel or says why not, and models reach kernels only by contract names."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from minirec.backends import get_kernels
from minirec.backends.base import KERNELS

MODELS = Path(__file__).resolve().parents[2] / "minirec" / "models"
#: module-level helpers of a backend that are moves, not kernels
DEVICE_HELPERS = {"to_device", "synchronize", "launch_config"}


def _check_module(mod) -> list[str]:
    """Problems of a backend module against the contract (empty: conforms)."""
    unsupported = getattr(mod, "UNSUPPORTED", {})
    problems = [f"{n}: neither defined nor UNSUPPORTED" for n in KERNELS
                if not hasattr(mod, n) and n not in unsupported]  # fmt: skip
    problems += [
        f"{n}: defined and UNSUPPORTED" for n in unsupported if hasattr(mod, n)
    ]
    problems += [f"{n}: UNSUPPORTED but not a contract name"
                 for n in unsupported if n not in KERNELS]  # fmt: skip
    problems += [f"{n}: UNSUPPORTED without a reason"
                 for n, why in unsupported.items() if len(str(why)) < 10]  # fmt: skip
    return problems


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_host_backends_implement_the_contract(backend):
    assert not _check_module(get_kernels(backend))


def test_the_readable_numba_twins_implement_the_contract():
    """numba_ops (read by lessons and tests) as well as the tuned table that
    get_kernels("numba") returns."""
    from minirec.backends import numba_ops

    assert not _check_module(numba_ops)


def test_the_numba_table_is_tuned_where_a_variant_exists_and_the_twin_elsewhere():
    from minirec.backends import numba_fast, numba_ops

    assert get_kernels("numba") is numba_fast
    assert set(numba_fast.TUNED) <= set(KERNELS) | {"sgd_fm_epoch"}
    for name in KERNELS:
        if name in numba_ops.UNSUPPORTED:
            continue
        fast, twin = getattr(numba_fast, name), getattr(numba_ops, name)
        assert (fast is not twin) == (name in numba_fast.TUNED), name


_NO_COMPILER = """
import sys, types
from pathlib import Path
root = Path({root!r})
# the package namespaces only, without running minirec/__init__.py (whose other
# imports are not the spec's): what numpy_ops itself pulls in
for name, path in (("minirec", root), ("minirec.backends", root / "backends")):
    mod = types.ModuleType(name)
    mod.__path__ = [str(path)]
    sys.modules[name] = mod
import minirec.backends.numpy_ops as NP
assert NP.sgd_mf_epoch and NP.knn_similarity and NP.sgd_fm_blocks_epoch
print("COMPILERS", sorted(m for m in ("numba", "llvmlite") if m in sys.modules))
"""


def test_the_numpy_spec_imports_no_compiler():
    """In a fresh interpreter, importing the spec package loads neither Numba nor
    llvmlite (not even through a helper module)."""
    code = _NO_COMPILER.format(root=str(MODELS.parent))
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert "COMPILERS []" in proc.stdout, proc.stdout + proc.stderr[-2000:]


def test_cuda_backend_implements_the_contract():
    """Under Numba's CUDA simulator, in a subprocess (it must be set before numba
    is imported), so it runs without a GPU."""
    pytest.importorskip("numba.cuda", reason="numba-cuda is not installed")
    code = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "import test_kernel_contract as t\n"
        "from minirec.backends import cuda_ops\n"
        "print('PROBLEMS', t._check_module(cuda_ops))\n"
    )
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert "PROBLEMS []" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]


def _kernel_calls(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, name) of every attribute taken from a kernel module: get_kernels(...)
    / host_kernels() results and the names bound to them."""
    bound: set[str] = set()
    out = []

    def is_kernels_call(node) -> bool:
        return (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("get_kernels", "host_kernels")
        )

    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and is_kernels_call(node.value):
            bound |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.IfExp):
            if is_kernels_call(node.value.body) or is_kernels_call(node.value.orelse):
                bound |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and (
            is_kernels_call(node.value)
            or (isinstance(node.value, ast.Name) and node.value.id in bound)
        ):
            out.append((node.lineno, node.attr))
    return out


def _fstring_getattrs(tree: ast.AST) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "getattr"
        and len(node.args) >= 2
        and isinstance(node.args[1], ast.JoinedStr)
        and not (isinstance(node.args[0], ast.Call)
                 and getattr(node.args[0].func, "attr", "") == "import_module")
    ]  # fmt: skip


def test_models_call_kernels_by_contract_names_only():
    """A reader can grep a kernel's name from the model to every backend: no
    kernel is reached through an f-string, and every name is in the contract."""
    called, bad, fstrings = set(), [], []
    for path in sorted(MODELS.glob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for line, name in _kernel_calls(tree):
            called.add(name)
            if name not in KERNELS and name not in DEVICE_HELPERS:
                bad.append(f"{path.name}:{line} {name}")
        fstrings += [f"{path.name}:{line}" for line in _fstring_getattrs(tree)]
    assert not bad, f"kernels called but not in the contract: {bad}"
    assert not fstrings, f"getattr with an f-string name: {fstrings}"
    # the contract lists what models call, and nothing they never call
    assert called - DEVICE_HELPERS == set(KERNELS) - _called_outside_models()


def _called_outside_models() -> set[str]:
    """Contract kernels that models reach through a helper module of their own
    (e.g. KNN's serving code) rather than by name in minirec/models."""
    return set()
