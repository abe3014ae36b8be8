"""Downloads against a local http.server (no real network): success, truncation,
corruption, and that no partial file or folder is ever left in the cache."""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import io
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from minirec.data import (
    datasets,
    download_and_extract,
    download_movielens,
    download_url,
    find_dataset,
    load_movielens,
)
from minirec.errors import DataNotFoundError, DownloadError


def make_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("ml-100k/u.data", "1\t1\t5\t10\n1\t2\t3\t20\n2\t1\t4\t30\n" * 1)
        z.writestr("ml-100k/README", "x" * 5000)
    return buf.getvalue()


ZIP = make_zip()
MD5 = hashlib.md5(ZIP).hexdigest()


def zip_of(members: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in members.items():
            z.writestr(name, text)
    return buf.getvalue()


#: path -> body of archives that must be rejected before anything is cached
BAD_ZIPS = {
    "/empty.zip": zip_of({}),
    "/noratings.zip": zip_of({"ml-100k/README": "no ratings here"}),
    "/macosx.zip": zip_of({"__MACOSX/._u.data": "resource fork"}),
    # resolves to <work>/x_evil/u.data: outside the folder <work>/x, same prefix
    "/slip.zip": zip_of({"../x_evil/u.data": "1\t1\t5\t10\n"}),
    "/absolute.zip": zip_of({"/tmp/minirec_abs/u.data": "1\t1\t5\t10\n"}),
}
REQUESTS: list[str] = []  # paths served, in order


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):  # noqa: N802
        REQUESTS.append(self.path)
        body, length = BAD_ZIPS.get(self.path, ZIP), None
        if self.path == "/slow.zip":  # long enough for two downloads to overlap
            time.sleep(0.5)
        elif self.path == "/drip.zip":  # a byte at a time, each within the timeout
            self.send_response(200)
            self.send_header("Content-Length", str(len(ZIP)))
            self.end_headers()
            with contextlib.suppress(OSError):  # the client gives up first
                for k in range(len(ZIP)):
                    self.wfile.write(ZIP[k : k + 1])
                    self.wfile.flush()
                    time.sleep(0.02)
            return
        length = len(body)
        if self.path == "/truncated.zip":  # promise everything, send half
            body = ZIP[: len(ZIP) // 2]
        elif self.path == "/cut.zip":  # honest length, but a cut zip
            body = ZIP[: len(ZIP) // 2]
            length = len(body)
        elif self.path == "/corrupt.zip":  # same length, flipped bytes
            b = bytearray(ZIP)
            b[len(b) // 2] ^= 0xFF
            body = bytes(b)
        elif self.path == "/missing.zip":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        self.close_connection = True


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_success_then_load(server, tmp_path, monkeypatch):
    monkeypatch.delenv("MINIREC_DATA", raising=False)  # the cache must be used
    cache = tmp_path / "cache"
    path = download_movielens(
        "ml-100k", cache_dir=cache, url=f"{server}/ok.zip", md5=MD5, progress=False
    )
    assert path == cache / "ml-100k" and (path / "u.data").is_file()
    assert leftovers(cache) == ["ml-100k"]  # no temp files next to it
    data = load_movielens("ml-100k", cache_dir=cache)
    assert len(data) == 3
    # found in the cache from now on
    assert find_dataset("ml-100k", cache_dir=cache) == path
    row = [r for r in datasets(cache_dir=cache) if r["name"] == "ml-100k"][0]
    assert row["found"] and row["where"] == str(path)


@pytest.mark.parametrize(
    "name, md5, match",
    [
        ("truncated.zip", None, "truncated|broke"),
        ("truncated.zip", MD5, "truncated|broke"),
        ("cut.zip", None, "not a readable zip"),
        ("corrupt.zip", MD5, "md5 .* expected"),
        ("missing.zip", None, "could not download"),
    ],
)
def test_failures_leave_nothing(server, tmp_path, name, md5, match):
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError, match=match):
        download_movielens(
            "ml-100k", cache_dir=cache, url=f"{server}/{name}", md5=md5, progress=False
        )
    assert leftovers(cache) == []


def test_corrupt_zip_without_checksum_is_caught(server, tmp_path):
    # flipped byte inside the compressed member: zip CRC check catches it
    with pytest.raises(DownloadError):
        download_and_extract(f"{server}/corrupt.zip", tmp_path / "d", progress=False)
    assert leftovers(tmp_path) == []


def test_download_url_sha256_and_size(server, tmp_path):
    sha = hashlib.sha256(ZIP).hexdigest()
    p = download_url(
        f"{server}/ok.zip",
        tmp_path / "f.zip",
        sha256=sha,
        size=len(ZIP),
        progress=False,
    )
    assert p.read_bytes() == ZIP
    with pytest.raises(DownloadError, match="expected"):
        download_url(
            f"{server}/ok.zip", tmp_path / "g.zip", size=len(ZIP) + 1, progress=False
        )
    with pytest.raises(DownloadError, match="sha256"):
        download_url(
            f"{server}/ok.zip", tmp_path / "h.zip", sha256="0" * 64, progress=False
        )
    assert leftovers(tmp_path) == ["f.zip"]


def test_progress_bar_path(server, tmp_path):
    p = download_url(f"{server}/ok.zip", tmp_path / "f.zip", progress=True)
    assert p.stat().st_size == len(ZIP)


def test_resolution_order(tmp_path, monkeypatch):
    env, cache = tmp_path / "env", tmp_path / "cache"
    for root in (env, cache):
        (root / "ml-100k").mkdir(parents=True)
        (root / "ml-100k" / "u.data").write_text("1\t1\t5\t10\n")
    monkeypatch.setenv("MINIREC_DATA", str(env))
    monkeypatch.setenv("MINIREC_CACHE", str(cache))
    assert find_dataset("ml-100k") == env / "ml-100k"
    monkeypatch.setenv("MINIREC_DATA", str(tmp_path / "nowhere"))
    assert find_dataset("ml-100k") == cache / "ml-100k"
    explicit = tmp_path / "mine"
    explicit.mkdir()
    (explicit / "u.data").write_text("1\t1\t5\t10\n")
    assert find_dataset("ml-100k", explicit) == explicit
    monkeypatch.setenv("MINIREC_CACHE", str(tmp_path / "empty"))
    with pytest.raises(DataNotFoundError) as e:
        find_dataset("ml-1m")
    assert "download=True" in str(e.value) and "MINIREC_DATA" in str(e.value)
    rows = {r["name"]: r for r in datasets()}
    assert rows["synthetic"]["found"] and not rows["ml-1m"]["found"]
    assert np.all([set(r) == {"name", "found", "where", "kind"} for r in rows.values()])


def test_explicit_path_for_other_datasets(tmp_path):
    (tmp_path / "sasrec").mkdir()
    assert find_dataset("sasrec", tmp_path) == tmp_path / "sasrec"
    assert find_dataset("sasrec", tmp_path / "sasrec") == tmp_path / "sasrec"
    with pytest.raises(DataNotFoundError, match="path="):
        find_dataset("ml-100k", tmp_path / "absent")


# ------------------------------------------------------------------ archives, races
@pytest.mark.parametrize("path", sorted(BAD_ZIPS))
def test_bad_archives_are_rejected_before_caching(server, tmp_path, path):
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError) as e:
        download_movielens(
            "ml-100k", cache_dir=cache, url=f"{server}{path}", progress=False
        )
    assert any(w in str(e.value) for w in ("empty", "unsafe", "holds none of"))
    assert leftovers(cache) == []
    assert not (tmp_path / "cache" / "x_evil").exists()
    assert not Path("/tmp/minirec_abs").exists()
    # nothing was cached, so a good archive can be downloaded next
    got = download_movielens(
        "ml-100k", cache_dir=cache, url=f"{server}/ok.zip", progress=False
    )
    assert (got / "u.data").is_file() and leftovers(cache) == ["ml-100k"]


def test_empty_zip_without_required_files(server, tmp_path):
    with pytest.raises(DownloadError, match="the zip is empty"):
        download_and_extract(f"{server}/empty.zip", tmp_path / "d", progress=False)
    got = download_and_extract(
        f"{server}/noratings.zip", tmp_path / "d", progress=False
    )  # no files required: a README-only archive is fine
    assert (got / "README").is_file()
    with pytest.raises(DownloadError, match="holds none of u.data"):
        download_and_extract(
            f"{server}/noratings.zip",
            tmp_path / "e",
            progress=False,
            require_any=["u.data"],
        )
    assert leftovers(tmp_path) == ["d"]


def test_file_url(tmp_path):
    src = tmp_path / "ml-100k.zip"
    src.write_bytes(ZIP)
    got = download_and_extract(src.as_uri(), tmp_path / "out", md5=MD5, progress=False)
    assert (got / "u.data").read_bytes() == zipfile.ZipFile(src).read("ml-100k/u.data")


def test_an_incomplete_cached_folder_says_what_to_do(server, tmp_path):
    (tmp_path / "cache" / "ml-100k").mkdir(parents=True)
    with pytest.raises(DownloadError, match="holds none of u.data.*remove that folder"):
        download_movielens(
            "ml-100k", cache_dir=tmp_path / "cache", url=f"{server}/ok.zip"
        )


def test_concurrent_downloads_take_turns(server, tmp_path, monkeypatch):
    monkeypatch.delenv("MINIREC_DATA", raising=False)  # the cache must be used
    cache, out, errors = tmp_path / "cache", [], []
    REQUESTS.clear()

    def fetch():
        try:
            out.append(
                download_movielens(
                    "ml-100k", cache_dir=cache, url=f"{server}/slow.zip", progress=False
                )
            )
        except Exception as e:  # reported below, with the thread's error
            errors.append(e)

    threads = [threading.Thread(target=fetch) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == [] and out == [cache / "ml-100k"] * 2
    assert REQUESTS == ["/slow.zip"]  # the second waited and found the folder
    assert leftovers(cache) == ["ml-100k"]  # no lock file, no temporary folder
    assert len(load_movielens("ml-100k", cache_dir=cache)) == 3


CHILD = """
import sys, time
from pathlib import Path
from minirec.data import download_movielens
url, cache, me, other = sys.argv[1:]
Path(me).touch()
while not Path(other).exists():  # start together: both find no folder yet
    time.sleep(0.01)
print(download_movielens("ml-100k", cache_dir=cache, url=url, progress=False))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="the lock uses POSIX fcntl")
def test_concurrent_downloads_in_two_processes(server, tmp_path):
    cache = tmp_path / "cache"
    REQUESTS.clear()
    flags = [str(tmp_path / "a.ready"), str(tmp_path / "b.ready")]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, f"{server}/slow.zip", str(cache), me, other],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for me, other in (flags, flags[::-1])
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert out.strip() == str(cache / "ml-100k")
    assert REQUESTS == ["/slow.zip"]  # one download; the other process waited
    assert leftovers(cache) == ["ml-100k"]


def test_the_final_rename_lets_the_first_folder_win(server, tmp_path, monkeypatch):
    # without a lock (fcntl missing), a download that finishes second keeps the first
    from minirec.data import download

    monkeypatch.setattr(download, "fcntl", None)
    dest = tmp_path / "ml-100k"
    real_rename = download.os.rename

    def rename_after_another(src, dst):
        Path(dst).mkdir()  # another download lands first...
        (Path(dst) / "u.data").write_text("1\t1\t5\t10\n")
        return real_rename(src, dst)  # ...so ours fails: the folder is not empty

    monkeypatch.setattr(download.os, "rename", rename_after_another)
    got = download_and_extract(
        f"{server}/ok.zip", dest, progress=False, require_any=["u.data"]
    )
    assert got == dest and (dest / "u.data").read_text() == "1\t1\t5\t10\n"
    assert leftovers(tmp_path) == ["ml-100k"]  # our copy and the lock are gone


def test_the_whole_download_has_a_deadline(server, tmp_path):
    cache = tmp_path / "cache"
    t0 = time.monotonic()
    with pytest.raises(DownloadError, match="deadline=0.5"):
        download_movielens(
            "ml-100k",
            cache_dir=cache,
            url=f"{server}/drip.zip",
            deadline=0.5,
            progress=False,
        )
    assert time.monotonic() - t0 < 5  # each byte came within the socket timeout
    assert leftovers(cache) == []
    for bad in (0, -1, "10", True):
        with pytest.raises(ValueError, match="deadline="):
            download_url(f"{server}/ok.zip", tmp_path / "f", deadline=bad)
