"""recommend for several users, from a file, among candidates and for a folded-in
history; similar items and users; export of the embeddings (issues 18, 22). Each
answer is checked against the model's Python API or against NumPy."""

from __future__ import annotations

import numpy as np
import pytest

from minirec.models import Recommender
from minirec.models.baselines import Popularity


def _ids(rows):
    return [it["item"] for it in rows]


def test_recommend_batches_users_from_flags_and_a_file(cli_json, als_file, tmp_path):
    users = tmp_path / "users.txt"
    users.write_text("# users to serve\n3\n\n4\n")
    code, obj = cli_json(
        f"recommend --model {als_file} --user 1 --user 2 --users {users} -n 5"
    )
    assert code == 0 and [r["user"] for r in obj["users"]] == [1, 2, 3, 4]
    model = Recommender.load(als_file)
    want, scores = model.recommend([1, 2, 3, 4], n=5)
    for r, row in enumerate(obj["users"]):
        assert _ids(row["items"]) == want[r].tolist()
        assert [it["score"] for it in row["items"]] == pytest.approx(scores[r].tolist())
        assert [it["rank"] for it in row["items"]] == [1, 2, 3, 4, 5]


def test_n_beyond_the_catalog_names_the_flag(cli, als_file):
    code, _, err = cli(f"recommend --model {als_file} --user 1 -n 501")
    assert code == 2 and "-n 501: the model has only 500 items" in err
    code, _, err = cli(f"similar --model {als_file} --item 1 -n 500")
    assert code == 2 and "-n 500: the model has only 499 other items" in err
    code, _, err = cli(f"recommend --model {als_file} --user 1 -n 0")
    assert code == 2 and "0 must be 1 or more" in err


def test_unknown_user_in_a_file_names_its_line(cli, als_file, tmp_path):
    users = tmp_path / "users.txt"
    users.write_text("1\nnobody\n")
    code, _, err = cli("recommend", "--model", als_file, "--users", users)
    assert code == 2 and f"{users}:2: unknown user id 'nobody'" in err
    assert "--cold-start" in err and "unknown='popular'" not in err
    code, _, err = cli("recommend", "--model", als_file)
    assert code == 2 and "--user ID" in err


def test_candidate_items_restrict_the_ranking(cli_json, als_file, tmp_path):
    cands = tmp_path / "items.txt"
    cands.write_text("5\n6\n7\n8\n9\n")
    model = Recommender.load(als_file)
    code, obj = cli_json(
        f"recommend --model {als_file} --user 1 --items {cands} -n 3 --all"
    )
    assert code == 0 and obj["candidates"] == 5
    # reference: the model's scores of the five candidates, sorted by NumPy
    s = model.score_items(model.user_index([1]))[0, model.item_index([5, 6, 7, 8, 9])]
    want = np.array([5, 6, 7, 8, 9])[np.argsort(-s, kind="stable")][:3]
    assert _ids(obj["users"][0]["items"]) == want.tolist()
    cands.write_text("5\n99999\n")
    code, obj = cli_json(
        "recommend", "--model", als_file, "--user", "1", "--items", cands
    )
    assert code == 2 and f"{cands}:2: unknown item id '99999'" in obj["error"]


def test_history_recommends_for_a_user_the_model_has_not_seen(
    cli_json, popularity_file, tmp_path, monkeypatch
):
    if Popularity._fold_in is Recommender._fold_in:
        # Popularity has no per-user state: folding in changes only the seen items
        monkeypatch.setattr(Popularity, "_fold_in", lambda self, u, rows: None)
    model = Recommender.load(popularity_file)
    top = model.recommend([1], n=3, filter_seen=False)[0][0].tolist()
    hist = tmp_path / "history.txt"
    hist.write_text(f"{top[0]},5\n{top[1]},4\n")
    code, obj = cli_json(
        "recommend", "--model", popularity_file, "--history", hist, "-n", "3"
    )
    assert code == 0 and obj["history"] == {
        "user": "(history)",
        "items": 2,
        "ratings": True,
    }
    got = _ids(obj["users"][0]["items"])
    assert top[0] not in got and top[1] not in got  # the history counts as seen
    ref = Recommender.load(popularity_file)
    new_user = int(ref.user_ids_.max()) + 1  # the id the CLI gives an unnamed user
    ref.fold_in([new_user] * 2, top[:2], [5.0, 4.0])
    want = ref.recommend([new_user], n=3)[0][0]
    assert got == want.tolist()
    hist.write_text(f"{top[0]},5\n{top[1]}\n")
    code, obj = cli_json("recommend", "--model", popularity_file, "--history", hist)
    assert code == 2 and f"{hist}:2: give a rating on every line" in obj["error"]
    hist.write_text("123456\n")
    code, obj = cli_json("recommend", "--model", popularity_file, "--history", hist)
    assert code == 2 and f"{hist}:1: unknown item id '123456'" in obj["error"]


