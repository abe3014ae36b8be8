"""A CuPy stand-in on the CPU: NumPy underneath, CuPy's names and CuPy's refusals.

It lets CI prove that the autograd, the layers, the optimizers and the autograd
models keep their data on the device without a GPU. What it offers is restricted to
what the real packages offer: the public names of ``cupy``, ``cupy.random``,
``cupy.linalg``, ``cupy.fft``, ``cupy.lib.stride_tricks``, ``cupyx`` and
``cupyx.scipy.sparse``, the attributes of ``cupy.ndarray``, of a CuPy ufunc and of
``cupy.random.Generator``, and the keyword parameters of the functions whose
signature Python can read, all read from the installed CuPy wheel (which imports
without a GPU) by ``generate_names.py`` into ``cupy_names.json``. A name CuPy lacks
is an AttributeError here, as on a GPU.

Its arrays (:class:`ndarray`) behave like CuPy's where a forgotten transfer shows:

* ``np.asarray(x)`` / ``np.array(x)`` raise CuPy's TypeError (``__array__``); the
  explicit device -> host copies are ``x.get()`` and ``cupy.asnumpy(x)``.
* ``x + host_array`` raises CuPy's ``TypeError: Unsupported type``; so does passing
  a host array to any function except the explicit host -> device copies
  (``asarray``, ``array``, ``asanyarray``, ``ascontiguousarray``).
* Stricter than CuPy: indexing or assigning with a host NumPy array raises too (CuPy
  copies it to the device silently, a per-batch host round trip the tests are to
  find), and every ``np.*`` function applied to a stand-in array (which CuPy would
  dispatch to itself) is recorded in :data:`numpy_calls`, so that a test can assert
  the code under test writes ``xp.*`` only.
* As in CuPy, ``float(x)``, ``int(x)``, ``bool(x)``, ``x.item()`` and ``x.tolist()``
  of a size-1 array are allowed (a synchronising scalar read), reductions give 0-d
  arrays, and ``cupy.random.default_rng(seed)`` is a Generator without ``normal``,
  ``choice``, ``permutation`` or ``shuffle``.

What it cannot check: CuPy's own numerics, dtype rules that differ from NumPy's, a
function that exists in CuPy but accepts fewer argument kinds than NumPy's twin, and
the speed of anything; ``tests/gpu`` runs on a real GPU for those. Its random
Generator draws NumPy's stream for a seed, where CuPy draws another.

Use :func:`install` (a pytest monkeypatch puts it in ``sys.modules`` as ``cupy`` and
``cupyx``) and then ask for the namespace as the code does (``get_namespace("cupy")``,
``device="cuda"``).
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np

_SPEC = json.loads(Path(__file__).with_name("cupy_names.json").read_text())
CUPY_VERSION: str = _SPEC["cupy_version"]
NAMESPACES: dict[str, dict[str, dict]] = _SPEC["namespaces"]
NDARRAY_NAMES = frozenset(_SPEC["ndarray"])
UFUNC_NAMES = frozenset(_SPEC["ufunc"])
GENERATOR_NAMES = frozenset(_SPEC["random.Generator"])
CSR_NAMES = frozenset(_SPEC["sparse.csr_matrix"])

#: the explicit host -> device copies: the only functions that accept host arrays
HOST_TO_DEVICE = frozenset({"asarray", "array", "asanyarray", "ascontiguousarray"})

#: ``np.*`` functions and ufuncs that were applied to a stand-in array
numpy_calls: list[str] = []

IMPLICIT = (
    "Implicit conversion to a NumPy array is not allowed. Please use `.get()` to "
    "construct a NumPy array explicitly."
)


def _missing(where: str, name: str) -> AttributeError:
    return AttributeError(
        f"{where} has no attribute {name!r} in CuPy {CUPY_VERSION} (the stand-in "
        "offers only what the real package offers; see tests/standin/cupy_names.json)"
    )


# -- arrays -------------------------------------------------------------------------
class ndarray:  # noqa: N801  (CuPy's name)
    """A device array over a NumPy array ``_a`` (see the module docstring)."""

    __slots__ = ("_a",)
    __array_priority__ = 100  # below Tensor's 1000: ndarray + Tensor -> Tensor
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, a: np.ndarray):
        self._a = a

    # what CuPy forbids: implicit device -> host conversion
    def __array__(self, *args, **kwargs):
        raise TypeError(IMPLICIT)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        numpy_calls.append(f"np.{ufunc.__name__}.{method}")
        if NAMESPACES["cupy"].get(ufunc.__name__, {}).get("kind") != "ufunc":
            return NotImplemented
        return _wrap(getattr(ufunc, method)(*_unwrap(inputs), **_unwrap(kwargs)))

    def __array_function__(self, func, types_, args, kwargs):
        numpy_calls.append(f"np.{func.__name__}")
        if func.__name__ not in NAMESPACES["cupy"]:
            return NotImplemented
        return _wrap(func(*_unwrap(args), **_unwrap(kwargs)))

    @property
    def __cuda_array_interface__(self):
        return {"shape": self._a.shape, "typestr": self._a.dtype.str, "version": 3}

    # the explicit device -> host copy
    def get(self, stream=None, order="C", out=None, blocking=True):
        return np.array(self._a, order=order, copy=True)

    def set(self, arr, stream=None):
        """The explicit host -> device copy into this array."""
        self._a[...] = np.asarray(arr)

    @property
    def device(self):
        return _DEVICE

    def __getattr__(self, name):
        if name.startswith("__") or name not in NDARRAY_NAMES:
            raise _missing("cupy.ndarray", name)
        attr = getattr(self._a, name)
        if callable(attr):
            return lambda *a, **k: _wrap(attr(*_unwrap(a), **_unwrap(k)))
        return _wrap(attr)

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (_wrap(v) for v in self._a)

    def __repr__(self):
        return f"stand-in cupy.{self._a!r}"

    def __bool__(self):
        return bool(self._a)

    def __float__(self):
        return float(self._a)

    def __int__(self):
        return int(self._a)

    def __index__(self):
        return self._a.__index__()

    def __getitem__(self, idx):
        return _wrap(self._a[_unwrap(idx, what="an index")])

    def __setitem__(self, idx, v):
        self._a[_unwrap(idx, what="an index")] = _unwrap(v, what="an assigned value")

    def __copy__(self):
        return ndarray(self._a.copy())

    def __deepcopy__(self, memo):
        return ndarray(self._a.copy())

    def __reduce__(self):  # pickles as CuPy's do: the data comes along
        return (ndarray, (self._a,))


def _binop(name):
    def f(self, other):
        if type(other).__name__ == "Tensor":
            return NotImplemented
        return _wrap(getattr(self._a, name)(_unwrap(other, what="an operand")))

    return f


def _inplace(name):
    def f(self, other):
        getattr(self._a, name)(_unwrap(other, what="an operand"))
        return self

    return f


for _n in (
    "add sub mul truediv floordiv pow matmul mod and or xor lshift rshift "
    "lt le gt ge eq ne radd rsub rmul rtruediv rfloordiv rpow rmatmul rmod rand "
    "ror rxor"
).split():
    setattr(ndarray, f"__{_n}__", _binop(f"__{_n}__"))
for _n in "iadd isub imul itruediv ifloordiv ipow imod iand ior ixor".split():
    setattr(ndarray, f"__{_n}__", _inplace(f"__{_n}__"))
for _n in ("neg", "pos", "abs", "invert"):
    setattr(
        ndarray,
        f"__{_n}__",
        (lambda n: lambda self: _wrap(getattr(self._a, n)()))(f"__{_n}__"),
    )
ndarray.__module__ = "cupy"  # array_namespace() recognises CuPy by the module


def _unwrap(x, host_ok: bool = False, what: str = "an argument"):
    """NumPy arrays of stand-in arrays, recursively; a host array (ndim > 0) is a
    TypeError unless `host_ok` (an explicit host -> device copy)."""
    if isinstance(x, ndarray):
        return x._a
    if isinstance(x, np.ndarray) and x.ndim > 0 and not host_ok:
        raise TypeError(
            f"Unsupported type {type(x)}: a host NumPy array of shape {x.shape} was "
            f"passed as {what} of a device operation (CuPy stand-in); copy it to the "
            "device once with xp.asarray"
        )
    if isinstance(x, (list, tuple)):
        return type(x)(_unwrap(v, host_ok, what) for v in x)
    if isinstance(x, dict):
        return {k: _unwrap(v, host_ok, what) for k, v in x.items()}
    return x


def _wrap(x):
    if isinstance(x, np.ndarray):
        return ndarray(x)
    if isinstance(x, np.generic):  # CuPy reductions give 0-d device arrays
        return ndarray(np.asarray(x))
    if isinstance(x, tuple):
        return tuple(_wrap(v) for v in x)
    if isinstance(x, list):
        return [_wrap(v) for v in x]
    return x


class _Device:
    id = 0

    def synchronize(self):
        return None

    def __repr__(self):
        return "<CUDA Device 0 (stand-in)>"


_DEVICE = _Device()


# -- functions, ufuncs and submodules -------------------------------------------------
class _Function:
    """A CuPy function: NumPy's twin, with CuPy's keyword parameters and no host
    arrays (except for the explicit host -> device copies)."""

    def __init__(self, qualname: str, target, params, host_ok: bool):
        self.qualname, self._t, self._host_ok = qualname, target, host_ok
        var = params is None or "kwargs" in params
        self._params = None if var else frozenset(params)

    def __call__(self, *args, **kwargs):
        if self._params is not None:
            bad = sorted(set(kwargs) - self._params)
            if bad:
                raise TypeError(
                    f"{self.qualname}() got unexpected keyword argument(s) {bad} "
                    f"(CuPy {CUPY_VERSION} takes {sorted(self._params)})"
                )
        if self._host_ok:
            return self._to_device(*args, **kwargs)
        what = f"an argument of {self.qualname}()"
        return _wrap(self._t(*_unwrap(args, what=what), **_unwrap(kwargs, what=what)))

    def _to_device(self, a, dtype=None, *rest, **kwargs):
        """``asarray`` and friends: a device array passes through unless a new dtype
        (or ``array``, which copies) is asked for; host data is copied over."""
        copy = self.qualname == "cupy.array"
        if isinstance(a, ndarray) and not copy and dtype in (None, a.dtype):
            return a
        return ndarray(np.array(_unwrap(a, host_ok=True), dtype=dtype, copy=True))

    def __repr__(self):
        return f"<stand-in {self.qualname}>"


class _Ufunc(_Function):
    """A CuPy ufunc; its methods are those of CuPy's ufuncs."""

    def __init__(self, name: str, target: np.ufunc):
        super().__init__(f"cupy.{name}", target, None, host_ok=False)

    def __getattr__(self, name):
        if name not in UFUNC_NAMES:
            raise _missing(self.qualname, name)
        attr = getattr(self._t, name)
        if not callable(attr):
            return attr
        return _Function(f"{self.qualname}.{name}", attr, None, host_ok=False)


