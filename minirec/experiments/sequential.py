"""The sequential table's protocols: a config with ``table == "sequential"`` runs
here (``runner.run`` hands it over) and gets the same record as any row.

Protocols (``protocol`` in the config, the label in the record):

* ``session`` -> ``session-rec(rsc15-100k, last day as test)``: session-rec's
  YOOCHOOSE sample, train on ``train_full``, test on the last day's sessions;
  every position of every test session, the next item ranked among all training
  items, pessimistic ties, Recall@20 / MRR@20
  (:func:`minirec.evaluation_seq.evaluate_next_item`). The first-order Markov
  chain of the same run is the peer column.
* ``sampled`` -> ``sampled(1+100, sasrec-last-item)``: SASRec's protocol (Kang &
  McAuley 2018, its ``util.py``): each user's last item is the test item, the
  second-last the validation item, the rest trains; the target ranked against
  100 items sampled outside the user's history, at most 10,000 users (seeded)
  (:func:`minirec.evaluation_seq.evaluate_sampled_next`).
* ``full`` -> ``full(sasrec-last-item)``: the same split, the target ranked
  against every item the user has not seen (its prefix's items are removed, the
  target kept), pessimistic ties, at most 10,000 users (the same seeded rule).

Selection. ``[select] grid = { n_epochs = [5, 10, ...] }`` chooses the epoch on
validation (the second-last item, the model reading the training part): one fit
of ``max(n_epochs)`` epochs, evaluated on validation after each listed epoch; a
run of E epochs is the first E epochs of a longer one (same seed, no schedule), so
this equals fitting each grid point. The weights of the best epoch (first best)
are kept and only they see the test item. A grid over other names fits each
point. Rows that differ only in their protocol share one such fit
(:func:`run_many`, :func:`fit_groups`; ``minirec reproduce sequential --only
ROW --only ROW``), each choosing its epoch on its own protocol's validation.

``[quick]``: ``users`` keeps the first N users (sampled, full) or the first N
training sessions (session); ``params`` and ``grid`` override as in any config.
The data folder is ``$MINIREC_DATA`` (``sasrec/Video.txt`` for ``sasrec-games``,
``sessions/rsc15-100k``; ``ml-100k`` as ``--data ml-100k`` finds it).
"""

from __future__ import annotations

import datetime as _dt
import itertools
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .config import Config, ConfigError

#: the protocol labels of this table
LABELS = {
    "session": "session-rec(rsc15-100k, last day as test)",
    "sampled": "sampled(1+100, sasrec-last-item)",
    "full": "full(sasrec-last-item)",
}
#: the data sets this table reads
DATASETS = ("rsc15-100k", "sasrec-games", "ml-100k")
#: users evaluated in the sampled and full protocols (a seeded sample beyond it, as
#: SASRec's util.py)
MAX_USERS = 10_000


# ----------------------------------------------------------------------------- data
def _root(cfg: Config) -> Path:
    env = os.environ.get("MINIREC_DATA")
    if not env or not Path(env).is_dir():
        raise ConfigError(
            f"{cfg.path}: key 'dataset': {cfg.dataset} is read from $MINIREC_DATA; "
            "set MINIREC_DATA to the folder holding sasrec/ and sessions/"
        )
    return Path(env)


def _interactions(cfg: Config):
    from ..cli import protocols as P
    from ..data import load_sasrec

    if cfg.dataset == "sasrec-games":
        return load_sasrec(_root(cfg) / "sasrec" / "Video.txt", name="sasrec-games")
    if cfg.dataset == "ml-100k":
        return P.load_data("ml-100k")
    raise ConfigError(
        f"{cfg.path}: key 'dataset': {cfg.dataset!r} has no user sequences for "
        f"protocol {cfg.protocol} (use sasrec-games or ml-100k)"
    )


def _first_users(data, n: int):
    """`data` restricted to its first `n` users (internal indices), same ids."""
    return data.subset(data.users < n)