def test_history_for_a_model_that_cannot_fold_in_is_a_clear_error(
    cli_json, als_file, tmp_path
):
    model = Recommender.load(als_file)
    hist = tmp_path / "h.txt"
    hist.write_text("5\n6\n")
    try:
        model.fold_in([10_001, 10_001], [5, 6])
    except NotImplementedError:
        code, obj = cli_json("recommend", "--model", als_file, "--history", hist)
        assert code == 2 and obj["error"].startswith("--history: ")
    else:
        code, obj = cli_json("recommend", "--model", als_file, "--history", hist)
        assert code == 0 and len(obj["users"][0]["items"]) == 10


def test_similar_items_and_users_match_cosine_by_numpy(cli_json, als_file, tmp_path):
    model = Recommender.load(als_file)
    code, obj = cli_json("similar", "--model", als_file, "--item", "5", "-n", "4")
    assert code == 0 and obj["results"][0]["item"] == 5
    Q = model.embeddings()["item"].astype(np.float64)
    Qn = Q / np.linalg.norm(Q, axis=1, keepdims=True)
    i = model.item_index([5])[0]
    cos = Qn @ Qn[i]
    cos[i] = -np.inf
    order = np.argsort(-cos, kind="stable")[:4]
    got = obj["results"][0]["similar"]
    assert [it["item"] for it in got] == model.item_ids_[order].tolist()
    assert [it["score"] for it in got] == pytest.approx(cos[order].tolist(), abs=1e-5)
    code, obj = cli_json("similar", "--model", als_file, "--user", "1", "--user", "2")
    assert code == 0 and [r["user"] for r in obj["results"]] == [1, 2]
    assert all(len(r["similar"]) == 10 for r in obj["results"])
    code, obj = cli_json("similar", "--model", als_file, "--item", "5", "--user", "1")
    assert code == 2 and "either --item" in obj["error"]
    cands = tmp_path / "c.txt"
    cands.write_text("6\n7\n8\n5\n")
    code, obj = cli_json(f"similar --model {als_file} --item 5 --items {cands} -n 3")
    kept = [
        k for k in np.argsort(-cos, kind="stable") if model.item_ids_[k] in (6, 7, 8)
    ]
    assert [it["item"] for it in obj["results"][0]["similar"]] == (
        model.item_ids_[kept].tolist()
    )
    code, obj = cli_json(f"similar --model {als_file} --user 1 --items {als_file}")
    assert code == 2 and "use it with --item" in obj["error"]


def test_similar_for_a_model_without_vectors_is_a_clear_error(
    cli_json, popularity_file
):
    code, obj = cli_json("similar", "--model", popularity_file, "--item", "5")
    assert code == 2 and "has no item vectors" in obj["error"]


@pytest.mark.parametrize("fmt", ["npy", "csv"])
def test_export_writes_the_embeddings(cli_json, als_file, tmp_path, fmt):
    out = tmp_path / "emb"
    code, obj = cli_json("export", als_file, "--out", out, "--format", fmt)
    assert code == 0
    model = Recommender.load(als_file)
    emb = model.embeddings()
    assert {a["name"] for a in obj["arrays"]} == set(emb) == {"user", "item"}
    for name, ids in (("user", model.user_ids_), ("item", model.item_ids_)):
        if fmt == "npy":
            got = np.load(out / f"{name}.npy", allow_pickle=False)
            got_ids = np.load(out / f"{name}_ids.npy", allow_pickle=False)
        else:
            table = np.loadtxt(out / f"{name}.csv", delimiter=",", skiprows=1)
            got, got_ids = table[:, 1:], table[:, 0].astype(np.int64)
            header = (out / f"{name}.csv").read_text().splitlines()[0]
            assert header == "id," + ",".join(
                f"f{j}" for j in range(emb[name].shape[1])
            )
        np.testing.assert_array_equal(got_ids, ids)
        np.testing.assert_allclose(got, emb[name], rtol=1e-6)


def test_export_of_a_model_without_vectors_is_a_clear_error(
    cli_json, popularity_file, tmp_path
):
    code, obj = cli_json("export", popularity_file, "--out", tmp_path / "e")
    assert code == 2 and "no user or item vectors" in obj["error"]


def test_history_folds_a_new_user_into_a_factor_model(cli_json, als_file, tmp_path):
    """--history on ALS: the closed-form fold-in of the given ratings, exactly
    what fold_in + recommend give in Python."""
    ref = Recommender.load(als_file)
    items = ref.item_ids_[[3, 7, 11]].tolist()
    hist = tmp_path / "h.txt"
    hist.write_text("".join(f"{i},{r}\n" for i, r in zip(items, (5, 3, 4))))
    code, obj = cli_json("recommend", "--model", als_file, "--history", hist, "-n", "4")
    assert code == 0, obj
    new_user = int(ref.user_ids_.max()) + 1
    ref.fold_in([new_user] * 3, items, [5.0, 3.0, 4.0])
    want, scores = ref.recommend([new_user], n=4)
    assert _ids(obj["users"][0]["items"]) == want[0].tolist()
    got = [e["score"] for e in obj["users"][0]["items"]]
    np.testing.assert_allclose(got, scores[0], rtol=1e-5)
