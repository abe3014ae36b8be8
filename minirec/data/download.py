"""Where datasets live, and the one function that downloads them.

Resolution order of :func:`find_dataset` (the first that exists wins):

1. an explicit ``path=`` (the dataset folder itself, or a folder holding ``<name>/``);
2. ``$MINIREC_DATA/<name>``;
3. the cache, ``$MINIREC_CACHE/<name>`` or ``~/.cache/minirec/<name>``;
4. with ``download=True``, the official GroupLens zip
   ``https://files.grouplens.org/datasets/movielens/<name>.zip`` is downloaded (tqdm
   progress bar), checked (size, md5 from :data:`MOVIELENS`, zip integrity) and
   extracted into the cache atomically;
5. otherwise :class:`~minirec.errors.DataNotFoundError` saying how to get the data.

Atomicity: the zip is streamed to a temporary file inside the cache folder, checked,
extracted into a temporary folder next to the destination, and only then renamed to
``<cache>/<name>`` with one ``os.rename``. A failed, truncated or corrupted download
raises :class:`~minirec.errors.DownloadError` and removes every temporary file, so the
cache never holds a half-written dataset. Also rejected before anything is cached: an
empty zip, a member whose *resolved* path leaves the extraction folder, and an
archive without a ratings file. Concurrent downloads of one dataset (threads or
processes) take turns on a lock file ``<cache>/.<name>.lock``, removed afterwards; the
later ones find the folder made and return it, and where the lock is unavailable the
final rename lets the first folder win. ``deadline=`` (seconds, default
:data:`DEADLINE`) bounds a whole download, lock wait included; ``timeout=`` bounds
each wait for the server.

Checksums: GroupLens publishes an md5 for each zip (``<name>.zip.md5``). The table
holds, for the frozen releases (100k, 1m, 10m, 20m, 25m), the md5 that several
independent public projects quote for the official zip (the same value in each);
no GroupLens zip could be downloaded where this was written, so none was checked
against a download here. Sizes are ``None`` (not confirmed): the byte count is
checked against the server's Content-Length instead. ``ml-latest`` and
``ml-latest-small`` are re-released from time to time, so their md5 is ``None``:
those downloads are checked for completeness (Content-Length) and zip integrity (the
CRC of every member) only.

The MovieLens terms forbid redistribution: the files are read from where the user
put them (or downloaded from GroupLens by the user), never shipped with minirec.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; the final rename stays safe
    fcntl = None  # type: ignore[assignment]

from .._utils import progress_enabled
from ..errors import DataNotFoundError, DownloadError

GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens/{name}.zip"
#: seconds a whole download (lock wait, transfer, extraction) may take by default
DEADLINE = 3600.0

#: name -> (md5 of the official zip or None, size in bytes or None, format kind)
MOVIELENS: dict[str, dict] = {
    "ml-100k": {
        "md5": "0e33842e24a9c977be4e0107933c0723",
        "size": None,
        "kind": "ml-100k (u.data)",
    },
    "ml-1m": {
        "md5": "c4d9eecfca2ab87c1945afe126590906",
        "size": None,
        "kind": "ml-1m (ratings.dat '::')",
    },
    "ml-10m": {
        "md5": "ce571fd55effeba0271552578f2648bd",
        "size": None,
        "kind": "ml-10m (ratings.dat '::')",
    },
    "ml-20m": {
        "md5": "cd245b17a1ae2cc31bb14903e1204af3",
        "size": None,
        "kind": "csv (ratings.csv)",
    },
    "ml-25m": {
        "md5": "6b51fb2759a8657d3bfcbfc42b592ada",
        "size": None,
        "kind": "csv (ratings.csv)",
    },
    "ml-latest-small": {"md5": None, "size": None, "kind": "csv (ratings.csv)"},
    "ml-latest": {"md5": None, "size": None, "kind": "csv (ratings.csv)"},
}

#: other folders that `datasets()` reports (not downloadable from GroupLens)
OTHER_DATASETS: dict[str, str] = {
    "ncf": "NCF test files (ml-1m.test.rating, ml-1m.test.negative)",
    "sasrec": "SASRec sequences (Video.txt)",
    "sessions": "session-rec TSV (rsc15-100k)",
}

_MARKERS = ("u.data", "ratings.dat", "ratings_no_timestamp.dat", "ratings.csv")


def resolve_cache_dir(cache: str | os.PathLike | None = None) -> Path:
    """The download cache: `cache`, else $MINIREC_CACHE, else ~/.cache/minirec."""
    if cache is not None:
        return Path(cache).expanduser()
    env = os.environ.get("MINIREC_CACHE")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "minirec"


def _looks_like(folder: Path, name: str) -> bool:
    if not folder.is_dir():
        return False
    if name in MOVIELENS:
        return any((folder / m).is_file() for m in _MARKERS)
    return True


def _candidates(name: str, path, cache) -> list[tuple[str, Path]]:
    out = []
    if path is not None:
        p = Path(path).expanduser()
        out += [("path", p), ("path", p / name)]
    env = os.environ.get("MINIREC_DATA")
    if env:
        out.append(("MINIREC_DATA", Path(env).expanduser() / name))
    out.append(("cache", resolve_cache_dir(cache) / name))
    return out


def find_dataset(
    name: str,
    path: str | os.PathLike | None = None,
    *,
    download: bool = False,
    cache_dir: str | os.PathLike | None = None,
) -> Path:
    """The folder holding dataset `name` (see the module docstring for the order).

    Parameters
    ----------
    name : str
        ``"ml-100k"``, ``"ml-1m"``, ``"ml-latest-small"``, ... or ``"ncf"``,
        ``"sasrec"``, ``"sessions"``.
    path : path, optional
        The dataset folder itself, or a folder that holds ``<name>/``. When given and
        it holds neither, a DataNotFoundError names it (nothing else is tried).
    download : bool
        Download the GroupLens zip into the cache when nothing is found.
    cache_dir : path, optional
        Overrides $MINIREC_CACHE / ~/.cache/minirec.
    """
    if path is not None:
        first_two = _candidates(name, path, cache_dir)[:2]
        if name not in MOVIELENS:  # any folder qualifies: prefer <path>/<name>
            first_two = first_two[::-1]
        for _, p in first_two:
            if _looks_like(p, name):
                return p
        raise DataNotFoundError(
            f"{name}: path={str(path)!r} is neither the dataset folder (holding one of "
            f"{', '.join(_MARKERS)}) nor a folder holding {name}/; pass the folder "
            "that contains the dataset files"
        )
    for _, p in _candidates(name, None, cache_dir):
        if _looks_like(p, name):
            return p
    if download:
        if name not in MOVIELENS:
            raise DataNotFoundError(
                f"{name}: not found and not downloadable (only {', '.join(MOVIELENS)} "
                "come from GroupLens); set MINIREC_DATA to the folder holding "
                f"{name}/"
            )
        return download_movielens(name, cache_dir=cache_dir)
    where = [str(p) for _, p in _candidates(name, None, cache_dir)]
    how = (
        "or pass download=True (CLI: --download) to fetch "
        + GROUPLENS_URL.format(name=name)
        if name in MOVIELENS
        else "(this dataset cannot be downloaded by minirec)"
    )
    raise DataNotFoundError(
        f"dataset {name!r} not found (looked in: {', '.join(where)}). Set MINIREC_DATA "
        f"to a folder holding {name}/, pass path='/folder/{name}', {how}."
    )


def datasets(cache_dir: str | os.PathLike | None = None) -> list[dict]:
    """One dict per known dataset: ``name``, ``found`` (bool), ``where`` (path or
    None), ``kind`` (file format). ``synthetic`` is always found (generated)."""
    rows = [
        {
            "name": "synthetic",
            "found": True,
            "where": "(generated in code)",
            "kind": "synthetic ratings",
        }
    ]
    names = [(n, d["kind"]) for n, d in MOVIELENS.items()] + list(
        OTHER_DATASETS.items()
    )
    for name, kind in names:
        try:
            where: str | None = str(find_dataset(name, cache_dir=cache_dir))
        except DataNotFoundError:
            where = None
        rows.append(
            {"name": name, "found": where is not None, "where": where, "kind": kind}
        )
    return rows


# ------------------------------------------------------------------------- download
def _hash_file(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class _Fetch:
    """How one download is checked and how long it may take."""

    md5: str | None = None
    sha256: str | None = None
    size: int | None = None
    timeout: float = 60.0
    progress: bool | None = None
    deadline: float | None = DEADLINE
    end: float | None = field(default=None, init=False)  # monotonic clock

    def __post_init__(self) -> None:
        d = self.deadline
        if d is not None:
            if isinstance(d, bool) or not isinstance(d, (int, float)) or not d > 0:
                raise ValueError(
                    f"deadline={d!r}: must be a positive number of seconds, or None"
                )
            object.__setattr__(self, "end", time.monotonic() + d)

    def left(self, what: str) -> float | None:
        """Seconds left before the deadline; DownloadError once it has passed."""
        if self.end is None:
            return None
        left = self.end - time.monotonic()
        if left <= 0:
            raise DownloadError(
                f"{what} did not finish within deadline={self.deadline:g} s; retry, "
                "or pass a longer deadline= on a slow connection"
            )
        return left


def download_url(
    url: str,
    dest: str | os.PathLike,
    *,
    md5: str | None = None,
    sha256: str | None = None,
    size: int | None = None,
    timeout: float = 60.0,
    deadline: float | None = DEADLINE,
    progress: bool | None = None,
) -> Path:
    """Download `url` to the file `dest` atomically and verify it.

    The bytes go to a temporary file next to `dest`; it is renamed to `dest` only
    after the byte count matches Content-Length (and `size` when given) and the
    md5/sha256 match when given. `timeout` bounds each wait for the server,
    `deadline` (seconds, None for none) the whole download. Any failure raises
    DownloadError and leaves no file.
    """
    fetch = _Fetch(md5, sha256, size, timeout, progress, deadline)
    return _download_url(url, Path(dest), fetch)


def _download_url(url: str, dest: Path, fetch: _Fetch) -> Path:
    what = f"download of {url}"
    left = fetch.left(what)
    wait = fetch.timeout if left is None else min(fetch.timeout, left)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{dest.name}.", suffix=".part", dir=dest.parent
    )
    tmp = Path(tmp_name)
    try:
        try:
            with (
                os.fdopen(fd, "wb") as out,
                urllib.request.urlopen(url, timeout=wait) as resp,
            ):
                length = resp.headers.get("Content-Length")
                expected = int(length) if length is not None else fetch.size
                bar = None
                progress = fetch.progress
                if progress if progress is not None else progress_enabled():
                    from tqdm.auto import tqdm

                    bar = tqdm(
                        total=expected,
                        unit="B",
                        unit_scale=True,
                        desc=f"downloading {dest.name}",
                        leave=False,
                    )
                got = 0
                # read1 returns what has arrived, so the deadline is checked even
                # while a slow server sends less than a block
                read = getattr(resp, "read1", resp.read)
                while True:
                    fetch.left(what)
                    try:
                        block = read(1 << 16)
                    except Exception as e:  # http.client.IncompleteRead and friends
                        raise DownloadError(
                            f"download of {url} broke after {got:,} bytes ({e}); "
                            "check the connection and retry"
                        ) from e
                    if not block:
                        break
                    out.write(block)
                    got += len(block)
                    if bar is not None:
                        bar.update(len(block))
                if bar is not None:
                    bar.close()
        except DownloadError:
            raise
        except (urllib.error.URLError, OSError, ValueError) as e:
            raise DownloadError(
                f"could not download {url}: {e}; check the URL and the connection, or "
                "download the file by hand and set MINIREC_DATA"
            ) from e
        if length is not None and got != int(length):
            raise DownloadError(
                f"download of {url} is truncated: got {got:,} of {int(length):,} bytes "
                "(Content-Length); retry"
            )
        if fetch.size is not None and got != fetch.size:
            raise DownloadError(
                f"download of {url} has {got:,} bytes, expected {fetch.size:,}; the "
                "file is truncated or changed upstream"
            )
        for algo, want in (("md5", fetch.md5), ("sha256", fetch.sha256)):
            if want is not None:
                have = _hash_file(tmp, algo)
                if have.lower() != want.lower():
                    raise DownloadError(
                        f"{algo} of {url} is {have}, expected {want}: the download is "
                        "corrupted (or the file changed upstream); retry, or check the "
                        "published checksum"
                    )
        os.replace(tmp, dest)
        return dest
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def _dest_lock(dest: Path, fetch: _Fetch) -> Iterator[None]:
    """Hold an exclusive lock on ``<parent>/.<name>.lock`` so that downloads of one
    dataset in other threads or processes wait for this one. The lock only saves a
    second download: the final rename is safe without it (where ``fcntl`` is absent,
    say). The lock file is removed on release; a waiter then holds the lock of the
    removed file, which is harmless for the same reason."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    lock = dest.parent / f".{dest.name}.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        while fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                fetch.left(f"waiting for another download of {dest} ({lock})")
                time.sleep(0.05)
        yield
    finally:
        with contextlib.suppress(OSError):
            lock.unlink()
        os.close(fd)


