"""With --json every answer is one strict JSON object (errors too, exit status
non-zero); without it an error is one line on stderr; no input ever shows a
Python traceback; messages use CLI flags, not Python argument names."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from minirec.cli._io import cli_terms, dumps


def _strict(text: str):
    """json.loads that rejects NaN / Infinity (not JSON, though Python writes them)."""

    def no_constants(name):
        raise AssertionError(f"{name} in JSON output")

    return json.loads(text, parse_constant=no_constants)


@pytest.mark.parametrize(
    "argv, needle",
    [
        (
            ["train", "no-such-model", "--data", "synthetic"],
            "unknown model 'no-such-model'",
        ),
        (["train", "baseline", "--data", "nowhere"], "--data nowhere"),
        (
            ["train", "baseline", "--data", "synthetic", "--set", "novalue"],
            "NAME=VALUE",
        ),
        (
            ["train", "baseline", "--data", "synthetic", "--test-fraction", "2"],
            "between 0 and 1",
        ),
        (["evaluate", "m.npz", "--protocol", "bogus"], "invalid choice: 'bogus'"),
        (["evaluate", "missing.npz"], "no model file at"),
        (["recommend", "--model", "missing.npz", "--user", "1"], "no model file at"),
        (["recommend", "--user", "1"], "--model"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_is_one_json_error_or_one_line(cli, argv, needle):
    code, out, err = cli(*argv, "--json")
    assert code == 2 and err == ""
    obj = _strict(out)
    assert set(obj) == {"error", "type"} and out.count("\n") == 1
    assert needle in obj["error"]
    code, out, err = cli(*argv)
    assert code == 2 and out == "" and "Traceback" not in err
    assert err.splitlines()[-1].startswith("minirec: error: ")


def test_synthetic_timestamps_make_leave_last_out_work(cli):
    # the synthetic data has timestamps, so the split above is valid: it succeeds
    code, out, _ = cli(
        "train", "mean", "--data", "synthetic", "--split", "leave-last-out"
    )
    assert code == 0 and "rating-holdout(leave-last-out)" in out


def test_split_that_needs_timestamps_says_which_flag(cli, tmp_path):
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    (folder / "ratings.dat").write_text("1::1::5\n1::2::3\n2::1::4\n2::2::2\n")
    code, _, err = cli("train", "mean", "--data", folder, "--split", "temporal")
    assert code == 2 and "--split temporal needs timestamps" in err
    assert "--split random" in err


def test_bad_model_file_reports_without_traceback_in_a_real_process(cli, tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 truncated zip")
    env = dict(os.environ, MINIREC_DEBUG="")
    cmd = [sys.executable, "-m", "minirec.cli", "evaluate", str(bad), "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr + done.stdout
    obj = _strict(done.stdout)
    assert obj["type"] == "ModelFileError" and str(bad) in obj["error"]
    code, out, err = cli("recommend", "--model", bad, "--user", "1")  # text mode
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "not a readable minirec model" in err


def test_an_internal_error_is_one_line_with_exit_1(cli, monkeypatch):
    from minirec.cli import commands

    def boom(args):
        raise RuntimeError("a bug")

    monkeypatch.setattr(commands.P, "load_data", lambda *a, **k: boom(None))
    code, out, err = cli("train", "mean", "--data", "synthetic")
    assert code == 1 and out == "" and "Traceback" not in err
    assert "internal error (RuntimeError: a bug)" in err and "MINIREC_DEBUG=1" in err
    code, out, _ = cli("train", "mean", "--data", "synthetic", "--json")
    assert code == 1 and _strict(out)["type"] == "RuntimeError"
    monkeypatch.setenv("MINIREC_DEBUG", "1")
    with pytest.raises(RuntimeError, match="a bug"):
        cli("train", "mean", "--data", "synthetic")


def test_a_reader_that_leaves_early_ends_the_command_quietly(cli, monkeypatch):
    from minirec.cli import commands

    def closed_pipe(*args):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(commands, "emit", closed_pipe)
    code, out, err = cli("models")  # as in `minirec models | head -1`
    assert code == 141 and out == "" and err == ""


def test_a_multi_line_message_is_reported_on_one_line(cli, monkeypatch):
    from minirec.cli import commands

    def two_lines(*a, **k):
        raise ValueError("first line\n  second line")

    monkeypatch.setattr(commands.P, "load_data", two_lines)
    code, _, err = cli("train", "mean", "--data", "synthetic")
    assert code == 2 and err == "minirec: error: first line second line\n"


def test_padded_rankings_give_valid_json_without_infinity(
    cli, popularity_file, tmp_path
):
    # user 1's 500-item catalog minus the items they rated leaves fewer than 500
    code, out, _ = cli(
        "recommend", "--model", popularity_file, "--user", "1", "-n", "500", "--json"
    )
    assert code == 0 and "Infinity" not in out and "NaN" not in out
    items = _strict(out)["users"][0]["items"]
    assert 0 < len(items) < 500
    assert len({it["item"] for it in items}) == len(items)
    assert dumps({"x": float("-inf"), "y": float("nan")}) == '{"x": null, "y": null}'


def test_library_messages_are_put_in_cli_terms():
    msg = (
        "dataset 'ml-100k' not found (looked in: /x). Set MINIREC_DATA to a folder "
        "holding ml-100k/, pass path='/folder/ml-100k', or pass download=True "
        "(CLI: --download) to fetch https://..."
    )
    assert cli_terms(msg).endswith(
        "pass --data /folder/ml-100k, or pass --download to fetch https://..."
    )
    assert "--protocol full or --protocol sampled" in cli_terms(
        "RMSE/MAE are meaningless; use evaluate_full or evaluate_sampled"
    )
    assert "pass --cold-start" in cli_terms("pass unknown='popular' to recommend")


def test_missing_dataset_error_names_cli_flags(cli, monkeypatch, tmp_path):
    monkeypatch.setenv("MINIREC_DATA", str(tmp_path))
    monkeypatch.setenv("MINIREC_CACHE", str(tmp_path / "cache"))
    code, out, err = cli("train", "baseline", "--data", "ml-100k")
    assert code == 2 and "not found" in err
    assert "path=" not in err and "download=True" not in err and "--download" in err
    assert "--data /folder/ml-100k" in err


def test_id_files_name_the_line_at_fault(tmp_path):
    from minirec.cli._io import CliError, read_id_file

    f = tmp_path / "ids.txt"
    f.write_text("# header\n\n7\n8  # a comment\n")
    assert read_id_file(str(f), "--users") == (["7", "8"], [3, 4])
    f.write_text("7,4.5\n8\t3\n9\n")
    assert read_id_file(str(f), "--history", with_values=True) == (
        ["7", "8", "9"],
        [4.5, 3.0, None],
        [1, 2, 3],
    )
    for text, values, needle in [
        ("7\n8,9\n", False, f"{f}:2: expected one id per line"),
        ("7\n8,9,1\n", True, f"{f}:2: expected an id or id,value per line"),
        ("7,x\n", True, f"{f}:1: 'x' is not a number"),
        ("7,nan\n", True, f"{f}:1: the rating 'nan' is not finite"),
        ("# nothing\n", False, "holds no ids"),
    ]:
        f.write_text(text)
        with pytest.raises(CliError, match=re.escape(needle)):
            read_id_file(str(f), "--users", with_values=values)
    f.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(CliError, match="cannot be read as UTF-8"):
        read_id_file(str(f), "--users")
    with pytest.raises(CliError, match="no such file"):
        read_id_file(str(tmp_path / "none.txt"), "--users")
