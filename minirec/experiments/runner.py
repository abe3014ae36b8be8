"""Run one config: the same data loading, splits and evaluation as ``minirec
train`` (:mod:`minirec.cli.protocols`, :mod:`minirec.evaluation`), then one JSON
record per row.

A row's record: the config name, its protocol label, the metrics, the fit seconds,
the hyperparameters used (and the validation grid that chose them), the reference,
the peer library's figures from the same run, versions; ``status`` is
``"measured"`` or ``"recorded"`` (a row not re-run carries the figure of the file
and commit its config names). A row with ``valid`` adds ``"valid"``: the cases it
selected on and the epoch (NeuMF: the blend alpha and the pre-trained models'
epochs too) each fit kept. The ``sequential`` table is run by
:mod:`minirec.experiments.sequential` (same record shape) when that module exists.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..cli import protocols as P
from ..cli._io import jsonable
from .config import LOWER_IS_BETTER, Config, ConfigError


def versions() -> dict[str, str]:
    """Python, the machine, its load and the versions of the libraries a row may
    use."""
    out = {
        "python": platform.python_version(),
        "machine": f"{platform.machine()} x {os.cpu_count()} CPUs",
        "load average": " ".join(f"{x:.1f}" for x in os.getloadavg()),
    }
    for mod in ("minirec", "numpy", "numba", "scipy", "surprise", "implicit"):
        try:
            out[mod] = getattr(__import__(mod), "__version__", "?")
        except ImportError:
            out[mod] = "not installed"
    return out


def _binary(data):
    """`data` with every rating a 1 (implicit feedback), same ids and side tables."""
    from ..data.interactions import Interactions

    return Interactions(
        data.users,
        data.items,
        None,
        data.timestamps,
        user_ids=data.user_ids,
        item_ids=data.item_ids,
        user_features=data.user_features,
        item_features=data.item_features,
        name=data.name,
    )


#: data and holdouts already built in this process, shared by the rows of a table
#: (``clear_cache()`` frees them)
_CACHE: dict[tuple, Any] = {}


def clear_cache() -> None:
    _CACHE.clear()
    _FITTED.clear()


def _data(cfg: Config):
    if cfg.protocol == "ctr":  # the ratings, to threshold into clicks
        key = ("data", cfg.dataset, False)
        if key not in _CACHE:
            _CACHE[key] = P.load_data(cfg.dataset)
        return _CACHE[key]
    key = ("data", cfg.dataset, cfg.implicit)
    if key not in _CACHE:
        data = P.load_data(cfg.dataset)
        _CACHE[key] = _binary(data) if cfg.implicit else data
    return _CACHE[key]


def _holdouts(cfg: Config, quick: bool) -> list[P.Holdout]:
    """One Holdout per fold (one for a plain split), sliced for --quick."""
    users = cfg.quick.get("users") if quick else None
    key = ("holdouts", cfg.dataset, cfg.implicit, json.dumps(cfg.split), quick, users)
    if key not in _CACHE:
        _CACHE[key] = _build_holdouts(cfg, quick, users)
    return _CACHE[key]


class CtrHoldout:
    """The ctr protocol: ratings >= 4 are clicks (label 1), the rest 0; a random
    split of the labelled ratings (:func:`minirec.data.ctr.ctr_task`); AUC and
    logloss of the click probabilities on the test part."""

    def __init__(self, data, split: dict):
        from ..data.ctr import ctr_task

        self.split = split
        task = ctr_task(data, test_fraction=split["test_fraction"], seed=split["seed"])
        self.train, self.test = task.train, task.test
        self.cases = None

    def keep_users(self, n: int) -> None:
        self.train = self.train.subset(self.train.users < n)
        self.test = self.test.subset(self.test.users < n)

    def evaluate(self, model, protocol: str, seed: int = 0):
        from types import SimpleNamespace

        from ..data.ctr import evaluate_ctr

        m = evaluate_ctr(model, self.test)
        return SimpleNamespace(
            metrics={k: float(m[k]) for k in ("AUC", "logloss")},
            protocol=ctr_label(self.split),
        )


def ctr_label(split: dict) -> str:
    return f"ctr(rating >= 4, {P.split_label(split)})"


def _build_holdouts(cfg: Config, quick: bool, users: int | None) -> list:
    data = _data(cfg)
    split = cfg.split
    if cfg.protocol == "ctr":
        h = CtrHoldout(data, split)
        if users is not None:
            h.keep_users(users)
        return [h]
    if split["how"] == "folds":
        folds = cfg.quick.get("folds", split["folds"]) if quick else split["folds"]
        splits = [{"how": "fold", "fold": f} for f in folds]
    else:
        splits = [split]
    out = []
    for s in splits:
        h = P.Holdout(data, s)
        if cfg.implicit and s["how"] == "fold":  # fold files are read with ratings
            h.train, h.test = _binary(h.train), _binary(h.test)
        if users is not None:
            h.keep_users(users)
        out.append(h)
    return out


def _label(cfg: Config, holdouts: list[P.Holdout]) -> str:
    if cfg.protocol == "ctr":
        return ctr_label(cfg.split)
    if cfg.split["how"] == "folds":
        return _folds_label(cfg, [h.split["fold"] for h in holdouts])
    return P.protocol_label(cfg.protocol, holdouts[0].split)


def _folds_label(cfg: Config, names: list[str]) -> str:
    where = names[0] if len(names) == 1 else f"{names[0]}-{names[-1]} mean"
    return P.protocol_label(cfg.protocol, {"how": "fold", "fold": where})


def _model(cfg: Config, params: dict, h=None, valid=None):
    """The model of `cfg` with `params`; a sub-table with a ``model`` key (NeuMF's
    ``gmf`` / ``mlp``) becomes that model, unfitted (the model fits it with the
    same `valid`), or the one a row of this run already fitted with the same
    hyperparameters on the same training part (``_FITTED``)."""
    from ..models import get_model_class

    built = {}
    for k, v in params.items():
        if isinstance(v, dict) and "model" in v:
            sub = {a: b for a, b in v.items() if a != "model"}
            try:
                m = get_model_class(v["model"])(**sub)
            except (TypeError, ValueError) as e:
                raise ConfigError(f"{cfg.path}: key 'params.{k}': {e}") from None
            built[k] = _FITTED.get(_fitted_key(m, h, valid), m)
        else:
            built[k] = v
    try:
        return get_model_class(cfg.model)(**built)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{cfg.path}: key 'params': {e}") from None


#: models fitted by the rows of this run, by hyperparameters and training part:
#: NeuMF's pre-trained GMF / MLP are the fitted ``ncf/gmf`` and ``ncf/ncf-mlp``
#: rows when the hyperparameters agree (``clear_cache()`` frees them)
_FITTED: dict[str, Any] = {}


def _fitted_key(model, h, valid) -> str:
    p = model.get_params(deep=False)
    p = {k: v for k, v in p.items() if not hasattr(v, "get_params")}
    return json.dumps(
        [type(model).__name__, jsonable(p), id(h), id(valid)], sort_keys=True
    )


def _metrics(res, cfg: Config) -> dict[str, float]:
    missing = [m for m in cfg.metrics if m not in res.metrics]
    if missing:
        raise ConfigError(
            f"{cfg.path}: key 'metrics': {', '.join(missing)} not reported by "
            f"protocol {cfg.protocol} (it reports {', '.join(res.metrics)})"
        )
    return {m: float(res.metrics[m]) for m in cfg.metrics}


def _fit_eval(
    cfg: Config, params: dict, h: P.Holdout, say=None, info: dict | None = None
) -> tuple[dict, float]:
    if cfg.valid is not None:
        return _fit_valid(cfg, params, h, say or (lambda _: None), info)
    model = _model(cfg, params)
    secs = P.fit(model, h)
    res = h.evaluate(model, cfg.protocol, seed=cfg.seed)
    return _metrics(res, cfg), secs


def _validation(h: P.Holdout) -> P.Holdout:
    """The validation split of `h` (one random training interaction per user,
    seed 1, + 99 items the user never rated), built once per holdout."""
    key = ("validation", id(h))
    if key not in _CACHE:
        _CACHE[key] = (h, h.validation(seed=1))  # h kept: its id stays unique
    return _CACHE[key][1]


def _fit_valid(cfg: Config, params: dict, h: P.Holdout, say, info) -> tuple:
    """Fit on the training part minus the validation cases, the model keeping its
    best epoch on them (``fit(data, valid=...)``); score the test part once."""
    val = _validation(h)
    model = _model(cfg, params, val.train, val.cases)

    def on_epoch(m, epoch, rec):
        v = rec.get("valid")
        best = " (best)" if rec.get("best") else ""
        hr = f", validation HR@10 {v:.4f}{best}" if v is not None else ""
        say(f"  {type(m).__name__} epoch {epoch}: loss {rec.get('loss', 0):.4f}{hr}")

    t0 = time.perf_counter()
    model.fit(val.train, valid=val.cases, on_epoch=on_epoch)
    secs = time.perf_counter() - t0
    _FITTED[_fitted_key(model, val.train, val.cases)] = model
    res = h.evaluate(model, cfg.protocol, seed=cfg.seed)
    if info is not None:
        info.update(valid_record(model, val, params))
    return _metrics(res, cfg), secs


def _chosen(model) -> dict:
    """The epoch `model` kept, its validation HR@10 and the epochs it ran."""
    hist = getattr(model, "history_", None) or []
    best = [h for h in hist if h.get("best")]
    # epochs trained (NeuMF's history starts with its fused start as epoch 0)
    out = {
        "epoch": int(model.best_epoch_),
        "epochs_run": sum(h["epoch"] > 0 for h in hist),
    }
    if best and best[-1].get("valid") is not None:
        out["valid HR@10"] = float(best[-1]["valid"])
    return out


def valid_record(model, val: P.Holdout, params: dict) -> dict:
    """What a ``valid`` row records: where it selected and what each fit kept."""
    out = {
        "on": P.protocol_label("sampled", val.split),
        "metric": "HR@10",
        **_chosen(model),
    }
    if hasattr(model, "alpha_"):
        out["alpha"] = float(model.alpha_)
        scores = getattr(model, "alpha_scores_", None)
        if scores:
            out["alpha_scores"] = [[float(a), float(s)] for a, s in scores]
    starts = {}
    for name in getattr(model, "warm_start_params", ()):
        given = getattr(model, name, None)
        sub = params.get(name)
        if given is not None and hasattr(given, "user_ids_"):
            starts[name] = {"fitted by": "an earlier row of this run", **_chosen(given)}
        elif isinstance(sub, dict) or given is not None:
            hist = (getattr(model, "pretrain_history_", None) or {}).get(name, [])
            best = [h for h in hist if h.get("best")]
            rec = {"fitted by": "this row", "epochs_run": len(hist)}  # from epoch 1
            if best:
                rec.update(epoch=int(best[-1]["epoch"]))
                if best[-1].get("valid") is not None:
                    rec["valid HR@10"] = float(best[-1]["valid"])
            starts[name] = rec
    if starts:
        out["pretrained"] = starts
    return out


def _select(cfg: Config, params: dict, h: P.Holdout, quick: bool, say) -> dict:
    """Fit every grid point on the validation split of `h`'s training part; the
    grid with each point's validation metric and the best point (first best)."""
    sel = cfg.select
    grid = cfg.quick.get("grid", sel["grid"]) if quick else sel["grid"]
    metric = sel["metric"]
    sign = 1.0 if metric in LOWER_IS_BETTER else -1.0
    val = h.validation(seed=1) if _n_points(grid) > 1 else h
    names = list(grid)
    points = []
    combos = list(itertools.product(*(grid[n] for n in names)))
    for values in combos:
        point = dict(zip(names, values))
        if len(combos) == 1:  # nothing to choose between: no validation fit
            points.append({"params": point, "metrics": None, "seconds": 0.0})
            break
        m, secs = _fit_eval(cfg, {**params, **point}, val)
        if metric not in m:
            raise ConfigError(
                f"{cfg.path}: key 'select.metric': {metric} not in metrics"
            )
        points.append({"params": point, "metrics": m, "seconds": secs})
        say(f"  validation {point}: {metric} {m[metric]:.4f} ({secs:.1f} s)")
    best = min(points, key=lambda p: sign * (p["metrics"] or {}).get(metric, 0.0))
    return {
        "on": P.protocol_label(cfg.protocol, val.split),
        "metric": metric,
        "grid": points,
        "best": best["params"],
    }