def _has_any(folder: Path, files: Sequence[str]) -> bool:
    return folder.is_dir() and (not files or any((folder / f).is_file() for f in files))


def download_and_extract(
    url: str,
    dest_dir: str | os.PathLike,
    *,
    md5: str | None = None,
    sha256: str | None = None,
    size: int | None = None,
    timeout: float = 60.0,
    deadline: float | None = DEADLINE,
    progress: bool | None = None,
    require_any: Sequence[str] = (),
) -> Path:
    """Download a zip from `url`, verify it, and extract it to the folder `dest_dir`.

    The zip's single top-level folder (``ml-100k/`` in the GroupLens zips; the
    irregular ``ml-10M100K/`` too) becomes `dest_dir`; a zip with loose files puts
    them in `dest_dir`. The folder appears with one rename, after everything is
    verified and extracted; on any failure nothing is left behind. Rejected before
    anything is extracted: an empty zip, a member whose resolved path leaves the
    folder; after extraction, a folder holding none of the files `require_any`.
    An existing `dest_dir` is an error (remove it first); when a concurrent download
    creates it meanwhile, that folder is kept and returned. `deadline` bounds the
    whole call, lock wait included.
    """
    dest_dir = Path(dest_dir)
    fetch = _Fetch(md5, sha256, size, timeout, progress, deadline)
    with _dest_lock(dest_dir, fetch):
        if dest_dir.exists():
            raise DownloadError(
                f"{dest_dir} already exists; remove it to download again"
            )
        return _extract_into(url, dest_dir, fetch, tuple(require_any))


