"""The one way a CUDA host wrapper runs its kernel: :class:`Launch`.

Every wrapper in this package goes through it (tests/backends/test_cuda_ops.py
checks that no other module launches a kernel or moves an array), so the moves
are written once and stay explicit:

* **in**: an array argument that is already on the device (CuPy, Numba device
  array, the simulator's) is used in place, zero copy; a NumPy array is copied
  to the device. Each is checked first: integer dtype for an index array (names
  in :data:`INDEX_NAMES`), floating for values, float32 for the parameters a
  kernel updates, with an error that names the wrapper and the argument.
* **size**: :func:`grid` picks (blocks, threads per block) from the work size
  and :func:`launch_config`; a serial wrapper runs one thread.
* **out**: after the launch, the host arrays the kernel updated get the
  device's values back (so the spec's in-place contract holds for NumPy
  arguments), and the loss comes back as a Python float. Each copy to the host
  waits for the kernels before it, so a returned result is complete; timing
  code calls :func:`synchronize` itself.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

import numpy as np
from numba import config as _numba_config
from numba import cuda

from ..device import is_device_array, to_host

SIMULATOR = bool(getattr(_numba_config, "ENABLE_CUDASIM", 0))
if not cuda.is_available():  # turned into BackendUnavailableError by get_kernels
    raise ImportError(
        "numba.cuda sees no CUDA GPU here (and the CUDA simulator is off: set "
        "NUMBA_ENABLE_CUDASIM=1 before importing numba to run the kernels on the CPU)"
    )

_DEFAULT_LAUNCH = (
    {"threads_per_block": 8, "max_threads": 32}
    if SIMULATOR  # each simulated GPU thread is a Python thread
    else {"threads_per_block": 128, "max_threads": 128 * 512}
)
_LAUNCH = dict(_DEFAULT_LAUNCH)
#: cap on the device scratch of one launch, in bytes (the ALS solves' per-thread
#: k x k matrices bound their thread count by it; KNN chunks its rows by it)
SCRATCH_BYTES = 256 * 2**20

#: array arguments that hold indices (any integer dtype); every other array
#: argument holds values (a floating dtype)
INDEX_NAMES = frozenset(
    "users items pos neg order indptr indices idx rows cols t_indptr t_indices "
    "nbr_indptr nbr_indices user_idx item_idx".split()
)


@contextlib.contextmanager
def launch_config(
    threads_per_block: int | None = None, max_threads: int | None = None
) -> Iterator[dict]:
    """Temporarily set the launch size of the parallel kernels.

    ``threads_per_block``: threads of a block; ``max_threads``: cap on the total
    threads of a grid (fewer threads = fewer concurrent Hogwild races; 1 makes a
    hogwild kernel serial, equal to the spec). Yields the active settings.
    """
    old = dict(_LAUNCH)
    for name, v in (
        ("threads_per_block", threads_per_block),
        ("max_threads", max_threads),
    ):
        if v is not None:
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name}={v!r}: must be a positive integer")
            _LAUNCH[name] = v
    try:
        yield dict(_LAUNCH)
    finally:
        _LAUNCH.clear()
        _LAUNCH.update(old)


def synchronize() -> None:
    """Wait for every kernel launched so far (for timing)."""
    cuda.synchronize()


def grid(n_work: int, serial: bool = False, thread_bytes: int = 0) -> tuple[int, int]:
    """(blocks, threads per block) for `n_work` independent items; one thread
    when `serial`; with `thread_bytes` of scratch per thread, at most
    :data:`SCRATCH_BYTES` of it in all."""
    if serial:
        return 1, 1
    cap = _LAUNCH["max_threads"]
    if thread_bytes:
        cap = min(cap, max(1, SCRATCH_BYTES // thread_bytes))
    total = max(1, min(int(n_work), cap))
    tpb = min(_LAUNCH["threads_per_block"], total)
    return (total + tpb - 1) // tpb, tpb


def to_device(a):
    """A Numba device array holding a copy of host array `a` (an explicit host ->
    device transfer; device arrays are returned as they are). Unlike
    :func:`minirec.backends.device.to_device` (CuPy) it also works under the
    simulator; models use it to keep parameters on the device across epochs."""
    if is_device_array(a):
        return a
    return cuda.to_device(np.ascontiguousarray(a))


def empty(shape, dtype, like=None):
    """An uninitialised device array: CuPy when `like` is a CuPy array (so CuPy
    callers get CuPy results), else Numba's."""
    if like is not None and type(like).__module__.startswith("cupy"):
        return sys.modules["cupy"].empty(shape, dtype=dtype)
    return cuda.device_array(shape, dtype=dtype)