class _Namespace(types.ModuleType):
    """A CuPy (sub)module whose names come from NAMESPACES[`qualname`]; each one maps
    to NumPy's twin in `twin` (or to an entry of `extra`)."""

    def __init__(self, qualname: str, twin, extra: dict[str, Any]):
        super().__init__(qualname)
        self._names, self._twin, self._extra = NAMESPACES[qualname], twin, extra

    def __getattr__(self, name):
        if name.startswith("__") or name not in self._names:
            raise _missing(self.__name__, name)
        if name in self._extra:
            return self._extra[name]
        spec = self._names[name]
        target = getattr(self._twin, name, None) if self._twin is not None else None
        if target is None:
            raise AttributeError(
                f"{self.__name__}.{name} exists in CuPy but has no NumPy twin the "
                "stand-in could run; add it to tests/standin/__init__.py"
            )
        kind = spec["kind"]
        if kind == "ufunc":
            return _Ufunc(name, target)
        if kind == "function":
            return _Function(
                f"{self.__name__}.{name}",
                target,
                spec.get("params"),
                host_ok=self.__name__ == "cupy" and name in HOST_TO_DEVICE,
            )
        if kind == "type":
            raise AttributeError(
                f"{self.__name__}.{name} is a CuPy class the stand-in does not model"
            )
        return target  # re-exported NumPy objects (dtypes, finfo), constants

    def __dir__(self):
        return sorted(self._names)


