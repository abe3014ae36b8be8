"""Turn every lesson into a notebook (jupytext) and execute it (nbclient).

    make notebooks            # all lessons -> lessons/_build/NN_name.ipynb, executed
    python lessons/build_notebooks.py 06_mf_sgd   # just one

Generated notebooks are not committed (see .gitignore). They run in quick mode unless
FULL=1 is set, with the lessons folder as working directory so `import _course` works.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def build(path: Path, execute: bool = True, timeout: int = 600) -> Path:
    import jupytext
    import nbformat
    from nbclient import NotebookClient

    nb = jupytext.read(path)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    out = HERE / "_build" / (path.stem + ".ipynb")
    out.parent.mkdir(exist_ok=True)
    if execute:
        NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(HERE)}},
        ).execute()
    nbformat.write(nb, out)
    return out


def main(argv: list[str]) -> int:
    # the notebooks run with lessons/ as working directory: a relative MINIREC_DATA
    # (e.g. ../shared/data from the repo root) must be made absolute first
    data = os.environ.get("MINIREC_DATA")
    if data and data.lower() != "none":
        os.environ["MINIREC_DATA"] = str(Path(data).resolve())
    names = argv or [p.stem for p in sorted(HERE.glob("[0-9][0-9]_*.py"))]
    failed = []
    for name in names:
        path = HERE / (name if name.endswith(".py") else name + ".py")
        t0 = time.perf_counter()
        try:
            out = build(path)
            print(
                f"{path.name:<40} -> {out.relative_to(HERE.parent)} "
                f"({time.perf_counter() - t0:.1f} s)",
                flush=True,
            )
        except Exception as e:  # report every failing lesson, then fail
            print(f"{path.name:<40} FAILED: {type(e).__name__}: {str(e)[:300]}")
            failed.append(path.name)
    print(f"{len(names) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
