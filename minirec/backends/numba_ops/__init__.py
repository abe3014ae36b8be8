"""Numba twins of :mod:`minirec.backends.numpy_ops` (same names, signatures, math).

The NumPy package is the spec; read it first. These kernels are the spec's loops
compiled by Numba (``cache=True``, so the compile cost is paid once per machine,
not per run), one readable twin per kernel, in modules of the same topics as the
spec's. Differences from the spec are only in floating-point summation order
(``fastmath`` lets the compiler vectorise dot products), so the equivalence tests
compare with ``assert_allclose``, not bitwise; every serial kernel is bitwise
reproducible run to run. ``*_hogwild`` kernels use ``prange`` over one chunk per
thread and race on shared rows (nondeterministic by design).

The models train with :mod:`minirec.backends.numba_fast` (what ``get_kernels("numba")``
returns): the tuned variants of some of these kernels, and these twins for the
rest. All kernels also run with ``NUMBA_DISABLE_JIT=1`` (then they are the plain
Python below), which the tests check.
"""

from __future__ import annotations

from .als import als_solve, implicit_als_cg, implicit_als_solve
from .bpr import bpr_epoch, bpr_epoch_hogwild
from .fm import fm_predict, sgd_fm_blocks_epoch, sgd_fm_epoch
from .knn import (
    knn_predict,
    knn_predict_cols,
    knn_predict_rows,
    knn_reverse,
    knn_similarity,
)
from .mf import (
    sgd_mf_epoch,
    sgd_mf_epoch_hogwild,
    sgd_mf_epoch_hogwild_strata,
    sgd_mf_epoch_strata,
)
from .ranking import sgd_logistic_mf_epoch, sgd_logistic_mf_epoch_hogwild
from .shuffle import (
    _splitmix64_draw,
    shuffle_ratings,
    shuffle_ratings_blocks,
    strata_layout,
)

__all__ = [
    "shuffle_ratings",
    "shuffle_ratings_blocks",
    "strata_layout",
    "sgd_mf_epoch",
    "sgd_mf_epoch_strata",
    "sgd_mf_epoch_hogwild",
    "sgd_mf_epoch_hogwild_strata",
    "bpr_epoch",
    "bpr_epoch_hogwild",
    "als_solve",
    "implicit_als_solve",
    "implicit_als_cg",
    "sgd_fm_epoch",
    "sgd_fm_blocks_epoch",
    "fm_predict",
    "knn_similarity",
    "knn_predict",
    "knn_predict_rows",
    "knn_predict_cols",
    "knn_reverse",
    "sgd_logistic_mf_epoch",
    "sgd_logistic_mf_epoch_hogwild",
    "_splitmix64_draw",
]

_SERIAL_FM = "the CPU FM kernels are serial: Hogwild FM runs on backend='cuda'"
#: contract kernels (backends/base.py) this backend does not implement, and why
UNSUPPORTED: dict[str, str] = {
    "sgd_fm_blocks_epoch_hogwild": _SERIAL_FM,
}