# ------------------------------------------------------------------------ evaluation
class _Cases:
    """SASRec's split of one data set: the training Interactions (whose catalog is
    the data set's) and the validation / test prefixes and targets."""

    def __init__(self, data):
        from ..data import sasrec_split
        from ..evaluation_seq import sasrec_cases

        self.c = sasrec_cases(data)
        self.train = sasrec_split(data)[0]
        self.n_users = len(self.c.users)

    def evaluate(self, model, protocol: str, part: str, seed: int) -> dict:
        c = self.c
        if part == "valid":
            prefixes, targets = c.valid_prefix, c.valid
        else:
            prefixes, targets = c.test_prefix, c.test
        if protocol == "sampled":
            from ..evaluation_seq import evaluate_sampled_next

            res = evaluate_sampled_next(
                model, prefixes, targets, history=c.history, seed=seed, ks=(10,)
            )
            return {k: float(res.metrics[k]) for k in ("HR@10", "NDCG@10")}
        return full_rank_unseen(model, prefixes, targets, seed=seed)


def full_rank_unseen(
    model, prefixes, targets, ks=(10,), max_users=MAX_USERS, seed=0
) -> dict:
    """HR@k / NDCG@k of each target ranked against every catalog item except the
    prefix's items (the target itself stays a candidate), pessimistic ties; at
    most `max_users` cases, a seeded sample (the sampled protocol's rule)."""
    from .. import metrics as M

    cases = np.arange(len(targets))
    if max_users is not None and len(cases) > max_users:
        rng = np.random.default_rng(seed)
        cases = np.sort(rng.choice(cases, max_users, replace=False))
    pre = [model.item_index(prefixes[c], unknown="skip") for c in cases]
    tgt = model.item_index(np.asarray(targets)[cases], unknown="skip")
    if len(tgt) != len(pre):
        raise ValueError("full_rank_unseen: a target is not in the model's catalog")
    ranks = []
    for a in range(0, len(pre), 512):
        chunk = pre[a : a + 512]
        S = np.array(model._score_prefixes(chunk), dtype=np.float64)
        rows = np.arange(len(S))
        t = tgt[a : a + 512]
        st = S[rows, t].copy()
        for r, p in enumerate(chunk):
            S[r, p] = -np.inf
        S[rows, t] = -np.inf  # the target is not its own competitor
        ranks.append(M.rank_of_positive(st, S))
    m = M.leave_one_out_metrics(np.concatenate(ranks), ks=tuple(ks))
    return {f"{n}@{k}": float(m[f"{n}@{k}"]) for k in ks for n in ("HR", "NDCG")}


# ----------------------------------------------------------------------------- runs
def _model(cfg: Config, params: dict):
    from ..models import get_model_class

    try:
        return get_model_class(cfg.model)(**params)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{cfg.path}: key 'params': {e}") from None


def _grid(cfg: Config, quick: bool) -> dict | None:
    if cfg.select is None:
        return None
    return cfg.quick.get("grid", cfg.select["grid"]) if quick else cfg.select["grid"]


def _check_metric(cfg: Config, metric: str, got: dict) -> None:
    if metric not in got:
        raise ConfigError(
            f"{cfg.path}: key 'select.metric': {metric} is not reported by protocol "
            f"{cfg.protocol} (it reports {', '.join(got)})"
        )


