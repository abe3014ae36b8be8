"""Spark MLlib's ALS behind minirec's estimator API, for when one machine is not
enough (the optional extra ``pip install 'minirec[spark]'``; Spark needs Java 17+).

* :func:`to_spark` turns an :class:`~minirec.data.Interactions` into a Spark
  DataFrame ``(user, item, rating)`` of internal indices (int32 / float32); the raw
  ids stay in the Interactions' ``user_ids`` / ``item_ids``, so ids of any type are
  mapped, never truncated.
* :class:`SparkALS` trains ``pyspark.ml.recommendation.ALS`` and pulls the factors
  back into a minirec :class:`~minirec.models.factor.FactorModel`: ``recommend``,
  ``predict``, ``evaluate``, ``fold_in``-free serving and ``save`` work unchanged, and
  :meth:`SparkALS.to_model` gives the equivalent plain :class:`~minirec.models.ALS`
  (``biased=False, weighted=True``) or :class:`~minirec.models.ImplicitALS`
  (``weighted=True``).
* :func:`recommend_all_spark` ranks on the cluster (``recommendForAllUsers``) for
  catalogs whose factors do not fit one machine (``SparkALS(collect=False)``).

Spark's ALS is blocked ALS (users and items split into ``n_blocks`` blocks each; a
half-iteration ships every item factor a user block needs to that block). Its
regularisation is ALS-WR's (Zhou et al. 2008): λ is multiplied by the number of
ratings of the row being solved, in the explicit and the implicit model alike.
minirec's ``ALS(weighted=True)`` and ``ImplicitALS(weighted=True)`` scale λ the same
way, so the same ``reg`` means the same objective; ``ImplicitALS``'s default is Hu
et al.'s unscaled λ.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
import warnings
from typing import Any

import numpy as np

from .data.interactions import Interactions
from .errors import BackendUnavailableError, DataError, NotFittedError
from .models.factor import FactorModel

SPARK_INSTALL = "pip install 'minirec[spark]'"

__all__ = ["SparkALS", "get_spark", "recommend_all_spark", "to_spark"]


@contextlib.contextmanager
def _quiet_pandas_warning():
    """pyspark warns about every pandas release it has not been tested with."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, module="pyspark")
        yield


