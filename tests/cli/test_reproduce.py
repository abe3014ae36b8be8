"""`minirec reproduce`: the packaged configs, the runner and the generated tables
(issue 18)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

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
        "0.8141 (recorded, not re-run: benchmarks/results/accuracy_neural.md@" in text
    )
    on_disk = json.loads((tmp_path / "runs" / "ctr" / "fm.json").read_text())
    assert on_disk["metrics"] == {"AUC": 0.8105}


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
