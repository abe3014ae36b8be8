"""Write ``cupy_names.json``: the names the real CuPy / cupyx packages offer, which
the stand-in (``tests/standin/__init__.py``) is restricted to.

CuPy imports without a GPU, so this runs on any machine where the wheel is
installed (no GPU, no driver needed)::

    pip install --target /tmp/cupy_site --no-deps cupy-cuda12x
    PYTHONPATH=/tmp/cupy_site python tests/standin/generate_names.py

Recorded per namespace: each public name with its kind (``ufunc``, ``function``
with its parameter names when Python can read them, ``numpy`` for objects that
CuPy re-exports from NumPy unchanged such as dtypes and ``finfo``, ``module``,
``constant``, ``other``); the attributes of ``cupy.ndarray``, of a CuPy ufunc and
of ``cupy.random.Generator``.
"""

from __future__ import annotations

import inspect
import json
import sys
import types
from pathlib import Path

import numpy as np

OUT = Path(__file__).with_name("cupy_names.json")
MODULES = (
    "cupy",
    "cupy.random",
    "cupy.linalg",
    "cupy.fft",
    "cupy.lib.stride_tricks",
    "cupyx",
    "cupyx.scipy.sparse",
)


def _params(obj):
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):  # a Cython function without a signature
        return None
    return [p.name for p in sig.parameters.values()]


def _kind(cupy, obj, numpy_twin):
    if isinstance(obj, cupy.ufunc):
        return {"kind": "ufunc"}
    if numpy_twin is not None and obj is numpy_twin:
        return {"kind": "numpy"}
    if isinstance(obj, types.ModuleType):
        return {"kind": "module"}
    if isinstance(obj, type):
        return {"kind": "type"}
    if callable(obj):
        return {"kind": "function", "params": _params(obj)}
    if isinstance(obj, (int, float, complex, str)):
        return {"kind": "constant"}
    return {"kind": "other"}


def _numpy_twin(modname, name):
    mod = np
    for part in modname.split(".")[1:]:
        mod = getattr(mod, part, None)
        if mod is None or modname.startswith("cupyx"):
            return None
    return getattr(mod, name, None)


def collect() -> dict:
    import importlib

    import cupy

    out: dict = {"cupy_version": cupy.__version__, "namespaces": {}}
    for modname in MODULES:
        mod = importlib.import_module(modname)
        names = {}
        for name in sorted(dir(mod)):
            if name.startswith("_"):
                continue
            obj = getattr(mod, name)
            names[name] = _kind(cupy, obj, _numpy_twin(modname, name))
        out["namespaces"][modname] = names
    out["ndarray"] = sorted(dir(cupy.ndarray))
    out["ufunc"] = sorted(n for n in dir(cupy.add) if not n.startswith("_"))
    out["random.Generator"] = sorted(
        n for n in dir(cupy.random.Generator) if not n.startswith("_")
    )
    sparse = importlib.import_module("cupyx.scipy.sparse")
    out["sparse.csr_matrix"] = sorted(dir(sparse.csr_matrix))
    return out


def main() -> int:
    OUT.write_text(json.dumps(collect(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