def _n_points(grid: dict) -> int:
    return int(np.prod([len(v) for v in grid.values()]))


def record_head(cfg: Config, quick: bool) -> dict[str, Any]:
    """The fields every row record starts with: the config and what it names."""
    return {
        "config": cfg.name,
        "table": cfg.table,
        "row": cfg.row,
        "title": cfg.title,
        "model": cfg.model,
        "dataset": cfg.dataset,
        "reference": cfg.reference,
        "quick": quick,
    }


def run(
    cfg: Config,
    quick: bool = False,
    say: Callable[[str], None] = print,
    rerun: bool = False,
) -> dict:
    """Run `cfg` and return its record (see the module docstring); a recorded row
    returns its recorded figure unless `rerun`, or `quick` and the config has a
    ``[quick]`` table (every such row runs on the small slice)."""
    if cfg.table == "sequential":
        try:
            from . import sequential
        except ImportError as e:
            if e.name != f"{__package__}.sequential":
                raise
        else:
            return sequential.run(cfg, quick=quick, say=say, rerun=rerun)
    rerun = rerun or (quick and bool(cfg.quick))
    record = record_head(cfg, quick and (cfg.recorded is None or rerun))
    if cfg.recorded is not None and not rerun:
        rec = cfg.recorded
        record.update(
            status="recorded",
            protocol=rec.get("protocol") or _recorded_label(cfg),
            metrics=rec["metrics"],
            seconds=rec.get("seconds"),
            source=rec.get("source", ""),
            note=rec.get("note", ""),
            params=cfg.params,
        )
        return record
    t0 = time.perf_counter()
    params = _merge(cfg.params, cfg.quick.get("params", {}) if quick else {})
    holdouts = _holdouts(cfg, quick)
    if cfg.select is not None:
        record["selected"] = _select(cfg, params, holdouts[0], quick, say)
        params = {**params, **record["selected"]["best"]}
    per_fold, secs, info = [], 0.0, {}
    for h in holdouts:
        m, s = _fit_eval(cfg, params, h, say, info)
        per_fold.append(m)
        secs += s
    metrics = {k: float(np.mean([f[k] for f in per_fold])) for k in cfg.metrics}
    record.update(
        status="measured",
        protocol=_label(cfg, holdouts),
        metrics=metrics,
        seconds=secs,
        params=params,
    )
    if info:
        record["valid"] = info
    if len(per_fold) > 1:
        record["folds"] = per_fold
    if cfg.peer is not None:
        record["peer"] = run_peer(cfg, holdouts, quick)
    record.update(
        wall_seconds=time.perf_counter() - t0,
        versions=versions(),
        date=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )
    return record


