"""minirec.spark: Spark MLlib's ALS behind the estimator API, on local[2].

Skipped (with the reason) only where pyspark or Java is missing; the `spark` extra
is installed by `make test`, and Java 17 is on these machines.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("pyspark", reason="pyspark is not installed (the spark extra)")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("Java is not installed: Spark needs Java 17+", allow_module_level=True)

from minirec.data import Interactions, random_split, synthetic_ratings  # noqa: E402
from minirec.errors import (  # noqa: E402
    BackendUnavailableError,
    DataError,
    NotFittedError,
)
from minirec.evaluation import evaluate_ratings  # noqa: E402
from minirec.models import ALS, ImplicitALS, Recommender  # noqa: E402
from minirec.spark import (  # noqa: E402
    SparkALS,
    get_spark,
    recommend_all_spark,
    to_spark,
)


@pytest.fixture(scope="module")
def spark():
    return get_spark("local[2]")


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
