"""The kernel contract: every kernel backend module provides these functions.

``numpy_ops`` is the readable spec, ``numba_ops`` its JIT twin, ``cuda_ops`` (written
later) the GPU twin; all three expose the same names and signatures, and the
equivalence tests in ``tests/backends`` compare them on the same inputs.

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
    """Functions every kernel backend module exposes (checked by the tests)."""

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
    ) -> float:
        """One SGD epoch of (biased) MF over the ratings in `order`.

        For n in order: e = r - (mu + bu[u] + bi[i] + P[u]·Q[i]) (biases only when
        `biased`), then bu[u] += lr (e - reg_bias bu[u]), bi[i] likewise, and with
        the *old* p_u: P[u] += lr (e Q[i] - reg P[u]), Q[i] += lr (e p_u - reg Q[i]).
        Returns sum of e² (errors before each update).
        """
        ...

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
    ) -> float:
        """`sgd_mf_epoch` with `order` cut into one chunk per thread, run lock-free
        (nondeterministic)."""
        ...

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
    ) -> float:
        """One BPR pass over the triples (users[n], pos[n], neg[n]) in order.

        x = p_u·(q_i - q_j) + b_i - b_j; g = σ(-x) = 1 - σ(x);
        p_u += lr (g (q_i - q_j) - reg p_u); q_i += lr (g p_u - reg q_i);
        q_j += lr (-g p_u - reg q_j); b_i += lr (g - reg_bias b_i);
        b_j += lr (-g - reg_bias b_j) (all with the old values).
        Returns sum of -log σ(x).
        """
        ...

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
    ) -> float:
        """`bpr_epoch` over one chunk of triples per thread, lock-free
        (nondeterministic)."""
        ...

    def als_solve(
        self,
        indptr: np.ndarray,
        indices: np.ndarray,
        targets: np.ndarray,
        Y: np.ndarray,
        X: np.ndarray,
        reg: float,
        weighted: bool,
    ) -> float:
        """Explicit ALS half-step (Zhou et al. 2008): for each row u of the CSR,

        X[u] = (Y_Iᵀ Y_I + λ_u I)⁻¹ Y_Iᵀ t_u with λ_u = reg·|I_u| when `weighted`
        (ALS-WR) else reg; rows with no entries get X[u] = 0. Returns the sum of
        squared residuals (t - X[u]·Y[i])² after the solve.
        """
        ...

    def implicit_als_solve(
        self,
        indptr: np.ndarray,
        indices: np.ndarray,
        conf: np.ndarray,
        Y: np.ndarray,
        YtY: np.ndarray,
        X: np.ndarray,
        reg: float,
    ) -> float:
        """Implicit ALS half-step (Hu, Koren, Volinsky 2008), exact (Cholesky):

        X[u] = (YᵀY + Y_Iᵀ (C_u - I) Y_I + reg I)⁻¹ Y_Iᵀ C_u 1, where ``conf`` holds
        c_ui = 1 + α r_ui for the stored entries and `YtY` = YᵀY is precomputed once
        per half-step (the YᵀY trick). Returns Σ c_ui (1 - x_u·y_i)² over stored
        entries after the solve.
        """
        ...

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
    ) -> float:
        """Implicit ALS half-step by `cg_steps` of conjugate gradient warm-started
        at the current X[u] (Takács et al. 2011), never forming the k×k matrix of a
        row. Returns Σ c_ui (1 - x_u·y_i)² over stored entries *before* the update
        (it falls out of the residual computation for free).
        """
        ...

    def topk_rows(self, scores: np.ndarray, k: int) -> np.ndarray:
        """Column indices (int64) of the k largest entries of each row, best first;
        ties broken by smaller column index."""
        ...


#: the names every backend module must define (the tests check them)
KERNELS: tuple[str, ...] = (
    "sgd_mf_epoch",
    "sgd_mf_epoch_hogwild",
    "bpr_epoch",
    "bpr_epoch_hogwild",
    "als_solve",
    "implicit_als_solve",
    "implicit_als_cg",
    "topk_rows",
)
