"""CUDA twins of :mod:`minirec.backends.numpy_ops` (same names, signatures, math).

Read ``numpy_ops`` first: it is the spec. Every kernel here is a ``numba.cuda``
kernel plus a small host wrapper with exactly the spec's signature; the contract is
:class:`minirec.backends.base.KernelBackend`. One module per topic, each with its
parallel layout in its docstring:

* :mod:`.sgd_mf` ``sgd_mf_epoch(_hogwild)``, :mod:`.bpr` ``bpr_epoch(_hogwild)``,
  :mod:`.fm` ``sgd_fm_epoch(_hogwild)``, ``sgd_fm_blocks_epoch(_hogwild)``,
  ``fm_predict``: one GPU thread per rating / triple / row, lock-free (Hogwild!,
  Niu et al. 2011: **not** reproducible bit for bit; the tests compare their
  loss with the serial spec). The serial names launch the same kernel on one
  thread, so they follow the spec's update sequence exactly.
* :mod:`.als` ``als_solve``, ``implicit_als_solve``, ``implicit_als_cg``: one
  thread per row of the CSR. Deterministic.
* :mod:`.knn` ``knn_similarity``, ``knn_predict``: one thread per row / pair.
  Deterministic. ``knn_predict_rows`` / ``knn_predict_cols`` (every item of a
  user, for rankings by predicted rating) are the host Numba kernels of
  :mod:`minirec.backends.numba_ops`: a sparse walk of the query's own entries,
  with NumPy arrays in and out.
* :mod:`._launch`: the one place that moves arrays and launches kernels
  (:class:`~._launch.Launch`); :func:`launch_config` (threads per block, cap on
  total threads; far fewer under the simulator, where each GPU thread is a Python
  thread), :func:`synchronize`, :func:`to_device`.

Why ``numba.cuda`` and not CuPy raw kernels
-------------------------------------------
Most machines that build minirec (CI included) have no GPU. A ``numba.cuda`` kernel is
plain Python syntax that runs unchanged under Numba's CUDA **simulator**
(``NUMBA_ENABLE_CUDASIM=1``, package ``numba-cuda``): every line of every kernel here,
the launch configuration, the atomics and the host <-> device transfers are executed
by the CPU test suite (``tests/backends/test_cuda_ops.py``) and compared with the
NumPy spec. A CuPy ``RawKernel`` is a C++ string compiled by NVRTC: without a GPU it
cannot run at all, so each would need a separately written simulated twin, and the
twin, not the kernel, would be what CI tests. ``numba.cuda`` kernels still take CuPy
arrays (through ``__cuda_array_interface__``, zero copy), so the CuPy autograd and
these kernels share memory. The cost: Numba's CUDA codegen is a little less tunable
than hand-written CUDA C++ (no templates; shared-memory sizes fixed at compile time).

Arrays and transfers (explicit)
-------------------------------
Each wrapper accepts, per array argument, a GPU array (CuPy, Numba device array, or
the simulator's) used in place, zero copy; or a NumPy array, which is copied to the
device and, for the arrays the kernel updates, copied back into the same NumPy array
after the kernel (so the in-place contract of the spec holds). That per-call copy is
the price of passing host arrays: for speed, keep the data and parameters on the
device (:func:`to_device`, or :func:`minirec.backends.device.to_device` for CuPy) and
pass those. The loss comes back as a Python float (one 8-byte copy, one sync).
"""

from __future__ import annotations

# knn_predict_rows / knn_predict_cols: the host kernels (see above)
from ..numba_ops import knn_predict_cols, knn_predict_rows

# raises ImportError when numba.cuda sees no GPU (and the simulator is off)
from ._launch import SIMULATOR, launch_config, synchronize, to_device
from .als import als_solve, implicit_als_cg, implicit_als_solve
from .bpr import bpr_epoch, bpr_epoch_hogwild
from .fm import (
    fm_predict,
    sgd_fm_blocks_epoch,
    sgd_fm_blocks_epoch_hogwild,
    sgd_fm_epoch,
    sgd_fm_epoch_hogwild,
)
from .knn import knn_predict, knn_similarity
from .sgd_mf import sgd_mf_epoch, sgd_mf_epoch_hogwild

__all__ = [
    "SIMULATOR",
    "als_solve",
    "bpr_epoch",
    "bpr_epoch_hogwild",
    "fm_predict",
    "implicit_als_cg",
    "implicit_als_solve",
    "knn_predict",
    "knn_predict_cols",
    "knn_predict_rows",
    "knn_similarity",
    "launch_config",
    "sgd_fm_blocks_epoch",
    "sgd_fm_blocks_epoch_hogwild",
    "sgd_fm_epoch",
    "sgd_fm_epoch_hogwild",
    "sgd_mf_epoch",
    "sgd_mf_epoch_hogwild",
    "synchronize",
    "to_device",
]

_GRID = (
    "the DSGD grid is a CPU schedule: on the GPU, MF runs sgd_mf_epoch or "
    "sgd_mf_epoch_hogwild (MF(blocks=...) with backend='cuda' is refused)"
)
_HOST = "shuffles run on the host (host_kernels()); the GPU kernels take their output"
_RANKING = "RankingMF has no GPU kernels yet: use backend='numba'"
#: contract kernels (backends/base.py) this backend does not implement, and why
UNSUPPORTED: dict[str, str] = {
    "sgd_mf_epoch_strata": _GRID,
    "sgd_mf_epoch_hogwild_strata": _GRID,
    "strata_layout": _GRID,
    "shuffle_ratings": _HOST,
    "shuffle_ratings_blocks": _HOST,
    "sgd_logistic_mf_epoch": _RANKING,
    "sgd_logistic_mf_epoch_hogwild": _RANKING,
}
