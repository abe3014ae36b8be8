"""Device helpers: where an array lives, and explicit moves between host and GPU.

Two GPU paths meet here (see ``DESIGN.md``):

* the **array namespace** CuPy, used by the autograd / layers
  (``Tensor(x, device="cuda")``, ``model.to("cupy")``), and
* the **kernel backend** ``cuda`` (``minirec.backends.cuda_ops``, numba.cuda kernels),
  which takes CuPy arrays (through ``__cuda_array_interface__``), Numba device
  arrays, or NumPy arrays (copied in and back, explicitly, per call).

Nothing here moves data silently: :func:`to_device` and :func:`to_host` are the
transfers, and asking for a GPU that is not there raises
:class:`~minirec.errors.BackendUnavailableError`: naming ``pip install 'minirec[gpu]'``
when CuPy is missing, saying that no CUDA device was found when CuPy imports but
sees none; never a fallback to the CPU. CuPy is imported only when a CuPy device
is asked for.

Device names: ``"cpu"`` / ``"numpy"`` are the host (NumPy); ``"cuda"`` / ``"cupy"`` /
``"gpu"`` are the GPU (CuPy arrays).
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any

import numpy as np

from ..errors import BackendUnavailableError

__all__ = [
    "GPU_INSTALL",
    "canonical_device",
    "cuda_simulator_enabled",
    "cupy_available",
    "device_of",
    "gpu_available",
    "is_device_array",
    "move",
    "namespace_for",
    "require_cupy",
    "to_device",
    "to_host",
]

#: the command every "no GPU here" error names
GPU_INSTALL = "pip install 'minirec[gpu]'"

_HOST = ("cpu", "numpy", "host")
_GPU = ("cuda", "cupy", "gpu")


def canonical_device(device: str) -> str:
    """``"cpu"`` or ``"cuda"`` for any accepted device / namespace name."""
    if not isinstance(device, str):
        raise ValueError(
            f"device={device!r}: pass a name, 'cpu'/'numpy' or 'cuda'/'cupy'"
        )
    d = device.lower().split(":")[0]  # "cuda:0" -> "cuda"
    if d in _HOST:
        return "cpu"
    if d in _GPU:
        return "cuda"
    raise ValueError(
        f"unknown device {device!r}; choose 'cpu' (alias 'numpy') or 'cuda' "
        "(aliases 'cupy', 'gpu')"
    )


def cuda_simulator_enabled() -> bool:
    """True when Numba's CUDA simulator is switched on (NUMBA_ENABLE_CUDASIM=1)."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")


def cupy_available() -> bool:
    """True when CuPy imports and sees at least one GPU (never raises)."""
    try:
        require_cupy()
    except BackendUnavailableError:
        return False
    return True


def gpu_available() -> bool:
    """True when numba.cuda sees a real GPU (the simulator does not count)."""
    if cuda_simulator_enabled():
        return False
    try:
        from numba import cuda

        return bool(cuda.is_available())
    except Exception:  # numba-cuda missing, driver missing, ...
        return False


def require_cupy() -> ModuleType:
    """The ``cupy`` module, or BackendUnavailableError saying what is missing: the
    package (naming ``pip install 'minirec[gpu]'``) or, when CuPy imports, a device
    (saying that no CUDA device was found, without asking to install again)."""
    try:
        import cupy
    except ImportError as e:
        raise BackendUnavailableError(
            f"CuPy is needed for device='cuda' but is not installed ({e}); install it "
            f"with: {GPU_INSTALL} (needs an NVIDIA GPU with CUDA 12). There is no "
            "silent fallback to the CPU: use device='cpu' to run on NumPy."
        ) from e
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:  # CUDARuntimeError: no driver, or no device
        raise BackendUnavailableError(
            f"CuPy is installed but no CUDA device found ({e}); run on a machine with "
            "an NVIDIA GPU and its driver, or use device='cpu' to run on NumPy."
        ) from e
    if n < 1:
        raise BackendUnavailableError(
            "CuPy is installed but no CUDA device found (0 devices); run on a machine "
            "with an NVIDIA GPU and its driver, or use device='cpu' to run on NumPy."
        )
    return cupy


def namespace_for(device: str) -> ModuleType:
    """The array namespace of `device`: numpy for the host, cupy for the GPU."""
    if canonical_device(device) == "cpu":
        return np
    return require_cupy()


def is_device_array(x: Any) -> bool:
    """True for arrays in GPU memory: CuPy arrays, Numba device arrays (also the
    simulator's fake device arrays), anything with ``__cuda_array_interface__``."""
    if isinstance(x, np.ndarray):
        return False
    return hasattr(x, "__cuda_array_interface__") or hasattr(x, "copy_to_host")


def device_of(x: Any) -> str:
    """``"cuda"`` for a GPU array, ``"cpu"`` otherwise."""
    return "cuda" if is_device_array(x) else "cpu"


def to_host(x: Any) -> np.ndarray:
    """A NumPy copy of a GPU array (explicit device -> host transfer); NumPy arrays
    and other host objects are returned as NumPy arrays without a copy."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "get") and type(x).__module__.startswith("cupy"):
        return x.get()
    if hasattr(x, "copy_to_host"):  # numba (or simulator) device array
        return x.copy_to_host()
    return np.asarray(x)


def to_device(x: Any, dtype: Any = None) -> Any:
    """A CuPy copy of `x` on the current GPU (explicit host -> device transfer).

    Raises BackendUnavailableError without CuPy or a GPU (see :func:`require_cupy`).
    """
    cupy = require_cupy()
    return cupy.asarray(x, dtype=dtype)


def move(x: Any, device: str) -> Any:
    """`x` as an array of `device` (``"cpu"`` -> NumPy, ``"cuda"`` -> CuPy), copied
    only when it is somewhere else. The one place the autograd moves data."""
    if canonical_device(device) == "cpu":
        return to_host(x)
    cupy = require_cupy()
    if type(x).__module__.startswith("cupy"):
        return x
    # a numba device array becomes a zero-copy CuPy view; a host array is copied
    return cupy.asarray(x)