def _merge(base: dict, over: dict) -> dict:
    """`base` with the keys of `over`; a sub-table (``gmf``) merged key by key."""
    out = dict(base)
    for k, v in over.items():
        out[k] = (
            {**out[k], **v}
            if isinstance(v, dict) and isinstance(out.get(k), dict)
            else v
        )
    return out


def _recorded_label(cfg: Config) -> str:
    if cfg.protocol == "ctr" and cfg.split.get("how") == "random":
        return ctr_label(cfg.split)
    if cfg.split.get("how") == "folds":
        return _folds_label(cfg, cfg.split["folds"])
    if cfg.split.get("how") in P.SPLITS:
        return P.protocol_label(cfg.protocol, cfg.split)
    return cfg.protocol


# ----------------------------------------------------------------------------- peers
def _peer_label(peer: dict) -> str:
    args = ", ".join(f"{k}={v}" for k, v in peer.get("params", {}).items())
    return peer.get("label") or f"{peer['library']} {peer['algo']}({args})"


def run_peer(cfg: Config, holdouts: list[P.Holdout], quick: bool = False) -> dict:
    """The peer library of `cfg` on the same holdouts; ``{"skipped": why}`` when
    it is not installed. With `quick`, the ``[quick]`` params that the peer's
    params also name (e.g. ``n_epochs``) apply to the peer too."""
    peer = cfg.peer
    if quick and peer.get("params"):
        over = cfg.quick.get("params", {})
        params = {k: over.get(k, v) for k, v in peer["params"].items()}
        peer = {**peer, "params": params}
    lib = peer["library"]
    try:
        mod = __import__(lib)
    except ImportError:
        return {"label": _peer_label(peer), "skipped": f"{lib} not installed"}
    if lib == "torch":
        from .torch_peers import deepfm as fn
    else:
        fn = _surprise if lib == "surprise" else _implicit
    per_fold, secs = [], 0.0
    for h in holdouts:
        m, s = fn(peer, h, cfg)
        per_fold.append(m)
        secs += s
    return {
        "label": _peer_label(peer),
        "version": getattr(mod, "__version__", "?"),
        "metrics": {k: float(np.mean([f[k] for f in per_fold])) for k in per_fold[0]},
        "seconds": secs,
    }


