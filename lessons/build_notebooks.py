"""Turn every lesson into a notebook (jupytext) and execute it (nbclient), with a cache.

    make notebooks            # all lessons -> lessons/_build/NN_name.ipynb, executed
    python lessons/build_notebooks.py 06_mf_sgd   # just one
    FULL=1 python lessons/build_notebooks.py      # full-size runs

Generated notebooks are not committed (see .gitignore). They run with the lessons folder
as working directory so `import _course` works. ``build(lesson_path, out_dir, quick)``
is the one way a lesson becomes an executed notebook (the lesson tests and the book use
it): the notebook records a hash of everything its run depends on, and a notebook whose
hash still matches is reused instead of executed again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BUILD = HERE / "_build"
STEM = re.compile(r"^\d\d[a-z]?_\w+$")  # NN_name, or NNx_name for an inserted lesson


def lesson_paths() -> list[Path]:
    """Every lesson file, in course order (the sorted order of the stems)."""
    return sorted(p for p in HERE.glob("*.py") if STEM.match(p.stem))


def _data_env() -> str:
    # a relative MINIREC_DATA (e.g. ../shared/data from the repo root) would point
    # elsewhere from the kernel's working directory lessons/: make it absolute
    data = os.environ.get("MINIREC_DATA", "")
    if data and data.lower() != "none":
        data = str(Path(data).resolve())
    return data


def source_hash(lesson_path: Path, quick: bool = True) -> str:
    """Hash of what an executed notebook depends on: the lesson, the course helpers,
    its exercise checks, the minirec sources, the mode and the data folder."""
    lesson_path = Path(lesson_path).resolve()
    h = hashlib.sha256()
    h.update(json.dumps({"quick": bool(quick), "data": _data_env()}).encode())
    deps = [lesson_path, HERE / "_course.py", HERE / "_exercises.py"]
    deps.append(HERE / "checks" / lesson_path.name)
    deps += sorted((ROOT / "minirec").rglob("*.py"))
    for p in deps:
        if p.exists():
            h.update(str(p.relative_to(ROOT) if p.is_relative_to(ROOT) else p).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def is_current(out: Path, key: str) -> bool:
    """True when `out` is an executed notebook recorded with hash `key`."""
    if not out.exists():
        return False
    try:
        meta = json.loads(out.read_text()).get("metadata", {})
    except (OSError, ValueError):
        return False
    return meta.get("minirec", {}).get("source_hash") == key


def build(
    lesson_path: Path,
    out_dir: Path | None = None,
    quick: bool = True,
    execute: bool = True,
    timeout: int = 600,
) -> Path:
    """Execute lesson `lesson_path` as a notebook into `out_dir`/<stem>.ipynb.

    Quick mode sets FULL=0 for the kernel, ``quick=False`` sets FULL=1. A notebook
    already there with the same :func:`source_hash` is returned as it is. A lesson
    that raises stops the build with nbclient's CellExecutionError (cell and
    traceback), and nothing is cached for it. ``execute=False`` writes the
    unexecuted notebook (never cached).
    """
    import jupytext
    import nbformat

    lesson_path = Path(lesson_path).resolve()
    out_dir = Path(out_dir) if out_dir is not None else BUILD
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / (lesson_path.stem + ".ipynb")
    key = source_hash(lesson_path, quick)
    if execute and is_current(out, key):
        return out

    nb = jupytext.read(lesson_path)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata.pop("minirec", None)
    if execute:
        _execute(nb, quick, timeout)
        nb.metadata["minirec"] = {"source_hash": key, "quick": bool(quick)}
    tmp = out.with_suffix(".ipynb.tmp")
    nbformat.write(nb, tmp)
    os.replace(tmp, out)  # atomic: a half-written notebook is never taken as cached
    return out


def _execute(nb, quick: bool, timeout: int) -> None:
    from nbclient import NotebookClient

    env = {
        "FULL": "0" if quick else "1",
        "MINIREC_PROGRESS": os.environ.get("MINIREC_PROGRESS", "0"),
        "MINIREC_DATA": _data_env() or None,
    }
    saved = {k: os.environ.get(k) for k in env}
    _set_env(env)  # the kernel inherits this process's environment
    try:
        NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(HERE)}},
        ).execute()
    finally:
        _set_env(saved)


def _set_env(values: dict[str, str | None]) -> None:
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def main(argv: list[str]) -> int:
    quick = os.environ.get("FULL", "0") in ("0", "", "false", "no")
    names = argv or [p.stem for p in lesson_paths()]
    failed = []
    for name in names:
        path = HERE / (name if name.endswith(".py") else name + ".py")
        if not path.exists():
            print(f"{path.name:<40} FAILED: no such lesson file {path}")
            failed.append(path.name)
            continue
        t0 = time.perf_counter()
        out = BUILD / (path.stem + ".ipynb")
        cached = is_current(out, source_hash(path, quick))
        try:
            out = build(path, quick=quick)
            how = "cached" if cached else f"{time.perf_counter() - t0:.1f} s"
            print(f"{path.name:<40} -> {out.relative_to(ROOT)} ({how})", flush=True)
        except Exception as e:  # report every failing lesson, then fail
            print(f"{path.name:<40} FAILED: {type(e).__name__}: {str(e)[-1500:]}")
            failed.append(path.name)
    print(f"{len(names) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