def _epoch_selection(cfgs, params, cases, epochs, say):
    """One fit to max(epochs), validation after each listed epoch under each
    config's protocol; per config the model with its best epoch's weights, its
    selection record, and the fit seconds."""
    wanted = sorted(set(int(e) for e in epochs))
    model = _model(cfgs[0], {**params, "n_epochs": wanted[-1]})
    points = [[] for _ in cfgs]
    best = [{"value": -np.inf, "state": None, "epoch": None} for _ in cfgs]
    t0, eval_s = time.perf_counter(), 0.0

    def on_epoch(m, epoch, rec):
        nonlocal eval_s
        te = time.perf_counter()
        fit_s = te - t0 - eval_s
        if epoch not in wanted:
            say(f"  epoch {epoch}: loss {rec['loss']:.4f} (fit {fit_s:.0f} s)")
            return
        for n, cfg in enumerate(cfgs):
            metric = cfg.select["metric"]
            got = cases.evaluate(m, cfg.protocol, "valid", seed=1)
            _check_metric(cfg, metric, got)
            points[n].append(
                {
                    "params": {"n_epochs": epoch},
                    "metrics": got,
                    "seconds": fit_s,
                    "loss": rec["loss"],
                }
            )
            say(
                f"  {cfg.row} validation n_epochs={epoch}: {metric} "
                f"{got[metric]:.4f} (loss {rec['loss']:.4f}, fit {fit_s:.0f} s)"
            )
            if got[metric] > best[n]["value"]:
                state = {k: np.array(v, copy=True) for k, v in m._state().items()}
                best[n].update(value=got[metric], state=state, epoch=epoch)
        eval_s += time.perf_counter() - te

    model.fit(cases.train, on_epoch=on_epoch)
    fit_s = time.perf_counter() - t0 - eval_s
    out = []
    for n, cfg in enumerate(cfgs):
        model._set_state(best[n]["state"])
        got = cases.evaluate(model, cfg.protocol, "test", seed=cfg.seed)
        sel = {
            "on": f"validation second-last item of {LABELS[cfg.protocol]}",
            "metric": cfg.select["metric"],
            "grid": points[n],
            "best": {"n_epochs": best[n]["epoch"]},
            "how": "one fit, validation after each listed epoch, the best epoch's "
            "weights kept",
        }
        if len(cfgs) > 1:
            sel["same fit as"] = [c.name for c in cfgs if c is not cfg]
        out.append((got, sel))
    return out, fit_s


def _grid_selection(cfg, params, cases, grid, say):
    """Each grid point fitted and evaluated on validation; the best one's model."""
    metric = cfg.select["metric"]
    names = list(grid)
    points, best_model, best_v, secs = [], None, -np.inf, 0.0
    for values in itertools.product(*(grid[n] for n in names)):
        point = dict(zip(names, values))
        model = _model(cfg, {**params, **point})
        t0 = time.perf_counter()
        model.fit(cases.train)
        s = time.perf_counter() - t0
        got = cases.evaluate(model, cfg.protocol, "valid", seed=1)
        _check_metric(cfg, metric, got)
        points.append({"params": point, "metrics": got, "seconds": s})
        say(f"  validation {point}: {metric} {got[metric]:.4f} ({s:.1f} s)")
        if got[metric] > best_v:
            best_model, best_v, secs = model, got[metric], s
    best = next(p for p in points if p["metrics"][metric] == best_v)
    sel = {
        "on": f"validation second-last item of {LABELS[cfg.protocol]}",
        "metric": metric,
        "grid": points,
        "best": best["params"],
    }
    return best_model, sel, secs


def _same_fit(cfgs: list[Config], quick: bool) -> None:
    """Configs that share one fit must differ in their protocol only."""
    a = cfgs[0]
    for c in cfgs[1:]:
        for key in ("model", "dataset", "params", "quick"):
            if getattr(c, key) != getattr(a, key):
                raise ConfigError(
                    f"{c.path}: key {key!r}: differs from {a.path}; only configs "
                    "that differ in their protocol share one fit"
                )
        if (
            _grid(c, quick) != _grid(a, quick)
            or c.select["metric"] != a.select["metric"]
        ):
            raise ConfigError(f"{c.path}: key 'select': differs from {a.path}")


