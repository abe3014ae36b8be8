"""`minirec reproduce sequential`: the protocols of minirec.experiments.sequential
on their --quick slices (record shape, protocol label, quick numbers against the
popularity baseline of the same protocol and slice), the full-ranking metric
against a direct computation, and rows sharing one fit."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest

from minirec.experiments import config as C
from minirec.experiments import sequential as S
from minirec.models.session_baselines import SessionPop

DATA = Path(os.environ.get("MINIREC_DATA", "/nonexistent"))
NEEDS = {
    "sasrec-games": DATA / "sasrec" / "Video.txt",
    "ml-100k": DATA / "ml-100k" / "u.data",
    "rsc15-100k": DATA / "sessions" / "rsc15-100k",
}
#: rows whose quick slice is too small to beat popularity: a few hundred of Games'
#: 31k users cannot place its 23.7k items in seconds of training (their full runs
#: are the measured rows); checked for shape and label only
SHAPE_ONLY = {"sasrec-games-paper", "sasrec-games-paper-full", "sasrec-games-ce"}


def _configs():
    return {c.row: c for c in C.table_configs("sequential")}


def _need(cfg):
    path = NEEDS.get(cfg.dataset)
    if path is None or not path.exists():
        pytest.skip(f"{cfg.dataset} not found under $MINIREC_DATA ({path})")


def _popularity(cfg) -> dict:
    """SessionPop on the quick slice of `cfg`, under the same protocol."""
    if cfg.protocol == "session":
        from minirec.data import load_session_split
        from minirec.evaluation_seq import evaluate_next_item

        train, test = load_session_split(
            "rsc15-100k", path=DATA / "sessions" / "rsc15-100k"
        )
        n = cfg.quick["users"]
        pop = SessionPop().fit(S._head(train, n))
        res = evaluate_next_item(pop, S._head(test, max(n // 4, 50)), k=20)
        return {m: float(res.metrics[m]) for m in cfg.metrics}
    data = S._first_users(S._interactions(cfg), cfg.quick["users"])
    cases = S._Cases(data)
    return cases.evaluate(SessionPop().fit(cases.train), cfg.protocol, "test", 0)


RUNNABLE = sorted(r for r, c in _configs().items() if c.quick)


@pytest.mark.parametrize("row", RUNNABLE)
def test_quick_row_record_label_and_popularity(row):
    cfg = _configs()[row]
    _need(cfg)
    lines = []
    rec = S.run(cfg, quick=True, say=lines.append)
    assert rec["status"] == "measured" and rec["quick"] is True
    assert rec["config"] == f"sequential/{row}" and rec["table"] == "sequential"
    assert rec["protocol"] == S.LABELS[cfg.protocol]
    assert list(rec["metrics"]) == cfg.metrics
    assert all(0.0 <= v <= 1.0 for v in rec["metrics"].values())
    assert rec["seconds"] > 0 and rec["versions"]["numpy"] and rec["date"]
    if cfg.select is not None:
        sel = rec["selected"]
        grid = cfg.quick.get("grid", cfg.select["grid"])
        assert [p["params"]["n_epochs"] for p in sel["grid"]] == grid["n_epochs"]
        vals = [p["metrics"][sel["metric"]] for p in sel["grid"]]
        assert sel["best"]["n_epochs"] == grid["n_epochs"][int(np.argmax(vals))]
        assert rec["params"]["n_epochs"] == sel["best"]["n_epochs"]
        assert any("validation" in line for line in lines)
    if cfg.protocol == "session":
        assert rec["peer"]["metrics"].keys() == {"Recall@20", "MRR@20"}
    if row in SHAPE_ONLY:
        return
    pop = _popularity(cfg)
    head = cfg.metrics[0]
    assert rec["metrics"][head] > pop[head], (rec["metrics"], pop)


def test_runner_hands_sequential_rows_over():
    """runner.run of a sequential config gives this module's record."""
    from minirec.experiments import runner

    cfg = _configs()["sasrec-games-ce"]
    _need(cfg)
    cfg = dataclasses.replace(cfg, quick={**cfg.quick, "grid": {"n_epochs": [1]}})
    rec = runner.run(cfg, quick=True, say=lambda s: None)
    assert rec["protocol"] == "full(sasrec-last-item)" and rec["status"] == "measured"


