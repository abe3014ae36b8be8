"""Fixtures of the command-line tests: run `minirec` in-process, and small model
files trained through it on the synthetic data."""

from __future__ import annotations

import json
import shlex

import pytest

from minirec.cli import main


@pytest.fixture
def cli(capsys):
    """``cli(*argv) -> (exit status, stdout, stderr)`` of one in-process run; a
    single string argument is split like a shell line."""

    def run(*argv):
        if len(argv) == 1 and isinstance(argv[0], str):  # one command line
            argv = shlex.split(argv[0])
        code = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def cli_json(cli):
    """``cli_json(*argv) -> (exit status, the one JSON object on stdout)``."""

    def run(*argv):
        if len(argv) == 1 and isinstance(argv[0], str):
            argv = shlex.split(argv[0])
        code, out, _ = cli(*argv, "--json")
        return code, json.loads(out)

    return run


def _train(tmp_path_factory, name: str, *argv: str):
    path = tmp_path_factory.mktemp("models") / f"{name}.npz"
    code = main(["train", name, "--data", "synthetic", "--out", str(path), *argv])
    assert code == 0, f"training {name} through the CLI failed"
    return path


@pytest.fixture(scope="session")
def als_file(tmp_path_factory):
    """An ALS (user and item factors) fitted on the synthetic 90% split."""
    return _train(
        tmp_path_factory,
        "als",
        "--set",
        "k=8",
        "--set",
        "n_epochs=3",
        "--set",
        "backend=numpy",
    )


@pytest.fixture(scope="session")
def popularity_file(tmp_path_factory):
    """A Popularity model (ranks items; no vectors) fitted on the synthetic split."""
    return _train(tmp_path_factory, "popularity")