class Generator:
    """``cupy.random.Generator`` over NumPy's Generator; CuPy's methods only."""

    def __init__(self, seed=None):
        self._g = np.random.default_rng(seed)

    def __getattr__(self, name):
        if name.startswith("__") or name not in GENERATOR_NAMES:
            raise _missing("cupy.random.Generator", name)
        attr = getattr(self._g, name)
        return lambda *a, **k: _wrap(attr(*_unwrap(a), **_unwrap(k)))


class csr_matrix:  # noqa: N801  (cupyx's name)
    """``cupyx.scipy.sparse.csr_matrix`` over scipy's, built from device arrays."""

    def __init__(self, arg1, shape=None, dtype=None, copy=False):
        import scipy.sparse

        what = "an argument of cupyx.scipy.sparse.csr_matrix()"
        self._m = scipy.sparse.csr_matrix(_unwrap(arg1, what=what), shape, dtype, copy)

    def __matmul__(self, other):
        if isinstance(other, csr_matrix):
            return _from_scipy(self._m @ other._m)
        return _wrap(self._m @ _unwrap(other, what="an operand of csr_matrix @"))

    def dot(self, other):
        return self @ other

    def __getattr__(self, name):
        if name.startswith("__") or name not in CSR_NAMES:
            raise _missing("cupyx.scipy.sparse.csr_matrix", name)
        attr = getattr(self._m, name)
        if callable(attr):
            return lambda *a, **k: _from_scipy(attr(*_unwrap(a), **_unwrap(k)))
        return _from_scipy(attr)


