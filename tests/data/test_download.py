"""Downloads against a local http.server (no real network): success, truncation,
corruption, and that no partial file or folder is ever left in the cache."""

from __future__ import annotations

import hashlib
import http.server
import io
import threading
import zipfile

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


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):  # noqa: N802
        body, length = ZIP, len(ZIP)
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