class _Fixed:
    """A 'model' whose scores are a fixed table (rows by prefix length)."""

    def __init__(self, scores):
        self.S = np.asarray(scores, dtype=np.float32)
        self.n_items = self.S.shape[1]

    def item_index(self, ids, unknown="skip"):
        return np.atleast_1d(np.asarray(ids, dtype=np.int64))

    def _score_prefixes(self, prefixes):
        return self.S[[len(p) - 1 for p in prefixes]]


def test_full_rank_unseen_removes_the_prefix_not_the_target():
    # prefix [0, 1] (length 2 -> score row 1); target 3.
    # item scores: 0 and 1 (seen) are highest and must not count; 2 beats 3.
    model = _Fixed([[0, 0, 0, 0, 0], [9, 8, 5, 4, 1]])
    m = S.full_rank_unseen(model, [np.array([0, 1])], np.array([3]), ks=(1, 2))
    assert m["HR@1"] == 0.0 and m["HR@2"] == 1.0  # rank 1 (0-based): only item 2
    assert m["NDCG@2"] == pytest.approx(1 / np.log2(3))
    # a target that is also in the prefix (a repeat) stays a candidate
    m = S.full_rank_unseen(model, [np.array([0, 1])], np.array([1]), ks=(1,))
    assert m["HR@1"] == 1.0  # item 0 is seen and removed; 1 is the best left


def test_rows_that_differ_in_protocol_share_one_fit():
    cfgs = _configs()
    a, b = cfgs["sasrec-games-paper"], cfgs["sasrec-games-paper-full"]
    _need(a)
    q = {**a.quick, "grid": {"n_epochs": [1, 2]}}
    a, b = dataclasses.replace(a, quick=q), dataclasses.replace(b, quick=q)
    ra, rb = S.run_many([a, b], quick=True, say=lambda s: None)
    assert ra["protocol"].startswith("sampled(1+100") and rb["protocol"].startswith(
        "full("
    )
    assert ra["seconds"] == rb["seconds"]  # one fit
    alone = S.run(b, quick=True, say=lambda s: None)
    assert alone["metrics"] == rb["metrics"]  # the same record as a run of its own
    other = dataclasses.replace(b, params={**b.params, "lr": 0.01})
    with pytest.raises(C.ConfigError, match="share one fit"):
        S.run_many([a, other], quick=True, say=lambda s: None)


def test_fit_groups_put_protocol_twins_together_and_the_rest_alone():
    cfgs = _configs()
    groups = S.fit_groups(list(cfgs.values()))
    rows = [[c.row for c in g] for g in groups]
    assert ["sasrec-games-paper", "sasrec-games-paper-full"] in rows
    assert ["gru4rec-rsc15"] in rows  # a session row is never shared
    assert sorted(r for g in rows for r in g) == sorted(cfgs)
    a = cfgs["sasrec-games-paper-full"]
    other = dataclasses.replace(a, params={**a.params, "lr": 0.01})
    assert len(S.fit_groups([cfgs["sasrec-games-paper"], other])) == 2


def test_cli_fits_protocol_twins_once(cli_json, tmp_path):
    """`minirec reproduce sequential --only A --only B` of two rows that differ in
    their protocol fits once: both records carry the one fit's seconds."""
    _need(_configs()["sasrec-games-paper"])
    code, obj = cli_json(
        "reproduce sequential --quick --only sasrec-games-paper "
        f"--only sasrec-games-paper-full --out {tmp_path}"
    )
    assert code == 0
    a, b = obj["rows"]
    assert a["protocol"].startswith("sampled(1+100") and b["protocol"].startswith(
        "full("
    )
    assert a["seconds"] == b["seconds"] and a["wall_seconds"] == b["wall_seconds"]
    for row in ("sasrec-games-paper", "sasrec-games-paper-full"):
        assert (tmp_path / "runs" / "sequential" / f"{row}.json").exists()