def _from_scipy(x):
    import scipy.sparse

    if scipy.sparse.issparse(x):
        m = csr_matrix.__new__(csr_matrix)
        m._m = x.tocsr()
        return m
    return _wrap(x)


class CUDARuntimeError(RuntimeError):
    """What ``cupy.cuda.runtime.getDeviceCount()`` raises without a device."""


def asnumpy(a, stream=None, order="C", out=None, blocking=True):
    """The explicit device -> host copy (host arrays pass through, as in CuPy)."""
    return a.get() if isinstance(a, ndarray) else np.asarray(a, order=order)


def make_cupy(devices: int = 1) -> dict[str, types.ModuleType]:
    """The stand-in modules by import name: ``cupy``, ``cupyx``, ``cupyx.scipy``,
    ``cupyx.scipy.sparse``. With ``devices=0`` ``cupy`` imports but
    ``cupy.cuda.runtime.getDeviceCount()`` raises, as on a machine without a GPU."""

    def device_count():
        if devices < 1:
            raise CUDARuntimeError(
                "cudaErrorNoDevice: no CUDA-capable device is detected (stand-in)"
            )
        return devices

    cuda = types.SimpleNamespace(
        runtime=types.SimpleNamespace(
            getDeviceCount=device_count, CUDARuntimeError=CUDARuntimeError
        ),
        Device=lambda i=0: _DEVICE,
        is_available=lambda: devices > 0,
    )
    random = _Namespace(
        "cupy.random",
        np.random,
        {"Generator": Generator, "default_rng": lambda seed=None: Generator(seed)},
    )
    lib = types.SimpleNamespace(
        stride_tricks=_Namespace("cupy.lib.stride_tricks", np.lib.stride_tricks, {})
    )
    sparse = _Namespace(
        "cupyx.scipy.sparse",
        None,
        {
            "csr_matrix": csr_matrix,
            "issparse": lambda x: isinstance(x, csr_matrix),
        },
    )
    scipy_ns = types.ModuleType("cupyx.scipy")
    scipy_ns.sparse = sparse
    cupyx = _Namespace("cupyx", None, {"scipy": scipy_ns})
    cupy = _Namespace(
        "cupy",
        np,
        {
            "ndarray": ndarray,
            "asnumpy": asnumpy,
            "get_array_module": lambda *args: (
                sys.modules["cupy"] if any(isinstance(a, ndarray) for a in args) else np
            ),
            "cuda": cuda,
            "random": random,
            "linalg": _Namespace("cupy.linalg", np.linalg, {}),
            "fft": _Namespace("cupy.fft", np.fft, {}),
            "lib": lib,
            "is_available": lambda: devices > 0,
        },
    )
    cupy.__version__ = CUPY_VERSION
    return {
        "cupy": cupy,
        "cupyx": cupyx,
        "cupyx.scipy": scipy_ns,
        "cupyx.scipy.sparse": sparse,
    }


def install(monkeypatch, devices: int = 1) -> types.ModuleType:
    """Put the stand-in in ``sys.modules`` (undone by `monkeypatch`); the ``cupy``
    stand-in module. ``import cupy`` anywhere now gets it."""
    for name, mod in make_cupy(devices).items():
        monkeypatch.setitem(sys.modules, name, mod)
    numpy_calls.clear()
    return sys.modules["cupy"]


def host(x) -> np.ndarray:
    """A NumPy array of `x` (a stand-in array, a Tensor of one, or a host array),
    for comparing results in tests."""
    x = getattr(x, "data", x) if type(x).__name__ == "Tensor" else x
    if hasattr(x, "dense"):  # a RowGrad
        x = x.dense()
    return x.get() if isinstance(x, ndarray) else np.asarray(x)


def namespace(name: str, monkeypatch) -> types.ModuleType:
    """The `xp` a test runs on: ``"standin"`` installs the stand-in and returns it
    (through ``get_namespace("cupy")``, as the code finds it); any other name is
    ``get_namespace(name)`` (``"numpy"``, or ``"cupy"`` on a GPU machine)."""
    from minirec.backends import get_namespace

    if name == "standin":
        install(monkeypatch)
        return get_namespace("cupy")
    return get_namespace(name)
