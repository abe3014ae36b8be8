"""Backends, two kinds kept apart (see docs/notation.md and DESIGN.md).

* The **array namespace** ``xp`` (``numpy`` or ``cupy``) that the autograd, layers and
  vectorized model code are written against: :func:`get_namespace`.
* The **kernel backend** (``numpy`` | ``numba`` | ``cuda``) for loop-shaped training
  work (SGD epochs, ALS solves, KNN): :func:`get_kernels`, which returns a module
  holding every kernel of the contract (:mod:`minirec.backends.base`) by its name.

Kernel modules, one per backend; ``numpy_ops`` and ``numba_ops`` are packages with
one module per topic (``mf``, ``bpr``, ``als``, ``fm``, ``knn``, ``ranking``,
``shuffle``):

* ``numpy_ops``: the readable spec; imports no compiler.
* ``numba_ops``: one readable Numba twin per kernel, next to the same math.
* ``numba_fast``: the tuned variants (unrolled loops, vector-width hints from
  ``_codegen``, constant-k copies, prefetch) where one exists, ``numba_ops``' twins
  for the rest. ``get_kernels("numba")`` returns ``numba_fast``: the models train
  with the tuned kernels; ``numba_ops`` is for reading, lessons and tests.
* ``cuda_ops``: the GPU twins (a package by topic as well).

Selection order: an explicit ``backend=`` argument, then the ``MINIREC_BACKEND``
environment variable, then the best available (numba, else numpy). Asking for a backend
that is missing raises :class:`~minirec.errors.BackendUnavailableError` naming the
install command; there is never a silent fallback.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

from ..errors import BackendUnavailableError

KERNEL_BACKENDS = ("numpy", "numba", "cuda")
NAMESPACES = ("numpy", "cupy")

_INSTALL = {
    "numba": "pip install numba  (it is a dependency of minirec: pip install minirec)",
    "cuda": "pip install 'minirec[gpu]'  (CUDA GPU needed; for the simulator: "
    "pip install numba-cuda and set NUMBA_ENABLE_CUDASIM=1)",
}


def available_backends() -> list[str]:
    """Kernel backends that can be imported here, best last."""
    out = ["numpy"]
    for name in ("numba", "cuda"):
        try:
            get_kernels(name)
        except BackendUnavailableError:
            continue
        out.append(name)
    return out


def resolve_backend(backend: str | None = None) -> str:
    """The kernel backend name to use: argument, then MINIREC_BACKEND, then best."""
    name = backend or os.environ.get("MINIREC_BACKEND") or None
    if name is None:
        try:
            importlib.import_module("numba")
            return "numba"
        except ImportError:
            return "numpy"
    name = name.lower()
    if name not in KERNEL_BACKENDS:
        raise ValueError(
            f"unknown backend {name!r}; choose one of {', '.join(KERNEL_BACKENDS)}"
        )
    return name


def get_kernels(backend: str | None = None) -> ModuleType:
    """The kernel module for `backend` (see module docstring for the order)."""
    name = resolve_backend(backend)
    # "numba" is the tuned table (module docstring); its twins are in numba_ops
    module = {"numpy": "numpy_ops", "numba": "numba_fast", "cuda": "cuda_ops"}[name]
    try:
        return importlib.import_module(f"{__name__}.{module}")
    except ImportError as e:  # numba / numba-cuda / a GPU missing
        raise BackendUnavailableError(
            f"backend {name!r} is not available here ({e}); install it with: "
            f"{_INSTALL.get(name, 'pip install minirec')}"
        ) from e


def get_namespace(name: str = "numpy") -> ModuleType:
    """The array namespace `xp` ("numpy" or "cupy"). CuPy is imported only here."""
    name = (name or "numpy").lower()
    if name == "numpy":
        import numpy

        return numpy
    if name in ("cupy", "cuda", "gpu"):
        from .device import require_cupy

        return require_cupy()
    raise ValueError(f"unknown array namespace {name!r}; choose 'numpy' or 'cupy'")
