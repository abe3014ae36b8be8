"""Datasets, splits and protocols in the command line's one vocabulary.

A split is a dict ``{"how": "random", "test_fraction": 0.1, "seed": 0}`` (how:
random, per-user, leave-last-out, temporal or ncf; ``minirec reproduce`` also uses
``{"how": "fold", "fold": "u1"}``, a GroupLens ML-100k fold, and the validation
splits of :meth:`Holdout.validation`), or None for ``--all-data``.
``train`` stores it with the dataset in the model file (``model.fit_info_``) and
``evaluate`` rebuilds exactly that split, so no training rating is ever scored as
a test rating. Protocol labels, the same in every ``--json`` output:

    rating-holdout(random 90/10, seed 0)   RMSE/MAE on the held-out ratings
    full(random 90/10, seed 0)             every item ranked for every test user
    sampled(1+99, random 90/10, seed 0)    each test pair against 99 sampled items
    sampled(1+99, ncf-files)               NCF's leave-one-out test files (ml-1m)
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from ..data.download import MOVIELENS
from ..errors import MinirecError
from ._io import CliError

DATASETS = ("synthetic", *MOVIELENS)
SPLITS = ("random", "per-user", "leave-last-out", "temporal", "ncf")
PROTOCOLS = ("rating", "full", "sampled")
_TIMED = ("leave-last-out", "temporal")  # splits that need timestamps


def load_data(name: str, download: bool = False):
    """The Interactions of ``--data NAME`` (a known dataset name or a folder)."""
    from .. import data as mdata

    if name == "synthetic":
        return mdata.synthetic_ratings(seed=0)
    if name in DATASETS:
        return mdata.load_movielens(name, download=download)
    p = Path(name)
    if p.is_dir():
        return mdata.load_movielens(p.name, path=p)
    raise CliError(
        f"--data {name}: not a dataset name ({', '.join(DATASETS)}) nor a folder; "
        "`minirec datasets` shows what is found where"
    )


def _folder(value: str) -> Path | None:
    """The folder a ``--data`` value reads (None for synthetic or when not found)."""
    from .. import data as mdata

    if value in DATASETS:
        if value == "synthetic":
            return None
        try:
            return mdata.find_dataset(value).resolve()
        except MinirecError:
            return None
    p = Path(value)
    return p.resolve() if p.is_dir() else None


def same_dataset(a: str, b: str) -> bool:
    """Whether two ``--data`` values name the same data: the same name, or names
    and folders that lead to one folder."""
    if a == b:
        return True
    fa = _folder(a)
    return fa is not None and fa == _folder(b)


def make_split(how: str, test_fraction: float, seed: int) -> dict:
    """The split dict of the flags (fields a split does not use are left out)."""
    if how not in SPLITS:
        raise CliError(f"--split {how}: choose one of {', '.join(SPLITS)}")
    if how in ("random", "per-user"):
        return {"how": how, "test_fraction": float(test_fraction), "seed": int(seed)}
    if how == "temporal":
        return {"how": how, "test_fraction": float(test_fraction)}
    return {"how": how}


def split_label(split: dict | None) -> str:
    """``"random 90/10, seed 0"``, ``"leave-last-out"``, ``"ncf-files"``, ...;
    ``"all data"`` for None."""
    if split is None:
        return "all data"
    how = split["how"]
    if how == "ncf":
        return "ncf-files"
    if how == "fold":
        return f"ml-100k {split['fold']}"
    if how == "validation":
        return f"validation {split['rule']} of {split_label(split['of'])}"
    if "test_fraction" in split:
        f = 100 * split["test_fraction"]
        label = f"{how} {round(100 - f, 2):g}/{round(f, 2):g}"
        if "seed" in split:
            label += f", seed {split['seed']}"
        return label
    return how


def protocol_label(protocol: str, split: dict | None, negatives: int = 99) -> str:
    """The protocol of a result: ``rating-holdout(...)``, ``full(...)``,
    ``sampled(1+m, ...)``, the split inside the parentheses."""
    where = split_label(split)
    if protocol == "rating":
        return f"rating-holdout({where})"
    if protocol == "sampled":
        return f"sampled(1+{negatives}, {where})"
    return f"{protocol}({where})"


def check_protocol(model, protocol: str, split: dict) -> None:
    """Refuse a protocol that does not fit the model or the split."""
    if protocol == "rating" and not model.predicts_ratings:
        raise CliError(
            f"--protocol rating needs a model that predicts ratings, and "
            f"{type(model).__name__} only ranks items; use --protocol full or "
            "--protocol sampled"
        )
    if split["how"] == "ncf" and protocol != "sampled":
        raise CliError(
            "--split ncf evaluates on the NCF files' 1 + 99 cases: use "
            "--protocol sampled"
        )


class Holdout:
    """Train and test parts of one split of one dataset."""

    def __init__(self, data, split: dict | None):
        self.data = data
        self.split = split
        self.train = data
        self.test = None  # Interactions of the held-out part
        self.cases = None  # (users, items, negatives) of the ncf split, instead
        if split is None:
            return
        from ..data import split as S

        how = split["how"]
        if how in _TIMED and data.timestamps is None:
            raise CliError(
                f"--split {how} needs timestamps, but {data.name or 'this data'} has "
                "none; use --split random or --split per-user"
            )
        if how == "random":
            self.train, self.test = S.random_split(
                data, test_fraction=split["test_fraction"], seed=split["seed"]
            )
        elif how == "per-user":
            self.train, self.test = S.per_user_split(
                data, test_fraction=split["test_fraction"], seed=split["seed"]
            )
        elif how == "leave-last-out":
            self.train, self.test = S.leave_last_out(data)
        elif how == "temporal":
            self.train, self.test = S.temporal_split(
                data, test_fraction=split["test_fraction"]
            )
        elif how == "ncf":
            self._ncf()
        elif how == "fold":
            from ..data import load_ml100k_split

            self.train, self.test = load_ml100k_split(split["fold"])
        else:
            raise CliError(f"split {how!r}: choose one of {', '.join(SPLITS)}")

    def _ncf(self) -> None:
        from ..data import ncf_protocol

        if self.data.name != "ml-1m":
            raise CliError(
                "--split ncf is the NCF paper's ml-1m test files: use it with "
                "--data ml-1m"
            )
        try:
            train, tu, ti, negs = ncf_protocol(self.data)
        except MinirecError as e:
            raise CliError(
                f"--split ncf needs the NCF test files (MINIREC_DATA/ncf/): {e}"
            ) from None
        self.train = train
        self.cases = (tu, ti, negs)

    def validation(self, seed: int = 1) -> Holdout:
        """A validation split carved from the training part only (the test part is
        never looked at): for the sampled protocol one random training interaction
        per user held out and ranked against 99 items the user never rated (as the
        NCF files are built); otherwise a random 10% of the training ratings."""
        from ..data import sample_negatives
        from ..data import split as S

        if self.split is None:
            raise CliError("no test part to validate against: drop --all-data")
        out = Holdout.__new__(Holdout)
        out.data, out.cases, out.test = self.data, None, None
        if self.cases is not None:
            train = self.train
            rng = np.random.default_rng(seed)
            R = train.by_user
            has = np.flatnonzero(R.lengths() > 0)
            pick = R.indptr[has] + (rng.random(len(has)) * R.lengths()[has]).astype(
                np.int64
            )
            rows = R.rows[pick]
            keep = np.ones(len(train), bool)
            keep[rows] = False
            vu, vi = train.users[rows], train.items[rows]
            out.cases = (vu, vi, sample_negatives(self.data, vu, 99, seed=seed))
            out.train = train.subset(keep)
            rule = f"1 per user + 99, seed {seed}"
        else:
            out.train, out.test = S.random_split(
                self.train, test_fraction=0.1, seed=seed
            )
            rule = f"random 10%, seed {seed}"
        out.split = {"how": "validation", "rule": rule, "of": self.split}
        return out

    def keep_users(self, n: int) -> None:
        """Keep the first `n` users (internal indices) in every part: the small
        slice of ``minirec reproduce --quick``."""
        self.train = self.train.subset(self.train.users < n)
        if self.test is not None:
            self.test = self.test.subset(self.test.users < n)
        if self.cases is not None:
            users, items, negs = self.cases
            m = users < n
            self.cases = (users[m], items[m], negs[m])

    def default_protocol(self, model) -> str:
        """What ``train`` reports: sampled for ncf, RMSE for rating models, else a
        full ranking."""
        if self.cases is not None:
            return "sampled"
        return "rating" if model.predicts_ratings else "full"

    def evaluate(self, model, protocol: str, negatives: int = 99, seed: int = 0):
        """The EvalResult of `protocol` on the test part, its label set to the CLI's
        protocol vocabulary."""
        from .. import evaluation as ev

        if self.split is None:
            raise CliError("no test part: the model was trained on all data")
        check_protocol(model, protocol, self.split)
        name = self.data.name
        if protocol == "rating":
            res = ev.evaluate_ratings(model, self.test, dataset=name)
        elif protocol == "full":
            res = ev.evaluate_full(
                model, self.test, train=self.train, ks=(10, 20), dataset=name
            )
        elif self.cases is not None:
            users, items, negs = self.cases
            res = ev.evaluate_sampled(model, users, items, negs, ks=(10,), dataset=name)
        else:
            from ..data import sample_negatives

            if negatives < 1:
                raise CliError(f"--negatives {negatives}: give at least 1")
            negs = sample_negatives(self.data, self.test.users, negatives, seed=seed)
            res = ev.evaluate_sampled(
                model, self.test.users, self.test.items, negs, ks=(10,), dataset=name
            )
        m = negs.shape[1] if protocol == "sampled" else negatives
        res.protocol = protocol_label(protocol, self.split, m)
        return res


def fit_info(dataset: str, data, split: dict | None) -> dict[str, Any]:
    """What ``train`` stores in the model file about the data it was fitted on."""
    if dataset not in DATASETS:  # a folder: stored absolute, for any working dir
        dataset = str(Path(dataset).resolve())
    return {
        "dataset": dataset,
        "dataset_name": data.name,
        "n_interactions": int(len(data)),
        "split": split,
    }


def fit(model, holdout: Holdout) -> float:
    """Fit `model` on the training part; the seconds it took."""
    t0 = time.perf_counter()
    model.fit(holdout.train)
    return time.perf_counter() - t0
