"""`minirec reproduce`: the packaged configs, the runner and the generated tables
(issue 18)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from minirec.cli import protocols as P
from minirec.experiments import config as C
from minirec.experiments import tables as T

ROOT = Path(__file__).resolve().parents[2]


def all_configs():
    return [c for t in C.table_names() for c in C.table_configs(t)]


def test_list_shows_the_tables_and_their_rows(cli, cli_json):
    code, obj = cli_json("reproduce --list")
    assert code == 0
    assert list(obj["tables"]) == ["rating", "ncf", "sequential", "ctr"]
    for table, rows in obj["tables"].items():
        files = sorted(p.stem for p in (C.config_dir() / table).glob("*.toml"))
        assert [r["row"] for r in rows] == files
    code, out, _ = cli("reproduce --list")
    assert code == 0
    for table, rows in obj["tables"].items():
        assert re.search(rf"^{table} \({len(rows)} rows\)$", out, re.M)
        for r in rows:
            assert re.search(
                rf"^  {re.escape(r['row'])} +{re.escape(r['title'])}", out, re.M
            )


def test_every_packaged_config_is_valid_and_runnable_rows_have_a_quick_slice():
    cfgs = all_configs()
    assert len(cfgs) >= 30
    for c in cfgs:
        if c.recorded is None:
            assert c.quick, f"{c.path}: a row that runs needs a [quick] table"
            assert c.reference or c.model == "popularity", f"{c.path}: no reference"


def _git(*args: str) -> str | None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        return None
    p = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    return p.stdout if p.returncode == 0 else None


def test_recorded_figures_are_in_the_file_and_commit_they_name():
    if _git("rev-parse", "HEAD") is None:
        pytest.skip("not a git checkout: the recorded sources cannot be looked up")
    for c in all_configs():
        rec = c.recorded
        if rec is None or not rec["metrics"]:
            continue
        path, commit = rec["source"].rsplit("@", 1)
        text = _git("show", f"{commit}:{path}")
        assert text is not None, f"{c.path}: {rec['source']} not found in git"
        for name, value in rec["metrics"].items():
            assert f"{value:.4f}" in text or f"{value:g}" in text, (c.path, name)


@pytest.mark.parametrize(
    "text, key",
    [
        ('title = "x"\nmodel = "ease"\ndataset = "ml-1m"\n', "protocol"),
        (
            'title = "x"\nmodel = "ease"\ndataset = "ml-1m"\nprotocol = "sampled"\n'
            'metrics = ["HR@10"]\nsplit = { how = "ncf" }\nparams = { rge = 1.0 }\n',
            "params.rge",
        ),
        (
            'title = "x"\nmodel = "eas"\ndataset = "ml-1m"\nprotocol = "sampled"\n'
            'metrics = ["HR@10"]\nsplit = { how = "ncf" }\n',
            "model",
        ),
        (
            'title = "x"\nmodel = "ease"\ndataset = "ml-1m"\nprotocol = "sampled"\n'
            'metrics = ["HR@10"]\nsplit = { how = "ncf" }\nseeds = 3\n',
            "seeds",
        ),
        (
            'title = "x"\nmodel = "ease"\ndataset = "ml-1m"\nprotocol = "sampled"\n'
            'metrics = ["HR@10"]\nsplit = { how = "ncf" }\n'
            '[recorded]\nmetrics = { "HR@10" = 0.5 }\nsource = "a.md"\n',
            "recorded.source",
        ),
    ],
)
def test_bad_config_is_an_error_naming_file_and_key(
    cli, monkeypatch, tmp_path, text, key
):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "row.toml").write_text(text)
    monkeypatch.setattr(C, "config_dir", lambda: tmp_path)
    code, out, err = cli("reproduce mine")
    assert code == 2 and out == ""
    assert str(tmp_path / "mine" / "row.toml") in err and f"key {key!r}" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_did_you_mean_for_a_close_misspelling(cli, monkeypatch, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "row.toml").write_text(
        'title = "x"\nmodel = "ease"\ndataset = "ml-1m"\nprotocol = "sampled"\n'
        'metrics = ["HR@10"]\nsplit = { how = "ncf" }\nparams = { rge = 1.0 }\n'
    )
    monkeypatch.setattr(C, "config_dir", lambda: tmp_path)
    _, _, err = cli("reproduce mine")
    assert "did you mean 'reg'?" in err


def test_only_an_unknown_row_suggests_the_close_one(cli, cli_json):
    code, _, err = cli("reproduce ncf --only eas")
    assert code == 2 and "table ncf has no row 'eas'" in err
    assert "did you mean 'ease'" in err
    code, obj = cli_json("reproduce ratings")
    assert code == 2 and "did you mean 'rating'" in obj["error"]


def test_recorded_rows_carry_their_source_without_running(cli_json, tmp_path):
    code, obj = cli_json(f"reproduce ctr --out {tmp_path}")
    assert code == 0 and [r["row"] for r in obj["rows"]] == ["deepfm", "fm"]
    for r in obj["rows"]:
        assert r["status"] == "recorded" and "@" in r["source"]
    text = (tmp_path / T.table_file("ctr")).read_text()
    assert (
        "0.8141 / 0.5148 (recorded, not re-run: benchmarks/results/accuracy_neural.md@"
        in text
    )
    on_disk = json.loads((tmp_path / "runs" / "ctr" / "fm.json").read_text())
    assert on_disk["metrics"] == {"AUC": 0.8105, "logloss": 0.5208}


def test_regenerating_a_table_keeps_its_notes(cli, tmp_path):
    assert cli(f"reproduce ctr --out {tmp_path}")[0] == 0
    path = tmp_path / T.table_file("ctr")
    text = path.read_text()
    path.write_text(text.replace(T.NOTES_BEGIN + "\n", T.NOTES_BEGIN + "\nmy note\n"))
    assert cli(f"reproduce ctr --out {tmp_path}")[0] == 0
    assert "\nmy note\n" + T.NOTES_END in path.read_text()
    assert path.read_text().count("my note") == 1


def test_validation_is_carved_from_the_training_part_only():
    data = P.load_data("synthetic")
    h = P.Holdout(data, {"how": "random", "test_fraction": 0.2, "seed": 0})
    v = h.validation(seed=1)
    key = lambda d: set(zip(d.users.tolist(), d.items.tolist()))  # noqa: E731
    assert key(v.train) | key(v.test) == key(h.train)
    assert not key(v.train) & key(v.test) and not key(v.test) & key(h.test)
    assert abs(len(v.test) - 0.1 * len(h.train)) <= 1
    assert v.split["of"] == h.split
    assert (
        P.split_label(v.split)
        == "validation random 10%, seed 1 of random 80/20, seed 0"
    )


def test_readme_measured_rows_are_the_generated_ones():
    readme = ROOT / "README.md"
    if T.README_BEGIN not in readme.read_text():
        pytest.fail("README.md has no generated Measured section")
    assert T.update_readme(readme, T.results_dir(), check=True), (
        "README's Measured rows differ from the tables: run "
        "python -m minirec.experiments.tables --readme"
    )


@pytest.mark.data
def test_quick_ncf_runs_and_beats_popularity(
    cli_json, data_root, monkeypatch, tmp_path
):
    monkeypatch.setenv("MINIREC_DATA", str(data_root))
    t0 = time.perf_counter()
    code, obj = cli_json(f"reproduce ncf --quick --out {tmp_path}")
    secs = time.perf_counter() - t0
    assert code == 0, obj
    cfgs = {c.row: c for c in C.table_configs("ncf")}
    rows = {r["row"]: r for r in obj["rows"]}
    assert set(rows) == set(cfgs) and obj["quick"] is True
    for name, r in rows.items():
        assert set(r["metrics"]) == set(cfgs[name].metrics), name
        if r["status"] == "measured":
            assert r["quick"] and r["seconds"] > 0 and r["versions"]["minirec"]
    for name in ("gmf", "ncf-mlp", "neumf", "neumf-alpha05"):  # recorded, run quick
        r = rows[name]
        assert r["status"] == "measured" and r["quick"] and r["valid"]["epoch"] >= 0
    sampled = rows["popularity"]["metrics"]
    full = rows["full-popularity"]["metrics"]
    assert rows["popularity"]["protocol"] == "sampled(1+99, ncf-files)"
    for name, r in rows.items():
        if r["status"] != "measured" or "popularity" in name:
            continue
        base = full if r["protocol"].startswith("full(") else sampled
        for m, v in r["metrics"].items():
            assert v > base[m], f"{name}: quick {m} {v:.4f} <= popularity {base[m]:.4f}"
    assert sorted(p.stem for p in (tmp_path / "runs" / "ncf").glob("*.json")) == sorted(
        cfgs
    )
    md = (tmp_path / T.table_file("ncf")).read_text()
    assert md.count("| `ncf/") == len(cfgs) and T.NOTES_BEGIN in md
    print(f"reproduce ncf --quick: {secs:.0f} s")


def test_a_measured_record_outranks_the_recorded_figure(cli_json, tmp_path):
    assert cli_json(f"reproduce ctr --out {tmp_path}")[0] == 0
    path = tmp_path / "runs" / "ctr" / "fm.json"
    rec = json.loads(path.read_text())
    rec.update(status="measured", metrics={"AUC": 0.8123}, quick=False)
    path.write_text(json.dumps(rec))
    code, obj = cli_json(f"reproduce ctr --out {tmp_path}")
    rows = {r["row"]: r for r in obj["rows"]}
    assert code == 0 and rows["fm"]["metrics"] == {"AUC": 0.8123}
    assert rows["deepfm"]["status"] == "recorded"
    assert "| 0.8123 |" in (tmp_path / T.table_file("ctr")).read_text()


# ------------------------------------------------------ valid selection, ctr, errors
_HEAD = (
    'title = "x"\nmodel = "{model}"\ndataset = "synthetic"\nprotocol = "sampled"\n'
    'metrics = ["HR@10", "NDCG@10"]\nsplit = {{ how = "ncf" }}\nimplicit = true\n'
)


def _cfg(tmp_path, text: str, row: str = "row"):
    path = tmp_path / f"{row}.toml"
    path.write_text(text)
    return C.load(path)


@pytest.fixture(scope="module")
def sampled_holdout():
    """The synthetic data as the NCF files are built: one random interaction per
    user held out as the test case against 99 items the user never rated."""
    from minirec.data import sample_negatives
    from minirec.experiments.runner import _binary

    data = _binary(P.load_data("synthetic"))
    rng = np.random.default_rng(0)
    R = data.by_user
    pick = R.indptr[:-1] + (rng.random(data.n_users) * R.lengths()).astype(np.int64)
    rows = R.rows[pick]
    keep = np.ones(len(data), bool)
    keep[rows] = False
    h = P.Holdout.__new__(P.Holdout)
    h.data, h.test, h.split = data, None, {"how": "ncf"}
    h.train = data.subset(keep)
    tu, ti = data.users[rows], data.items[rows]
    h.cases = (tu, ti, sample_negatives(data, tu, 99, seed=0))
    return h


@pytest.fixture
def on_holdout(monkeypatch, sampled_holdout):
    from minirec.experiments import runner

    runner.clear_cache()
    monkeypatch.setattr(runner, "_holdouts", lambda cfg, quick: [sampled_holdout])
    yield sampled_holdout
    runner.clear_cache()


_GMF = "k = 8\nn_epochs = 6\npatience = 2\nbatch_size = 512\nlr = 0.01\nseed = 0\n"


def test_valid_fits_without_the_validation_cases_and_keeps_the_best_epoch(
    tmp_path, on_holdout
):
    from minirec.evaluation import evaluate_sampled
    from minirec.experiments import runner
    from minirec.models.ncf import GMF

    cfg = _cfg(
        tmp_path, _HEAD.format(model="gmf") + f'valid = "sampled"\n[params]\n{_GMF}'
    )
    rec = runner.run(cfg, say=lambda s: None)
    # the reference: the same GMF fitted by hand on the validation split of the
    # training part (one interaction per user, seed 1, + 99 unrated items)
    val = on_holdout.validation(seed=1)
    assert len(val.train) == len(on_holdout.train) - on_holdout.data.n_users
    m = GMF(k=8, n_epochs=6, patience=2, batch_size=512, lr=0.01, seed=0)
    m.fit(val.train, valid=val.cases)
    ref = evaluate_sampled(m, *on_holdout.cases, ks=(10,)).metrics
    assert rec["metrics"] == {k: pytest.approx(ref[k]) for k in cfg.metrics}
    scores = [h["valid"] for h in m.history_]
    first_best = int(np.argmax(scores)) + 1
    v = rec["valid"]
    assert v["epoch"] == m.best_epoch_ == first_best
    assert v["epochs_run"] == len(m.history_) and 1 <= v["epochs_run"] <= 6
    assert v["valid HR@10"] == pytest.approx(max(scores))
    assert v["on"] == "sampled(1+99, validation 1 per user + 99, seed 1 of ncf-files)"
    assert rec["status"] == "measured" and rec["protocol"] == "sampled(1+99, ncf-files)"


def test_neumf_valid_alpha_and_pretraining_reuse_the_rows_fitted_models(
    tmp_path, on_holdout
):
    from minirec.experiments import runner

    gmf = _cfg(
        tmp_path,
        _HEAD.format(model="gmf") + f'valid = "sampled"\n[params]\n{_GMF}',
        "gmf",
    )
    mlp_params = "layers = [16, 8]\nn_epochs = 3\npatience = 2\nbatch_size = 512\n"
    neumf_text = (
        _HEAD.format(model="neumf")
        + 'valid = "sampled"\n[params]\nk = 8\nlayers = [16, 8]\nalpha = "valid"\n'
        + 'optimizer = "sgd"\nlr = 0.01\nn_epochs = 2\nbatch_size = 512\n'
        + f'[params.gmf]\nmodel = "gmf"\n{_GMF}'
        + f'[params.mlp]\nmodel = "ncf-mlp"\n{mlp_params}'
    )
    neumf = _cfg(tmp_path, neumf_text, "neumf")
    g = runner.run(gmf, say=lambda s: None)
    rec = runner.run(neumf, say=lambda s: None)
    v = rec["valid"]
    alphas = [a for a, _ in v["alpha_scores"]]
    assert alphas == pytest.approx([0.1 * i for i in range(11)])
    best = max(s for _, s in v["alpha_scores"])
    first = next(a for a, s in v["alpha_scores"] if s == best)
    assert v["alpha"] == first
    assert v["pretrained"]["gmf"]["fitted by"] == "an earlier row of this run"
    assert v["pretrained"]["gmf"]["epoch"] == g["valid"]["epoch"]
    assert v["pretrained"]["mlp"]["fitted by"] == "this row"
    assert 1 <= v["pretrained"]["mlp"]["epoch"] <= 3
    assert 0 <= v["epoch"] <= 2  # 0: the fused start kept
    assert rec["params"]["gmf"]["model"] == "gmf"
    json.dumps(rec)  # the record is plain JSON


def test_ctr_protocol_labels_clicks_and_scores_auc_like_sklearn(tmp_path, monkeypatch):
    from sklearn.metrics import log_loss, roc_auc_score

    from minirec.data import random_split
    from minirec.experiments import runner
    from minirec.models.fm import FM

    text = (
        'title = "x"\nmodel = "fm"\ndataset = "synthetic"\nprotocol = "ctr"\n'
        'metrics = ["AUC", "logloss"]\n'
        'split = { how = "random", test_fraction = 0.2, seed = 0 }\n'
        '[params]\ntask = "classification"\nn_negatives = 0\nk = 4\nn_epochs = 3\n'
    )
    cfg = _cfg(tmp_path, text)
    runner.clear_cache()
    rec = runner.run(cfg, say=lambda s: None)
    runner.clear_cache()
    assert rec["protocol"] == "ctr(rating >= 4, random 80/20, seed 0)"
    data = P.load_data("synthetic")
    train, test = random_split(data, test_fraction=0.2, seed=0)
    y_tr = (train.ratings >= 4).astype(np.float32)
    y = (test.ratings >= 4).astype(int)
    assert 0 < y.mean() < 1
    from minirec.data.ctr import to_clicks

    clicks_train, _ = random_split(to_clicks(data), test_fraction=0.2, seed=0)
    assert np.array_equal(clicks_train.ratings, y_tr)
    m = FM(task="classification", n_negatives=0, k=4, n_epochs=3).fit(clicks_train)
    p = m.predict_pairs(test.users, test.items)
    assert rec["metrics"]["AUC"] == pytest.approx(roc_auc_score(y, p), abs=1e-9)
    assert rec["metrics"]["logloss"] == pytest.approx(log_loss(y, p), abs=1e-5)
    assert rec["metrics"]["AUC"] > 0.6


@pytest.mark.parametrize(
    "extra, key",
    [
        ('valid = "sample"\n[params]\nn_epochs = 1\n', "valid"),
        (
            'valid = "sampled"\n[select]\nmetric = "HR@10"\ngrid = { k = [4, 8] }\n',
            "valid",
        ),
        ('[params]\ngmf = { model = "gmff" }\n', "params.gmf.model"),
        ('[params]\ngmf = { model = "gmf", kk = 3 }\n', "params.gmf.kk"),
    ],
)
def test_bad_valid_or_submodel_is_an_error_naming_file_and_key(tmp_path, extra, key):
    model = "neumf" if "gmf =" in extra else "gmf"
    path = tmp_path / "row.toml"
    path.write_text(_HEAD.format(model=model) + extra)
    with pytest.raises(C.ConfigError) as e:
        C.load(path)
    assert str(path) in str(e.value) and f"key {key!r}" in str(e.value)


@pytest.mark.parametrize(
    "text, key",
    [
        (  # a model that does not select its epoch
            _HEAD.format(model="ease") + 'valid = "sampled"\n',
            "valid",
        ),
        (  # valid on a split without sampled cases
            'title = "x"\nmodel = "gmf"\ndataset = "ml-1m"\nprotocol = "full"\n'
            'metrics = ["NDCG@20"]\nsplit = { how = "random", test_fraction = 0.1,'
            ' seed = 0 }\nvalid = "sampled"\n',
            "valid",
        ),
        (
            'title = "x"\nmodel = "fm"\ndataset = "ml-1m"\nprotocol = "ctr"\n'
            'metrics = ["HR@10"]\nsplit = { how = "random", test_fraction = 0.2,'
            " seed = 0 }\n",
            "metrics",
        ),
        (
            'title = "x"\nmodel = "fm"\ndataset = "ml-1m"\nprotocol = "ctr"\n'
            'metrics = ["AUC"]\nsplit = { how = "per-user", test_fraction = 0.2,'
            " seed = 0 }\n",
            "split.how",
        ),
    ],
)
def test_bad_valid_or_ctr_config_through_the_cli(cli, monkeypatch, tmp_path, text, key):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "row.toml").write_text(text)
    monkeypatch.setattr(C, "config_dir", lambda: tmp_path)
    code, out, err = cli("reproduce mine")
    assert code == 2 and out == ""
    assert str(tmp_path / "mine" / "row.toml") in err and f"key {key!r}" in err
    assert "Traceback" not in err


def test_neural_configs_name_their_settings_and_select_on_validation():
    cfgs = {c.row: c for c in C.table_configs("ncf")}
    for row in ("gmf", "ncf-mlp", "neumf", "neumf-alpha05"):
        c = cfgs[row]
        assert c.valid == "sampled" and c.params and c.quick, row
    for row in ("neumf", "neumf-alpha05"):
        p = cfgs[row].params
        assert {k: v for k, v in p["gmf"].items() if k != "model"} == cfgs["gmf"].params
        assert {k: v for k, v in p["mlp"].items() if k != "model"} == cfgs[
            "ncf-mlp"
        ].params
    assert cfgs["neumf"].params["alpha"] == "valid"
    assert cfgs["neumf-alpha05"].params["alpha"] == 0.5
    # the refit row: the GMF / MLP rows' settings with the epochs (and NeuMF's
    # alpha) those rows' measured runs chose, no selection of its own
    refit = cfgs["neumf-refit"]
    assert refit.valid is None and refit.params["n_epochs"] == 0 and refit.quick
    runs = ROOT / "benchmarks" / "results" / "runs" / "ncf"
    for sub, row in (("gmf", "gmf"), ("mlp", "ncf-mlp")):
        got = {k: v for k, v in refit.params[sub].items() if k != "model"}
        want = {k: v for k, v in cfgs[row].params.items() if k != "patience"}
        assert {**got, "n_epochs": want["n_epochs"]} == want, sub
        rec = json.loads((runs / f"{row}.json").read_text())
        assert got["n_epochs"] == rec["valid"]["epoch"], row
    rec = json.loads((runs / "neumf.json").read_text())
    assert refit.params["alpha"] == rec["valid"]["alpha"]
    for c in C.table_configs("ctr"):
        assert c.protocol == "ctr" and c.params and c.quick


def test_list_says_which_recorded_rows_a_rerun_measured(cli, monkeypatch, tmp_path):
    """--list reads the run records where a full run writes them: a recorded row
    with a measured record is listed as measured, with its date."""
    runs = tmp_path / "benchmarks" / "results" / "runs" / "ctr"
    runs.mkdir(parents=True)
    rec = {"status": "measured", "quick": False, "date": "2026-01-02 03:04 UTC"}
    (runs / "fm.json").write_text(json.dumps(rec))
    monkeypatch.chdir(tmp_path)
    code, out, _ = cli("reproduce --list")
    assert code == 0
    assert re.search(
        r"^  fm .*\[measured by --rerun, 2026-01-02 03:04 UTC\]$", out, re.M
    )
    assert re.search(r"^  deepfm .*\[recorded, not re-run\]$", out, re.M)
