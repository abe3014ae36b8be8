"""What a newcomer finds without reading the code: `minirec models`, `params`,
`train MODEL --help`, "did you mean" for a mistyped --set name, `--version`,
and a notice when the first run compiles the Numba kernels (issue 18)."""

from __future__ import annotations

import inspect
import json

import pytest

import minirec
from minirec.cli import commands
from minirec.cli.params import (
    hyperparameters,
    parse_parameters,
    parse_sets,
    set_terms,
)
from minirec.cli.protocols import split_label
from minirec.models import REGISTRY, get_model_class


def test_models_lists_every_registered_model_once(cli, cli_json):
    code, obj = cli_json("models")
    assert code == 0
    assert [m["name"] for m in obj["models"]] == list(REGISTRY)
    for m in obj["models"]:
        if not m["available"]:  # an optional dependency is missing: say which
            assert "not available" in m["summary"]
            continue
        cls = get_model_class(m["name"])
        assert m["class"] == cls.__name__
        assert m["task"] == ("rating" if cls.predicts_ratings else "ranking")
        assert m["summary"] and "\n" not in m["summary"]
    code, out, _ = cli("models")
    lines = [line for line in out.splitlines() if line.split(" ")[0] in REGISTRY]
    assert len(lines) == len(REGISTRY)


@pytest.mark.parametrize("name", list(REGISTRY))
def test_params_match_the_signature_defaults(cli_json, name):
    code, obj = cli_json("params", name)
    assert code == 0
    sig = inspect.signature(get_model_class(name).__init__).parameters
    want = {
        k: p.default for k, p in sig.items() if k != "self" and p.default is not p.empty
    }
    got = {r["name"]: r["default"] for r in obj["parameters"]}
    assert got == json.loads(json.dumps(want))


def test_params_carry_docs_from_the_class_and_the_classes_it_names():
    from minirec.models.knn import ItemKNN, UserKNN
    from minirec.models.ncf import GMF, NeuMF

    mf = {r["name"]: r for r in hyperparameters(get_model_class("mf"))}
    assert mf["k"]["type"] == "int" and "latent factors" in mf["k"]["doc"]
    # UserKNN's docstring says "parameters as :class:`ItemKNN`"
    item = {r["name"]: r["doc"] for r in hyperparameters(ItemKNN)}
    user = {r["name"]: r["doc"] for r in hyperparameters(UserKNN)}
    assert user["shrink"] == item["shrink"] != ""
    # NeuMF: "k, layers : int, sequence of int" and "Others as :class:`GMF`"
    neumf = {r["name"]: r for r in hyperparameters(NeuMF)}
    gmf = {r["name"]: r for r in hyperparameters(GMF)}
    assert neumf["layers"]["type"] == "sequence of int" and neumf["k"]["type"] == "int"
    assert neumf["batch_size"]["doc"] == gmf["batch_size"]["doc"] != ""


def test_numpydoc_parser_stops_at_the_next_section():
    doc = """Title.

    Parameters
    ----------
    a, b : int, float
        Two numbers,
        described on two lines.
    c : str

    Returns
    -------
    x : int
        Not a parameter.
    """
    assert parse_parameters(doc) == {
        "a": ("int", "Two numbers, described on two lines."),
        "b": ("float", "Two numbers, described on two lines."),
        "c": ("str", ""),
    }


def test_train_model_help_lists_its_hyperparameters(cli):
    code, out, _ = cli("train", "bpr", "--help")
    assert code == 0 and "usage: minirec train" in out
    assert "bpr (minirec.models.bpr.BPR, ranks items)" in out
    for row in hyperparameters(get_model_class("bpr")):
        assert f"  {row['name']} " in out
    code, out, _ = cli("train", "--help")  # no model named: the plain help
    assert code == 0 and "hyperparameters (set with" not in out


def test_unknown_set_name_suggests_the_close_one(cli):
    code, _, err = cli("train", "mf", "--data", "synthetic", "--set", "n_epoch=3")
    assert (
        code == 2 and "did you mean 'n_epochs'?" in err and "minirec params mf" in err
    )
    with pytest.raises(minirec.MinirecError, match="has no hyperparameter 'zzz'"):
        parse_sets(["zzz=1"], "mf")
    assert parse_sets(
        [
            "k=64",
            "lr=1e-3",
            "biased=False",
            "backend=numba",
            "layers=[64, 32]",
            "blocks=None",
        ]
    ) == {
        "k": 64,
        "lr": 0.001,
        "biased": False,
        "backend": "numba",
        "layers": [64, 32],
        "blocks": None,
    }


def test_unknown_model_name_suggests_the_close_one(cli):
    code, _, err = cli("params", "bprr")
    assert code == 2 and "unknown model 'bprr'; did you mean 'bpr'" in err
    code, _, err = cli("train", "MF", "--data", "synthetic", "--set", "k=abc")
    assert code == 2 and err.strip() == (
        "minirec: error: --set k='abc': must be a positive integer"
    )


def test_hyperparameters_in_model_errors_are_written_as_set_flags(cli):
    code, _, err = cli("train mf --data synthetic --set blocks=4")
    assert code == 2 and "--set blocks=4" in err and "--set dsgd=True" in err
    assert "--set --set" not in err
    assert set_terms("k=3 and sk=2, x.k=1", get_model_class("mf")) == (
        "--set k=3 and sk=2, x.k=1"
    )


def test_a_renamed_hyperparameter_still_works_with_a_warning(cli):
    from minirec.models.knn import ItemKNN

    old, new = next(iter(ItemKNN.renamed_params.items()))
    code, out, err = cli(f"train itemknn --data synthetic --set {old}=7 --json")
    assert code == 0 and json.loads(out)["parameters"][new] == 7
    assert f"--set {old}: itemknn calls it {new} now" in err


def test_version(cli):
    code, out, _ = cli("--version")
    assert code == 0 and out.strip() == f"minirec {minirec.__version__}"


def test_split_labels():
    assert split_label({"how": "random", "test_fraction": 0.1, "seed": 0}) == (
        "random 90/10, seed 0"
    )
    assert (
        split_label({"how": "temporal", "test_fraction": 0.125}) == "temporal 87.5/12.5"
    )
    assert split_label({"how": "ncf"}) == "ncf-files"
    assert split_label(None) == "all data"


def test_cold_numba_cache_is_announced_once(capsys, monkeypatch, tmp_path):
    pytest.importorskip("numba", reason="the notice is about Numba's compile cache")
    from minirec.backends import resolve_backend
    from minirec.models import MF  # noqa: F401  (registered as "mf")

    if resolve_backend("numba") != "numba":
        pytest.skip("numba backend not selectable here")
    real = commands._kernel_index_paths()
    assert real and all(p.name.endswith(".nbi") for p in real)
    model = get_model_class("mf")(backend="numba")
    monkeypatch.setattr(commands, "_NOTICED", [])
    monkeypatch.setattr(commands, "_kernel_index_paths", lambda: [tmp_path / "a.nbi"])
    commands._jit_notice(get_model_class("mf")(backend="numpy"))  # no kernels to build
    assert capsys.readouterr().err == ""
    commands._jit_notice(model)
    commands._jit_notice(model)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "compiling the Numba kernels" in err
    monkeypatch.setattr(commands, "_NOTICED", [])
    (tmp_path / "a.nbi").write_bytes(b"")  # a warm cache: silent
    commands._jit_notice(model)
    assert capsys.readouterr().err == ""