def _run_sasrec_protocol(cfgs: list[Config], quick: bool, say) -> list[dict]:
    cfg = cfgs[0]
    data = _interactions(cfg)
    users = cfg.quick.get("users") if quick else None
    if users is not None:
        data = _first_users(data, users)
    cases = _Cases(data)
    params = {**cfg.params, **(cfg.quick.get("params", {}) if quick else {})}
    grid = _grid(cfg, quick)
    if len(cfgs) > 1:
        if grid is None or list(grid) != ["n_epochs"]:
            raise ConfigError(
                f"{cfg.path}: key 'select': rows share one fit only with an "
                "n_epochs grid"
            )
        _same_fit(cfgs, quick)
    if grid is not None and list(grid) == ["n_epochs"]:
        results, secs = _epoch_selection(cfgs, params, cases, grid["n_epochs"], say)
    else:
        sel = None
        if grid is not None:
            model, sel, secs = _grid_selection(cfg, params, cases, grid, say)
        else:
            model = _model(cfg, params)
            t0 = time.perf_counter()
            model.fit(cases.train)
            secs = time.perf_counter() - t0
        results = [(cases.evaluate(model, cfg.protocol, "test", seed=cfg.seed), sel)]
    out = []
    for c, (got, sel) in zip(cfgs, results):
        _check_reported(c, got)
        rec = {
            "metrics": {m: got[m] for m in c.metrics},
            "seconds": secs,
            "params": {**params, **(sel["best"] if sel else {})},
            "n_eval_users": min(cases.n_users, MAX_USERS),
        }
        if sel is not None:
            rec["selected"] = sel
        out.append(rec)
    return out


def _check_reported(cfg: Config, got: dict) -> None:
    missing = [m for m in cfg.metrics if m not in got]
    if missing:
        raise ConfigError(
            f"{cfg.path}: key 'metrics': {', '.join(missing)} not reported by "
            f"protocol {cfg.protocol} (it reports {', '.join(got)})"
        )