def _surprise(peer: dict, h: P.Holdout, cfg: Config) -> tuple[dict, float]:
    import surprise as S

    df = h.train.to_dataframe()[["user", "item", "rating"]]
    lo, hi = float(h.train.ratings.min()), float(h.train.ratings.max())
    ts = S.Dataset.load_from_df(df, S.Reader(rating_scale=(lo, hi)))
    ts = ts.build_full_trainset()
    kwargs = dict(peer.get("params", {}))
    if peer["algo"] == "SVD":
        kwargs.setdefault("random_state", cfg.seed)
    else:
        kwargs.setdefault("verbose", False)
    t0 = time.perf_counter()
    algo = getattr(S, peer["algo"])(**kwargs).fit(ts)
    secs = time.perf_counter() - t0
    tdf = h.test.to_dataframe()
    preds = algo.test(list(zip(tdf.user, tdf.item, tdf.rating)))
    return {
        "RMSE": S.accuracy.rmse(preds, verbose=False),
        "MAE": S.accuracy.mae(preds, verbose=False),
    }, secs


class _Factors:
    """Dot products of a peer's factors behind the two attributes and the one method
    evaluate_sampled uses."""

    predicts_ratings = False

    def __init__(self, U, V):
        self.U, self.V = np.asarray(U), np.asarray(V)
        self.n_users, self.n_items = len(self.U), len(self.V)

    def predict_pairs(self, u, i):
        return np.einsum("ij,ij->i", self.U[u], self.V[i]).astype(np.float32)


