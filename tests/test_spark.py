"""minirec.spark: Spark MLlib's ALS behind the estimator API, on local[2], and
ImplicitALS(weighted=True), the objective of Spark's implicit ALS.

The Spark tests are skipped (with the reason) only where pyspark or Java is
missing; the `spark` extra is installed by `make test`, and Java 17 is on these
machines.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from minirec import spark as mspark
from minirec.backends import get_kernels
from minirec.data import Interactions, random_split, synthetic_ratings
from minirec.errors import BackendUnavailableError, DataError, NotFittedError
from minirec.evaluation import evaluate_ratings
from minirec.models import ALS, ImplicitALS, Recommender
from minirec.spark import SparkALS, get_spark, recommend_all_spark, to_spark

HAVE_JAVA = shutil.which("java") is not None or bool(os.environ.get("JAVA_HOME"))


@pytest.fixture(scope="module")
def spark():
    pytest.importorskip("pyspark", reason="pyspark is not installed (the spark extra)")
    if not HAVE_JAVA:
        pytest.skip("Java is not installed: Spark needs Java 17+")
    return get_spark("local[2]")


def _implicit_objective(m, data, reg, alpha):
    """Σ over all pairs c (p − s)² + reg (Σ n_u |x_u|² + Σ n_i |y_i|²), the
    unobserved pairs by Σ_all s² = Σ (PᵀP ∘ QᵀQ)."""
    P, Q = m.P_.astype(np.float64), m.Q_.astype(np.float64)
    s = np.einsum("ij,ij->i", P[data.users], Q[data.items])
    c = 1.0 + alpha * data.ratings
    loss = ((P.T @ P) * (Q.T @ Q)).sum() + (c * (1.0 - s) ** 2 - s**2).sum()
    n_u = np.bincount(data.users, minlength=data.n_users)
    n_i = np.bincount(data.items, minlength=data.n_items)
    return float(
        loss + reg * ((n_u * (P**2).sum(1)).sum() + (n_i * (Q**2).sum(1)).sum())
    )


@pytest.mark.parametrize("solver", ["cholesky", "cg"])
@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_weighted_implicit_als_half_step_is_the_scaled_ridge(backend, solver):
    """ImplicitALS(weighted=True) solves row u with λ |I_u| (Spark's scaling): the
    user half-step equals a dense NumPy solve of each row's normal equations, and
    CG with enough steps reaches the same point."""
    d = synthetic_ratings(n_users=60, n_items=40, density=0.2, seed=5)
    d = d.subset(d.users != 7)  # user 7 has no entries left: x = 0
    kw = {"k": 4, "reg": 0.3, "alpha": 2.0, "weighted": True, "backend": backend}
    m = ImplicitALS(**kw, n_epochs=2, solver="cholesky").fit(d)
    R, Q = d.by_user, m.Q_.astype(np.float64)
    want = np.zeros((d.n_users, 4))
    for u in range(d.n_users):
        s, e = R.indptr[u], R.indptr[u + 1]
        if s == e:
            continue
        c, Y = 1.0 + 2.0 * R.data[s:e], Q[R.indices[s:e]]
        A = Q.T @ Q + (Y.T * (c - 1.0)) @ Y + 0.3 * (e - s) * np.eye(4)
        want[u] = np.linalg.solve(A, Y.T @ c)
    X = np.full((d.n_users, 4), 0.1, dtype=np.float32)
    one = ImplicitALS(**kw, solver=solver, cg_steps=12)
    one._half_step(get_kernels(backend), R, m._confidence(R.data), m.Q_, X)
    np.testing.assert_allclose(X, want, atol=2e-4)
    assert not np.allclose(
        ImplicitALS(**{**kw, "weighted": False}, n_epochs=2).fit(d).P_, m.P_, atol=1e-3
    )  # the unscaled λ is another model


def test_weighted_implicit_als_fold_in_and_explain_use_the_same_lambda():
    d = synthetic_ratings(n_users=50, n_items=30, density=0.3, seed=2)
    m = ImplicitALS(k=3, reg=0.2, alpha=3.0, weighted=True, solver="cholesky")
    m.fit(d)
    folded = m._solve_side("user", d.by_user)["P"]  # fold-in: one exact half-step
    _, contrib = m.explain(d.user_ids[4], d.item_ids[0])
    score = float(folded[4] @ m.Q_[0])
    np.testing.assert_allclose(contrib.sum(), score, rtol=1e-4)
    m.weighted = False  # the unscaled λ explains another score
    assert abs(m.explain(d.user_ids[4], d.item_ids[0])[1].sum() - score) > 1e-3


@pytest.fixture(scope="module")
def split():
    data = synthetic_ratings(n_users=300, n_items=120, density=0.25, seed=3)
    return random_split(data, test_fraction=0.1, seed=0)


@pytest.fixture(scope="module")
def explicit(spark, split):
    return SparkALS(k=6, reg=0.1, n_epochs=25, n_blocks=2).fit(split[0])


def test_to_spark_keeps_ids_as_indices(spark):
    d = Interactions.from_arrays(["u-b", "u-a", "u-b"], [10**12, 7, 7], [4.0, 3.5, 1.0])
    rows = sorted(tuple(r) for r in to_spark(d, spark).collect())
    got = sorted((d.user_ids[u], d.item_ids[i], float(r)) for u, i, r in rows)
    want = sorted(zip(["u-b", "u-a", "u-b"], [10**12, 7, 7], [4.0, 3.5, 1.0]))
    assert got == want  # string ids mapped, a large int id not truncated


def _objective(m, data, reg):
    """ALS-WR's loss: squared errors + reg * (n_u |p_u|² + n_i |q_i|²)."""
    e = data.ratings - np.einsum("ij,ij->i", m.P_[data.users], m.Q_[data.items])
    n_u = np.bincount(data.users, minlength=data.n_users)
    n_i = np.bincount(data.items, minlength=data.n_items)
    pen = (n_u * (m.P_**2).sum(1)).sum() + (n_i * (m.Q_**2).sum(1)).sum()
    return float((e**2).sum() + reg * pen)


def test_explicit_matches_minirec_als(explicit, split):
    """Spark's ALS-WR and minirec's ALS(weighted=True, biased=False) optimise the
    same objective: from different initialisations (Spark's unit-norm rows
    converge more slowly) they reach the same loss and held-out RMSE."""
    train, test = split
    ours = ALS(k=6, reg=0.1, n_epochs=25, weighted=True, biased=False).fit(train)
    r_spark = evaluate_ratings(explicit, test).metrics["RMSE"]
    r_ours = evaluate_ratings(ours, test).metrics["RMSE"]
    assert abs(r_spark - r_ours) < 0.005, (r_spark, r_ours)
    o_spark, o_ours = _objective(explicit, train, 0.1), _objective(ours, train, 0.1)
    assert abs(o_spark - o_ours) < 0.005 * o_ours, (o_spark, o_ours)
    assert (
        r_spark
        < evaluate_ratings(
            ALS(k=1, reg=10.0, n_epochs=1, biased=False).fit(train), test
        ).metrics["RMSE"]
    )


def test_served_like_a_minirec_model(explicit, split, tmp_path):
    users = split[0].user_ids[:5]
    ids, scores = explicit.recommend(users, n=4)
    plain = explicit.to_model()
    assert isinstance(plain, ALS)
    ids2, scores2 = plain.recommend(users, n=4)
    np.testing.assert_array_equal(ids, ids2)
    np.testing.assert_allclose(scores, scores2, rtol=1e-6)
    loaded = Recommender.load(explicit.save(tmp_path / "spark.npz"))
    assert isinstance(loaded, ALS)  # loading needs no Spark
    np.testing.assert_allclose(loaded.recommend(users, n=4)[1], scores, rtol=1e-6)


def test_implicit_matches_weighted_implicit_als(spark, split):
    """Spark's implicit ALS and ImplicitALS(weighted=True) minimise the same
    objective: from different starts (Spark's unit-norm rows take longer) they
    reach it within 1.5% and rank the held-out items alike (sampled HR@10,
    1 + 20), while the unscaled λ lands elsewhere."""
    from minirec.data import sample_negatives
    from minirec.evaluation import evaluate_sampled

    train, test = split
    kw = {"k": 4, "reg": 0.05, "alpha": 2.0, "n_epochs": 40}
    s = SparkALS(**kw, implicit=True, n_blocks=2).fit(train)
    ours = ImplicitALS(**kw, weighted=True, solver="cholesky").fit(train)
    plain = ImplicitALS(**kw, solver="cholesky").fit(train)
    o_s, o_ours = (_implicit_objective(m, train, 0.05, 2.0) for m in (s, ours))
    assert abs(o_s - o_ours) < 0.015 * o_ours, (o_s, o_ours)
    assert _implicit_objective(plain, train, 0.05, 2.0) > 1.05 * o_ours
    negs = sample_negatives(train, test.users, 20, seed=0)
    hr = [
        evaluate_sampled(m, test.users, test.items, negs).metrics["HR@10"]
        for m in (s, ours)
    ]
    assert abs(hr[0] - hr[1]) < 0.03, hr


def test_large_data_goes_through_csv(spark, split, monkeypatch):
    monkeypatch.setattr(mspark, "CSV_ABOVE", 10)
    rows = sorted(tuple(r) for r in to_spark(split[0], spark).collect())
    want = sorted(
        zip(split[0].users.tolist(), split[0].items.tolist(), split[0].ratings.tolist())
    )
    assert len(rows) == len(want)
    np.testing.assert_allclose(np.array(rows), np.array(want), rtol=1e-6)


def test_implicit_and_on_cluster_ranking(spark, split):
    train = split[0]
    m = SparkALS(k=4, reg=0.1, n_epochs=4, implicit=True, alpha=2.0, n_blocks=2)
    m.fit(train)
    assert not m.predicts_ratings and isinstance(m.to_model(), ImplicitALS)
    recs = recommend_all_spark(m, n=3).toPandas()
    assert len(recs) == 3 * train.n_users
    assert set(recs["item"]) <= set(train.item_ids.tolist())
    top = recs[recs["user"] == train.user_ids[0]].sort_values("rank")
    scores = m.score_items(np.array([0]))[0]
    best = train.item_ids[np.argsort(-scores, kind="stable")[:3]]
    assert list(top["item"]) == list(best)  # Spark's ranking equals ours


def test_too_big_to_collect_refuses_and_says_what_to_do(spark, split):
    with pytest.raises(DataError, match="recommend_all_spark"):
        SparkALS(k=4, n_epochs=1, max_collect_bytes=100).fit(split[0])
    m = SparkALS(k=4, n_epochs=1, n_blocks=2, collect=False).fit(split[0])
    with pytest.raises(NotFittedError, match="recommend_all_spark"):
        m.recommend(split[0].user_ids[:1], n=3)
    assert recommend_all_spark(m, n=2).count() == 2 * split[0].n_users


def test_no_java_is_a_clear_error(tmp_path):
    """In a process that finds no java, get_spark names Java and the extra."""
    code = (
        "from minirec.spark import get_spark\n"
        "from minirec.errors import BackendUnavailableError\n"
        "try:\n    get_spark()\nexcept BackendUnavailableError as e:\n"
        "    print('CLEAR', e)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env["PATH"] = str(tmp_path)  # no java on it
    env["JAVA_HOME"] = str(tmp_path / "no-java")
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "CLEAR" in proc.stdout and "Java" in proc.stdout, proc.stdout + proc.stderr
    assert "minirec[spark]" in proc.stdout


def test_bad_arguments():
    with pytest.raises(ValueError, match="k"):
        SparkALS(k=0)
    with pytest.raises(TypeError, match="Interactions"):
        to_spark([(1, 2, 3.0)])
    assert issubclass(BackendUnavailableError, ImportError)


def test_console_log_takes_a_child_process_stderr(tmp_path):
    """What a child process started inside the block (as the JVM is) writes to fd 2
    lands in the file; afterwards fd 2 is this process's own again."""
    from minirec.spark import _stderr_to

    log = tmp_path / "console.log"
    before = os.fstat(2)
    with _stderr_to(str(log)):
        subprocess.run([sys.executable, "-c", "import sys; sys.stderr.write('jvm')"])
    assert log.read_text() == "jvm"
    after = os.fstat(2)
    assert (before.st_dev, before.st_ino) == (after.st_dev, after.st_ino)
