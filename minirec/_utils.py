"""Small shared helpers: argument checks, progress bars, atomic writes, divergence."""

from __future__ import annotations

import math
import os
import stat
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TypeVar

import numpy as np

from .errors import TrainingDivergedError

T = TypeVar("T")


def check_positive_int(name: str, value: int) -> int:
    """Return `value` as int, or raise ValueError naming the argument."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, np.integer))
        or value <= 0
    ):
        raise ValueError(f"{name}={value!r}: must be a positive integer")
    return int(value)


def check_nonnegative(name: str, value: float) -> float:
    """Return `value` as float, or raise ValueError naming the argument."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r}: must be a number >= 0") from None
    if not math.isfinite(v) or v < 0:
        raise ValueError(f"{name}={value!r}: must be a finite number >= 0")
    return v


def check_positive(name: str, value: float) -> float:
    """Return `value` as float, or raise ValueError naming the argument."""
    v = check_nonnegative(name, value)
    if v == 0:
        raise ValueError(f"{name}={value!r}: must be > 0")
    return v


def progress_enabled() -> bool:
    """Progress bars show on a terminal unless MINIREC_PROGRESS=0; never under CI."""
    env = os.environ.get("MINIREC_PROGRESS")
    if env is not None:
        return env not in ("0", "false", "no", "")
    return sys.stderr.isatty() and not os.environ.get("CI")


def progress(
    iterable: Iterable[T],
    desc: str = "",
    total: int | None = None,
    enabled: bool | None = None,
    unit: str = "it",
) -> Iterator[T]:
    """Wrap `iterable` in a tqdm bar when progress is enabled."""
    if enabled is None:
        enabled = progress_enabled()
    if not enabled:
        yield from iterable
        return
    from tqdm.auto import tqdm

    yield from tqdm(iterable, desc=desc, total=total, unit=unit, leave=False)


def check_finite_loss(loss: float, epoch: int, model: str, advice: str = "") -> None:
    """Stop training with advice when the loss (or a parameter norm) is NaN or inf."""
    if not math.isfinite(loss):
        tip = advice or "lower the learning rate (lr) or raise the regularization (reg)"
        raise TrainingDivergedError(
            f"{model}: training diverged at epoch {epoch} (loss = {loss}); {tip}."
        )


def check_finite_arrays(epoch: int, model: str, advice: str = "", **arrays) -> None:
    """Like `check_finite_loss` for parameter arrays (names appear in the message)."""
    for name, a in arrays.items():
        if a is not None and not np.all(np.isfinite(a)):
            tip = (
                advice
                or "lower the learning rate (lr) or raise the regularization (reg)"
            )
            raise TrainingDivergedError(
                f"{model}: parameter {name} became NaN/inf at epoch {epoch}; {tip}."
            )


def _umask() -> int:
    """The process umask, read without changing it where /proc tells it."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore (not thread-safe)
    os.umask(mask)
    return mask


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists (another user's process) or cannot tell
    return True


def _remove_stale_temps(path: Path) -> None:
    """Delete the temporary files that saves of `path` killed before their rename
    left behind: those whose writer process is gone, or a day old."""
    prefix = f".{path.name}."
    now = time.time()
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return
    for e in entries:
        if not (e.name.startswith(prefix) and e.name.endswith(".tmp")):
            continue
        pid_text = e.name[len(prefix) :].split(".", 1)[0]
        try:
            pid = int(pid_text)
            stale = pid != os.getpid() and not _pid_alive(pid)
            stale = stale or now - e.stat(follow_symlinks=False).st_mtime > 86400
        except (ValueError, OSError):
            continue
        if stale:
            try:
                os.unlink(e.path)
            except OSError:
                pass


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` via a temporary file in the same folder + os.replace,
    so a crash never leaves a half-written file where a good one was.

    The file gets the mode of the file it replaces, or for a new file the mode
    ``open()`` would give it (0666 less the umask). Temporary files that earlier
    saves of `path` left when killed are deleted first. A folder at `path` raises
    IsADirectoryError.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(
            f"{path} is a folder; give a file name inside it, e.g. {path / 'model.npz'}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    _remove_stale_temps(path)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent
    )
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
            if hasattr(os, "fchmod"):  # not on Windows, where mkstemp's mode is fine
                os.fchmod(f.fileno(), mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def aligned_empty(shape: tuple[int, ...], dtype, align: int = 64) -> np.ndarray:
    """An uninitialised C-contiguous array whose first byte sits on an `align`-byte
    boundary (NumPy only promises 16). With 64, a cache line: a float32 factor
    matrix with k a multiple of 16 then has every row on whole cache lines, so an
    SGD step that updates one row touches k/16 lines instead of k/16 + 1."""
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes == 0:  # no first byte to place
        return np.empty(shape, dtype=dtype)
    buf = np.empty(nbytes + align, dtype=np.uint8)
    start = -buf.ctypes.data % align
    return buf[start : start + nbytes].view(dtype).reshape(shape)


def as_rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A NumPy Generator from a seed, a Generator, or None (fresh entropy)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def did_you_mean(name: str, choices) -> str:
    """``"; did you mean 'x'?"`` for the closest of `choices`, or ``""``."""
    import difflib

    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def blas_threads(n: int | None):
    """Context manager limiting BLAS threads to `n` (None: leave as is).

    Sequence models multiply small matrices thousands of times per epoch, where
    OpenBLAS's extra threads on a loaded machine cost far more than they give
    (``benchmarks/bench_sequential.py`` measures it). Needs threadpoolctl."""
    import contextlib

    if n is None:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        return contextlib.nullcontext()
    return threadpool_limits(limits=int(n), user_api="blas")
