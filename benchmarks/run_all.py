"""Run the benchmarks one after the other (what ``make bench`` does).

Speed benchmarks by default (minutes; each prints its ratios and writes its file
under ``benchmarks/results/``); ``--accuracy`` adds the accuracy runs on the real
data (hours on a 2-core machine); ``--only NAME ...`` picks scripts by name. Each
script runs in its own process so that one failure does not stop the others; the
exit status is 1 when any failed. Needs ``MINIREC_DATA`` (a folder holding ml-1m/,
ncf/, ...) for everything but the autograd benchmark.

    MINIREC_DATA=../shared/data python benchmarks/run_all.py [--accuracy]
    MINIREC_DATA=../shared/data python benchmarks/run_all.py --only bench_kernels

Run it on an idle machine: the results record the load average, and ratios from a
loaded machine are noisy. The GPU benchmark is apart: ``bash benchmarks/run_gpu.sh``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

SPEED = [
    "bench_kernels",
    "bench_fm_knn",
    "bench_autograd",
    "bench_models",
    "bench_flush",
]
ACCURACY = [
    "accuracy_classic",
    "accuracy_fm",
    "accuracy_neural",
    "accuracy_sequential",
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accuracy", action="store_true", help="also the accuracy runs")
    ap.add_argument("--only", nargs="+", metavar="NAME", help="these scripts only")
    args = ap.parse_args()
    names = args.only or SPEED + (ACCURACY if args.accuracy else [])
    unknown = [n for n in names if not (HERE / f"{n}.py").exists()]
    if unknown:
        ap.error(
            f"no such benchmark: {', '.join(unknown)} (choose from "
            f"{', '.join(SPEED + ACCURACY)})"
        )
    failed = []
    for name in names:
        print(f"=== {name}", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, str(HERE / f"{name}.py")])
        print(f"=== {name}: exit {rc}, {time.perf_counter() - t0:.0f} s", flush=True)
        if rc != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