def _implicit(peer: dict, h: P.Holdout, cfg: Config) -> tuple[dict, float]:
    import implicit
    from scipy.sparse import csr_matrix

    from ..evaluation import evaluate_sampled

    if h.cases is None:
        raise ConfigError(f"{cfg.path}: key 'peer': implicit runs on the sampled cases")
    tr = h.train
    R = csr_matrix(
        (np.ones(len(tr), np.float32), (tr.users, tr.items)),
        shape=(tr.n_users, tr.n_items),
    )
    kwargs = {"random_state": cfg.seed, **peer.get("params", {})}
    cls = (
        implicit.cpu.als.AlternatingLeastSquares
        if peer["algo"] == "ALS"
        else implicit.cpu.bpr.BayesianPersonalizedRanking
    )
    m = cls(**kwargs)
    t0 = time.perf_counter()
    m.fit(R, show_progress=False)
    secs = time.perf_counter() - t0
    users, items, negs = h.cases
    res = evaluate_sampled(_Factors(m.user_factors, m.item_factors), users, items, negs)
    return {k: float(res.metrics[k]) for k in ("HR@10", "NDCG@10")}, secs


# ----------------------------------------------------------------------------- files
def write_json(path: Path, obj: Any) -> Path:
    """Write `obj` as indented JSON to `path` atomically."""
    return write_text(path, json.dumps(jsonable(obj), indent=2, allow_nan=False) + "\n")


def write_text(path: Path, text: str) -> Path:
    """Write `text` to `path` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
