"""The NumPy kernels: the readable spec every other backend must match.

Each function is written for clarity, one rating / one row at a time, exactly as the
math reads; ``numba_ops`` has twins with the same names, signatures and docstrings
(the contract is :class:`minirec.backends.base.KernelBackend`). The loops run in
pure Python, so they are slow: use them to read, to test against and on tiny data;
train with ``backend="numba"``. This package imports no compiler (no Numba, no
llvmlite), which tests/backends/test_kernel_contract.py checks.

One module per topic: ``shuffle`` (the per-epoch shuffle, the DSGD layout), ``mf``
(SGD for MF: serial, Hogwild, DSGD), ``bpr``, ``als`` (explicit and implicit ALS),
``fm`` (factorization machines), ``knn`` (neighbourhood similarities and
predictions), ``ranking`` (logistic MF with sampled negatives).
"""

from __future__ import annotations

from .als import als_solve, implicit_als_cg, implicit_als_solve
from .bpr import bpr_epoch, bpr_epoch_hogwild
from .fm import fm_predict, sgd_fm_blocks_epoch, sgd_fm_epoch
from .knn import knn_predict, knn_predict_cols, knn_predict_rows, knn_similarity
from .mf import (
    sgd_mf_epoch,
    sgd_mf_epoch_hogwild,
    sgd_mf_epoch_hogwild_strata,
    sgd_mf_epoch_strata,
)
from .ranking import sgd_logistic_mf_epoch, sgd_logistic_mf_epoch_hogwild
from .shuffle import (
    shuffle_bucket_bits,
    shuffle_ratings,
    shuffle_ratings_blocks,
    strata_layout,
)

__all__ = [
    "shuffle_ratings",
    "shuffle_ratings_blocks",
    "shuffle_bucket_bits",
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
    "sgd_logistic_mf_epoch",
    "sgd_logistic_mf_epoch_hogwild",
]

_SERIAL_FM = "the CPU FM kernels are serial: Hogwild FM runs on backend='cuda'"
#: contract kernels (backends/base.py) this backend does not implement, and why
UNSUPPORTED: dict[str, str] = {
    "sgd_fm_blocks_epoch_hogwild": _SERIAL_FM,
}