def f32(*values) -> tuple:
    """Python scalars as the float32 the kernels compute in."""
    return tuple(np.float32(v) for v in values)


class Launch:
    """One call of a host wrapper (`caller`, named in errors) over `n_work`
    independent items: its grid, its array arguments moved in, its launch, and
    its results moved out. For example::

        run = Launch("bpr_epoch", len(users), serial=True)
        return run(_bpr_kernel, *run.inputs(users=users, pos=pos, neg=neg),
                   *run.updated(P=P, Q=Q, bi=bi), *f32(lr, reg, reg_bias),
                   run.loss())
    """

    def __init__(
        self, caller: str, n_work: int, serial: bool = False, thread_bytes: int = 0
    ) -> None:
        self.caller = caller
        self.blocks, self.threads_per_block = grid(n_work, serial, thread_bytes)
        self.n_threads = self.blocks * self.threads_per_block
        self._back: list[tuple[np.ndarray, object]] = []
        self._loss = None

    def inputs(self, **arrays) -> list:
        """The arrays the kernel reads, on the device, in the order given."""
        return [self._move(name, a, False) for name, a in arrays.items()]

    def updated(self, **arrays) -> list:
        """The float32 arrays the kernel updates in place, on the device; host
        ones get the device's values back after the launch."""
        return [self._move(name, a, True) for name, a in arrays.items()]

    def scratch(self, dtype, *shapes) -> list:
        """Uninitialised per-thread workspace, thread-last (coalesced): one
        device array of shape (*shape, threads of this launch) per shape."""
        return [empty((*shape, self.n_threads), dtype) for shape in shapes]

    def loss(self):
        """A zeroed float64 device accumulator; the launch returns its value."""
        self._loss = cuda.to_device(np.zeros(1, dtype=np.float64))
        return self._loss

    def results(self, like, *outs):
        """`outs` as they are when `like` is a device array, else on the host."""
        if is_device_array(like):
            return outs
        return tuple(to_host(o) for o in outs)

    def __call__(self, kernel, *args, n_work: int | None = None):
        """Launch `kernel` on `args` (over `n_work` items instead of the
        constructor's when given), copy the updated host arrays back and return
        the loss as a float (None without a :meth:`loss`)."""
        if n_work is None:
            blocks, tpb = self.blocks, self.threads_per_block
        else:
            blocks, tpb = grid(n_work)
        kernel[blocks, tpb](*args)
        for a, d in self._back:  # device -> host, into the caller's array
            if a.flags.c_contiguous:
                d.copy_to_host(a)
            else:
                a[...] = d.copy_to_host()
        if self._loss is None:
            return None
        return float(self._loss.copy_to_host()[0])

    def _move(self, name: str, a, write: bool):
        where = f"{self.caller}: argument {name!r}"
        if not (is_device_array(a) or isinstance(a, np.ndarray)):
            raise TypeError(
                f"{where}: cuda kernels take NumPy, CuPy or Numba device arrays, "
                f"got {type(a).__name__}"
            )
        dtype = np.dtype(a.dtype)
        if write:
            ok, want = dtype == np.float32, "a float32 array (updated in place)"
        elif name in INDEX_NAMES:
            ok, want = dtype.kind in "iu", "an integer array (it holds indices)"
        else:
            ok, want = dtype.kind == "f", "a floating array (it holds values)"
        if not ok:
            raise TypeError(f"{where} has dtype {dtype}: pass {want}")
        if is_device_array(a):
            return a
        d = cuda.to_device(np.ascontiguousarray(a))  # host -> device
        if write:
            self._back.append((a, d))
        return d
