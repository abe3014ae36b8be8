"""Saving model files: the file name and mode, temporary files of killed saves,
folders, and open file objects (``save`` / ``load`` take both)."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from minirec import Recommender
from minirec._utils import atomic_write_bytes
from minirec.models import BiasedBaseline


@pytest.fixture(scope="module")
def model(tiny_ratings):
    return BiasedBaseline().fit(tiny_ratings)


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


@pytest.fixture
def umask():
    """Set the process umask for one test, restored after."""
    old = os.umask(0o022)
    os.umask(old)

    def set_(mask: int) -> None:
        os.umask(mask)

    yield set_
    os.umask(old)


def _same_model(a: Recommender, b: Recommender) -> None:
    users = a.user_ids_[:5]
    np.testing.assert_array_equal(a.recommend(users, 5)[0], b.recommend(users, 5)[0])
    np.testing.assert_array_equal(a.recommend(users, 5)[1], b.recommend(users, 5)[1])


def test_new_file_mode_follows_the_umask(model, tmp_path, umask):
    for mask, want in ((0o022, 0o644), (0o077, 0o600), (0o002, 0o664)):
        umask(mask)
        p = tmp_path / f"m{mask:o}.npz"
        assert model.save(p) == p
        assert _mode(p) == want, oct(_mode(p))


def test_overwrite_keeps_the_mode(model, tmp_path, umask):
    p = tmp_path / "m.npz"
    p.write_bytes(b"old")
    os.chmod(p, 0o640)
    umask(0o077)
    model.save(p)
    assert _mode(p) == 0o640
    _same_model(model, Recommender.load(p))


def test_suffix_and_folders(model, tmp_path):
    assert model.save(tmp_path / "plain") == tmp_path / "plain.npz"
    assert model.save(tmp_path / "m.bin") == tmp_path / "m.bin.npz"
    assert model.save(tmp_path / "sub" / "m.npz").exists()  # parent made
    (tmp_path / "dir").mkdir()
    for target in (tmp_path / "dir", str(tmp_path / "dir") + os.sep):
        with pytest.raises(IsADirectoryError, match="folder"):
            model.save(target)
    assert not (tmp_path / "dir.npz").exists()
    assert list((tmp_path / "dir").iterdir()) == []
    with pytest.raises(IsADirectoryError):
        atomic_write_bytes(tmp_path / "dir", b"x")
    with pytest.raises(TypeError, match="path or an open binary file"):
        model.save(42)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_killed_save_leaves_a_temp_file_that_the_next_save_removes(model, tmp_path):
    """A save killed between writing its temporary file and the rename (SIGKILL,
    so no cleanup runs) leaves the temporary file; the next save of that path
    deletes it, and leaves other saves' live temporary files alone."""
    target = tmp_path / "m.npz"
    code = textwrap.dedent(
        f"""
        import os, sys, time
        from minirec import _utils
        def stall(src, dst):
            print("written", flush=True)
            time.sleep(60)
        os.replace = stall
        _utils.atomic_write_bytes({str(target)!r}, b"x" * 1000)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "written"
    finally:
        proc.kill()
        proc.wait()
    stale = _leftovers(tmp_path)
    assert len(stale) == 1 and stale[0].startswith(f".m.npz.{proc.pid}.")
    # a temporary file of a live writer (this process's parent) stays
    live = tmp_path / f".m.npz.{os.getppid()}.abcd.tmp"
    live.write_bytes(b"in progress")
    # other files of the folder stay too
    (tmp_path / ".other.npz.1.x.tmp").write_bytes(b"")
    model.save(target)
    assert _leftovers(tmp_path) == sorted([live.name, ".other.npz.1.x.tmp"])
    _same_model(model, Recommender.load(target))
    # a day-old temporary file goes whoever wrote it
    old = time.time() - 2 * 86400
    os.utime(live, (old, old))
    model.save(target)
    assert _leftovers(tmp_path) == [".other.npz.1.x.tmp"]


def test_failed_write_leaves_no_temp_file(tmp_path, monkeypatch):
    def boom(*a):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(tmp_path / "m.npz", b"data")
    assert list(tmp_path.iterdir()) == []


def test_file_objects(model, tmp_path):
    buf = io.BytesIO()
    assert model.save(buf) is buf
    buf.seek(0)
    _same_model(model, Recommender.load(buf))
    # real files opened by the caller, and a file that does not start at byte 0
    p = tmp_path / "m.npz"
    with open(p, "wb") as f:
        f.write(b"prefix")
        model.save(f)
    with open(p, "rb") as f:
        assert f.read(6) == b"prefix"
        _same_model(model, Recommender.load(f))
    assert p.read_bytes()[6:] == buf.getvalue()


def test_non_seekable_stream(model):
    class Stream(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self._data = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, b) -> int:
            chunk = self._data.read(len(b))
            b[: len(chunk)] = chunk
            return len(chunk)

    buf = io.BytesIO()
    model.save(buf)
    _same_model(model, Recommender.load(Stream(buf.getvalue())))


def test_text_mode_files_are_refused(model, tmp_path):
    with open(tmp_path / "t.txt", "w") as f:
        with pytest.raises(TypeError, match="binary"):
            model.save(f)
    (tmp_path / "t.txt").write_bytes(b"abc")
    with open(tmp_path / "t.txt") as f:
        with pytest.raises(TypeError, match="rb"):
            Recommender.load(f)
    with pytest.raises(TypeError, match="path or an open binary file"):
        Recommender.load(3.5)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model file"):
        Recommender.load(tmp_path / "nope.npz")
