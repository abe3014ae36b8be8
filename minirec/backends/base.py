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
    ) -> float:
        """`sgd_mf_epoch` in the stratified order of :func:`strata_layout`: sub-epochs
        s = 0..T-1, and in each the strata (s, t), t = 0..T-1, whose ratings are
        ``order[bounds[s*T + t]:bounds[s*T + t + 1]]``. The strata of one sub-epoch
        share no user and no item, so running them in parallel (the Numba twin) gives
        exactly this serial result: parallel SGD without races (DSGD).
        """
        ...

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
    ) -> float:
        """Hogwild over the DSGD grid: each thread owns a contiguous share of the user
        blocks and runs its blocks stratum after stratum, lock-free and without
        barriers (nondeterministic, see the Numba twin). The NumPy spec has one
        thread: it is `sgd_mf_epoch_strata`.
        """
        ...

    def strata_layout(
        self,
        users: np.ndarray,
        items: np.ndarray,
        n_users: int,
        n_items: int,
        T: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The DSGD layout of the ratings in T x T blocks (Gemulla et al. 2011).

        Users and items are cut into T contiguous blocks each (about equal rating
        counts); the rating (u, i) lies in stratum (s, t) with t = block(u) and
        s = (block(i) - t) mod T. In sub-epoch s, block t holds only rows of user
        block t and item block (t + s) mod T, so the T blocks of a sub-epoch never
        touch the same row and can run on as many threads. T may exceed the thread
        count (each thread then runs several blocks of a sub-epoch in turn): smaller
        blocks keep their rows of P and Q in the CPU cache. Returns ``perm`` (the
        ratings sorted by stratum s * T + t, stable) and ``bounds`` (T² + 1 offsets
        into it).
        """
        ...

    def shuffle_ratings(
        self,
        users: np.ndarray,
        items: np.ndarray,
        ratings: np.ndarray,
        seed: int,
        out_users: np.ndarray,
        out_items: np.ndarray,
        out_ratings: np.ndarray,
    ) -> None:
        """Write the rating triples (users[n], items[n], ratings[n]) into `out_*` in a
        uniformly random order drawn from `seed` (the per-epoch shuffle of SGD).

        Two passes, so that the fast twin never jumps around a large array
        (Rao 1961, Sandelius 1962): (1) every triple draws one of 2^b buckets (the top
        b bits of its draw, b = :func:`shuffle_bucket_bits` (n): up to 4096 buckets of
        ~250 triples) and the triples are written bucket after bucket, keeping
        their order inside a bucket; (2) each bucket is shuffled by Fisher-Yates. Given
        the bucket sizes every arrangement is equally likely, so the result is a uniform
        permutation. Random integers in [0, m) are ``(hi32 * m) >> 32`` of a draw's
        upper 32 bits (Lemire 2019 without the rejection step: bias below m / 2^32).
        Draws 0..n-1 pick the buckets; the Fisher-Yates steps use the following draws,
        bucket by bucket, from the last slot down.

        The SGD kernels then read the shuffled triples front to back (pass
        ``order = arange(n)``): sequential reads instead of a random gather per rating.
        """
        ...

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
    ) -> None:
        """:func:`shuffle_ratings` of each block ``[bounds[b], bounds[b + 1])`` on its
        own, with seed ``seed + b`` (mod 2^64): triples stay in their block. (The Numba
        twin shuffles the blocks in parallel.)
        """
        ...

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
    ) -> float:
        """``numpy_ops.sgd_fm_epoch`` where row n is built on the fly as the user
        block of ``users[n]`` followed by the item block of ``items[n]``
        (:class:`minirec.data.features.FMFields`).

        Same updates as ``sgd_fm_epoch(*fields.rows(users, items), ...)``
        without materialising the (n, W) rows: the per-rating reads are the same
        three arrays an MF epoch reads, which keeps the epoch cache-friendly.
        """
        ...

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
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Top-`keep` positive similarities between the rows of X (the spec).

        Parameters
        ----------
        indptr, indices, data : CSR of X (n_rows x n_cols), column indices sorted.
        t_indptr, t_indices, t_data : CSR of Xᵀ (the Numba twin walks it; the spec
            only uses it for the number of columns).
        pearson : bool
            Norms over common columns (pearson) instead of full row norms (cosine).
        shrink : float
            Shrinkage constant (0: none).
        keep : int
            Neighbours kept per row (≤ 0: every positive one).

        Returns
        -------
        nbr_indptr (n_rows + 1,) int64, nbr_indices int32, nbr_sims float32
        """
        ...

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
    ) -> tuple[np.ndarray, np.ndarray]:
        """Weighted deviation of the first `k` neighbours that have an entry.

        For each pair p, a = rows[p], c = cols[p]: walk the neighbours b of a in
        stored order (best first); those with an entry x_bc in X (CSR indptr,
        indices, data) contribute until `k` were used:
        dev_p = Σ sim(a,b) x_bc / Σ sim(a,b), 0 when no neighbour has an entry.

        Returns
        -------
        dev (n,) float32, n_used (n,) int32
        """
        ...

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
    ):
        """`knn_predict` for every pair (a, c), a in `rows`, c < n_cols.

        Returns
        -------
        dev (len(rows), n_cols) float32, n_used (len(rows), n_cols) int32
        """
        ...

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
    ):
        """`knn_predict` for every pair (a, t), a < n_rows, where column t
        of X is given by the query CSR ``(q_indptr, q_rows sorted, q_data)`` instead of
        by X (a column X does not hold, e.g. a user folded in after the fit).

        ``rev_indptr, rev_pos`` (:func:`knn_reverse`) list the neighbour slots q with
        nbr_indices[q] == b by b; the spec only takes n_rows from them.

        Returns
        -------
        dev (n_queries, n_rows) float32, n_used (n_queries, n_rows) int32
        """
        ...

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
    ) -> float:
        """One SGD epoch of logistic MF over the rows in `order` (the spec).

        Parameters
        ----------
        users, items : (N,) int32
            The rows' internal user and item indices.
        labels : (N,) float32
            y ∈ {0, 1} of each row.
        order : (M,) int32 or int64
            Rows to visit, in this order (``arange(N)`` for rows already shuffled).
        P : (n_users, k) float32, Q : (n_items, k) float32
        bu : (n_users,) float32, bi : (n_items,) float32, b : (1,) float32
            Parameters, updated in place.
        lr, reg : float
            Learning rate η and the L2 penalty λ (on every touched parameter, b too).

        Returns
        -------
        float
            Σ ℓ over the visited rows, each taken before its own update.
        """
        ...

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