def _extract_into(
    url: str, dest_dir: Path, fetch: _Fetch, require_any: tuple[str, ...]
) -> Path:
    parent = dest_dir.parent
    work = Path(
        tempfile.mkdtemp(prefix=f".{dest_dir.name}.", suffix=".tmp", dir=parent)
    )
    try:
        zpath = _download_url(url, work / "download.zip", fetch)
        out = work / "x"
        out.mkdir()
        root = out.resolve()
        try:
            with zipfile.ZipFile(zpath) as zf:
                members = zf.namelist()
                if not members:
                    raise DownloadError(f"{url}: the zip is empty; nothing to extract")
                for member in members:
                    if not (root / member).resolve().is_relative_to(root):
                        raise DownloadError(
                            f"{url}: unsafe path {member!r} in the zip (it resolves "
                            "outside the extraction folder); nothing was extracted"
                        )
                bad = zf.testzip()
                if bad is not None:
                    raise DownloadError(f"{url}: zip member {bad} is corrupted; retry")
                zf.extractall(out)
        except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile) as e:
            raise DownloadError(
                f"{url} is not a readable zip ({e}): truncated or corrupted; retry"
            ) from e
        entries = [p for p in out.iterdir() if not p.name.startswith("__MACOSX")]
        src = entries[0] if len(entries) == 1 and entries[0].is_dir() else out
        if not entries or not _has_any(src, require_any):
            found = sorted(p.name for p in src.iterdir())[:10] if entries else []
            raise DownloadError(
                f"{url}: the archive holds none of {', '.join(require_any) or 'files'} "
                f"(found {found}); it is not the expected dataset, so nothing was "
                "cached; check the URL"
            )
        fetch.left(f"download of {url}")
        try:
            os.rename(src, dest_dir)
        except OSError as e:
            if _has_any(dest_dir, require_any):  # a concurrent download came first
                return dest_dir
            raise DownloadError(
                f"could not move the extracted files to {dest_dir}: {e}"
            ) from e
        return dest_dir
    finally:
        shutil.rmtree(work, ignore_errors=True)


