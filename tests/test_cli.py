"""The `minirec` command line end to end: datasets, train -> recommend -> evaluate,
demo. The finer behaviour of each command is tested in tests/cli/."""

from __future__ import annotations

import json

import pytest

from minirec.cli import main


def run(capsys, *argv):
    code = main([str(a) for a in argv])
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
        path,
        "--set",
        "n_epochs=3",
        "--json",
    )
    assert code == 0 and path.exists()
    trained = json.loads(out)
    assert trained["model"] == "BiasedBaseline"
    assert trained["parameters"]["n_epochs"] == 3
    assert 0.5 < trained["metrics"]["RMSE"] < 1.5
    assert trained["protocol"] == "rating-holdout(random 90/10, seed 0)"

    code, out, _ = run(
        capsys, "recommend", "--model", path, "--user", "1", "-n", "5", "--json"
    )
    assert code == 0
    items = json.loads(out)["users"][0]["items"]
    assert [it["rank"] for it in items] == [1, 2, 3, 4, 5]
    assert all(it["title"].startswith("Synthetic Movie") for it in items)
    scores = [it["score"] for it in items]
    assert scores == sorted(scores, reverse=True)

    code, out, _ = run(capsys, "evaluate", path, "--json")
    assert code == 0
    assert json.loads(out)["metrics"] == trained["metrics"]
    code, out, _ = run(capsys, "evaluate", path, "--protocol", "full", "--json")
    obj = json.loads(out)
    assert code == 0 and obj["protocol"] == "full(random 90/10, seed 0)"
    assert 0 <= obj["metrics"]["HR@10"] <= 1


def test_demo_json_on_synthetic(capsys):
    code, out, _ = run(
        capsys, "demo", "--data", "synthetic", "--model", "baseline", "--json"
    )
    assert code == 0
    obj = json.loads(out)
    assert len(obj["top10"]) == 10 and obj["baseline"] == "BiasedBaseline"
    assert obj["metrics"]["RMSE"] == pytest.approx(obj["baseline_metrics"]["RMSE"])


def test_demo_of_a_ranking_model_compares_with_popularity(capsys):
    code, out, _ = run(capsys, "demo", "--data", "synthetic", "--model", "popularity")
    assert code == 0
    assert "full(random 90/10, seed 0)" in out and out.count("HR@10") == 2


def test_demo_text_on_movielens(capsys, data_root, monkeypatch):
    monkeypatch.setenv("MINIREC_DATA", str(data_root))
    code, out, _ = run(capsys, "demo", "--model", "baseline")
    assert code == 0
    assert "ml-100k" in out and "top-10 for user" in out
    assert "(19" in out  # MovieLens titles carry their year, e.g. "Casablanca (1942)"


def test_unknown_user_and_cold_start(capsys, tmp_path):
    path = tmp_path / "m.npz"
    run(capsys, "train", "popularity", "--data", "synthetic", "--out", path)
    code, _, err = run(capsys, "recommend", "--model", path, "--user", "nobody")
    assert code == 2 and "unknown user id 'nobody'" in err and "--cold-start" in err
    code, out, _ = run(
        capsys,
        "recommend",
        "--model",
        path,
        "--user",
        "nobody",
        "--cold-start",
        "--json",
    )
    assert code == 0 and len(json.loads(out)["users"][0]["items"]) == 10
    code, _, err = run(
        capsys, "demo", "--data", "synthetic", "--model", "mean", "--user", "nobody"
    )
    assert code == 2 and "--user: unknown user id 'nobody'" in err