def _run_session(cfg: Config, quick: bool, say) -> dict:
    from ..data import load_session_split
    from ..evaluation_seq import evaluate_next_item
    from ..models.session_baselines import MarkovChain

    if cfg.dataset != "rsc15-100k":
        raise ConfigError(
            f"{cfg.path}: key 'dataset': protocol session reads rsc15-100k, not "
            f"{cfg.dataset!r}"
        )
    if cfg.select is not None:
        raise ConfigError(
            f"{cfg.path}: key 'select': protocol session has no validation split here"
        )
    train, test = load_session_split(
        "rsc15-100k", path=_root(cfg) / "sessions" / "rsc15-100k"
    )
    users = cfg.quick.get("users") if quick else None
    if users is not None:
        train, test = _head(train, users), _head(test, max(users // 4, 50))
    params = {**cfg.params, **(cfg.quick.get("params", {}) if quick else {})}

    def one(model):
        t0 = time.perf_counter()
        model.fit(train)
        secs = time.perf_counter() - t0
        res = evaluate_next_item(model, test, k=20, dataset=cfg.dataset)
        return {m: float(res.metrics[m]) for m in ("Recall@20", "MRR@20")}, secs, res

    got, secs, res = one(_model(cfg, params))
    _check_reported(cfg, got)
    say(f"  {cfg.model}: Recall@20 {got['Recall@20']:.4f} ({secs:.1f} s)")
    mk, mk_s, _ = one(MarkovChain())
    return {
        "metrics": {m: got[m] for m in cfg.metrics},
        "seconds": secs,
        "params": params,
        "n_test_events": int(res.n_test),
        "peer": {
            "label": "minirec MarkovChain (first order)",
            "version": _minirec_version(),
            "metrics": mk,
            "seconds": mk_s,
        },
    }


def _minirec_version() -> str:
    from .. import __version__

    return __version__


def _head(sessions, n: int):
    """The first `n` sessions (as a list of raw-id sequences)."""
    from ..data.sequences import as_sequences

    return as_sequences(sessions, "sessions")[:n]


def fit_groups(cfgs: list[Config], quick: bool = False) -> list[list[Config]]:
    """`cfgs` in the groups :func:`run_many` fits once each: rows of the
    sampled / full protocols with the same model, dataset, params, quick table
    and n_epochs grid share a group; every other row is a group of its own."""
    groups: dict[str, list[Config]] = {}
    for c in cfgs:
        grid = _grid(c, quick)
        key = c.row
        if c.protocol != "session" and grid is not None and list(grid) == ["n_epochs"]:
            what = [c.model, c.dataset, c.params, c.quick, grid, c.select["metric"]]
            key = json.dumps(what, sort_keys=True, default=str)
        groups.setdefault(key, []).append(c)
    return list(groups.values())


def run(
    cfg: Config,
    quick: bool = False,
    say: Callable[[str], None] = print,
    rerun: bool = False,
) -> dict:
    """Run a sequential config and return its record (the shape of
    :func:`minirec.experiments.runner.run`'s); a recorded row returns its recorded
    figure unless `rerun`."""
    return run_many([cfg], quick=quick, say=say, rerun=rerun)[0]


def run_many(
    cfgs: list[Config],
    quick: bool = False,
    say: Callable[[str], None] = print,
    rerun: bool = False,
) -> list[dict]:
    """The records of `cfgs`; configs that differ only in their protocol (sampled
    vs full, the same model, data, params and n_epochs grid) share one fit, each
    choosing its epoch on its own protocol's validation: the same records as
    separate runs (same seed), for the cost of one."""
    from .runner import record_head, versions

    records, todo = [], []
    for cfg in cfgs:
        if cfg.protocol not in LABELS:
            raise ConfigError(
                f"{cfg.path}: key 'protocol': {cfg.protocol!r}: the sequential "
                f"table runs {', '.join(LABELS)}"
            )
        record = record_head(
            cfg, quick and (cfg.recorded is None or rerun or bool(cfg.quick))
        )
        records.append(record)
        # as runner.run: with `quick`, a row that has a [quick] table runs
        if cfg.recorded is not None and not (rerun or (quick and cfg.quick)):
            rec = cfg.recorded
            record.update(
                status="recorded",
                protocol=rec.get("protocol") or LABELS[cfg.protocol],
                metrics=rec["metrics"],
                seconds=rec.get("seconds"),
                source=rec.get("source", ""),
                note=rec.get("note", ""),
                params=cfg.params,
            )
        else:
            todo.append((cfg, record))
    if not todo:
        return records
    t0 = time.perf_counter()
    run_cfgs = [c for c, _ in todo]
    if any(c.protocol == "session" for c in run_cfgs):
        if len(run_cfgs) > 1:
            raise ConfigError(f"{run_cfgs[0].path}: a session row runs alone")
        results = [_run_session(run_cfgs[0], quick, say)]
    else:
        results = _run_sasrec_protocol(run_cfgs, quick, say)
    wall = time.perf_counter() - t0
    date = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    vers = versions()
    for (cfg, record), got in zip(todo, results):
        record.update(status="measured", protocol=LABELS[cfg.protocol])
        record.update({k: v for k, v in got.items() if v is not None})
        record.update(wall_seconds=wall, versions=vers, date=date)
    return records


def main(argv: list[str] | None = None) -> int:
    """``python -m minirec.experiments.sequential ROW [--quick] [--rerun] [--out
    DIR]``: run one row and write ``DIR/runs/sequential/ROW.json``."""
    import argparse

    from .config import table_configs
    from .runner import write_json

    ap = argparse.ArgumentParser(description="run one row of the sequential table")
    ap.add_argument("row", nargs="+", help="rows sharing one fit when several")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rerun", action="store_true")
    ap.add_argument("--out", default=None, help="results folder to write into")
    args = ap.parse_args(argv)
    cfgs = {c.row: c for c in table_configs("sequential")}
    for r in args.row:
        if r not in cfgs:
            ap.error(f"no row {r!r}; rows: {', '.join(cfgs)}")
    recs = run_many(
        [cfgs[r] for r in args.row], quick=args.quick, say=print, rerun=args.rerun
    )
    for rec in recs:
        print({k: rec.get(k) for k in ("config", "protocol", "metrics", "seconds")})
        if args.out:
            path = Path(args.out) / "runs" / "sequential" / f"{rec['row']}.json"
            print("written", write_json(path, rec))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
