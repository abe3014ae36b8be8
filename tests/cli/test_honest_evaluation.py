"""`minirec evaluate` scores a model on the split it was trained with (issue 17):
the split travels in the model file, other split flags are refused, an
--all-data model is refused, and a file without that record gets a warning."""

from __future__ import annotations

import json

import numpy as np
import pytest

from minirec.data import load_movielens, random_split
from minirec.models import BiasedBaseline


def _rmse_by_hand(train, test) -> float:
    """RMSE of a BiasedBaseline fitted on `train`, computed here with NumPy."""
    model = BiasedBaseline().fit(train)
    pred = model.predict_pairs(test.users, test.items).astype(np.float64)
    return float(np.sqrt(np.mean((pred - test.ratings) ** 2)))


def test_evaluate_uses_the_split_in_the_file_and_refuses_another(
    cli, cli_json, tmp_path, data_root, monkeypatch
):
    monkeypatch.setenv("MINIREC_DATA", str(data_root))
    path = tmp_path / "b.npz"
    code, trained = cli_json("train", "baseline", "--seed", "1", "--out", path)
    assert code == 0
    assert trained["split"] == {"how": "random", "test_fraction": 0.1, "seed": 1}
    assert trained["protocol"] == "rating-holdout(random 90/10, seed 1)"

    code, ev = cli_json("evaluate", path)
    assert code == 0 and ev["protocol"] == trained["protocol"]
    data = load_movielens("ml-100k")
    honest = _rmse_by_hand(*random_split(data, test_fraction=0.1, seed=1))
    assert ev["metrics"]["RMSE"] == pytest.approx(honest, rel=1e-5)
    assert trained["metrics"]["RMSE"] == pytest.approx(honest, rel=1e-5)
    # what evaluating on the seed-0 split would report: test ratings the model saw
    _, other_test = random_split(data, test_fraction=0.1, seed=0)
    model = BiasedBaseline().fit(random_split(data, test_fraction=0.1, seed=1)[0])
    leaky = np.sqrt(
        np.mean(
            (
                model.predict_pairs(other_test.users, other_test.items)
                - other_test.ratings
            )
            ** 2
        )
    )
    assert leaky < honest - 0.01  # the leak the refusal prevents is real

    for flags in (
        ["--seed", "0"],
        ["--test-fraction", "0.2"],
        ["--split", "per-user"],
        ["--data", "synthetic"],
    ):
        code, out, err = cli("evaluate", path, *flags)
        assert code == 2 and out == ""
        assert "random 90/10, seed 1" in err and flags[0] in err, err
    code, _, _ = cli("evaluate", path, "--seed", "1")  # the same split: fine
    assert code == 0
    # the folder that the name ml-100k reads is the same data
    code, _, _ = cli("evaluate", path, "--data", data_root / "ml-100k")
    assert code == 0


def test_all_data_model_trains_without_metric_and_cannot_be_evaluated(
    cli, cli_json, tmp_path
):
    path = tmp_path / "final.npz"
    code, obj = cli_json(
        "train", "baseline", "--data", "synthetic", "--all-data", "--out", path
    )
    assert code == 0 and obj["split"] is None and obj["metrics"] == {}
    assert obj["n_train"] == 25_000  # every synthetic rating
    code, obj = cli_json("evaluate", path)
    assert code == 2 and obj["type"] == "CliError"
    assert "--all-data" in obj["error"] and "train without --all-data" in obj["error"]
    code, _, err = cli(
        "train", "baseline", "--data", "synthetic", "--all-data", "--split", "per-user"
    )
    assert code == 2 and "--all-data" in err and "--split" in err


def test_file_without_a_recorded_split_is_evaluated_with_a_warning(cli, tmp_path):
    from minirec.data import synthetic_ratings

    data = synthetic_ratings(seed=0)
    train, test = random_split(data, test_fraction=0.1, seed=0)
    path = BiasedBaseline().fit(train).save(tmp_path / "api.npz")  # no fit_info_
    code, out, err = cli("evaluate", path, "--data", "synthetic", "--json")
    assert code == 0
    obj = json.loads(out)
    assert (
        "does not record" in err
        and obj["warnings"]
        and "does not record" in obj["warnings"][0]
    )
    assert obj["metrics"]["RMSE"] == pytest.approx(_rmse_by_hand(train, test), rel=1e-5)


def test_ranking_model_reports_hr_ndcg_under_full_protocol(cli_json, popularity_file):
    code, obj = cli_json("evaluate", popularity_file)
    assert code == 0 and obj["protocol"] == "full(random 90/10, seed 0)"
    assert {"HR@10", "NDCG@10"} <= set(obj["metrics"]) and "RMSE" not in obj["metrics"]
    code, obj = cli_json("evaluate", popularity_file, "--protocol", "rating")
    assert code == 2 and "--protocol full" in obj["error"]
    assert "evaluate_full" not in obj["error"]
    code, obj = cli_json(
        "evaluate", popularity_file, "--protocol", "sampled", "--negatives", "20"
    )
    assert code == 0 and obj["protocol"] == "sampled(1+20, random 90/10, seed 0)"


def test_train_prints_the_metric_that_fits_the_model(cli, tmp_path):
    code, out, _ = cli("train", "popularity", "--data", "synthetic")
    assert code == 0 and "HR@10" in out and "NDCG@10" in out and "RMSE" not in out
    assert "full(random 90/10, seed 0)" in out and "not saved" in out
    code, out, _ = cli(
        "train",
        "mean",
        "--data",
        "synthetic",
        "--split",
        "per-user",
        "--test-fraction",
        "0.2",
        "--seed",
        "3",
    )
    assert code == 0 and "RMSE" in out and "HR@10" not in out
    assert "rating-holdout(per-user 80/20, seed 3)" in out


@pytest.mark.data
def test_ncf_split_uses_the_ncf_files(cli_json, tmp_path, data_root, monkeypatch):
    monkeypatch.setenv("MINIREC_DATA", str(data_root))
    path = tmp_path / "pop.npz"
    code, obj = cli_json(
        "train", "popularity", "--data", "ml-1m", "--split", "ncf", "--out", path
    )
    assert code == 0 and obj["protocol"] == "sampled(1+99, ncf-files)"
    assert obj["n_train"] == 1_000_209 - 6_040  # ml-1m minus one test rating per user
    code, again = cli_json("evaluate", path)
    assert code == 0 and again["metrics"] == obj["metrics"]
    code, err = cli_json("evaluate", path, "--protocol", "full")
    assert code == 2 and "--protocol sampled" in err["error"]