def download_movielens(
    name: str,
    *,
    cache_dir: str | os.PathLike | None = None,
    url: str | None = None,
    md5: str | None = None,
    deadline: float | None = DEADLINE,
    progress: bool | None = None,
) -> Path:
    """Download and extract GroupLens dataset `name` into the cache; return its folder.

    `url` and `md5` default to the official zip and the md5 in :data:`MOVIELENS`
    (with an explicit `url`, only the given `md5` is checked). An archive without a
    ratings file (u.data, ratings.dat, ratings_no_timestamp.dat, ratings.csv) is
    rejected before anything is cached. Concurrent calls for the same dataset take
    turns: the later ones return the folder the first one made. `deadline` (seconds)
    bounds the whole call.
    """
    if name not in MOVIELENS and url is None:
        raise DataNotFoundError(
            f"{name!r} is not a GroupLens dataset minirec knows "
            f"({', '.join(MOVIELENS)})"
        )
    info = MOVIELENS.get(name, {})
    dest = resolve_cache_dir(cache_dir) / name
    if _looks_like(dest, name):
        return dest
    fetch = _Fetch(
        md5=md5 if md5 is not None or url is not None else info.get("md5"),
        size=info.get("size") if url is None else None,
        progress=progress,
        deadline=deadline,
    )
    with _dest_lock(dest, fetch):
        if _looks_like(dest, name):  # made by a download we waited for
            return dest
        if dest.exists():
            raise DownloadError(
                f"{dest} exists but holds none of {', '.join(_MARKERS)}, so it is not "
                f"a complete {name} download; remove that folder and download again"
            )
        return _extract_into(
            url or GROUPLENS_URL.format(name=name), dest, fetch, _MARKERS
        )