@contextlib.contextmanager
def _stderr_to(path: str | None):
    """Inside the block, file descriptor 2 (which a child process such as the JVM
    inherits) writes to `path` (appended); restored afterwards. None: unchanged."""
    if path is None:
        yield
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    saved = os.dup(2)
    try:
        os.dup2(fd, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(fd)


def get_spark(
    master: str = "local[2]",
    app: str = "minirec",
    driver_memory="4g",
    console_log: str | None = None,
):
    """A SparkSession (the active one, or a new one on `master` whose driver has
    `driver_memory`, e.g. "4g": in local mode the driver does all the work).

    `console_log`: a file that receives what the JVM and the Python workers it
    starts write to their console (Spark's log lines, a worker's traceback when the
    JVM closes its socket at the end of a task), instead of this process's stderr;
    a notebook then shows only what the code prints.

    Raises BackendUnavailableError naming the extra when pyspark is missing, and
    Java when the JVM cannot start."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise BackendUnavailableError(
            f"Spark is not installed: {SPARK_INSTALL} (it also needs Java 17+)"
        ) from None
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    try:
        with _stderr_to(console_log):
            spark = (
                SparkSession.builder.master(master)
                .appName(app)
                .config("spark.ui.enabled", "false")
                .config("spark.ui.showConsoleProgress", "false")
                .config("spark.sql.execution.arrow.pyspark.enabled", "false")
                .config("spark.sql.shuffle.partitions", "8")
                .config("spark.driver.memory", str(driver_memory))
                .getOrCreate()
            )
    except Exception as e:  # noqa: BLE001 - the JVM failing to start, in any form
        raise BackendUnavailableError(
            f"Spark could not start ({type(e).__name__}: {str(e)[:200]}); it needs "
            "Java 17+ on PATH or JAVA_HOME set, and the extra: " + SPARK_INSTALL
        ) from None
    # ALS's lineage grows with every iteration: checkpoints cut it (Spark's ALS
    # checkpoints every checkpointInterval iterations once a folder is set)
    spark.sparkContext.setCheckpointDir(tempfile.mkdtemp(prefix="minirec-spark-"))
    return spark


#: above this many ratings to_spark goes through a CSV file, not a pickled frame
CSV_ABOVE = 2_000_000


def to_spark(data: Interactions, spark=None, tmp_dir: str | None = None):
    """`data` as a Spark DataFrame with columns user (int), item (int), rating
    (float): internal indices, so ``data.user_ids[user]`` is the raw id.

    Up to :data:`CSV_ABOVE` ratings the frame is sent from pandas; above it, without
    pyarrow every row would be pickled, so the ratings are written to a CSV file in
    `tmp_dir` (default: a new temporary folder, removed with the Python process)
    that Spark reads and caches. On a cluster, `tmp_dir` must be a folder every
    executor sees."""
    if not isinstance(data, Interactions):
        raise TypeError(f"to_spark() takes an Interactions, got {type(data).__name__}")
    spark = spark or get_spark()
    import pandas as pd
    from pyspark.sql.types import FloatType, IntegerType, StructField, StructType

    schema = StructType(
        [
            StructField("user", IntegerType(), False),
            StructField("item", IntegerType(), False),
            StructField("rating", FloatType(), False),
        ]
    )
    frame = pd.DataFrame(
        {
            "user": data.users.astype(np.int32),
            "item": data.items.astype(np.int32),
            "rating": data.ratings.astype(np.float32),
        }
    )
    if len(frame) <= CSV_ABOVE:
        with _quiet_pandas_warning():
            return spark.createDataFrame(frame, schema=schema)
    folder = tmp_dir or _tmp_folder()
    path = os.path.join(folder, f"ratings-{id(data):x}-{time.time_ns():x}.csv")
    frame.to_csv(path, header=False, index=False)
    del frame
    return spark.read.csv(path, schema=schema).cache()


_TMP: list[str] = []


def _tmp_folder() -> str:
    """One temporary folder per process for to_spark's CSV files, removed at exit."""
    if not _TMP:
        import atexit

        _TMP.append(tempfile.mkdtemp(prefix="minirec-spark-data-"))
        atexit.register(shutil.rmtree, _TMP[0], True)
    return _TMP[0]


def _factors(df, n: int, k: int) -> np.ndarray:
    """An (n, k) float32 matrix from a Spark factor frame (id, features); rows with
    no factors (no ratings) stay 0."""
    out = np.zeros((n, k), dtype=np.float32)
    with _quiet_pandas_warning():
        pdf = df.toPandas()
    if len(pdf):
        out[pdf["id"].to_numpy()] = np.stack(pdf["features"].to_numpy()).astype(
            np.float32
        )
    return out


class SparkALS(FactorModel):
    """ALS trained by Spark MLlib, served by minirec (see the module docstring).

    Parameters
    ----------
    k : int
        Rank (Spark's ``rank``).
    reg : float
        λ, scaled by each row's number of ratings as in Spark (``regParam``).
    n_epochs : int
        Alternations (``maxIter``).
    implicit : bool
        Hu et al.'s implicit model (``implicitPrefs``), confidence 1 + alpha r.
    alpha : float
        Confidence slope of the implicit model.
    n_blocks : int
        User and item blocks (``numUserBlocks`` = ``numItemBlocks``).
    seed : int
        Seed of Spark's initialisation.
    master : str
        Spark master for a new session ("local[2]": two local cores); an active
        session is used as it is.
    collect : bool
        Pull the factors back to this machine (needed for recommend / predict /
        save); False keeps them on the cluster for :func:`recommend_all_spark`.
    max_collect_bytes : int
        Refuse to collect factors larger than this (use ``collect=False``).
    """

    name = "spark-als"
    #: the explicit model predicts ratings; the instance says which one it is
    predicts_ratings = True

    def __init__(
        self,
        k: int = 10,
        reg: float = 0.1,
        n_epochs: int = 10,
        implicit: bool = False,
        alpha: float = 1.0,
        n_blocks: int = 10,
        seed: int = 0,
        master: str = "local[2]",
        collect: bool = True,
        max_collect_bytes: int = 2**31,
    ) -> None:
        from ._utils import check_nonnegative, check_positive_int

        self.k = check_positive_int("k", k)
        self.reg = check_nonnegative("reg", reg)
        self.n_epochs = check_positive_int("n_epochs", n_epochs)
        self.implicit = bool(implicit)
        self.predicts_ratings = not self.implicit
        self.alpha = check_nonnegative("alpha", alpha)
        self.n_blocks = check_positive_int("n_blocks", n_blocks)
        self.seed = int(seed)
        self.master = str(master)
        self.collect = bool(collect)
        self.max_collect_bytes = check_positive_int(
            "max_collect_bytes", max_collect_bytes
        )

    def _fit(self, data: Interactions) -> None:
        size = (data.n_users + data.n_items) * self.k * 4
        if self.collect and size > self.max_collect_bytes:
            raise DataError(
                f"SparkALS: the factors of {data.n_users:,} users and "
                f"{data.n_items:,} items at k={self.k} take {size / 2**20:,.0f} MiB, "
                f"over max_collect_bytes={self.max_collect_bytes:,}; fit with "
                "collect=False and rank on the cluster with recommend_all_spark()"
            )
        from pyspark.ml.recommendation import ALS as SparkMLALS

        spark = get_spark(self.master)
        t0 = time.perf_counter()
        frame = to_spark(data, spark)
        t1 = time.perf_counter()
        als = SparkMLALS(
            rank=self.k,
            maxIter=self.n_epochs,
            regParam=self.reg,
            implicitPrefs=self.implicit,
            alpha=self.alpha,
            numUserBlocks=self.n_blocks,
            numItemBlocks=self.n_blocks,
            seed=self.seed,
            userCol="user",
            itemCol="item",
            ratingCol="rating",
            coldStartStrategy="nan",
        )
        self.spark_model_ = als.fit(frame)
        t2 = time.perf_counter()
        self.biased = False
        self.rating_range_ = (float(data.ratings.min()), float(data.ratings.max()))
        self.clip = not self.implicit
        if self.collect:
            self.P_ = _factors(self.spark_model_.userFactors, data.n_users, self.k)
            self.Q_ = _factors(self.spark_model_.itemFactors, data.n_items, self.k)
        #: seconds of the fit's parts: ratings to Spark, ALS, factors collected
        self.fit_timings_ = {
            "to_spark": t1 - t0,
            "als": t2 - t1,
            "collect": time.perf_counter() - t2,
        }

    def _check_collected(self) -> None:
        if not hasattr(self, "P_"):
            raise NotFittedError(
                "SparkALS(collect=False) keeps its factors on the cluster; rank with "
                "recommend_all_spark(model, n) or refit with collect=True"
            )

    def _score(self, u: np.ndarray) -> np.ndarray:
        self._check_collected()
        return super()._score(u)

    def _raw(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        self._check_collected()
        return super()._raw(u, i)

    def _meta_extra(self) -> dict:
        return {"rating_range": list(self.rating_range_)}

    def _set_meta_extra(self, extra: dict) -> None:
        self.biased = False
        self.clip = not self.implicit
        self.rating_range_ = tuple(extra["rating_range"])

    def save(self, path):
        """Write the model as the equivalent plain minirec model (:meth:`to_model`),
        so loading it needs no Spark; returns the path."""
        return self.to_model().save(path)

    def to_model(self):
        """The plain minirec model with these factors: ``ALS(biased=False,
        weighted=True)`` (explicit) or ``ImplicitALS(weighted=True)``, fitted state
        copied."""
        self._check_collected()
        from .models.als import ALS, ImplicitALS

        if self.implicit:
            m = ImplicitALS(
                k=self.k, reg=self.reg, alpha=self.alpha, weighted=True, seed=self.seed
            )
        else:
            m = ALS(k=self.k, reg=self.reg, weighted=True, biased=False, seed=self.seed)
        for name in (
            "user_ids_",
            "item_ids_",
            "_seen",
            "_lookups",
            "item_popularity_",
            "item_mean_",
            "global_mean_",
            "item_titles_",
            "fit_info_",
            "P_",
            "Q_",
        ):
            setattr(m, name, getattr(self, name))
        if not self.implicit:
            m.mu_ = 0.0
            m.rating_range_ = self.rating_range_
            m.bu_ = np.zeros(len(self.user_ids_), dtype=np.float32)
            m.bi_ = np.zeros(len(self.item_ids_), dtype=np.float32)
        m.history_ = []
        return m


def recommend_all_spark(model: SparkALS, n: int = 10) -> Any:
    """Top-`n` items of every user, ranked on the cluster: a Spark DataFrame with
    columns user, item (raw ids) and score, `n` rows per user. Seen items are not
    filtered (Spark's ``recommendForAllUsers`` ranks every item)."""
    if not hasattr(model, "spark_model_"):
        raise NotFittedError(
            "recommend_all_spark() needs a SparkALS fitted in this session (the "
            "Spark model is not saved with the file)"
        )
    from ._utils import check_positive_int

    n = check_positive_int("n", n)
    import pandas as pd
    from pyspark.sql import functions as sf

    spark = get_spark(model.master)
    recs = model.spark_model_.recommendForAllUsers(n).select(
        "user", sf.posexplode("recommendations").alias("rank", "rec")
    )
    recs = recs.select(
        "user", "rank", sf.col("rec.item").alias("item"), sf.col("rec.rating")
    ).withColumnRenamed("rating", "score")
    ids = {
        "user": model.user_ids_,
        "item": model.item_ids_,
    }
    for col, raw in ids.items():
        with _quiet_pandas_warning():
            m = spark.createDataFrame(
                pd.DataFrame({col: np.arange(len(raw), dtype=np.int32), "raw": raw})
            )
        recs = recs.join(sf.broadcast(m), on=col).drop(col)
        recs = recs.withColumnRenamed("raw", col)
    return recs.select("user", "rank", "item", "score")
