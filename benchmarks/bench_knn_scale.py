"""ItemKNN at scale: fit time and peak memory on a 200k-item, 1M-rating matrix,
and recommend() for 1024 users of the fitted model .

The synthetic matrix (seeded): 200,000 items, 30,000 users, 1,000,000 distinct
(user, item) ratings in 1..5. Every item has at least one rating; the rest are
drawn with item popularity ∝ 1 / (rank + 50) (a Zipf tail) and user activity
lognormal(0, 1). Ratings: round(3 + user bias + item bias + noise), clipped.

Each measurement runs in its own subprocess, so that the peak RSS is that
process's ``resource.getrusage(RUSAGE_SELF).ru_maxrss``:

* ``fit``: builds the matrix, fits a tiny ItemKNN first (so JIT compilation is
  not timed), then times ``ItemKNN(backend="numba").fit`` (task "rating", the
  default hyperparameters: every positive neighbour stored) and saves the model;
* ``recommend``: loads that model file, warms up on 2 users, then times
  ``recommend(users, 10)`` for 1024 seeded users.

``--code DIR`` runs the subprocesses on the minirec package found in DIR (e.g. a
copy of the package taken before a change), ``--label`` names the row, and the
row is stored in ``--rows`` (JSON); ``--write`` renders every stored row into
benchmarks/results/knn_scale.md.

    python benchmarks/bench_knn_scale.py --label before --code /tmp/knn_before
    python benchmarks/bench_knn_scale.py --label after --write
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
N_ITEMS, N_USERS, N_RATINGS = 200_000, 30_000, 1_000_000
N_REC_USERS = 1024
SEED = 0


def make_matrix(seed: int = SEED):
    """(users, items, ratings) of the synthetic matrix (module docstring)."""
    r = np.random.default_rng(seed)
    pop = r.permutation(1.0 / (np.arange(N_ITEMS) + 50.0))
    pop /= pop.sum()
    act = r.lognormal(0.0, 1.0, N_USERS)
    act /= act.sum()
    extra = int(1.2 * (N_RATINGS - N_ITEMS))  # duplicates are dropped below
    u = np.concatenate(
        [r.choice(N_USERS, N_ITEMS, p=act), r.choice(N_USERS, extra, p=act)]
    )
    i = np.concatenate([np.arange(N_ITEMS), r.choice(N_ITEMS, extra, p=pop)])
    _, first = np.unique(u.astype(np.int64) * N_ITEMS + i, return_index=True)
    first = np.sort(first)[:N_RATINGS]  # the one-per-item draws come first
    u, i = u[first], i[first]
    bu = r.normal(0.0, 0.5, N_USERS)
    bi = r.normal(0.0, 0.7, N_ITEMS)
    y = np.clip(np.round(3.0 + bu[u] + bi[i] + r.normal(0.0, 0.8, len(u))), 1, 5)
    return u, i, y


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def worker_fit(model_file: str) -> dict:
    from minirec import Interactions
    from minirec.models.knn import ItemKNN

    tiny = Interactions.from_arrays([0, 0, 1, 1, 2], [0, 1, 0, 1, 1], [1, 2, 3, 4, 5])
    ItemKNN(backend="numba").fit(tiny)  # compile (or load) the kernels
    u, i, y = make_matrix()
    data = Interactions.from_arrays(u, i, y)
    assert data.n_items == N_ITEMS and len(data) == N_RATINGS
    rss_data = _rss_mb()
    t = time.perf_counter()
    m = ItemKNN(backend="numba").fit(data)
    fit_s = time.perf_counter() - t
    peak = _peak_mb()
    m.save(model_file)
    import minirec

    return {
        "code": minirec.__file__,
        "fit_s": fit_s,
        "fit_peak_mb": peak,
        "rss_before_fit_mb": rss_data,
        "stored_neighbours": int(len(m.nbr_indices_)),
    }


def worker_recommend(model_file: str, n_users: int, limit: float | None) -> dict:
    import threading

    from minirec.models.base import Recommender

    m = Recommender.load(model_file)
    users = np.random.default_rng(SEED + 1).choice(
        m.user_ids_, N_REC_USERS, replace=False
    )[:n_users]
    rss_model = _rss_mb()
    m.recommend(users[:2], 10)  # compile (or load) the kernels
    row = {"recommend_users": n_users, "rss_model_loaded_mb": rss_model}
    if limit:  # past the limit: report the peak so far and stop the process

        def stop():
            row.update(recommend_s=f"> {limit:.0f}", recommend_peak_mb=_peak_mb())
            print(json.dumps(row), flush=True)
            os._exit(0)

        threading.Timer(limit, stop).start()
    t = time.perf_counter()
    ids, scores = m.recommend(users, 10)
    row["recommend_s"] = time.perf_counter() - t
    row["recommend_peak_mb"] = _peak_mb()
    # a fingerprint of the answer, to compare before / after
    row["scores_sum"] = float(np.sum(scores[np.isfinite(scores)], dtype=np.float64))
    print(json.dumps(row), flush=True)
    os._exit(0)  # the limit timer must not outlive the answer


def _run_worker(what: str, code: str | None, *args: str) -> dict:
    env = dict(os.environ)
    if code:
        env["PYTHONPATH"] = os.pathsep.join([code, env.get("PYTHONPATH", "")])
    out = subprocess.run(
        [sys.executable, __file__, "--worker", what, *args],
        env=env,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise SystemExit(f"{what} worker failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _cpu() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def write_md(rows: dict, path: Path) -> None:
    import numba

    cols = [
        ("fit_s", "fit s", "{:.1f}"),
        ("fit_peak_mb", "fit peak RSS MB", "{:,.0f}"),
        ("rss_before_fit_mb", "RSS before fit MB", "{:,.0f}"),
        ("stored_neighbours", "stored neighbours", "{:,}"),
        ("recommend_users", "users", "{}"),
        ("recommend_s", "recommend s", "{}"),
        ("recommend_peak_mb", "recommend peak RSS MB", "{:,.0f}"),
        ("rss_model_loaded_mb", "RSS model loaded MB", "{:,.0f}"),
        ("scores_sum", "sum of top-10 scores", "{:.6g}"),
    ]
    head = "| code | " + " | ".join(c[1] for c in cols) + " |"
    lines = [head, "|" + "---|" * (len(cols) + 1)]
    for label, r in rows.items():
        cells = [c[2].format(r[c[0]]) if c[0] in r else "" for c in cols]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    text = [
        "# ItemKNN at scale",
        "",
        __doc__.split("\n\n")[1].replace("\n", " "),
        "",
        "\n".join(lines),
        "",
        "## Command",
        "",
        "    python benchmarks/bench_knn_scale.py --label before --code <copy>",
        "    python benchmarks/bench_knn_scale.py --label after --write",
        "",
        "## Environment",
        "",
        f"- CPU: `{_cpu()}` x {os.cpu_count()} (shared with other jobs)",
        f"- python `{platform.python_version()}`, numpy `{np.__version__}`, "
        f"numba `{numba.__version__}`",
        *(f"- {label}: {r.get('code', '')}" for label, r in rows.items()),
    ]
    path.write_text("\n".join(text) + "\n")
    print("\n".join(text))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--worker", choices=["fit", "recommend"])
    ap.add_argument("--model", help="model file: fitted when missing, else reused")
    ap.add_argument("--code", help="directory holding the minirec package to run")
    ap.add_argument("--label", default="after")
    ap.add_argument("--users", type=int, default=N_REC_USERS, help="to recommend")
    ap.add_argument("--limit", type=float, help="stop recommend after this many s")
    ap.add_argument("--rows", default="/tmp/knn_scale_rows.json")
    ap.add_argument("--write", action="store_true", help="render knn_scale.md")
    ap.add_argument("--skip-run", action="store_true", help="only --write")
    a = ap.parse_args()
    if a.worker == "fit":
        print(json.dumps(worker_fit(a.model)))
        return
    if a.worker == "recommend":
        worker_recommend(a.model, a.users, a.limit)
        return
    rows_path = Path(a.rows)
    rows = json.loads(rows_path.read_text()) if rows_path.exists() else {}
    if not a.skip_run:
        with tempfile.TemporaryDirectory() as tmp:
            f = a.model or str(Path(tmp) / "itemknn.npz")
            row = {}
            if not Path(f).exists():
                row = _run_worker("fit", a.code, "--model", f)
                print(a.label, row, flush=True)
            args = ["--model", f, "--users", str(a.users)]
            if a.limit:
                args += ["--limit", str(a.limit)]
            row.update(_run_worker("recommend", a.code, *args))
            rows[a.label] = row
        print(a.label, row, flush=True)
        rows_path.write_text(json.dumps(rows, indent=1) + "\n")
    if a.write:
        write_md(rows, HERE / "results" / "knn_scale.md")


if __name__ == "__main__":
    main()
