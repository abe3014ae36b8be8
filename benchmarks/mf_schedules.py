"""RMSE and fit time of `MF` on ML-1M for each epoch schedule, same split and seed.

Schedules: the uniform order (one new uniform shuffle of all ratings per epoch,
``MF()``), and the DSGD order (``MF(dsgd=True, blocks=B)``: stratum by stratum, each
block shuffled) for several B, and the two Hogwild schedules (``hogwild=True``:
the uniform order cut into a chunk per thread; with ``blocks=8``: over the DSGD
grid without barriers). The thread count is Numba's (``NUMBA_NUM_THREADS``); the
DSGD results do not depend on it, their speed does; the Hogwild ones are not
reproducible on more than one thread. Protocol: ML-1M random
90/10 split, seed 0, ``MF()`` defaults otherwise (the ml-1m preset: k = 128,
60 epochs); fit time in seconds, one fit each.

    MINIREC_DATA=../shared/data NUMBA_NUM_THREADS=1 python benchmarks/mf_schedules.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numba

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _env import markdown_table  # noqa: E402

from minirec.data.movielens import load_movielens  # noqa: E402
from minirec.data.split import random_split  # noqa: E402
from minirec.evaluation import evaluate_ratings  # noqa: E402
from minirec.models.mf import MF  # noqa: E402

SCHEDULES = {
    "uniform": {},
    "dsgd, blocks=2": {"dsgd": True, "blocks": 2},
    "dsgd, blocks=8": {"dsgd": True, "blocks": 8},
    "dsgd, blocks=16": {"dsgd": True, "blocks": 16},
    "hogwild (uniform order)": {"hogwild": True},
    "hogwild, blocks=8 (the grid, no barriers)": {"hogwild": True, "blocks": 8},
}


def main() -> None:
    train, test = random_split(load_movielens("ml-1m"), 0.1, seed=0)
    rows = []
    for name, kw in SCHEDULES.items():
        t0 = time.perf_counter()
        model = MF(**kw).fit(train)
        secs = time.perf_counter() - t0
        rmse = evaluate_ratings(model, test).metrics["RMSE"]
        rows.append({"schedule": name, "RMSE": f"{rmse:.4f}", "fit s": f"{secs:.1f}"})
        print(rows[-1], flush=True)
    print(f"\nNumba threads: {numba.get_num_threads()}\n")
    print(markdown_table(rows))


if __name__ == "__main__":
    main()
