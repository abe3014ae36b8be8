"""The `minirec` command line: every command, its --json output, and its errors."""

from __future__ import annotations

import json

import pytest

from minirec.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_datasets_json_lists_synthetic(capsys):
    code, out, _ = run(capsys, "datasets", "--json")
    assert code == 0
    rows = json.loads(out)["datasets"]
    assert any(r["name"] == "synthetic" and r["found"] for r in rows)


def test_train_recommend_evaluate_round_trip(capsys, tmp_path):
    path = tmp_path / "m.npz"
    code, out, _ = run(
        capsys,
        "train",
        "baseline",
        "--data",
        "synthetic",
        "--out",
        str(path),
        "--set",
        "n_epochs=3",
        "--json",
    )
    assert code == 0 and path.exists()
    obj = json.loads(out)
    assert obj["model"] == "BiasedBaseline" and obj["parameters"]["n_epochs"] == 3
    assert 0.5 < obj["metrics"]["RMSE"] < 1.5
    assert "random" in obj["protocol"] and "seed 0" in obj["protocol"]

    code, out, _ = run(
        capsys, "recommend", "--model", str(path), "--user", "1", "-n", "5", "--json"
    )
    assert code == 0
    items = json.loads(out)["items"]
    assert [it["rank"] for it in items] == [1, 2, 3, 4, 5]
    assert all(it["title"].startswith("Synthetic Movie") for it in items)
    scores = [it["score"] for it in items]
    assert scores == sorted(scores, reverse=True)

    code, out, _ = run(
        capsys,
        "evaluate",
        str(path),
        "--data",
        "synthetic",
        "--protocol",
        "full",
        "--json",
    )
    assert code == 0
    obj = json.loads(out)
    assert obj["protocol"] == "full" and 0 <= obj["metrics"]["HR@10"] <= 1

    code, out, _ = run(
        capsys,
        "evaluate",
        str(path),
        "--data",
        "synthetic",
        "--protocol",
        "sampled",
        "--negatives",
        "20",
        "--json",
    )
    assert code == 0 and json.loads(out)["protocol"] == "sampled(1+20)"


def test_demo_json_on_synthetic(capsys):
    code, out, _ = run(
        capsys, "demo", "--data", "synthetic", "--model", "baseline", "--json"
    )
    assert code == 0
    obj = json.loads(out)
    assert len(obj["top10"]) == 10
    assert obj["metrics"]["RMSE"] == pytest.approx(obj["baseline_metrics"]["RMSE"])


def test_demo_text_on_movielens(capsys, data_root, monkeypatch):
    monkeypatch.setenv("MINIREC_DATA", str(data_root))
    code, out, _ = run(capsys, "demo", "--model", "baseline")
    assert code == 0
    assert "ml-100k" in out and "top-10 for user" in out
    assert "(19" in out  # MovieLens titles carry their year, e.g. "Casablanca (1942)"


def test_errors_are_one_clear_line(capsys, tmp_path):
    code, _, err = run(capsys, "train", "no-such-model", "--data", "synthetic")
    assert code == 2 and "unknown model 'no-such-model'" in err
    path = tmp_path / "m.npz"
    run(capsys, "train", "popularity", "--data", "synthetic", "--out", str(path))
    code, _, err = run(capsys, "recommend", "--model", str(path), "--user", "nobody")
    assert code == 2 and "unknown user id" in err
    code, out, _ = run(
        capsys,
        "recommend",
        "--model",
        str(path),
        "--user",
        "nobody",
        "--cold-start",
        "--json",
    )
    assert code == 0 and len(json.loads(out)["items"]) == 10
    bad = tmp_path / "bad.npz"
    bad.write_text("not a model")
    code, _, err = run(capsys, "recommend", "--model", str(bad), "--user", "1")
    assert code == 2 and "not a readable minirec model" in err
    code, _, err = run(
        capsys, "recommend", "--model", str(tmp_path / "no.npz"), "--user", "1"
    )
    assert code == 2 and "no model file at" in err
    with pytest.raises(SystemExit):
        main(["train", "baseline", "--set", "novalue", "--data", "synthetic"])
