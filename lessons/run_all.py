"""Run every lesson in quick mode (or FULL=1) and print how long each took."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def lessons() -> list[Path]:
    """Every lesson in course order: stems NN_name or NNx_name (an inserted lesson)."""
    return sorted(p for p in HERE.glob("*.py") if re.match(r"^\d\d[a-z]?_\w+$", p.stem))


def main() -> int:
    failed = []
    for p in lessons():
        t0 = time.perf_counter()
        r = subprocess.run(
            [sys.executable, str(p)],
            cwd=HERE.parent,
            env={**os.environ, "MPLBACKEND": "Agg"},
        )
        dt = time.perf_counter() - t0
        status = "ok" if r.returncode == 0 else f"FAILED ({r.returncode})"
        print(f"{p.name:<40} {dt:6.1f} s  {status}", flush=True)
        if r.returncode:
            failed.append(p.name)
    print(f"{len(lessons()) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
