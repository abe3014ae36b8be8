"""The kernel contract: every kernel backend module provides these functions.

``numpy_ops`` is the readable spec, ``numba_ops`` its readable JIT twin,
``numba_fast`` the tuned JIT kernels (what ``get_kernels("numba")`` returns: the
tuned variant where one exists, ``numba_ops``' twin otherwise), ``cuda_ops`` the GPU
twin; all expose the same names and signatures, and the equivalence tests in
``tests/backends`` compare them on the same inputs.

Conventions shared by every kernel

* Shuffle orders and negative samples are drawn *outside* the kernels (a seeded
  ``numpy.random.Generator``) and passed in, so backends can be compared exactly.
* Kernels update the parameter arrays they document **in place** and return the
  loss of the pass as a Python float (the model checks it for NaN/inf).
* Index arrays are ``int32`` (users, items) or ``int64`` (orders, CSR ``indptr``);
  parameter arrays are C-contiguous ``float32``; scalars are Python floats.
* ``*_hogwild`` variants run lock-free over threads (Niu et al. 2011): updates from
  different threads race, so results are **not** bitwise reproducible. Their NumPy
  spec is the serial kernel.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class KernelBackend(Protocol):
    """Functions every kernel backend module exposes (checked by the tests). A
    method without a docstring here gets its spec's, ``numpy_ops.<name>``'s, when
    this module is imported: one text per kernel, read with ``help()``."""

    def sgd_mf_epoch(
        self,
        users: np.ndarray,
        items: np.ndarray,
        ratings: np.ndarray,
        order: np.ndarray,
        P: np.ndarray,
        Q: np.ndarray,
        bu: np.ndarray,
        bi: np.ndarray,
        mu: float,
        lr: float,
        reg: float,
        reg_bias: float,
        biased: bool,
    ) -> float: ...

    def sgd_mf_epoch_hogwild(
        self,
        users: np.ndarray,
        items: np.ndarray,
        ratings: np.ndarray,
        order: np.ndarray,
        P: np.ndarray,
        Q: np.ndarray,
        bu: np.ndarray,
        bi: np.ndarray,
        mu: float,
        lr: float,
        reg: float,
        reg_bias: float,
        biased: bool,
    ) -> float: ...

    def bpr_epoch(
        self,
        users: np.ndarray,
        pos: np.ndarray,
        neg: np.ndarray,
        P: np.ndarray,
        Q: np.ndarray,
        bi: np.ndarray,
        lr: float,
        reg: float,
        reg_bias: float,
    ) -> float: ...

    def bpr_epoch_hogwild(
        self,
        users: np.ndarray,
        pos: np.ndarray,
        neg: np.ndarray,
        P: np.ndarray,
        Q: np.ndarray,
        bi: np.ndarray,
        lr: float,
        reg: float,
        reg_bias: float,
    ) -> float: ...

    def als_solve(
        self,
        indptr: np.ndarray,
        indices: np.ndarray,
        targets: np.ndarray,
        Y: np.ndarray,
        X: np.ndarray,
        reg: float,
        weighted: bool,
    ) -> float: ...

    def implicit_als_solve(
        self,
        indptr: np.ndarray,
        indices: np.ndarray,
        conf: np.ndarray,
        Y: np.ndarray,
        YtY: np.ndarray,
        X: np.ndarray,
        reg: float,
    ) -> float: ...

    def implicit_als_cg(
        self,
        indptr: np.ndarray,
        indices: np.ndarray,
        conf: np.ndarray,
        Y: np.ndarray,
        YtY: np.ndarray,
        X: np.ndarray,
        reg: float,
        cg_steps: int,
    ) -> float: ...

    def sgd_mf_epoch_strata(
        self,
        users: np.ndarray,
        items: np.ndarray,
        ratings: np.ndarray,
        order: np.ndarray,
        bounds: np.ndarray,
        P: np.ndarray,
        Q: np.ndarray,
        bu: np.ndarray,
        bi: np.ndarray,
        mu: float,
        lr: float,
        reg: float,
        reg_bias: float,
        biased: bool,
    ) -> float: ...

    def sgd_mf_epoch_hogwild_strata(
        self,
        users: np.ndarray,
        items: np.ndarray,
        ratings: np.ndarray,
        order: np.ndarray,
        bounds: np.ndarray,
        P: np.ndarray,
        Q: np.ndarray,
        bu: np.ndarray,
        bi: np.ndarray,
        mu: float,
        lr: float,
        reg: float,
        reg_bias: float,
        biased: bool,
    ) -> float: ...

    def strata_layout(
        self,
        users: np.ndarray,
        items: np.ndarray,
        n_users: int,
        n_items: int,
        T: int,
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def shuffle_ratings(
        self,
        users: np.ndarray,
        items: np.ndarray,
        ratings: np.ndarray,
        seed: int,
        out_users: np.ndarray,
        out_items: np.ndarray,
        out_ratings: np.ndarray,
    ) -> None: ...

    def shuffle_ratings_blocks(
        self,
        users: np.ndarray,
        items: np.ndarray,
        ratings: np.ndarray,
        bounds: np.ndarray,
        seed: int,
        out_users: np.ndarray,
        out_items: np.ndarray,
        out_ratings: np.ndarray,
    ) -> None: ...

    def sgd_fm_blocks_epoch(
        self,
        users: np.ndarray,
        items: np.ndarray,
        y: np.ndarray,
        order: np.ndarray,
        user_idx: np.ndarray,
        user_val: np.ndarray,
        item_idx: np.ndarray,
        item_val: np.ndarray,
        w0: np.ndarray,
        w: np.ndarray,
        V: np.ndarray,
        lr: float,
        reg_w: float,
        reg_V: float,
        logistic: bool,
    ) -> float: ...

    def sgd_fm_blocks_epoch_hogwild(
        self,
        users: np.ndarray,
        items: np.ndarray,
        y: np.ndarray,
        order: np.ndarray,
        user_idx: np.ndarray,
        user_val: np.ndarray,
        item_idx: np.ndarray,
        item_val: np.ndarray,
        w0: np.ndarray,
        w: np.ndarray,
        V: np.ndarray,
        lr: float,
        reg_w: float,
        reg_V: float,
        logistic: bool,
    ) -> float:
        """`sgd_fm_blocks_epoch` with the rows run in parallel, lock-free
        (nondeterministic), as `sgd_fm_epoch_hogwild`."""
        ...

    def knn_similarity(
        self,
        indptr: np.ndarray,
        indices: np.ndarray,
        data: np.ndarray,
        t_indptr: np.ndarray,
        t_indices: np.ndarray,
        t_data: np.ndarray,
        pearson: bool,
        shrink: float,
        keep: int,
        alpha: float = 0.5,
        shrink_by: str = "count",
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...

    def knn_predict(
        self,
        nbr_indptr: np.ndarray,
        nbr_indices: np.ndarray,
        nbr_sims: np.ndarray,
        indptr: np.ndarray,
        indices: np.ndarray,
        data: np.ndarray,
        rows: np.ndarray,
        cols: np.ndarray,
        k: int,
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def knn_predict_rows(
        self,
        nbr_indptr,
        nbr_indices,
        nbr_sims,
        indptr,
        indices,
        data,
        rows,
        n_cols,
        k,
    ): ...

    def knn_predict_cols(
        self,
        nbr_indptr,
        nbr_indices,
        nbr_sims,
        rev_indptr,
        rev_pos,
        q_indptr,
        q_rows,
        q_data,
        k,
    ): ...

    def sgd_logistic_mf_epoch(
        self,
        users: np.ndarray,
        items: np.ndarray,
        labels: np.ndarray,
        order: np.ndarray,
        P: np.ndarray,
        Q: np.ndarray,
        bu: np.ndarray,
        bi: np.ndarray,
        b: np.ndarray,
        lr: float,
        reg: float,
    ) -> float: ...

    def sgd_logistic_mf_epoch_hogwild(
        self,
        users: np.ndarray,
        items: np.ndarray,
        labels: np.ndarray,
        order: np.ndarray,
        P: np.ndarray,
        Q: np.ndarray,
        bu: np.ndarray,
        bi: np.ndarray,
        b: np.ndarray,
        lr: float,
        reg: float,
    ) -> float:
        """`sgd_logistic_mf_epoch` with `order` cut into one chunk per thread, run
        lock-free (nondeterministic); the NumPy spec has one thread."""
        ...


#: Backend modules also hold kernels that only the lessons, tests and benchmarks call
#: (FM on whole feature rows: ``sgd_fm_epoch``, ``fm_predict``, the CUDA
#: ``sgd_fm_epoch_hogwild``); they are outside the contract.
#:
#: every kernel a model calls, in the order above; each backend module defines all
#: of them or names the missing ones in its ``UNSUPPORTED`` dict (name -> reason);
#: tests/backends/test_kernel_contract.py checks both, and that models call no
#: other name
KERNELS: tuple[str, ...] = tuple(
    name for name in KernelBackend.__dict__ if not name.startswith("_")
)


def _attach_spec_docstrings() -> None:
    from . import numpy_ops  # the spec imports nothing from this module

    for name in KERNELS:
        method = KernelBackend.__dict__[name]
        if method.__doc__ is None:
            method.__doc__ = getattr(numpy_ops, name).__doc__


_attach_spec_docstrings()
