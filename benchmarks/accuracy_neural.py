"""Accuracy of the neural models on their published protocols (real data).

Parts (run one or several; each replaces its own section of
benchmarks/results/accuracy_neural.md):

* ``ncf``: GMF, NCF-MLP and NeuMF with pre-training at 32 predictive factors on the
  NCF files (He et al. 2017): ML-1M, leave-one-out (each user's latest rating, from
  ``ncf/ml-1m.test.rating``), the positive ranked against the 99 sampled items of
  ``ncf/ml-1m.test.negative`` ("sampled 1+99"), HR@10 / NDCG@10, pessimistic ties.
  Training = all ML-1M ratings minus the test ratings, as implicit feedback, 4
  negatives per positive re-drawn each epoch. Test metrics are printed after every
  epoch for the curve; the number reported is the **last** epoch's (no selection on
  the test set).
* ``convncf``: ConvNCF on the same files, started from the GMF embeddings.
* ``autorec``: I-AutoRec, ML-1M random 90/10 split of all ratings (seed 0), RMSE.
* ``deepfm``: DeepFM vs logistic FM on the ML-1M CTR task (rating >= 4 = click;
  fields user, item, gender, age, occupation, genres; random 80/20, seed 0), AUC
  and logloss on the test part.

    MINIREC_DATA=../shared/data OPENBLAS_NUM_THREADS=1 \\
        python benchmarks/accuracy_neural.py ncf autorec deepfm convncf
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _env import RESULTS, env_block, environment, markdown_table  # noqa: E402

from minirec.data import load_movielens, random_split  # noqa: E402
from minirec.data.ncf import ncf_protocol  # noqa: E402
from minirec.evaluation import evaluate_sampled  # noqa: E402

OUT = RESULTS / "accuracy_neural.md"
CACHE = Path(os.environ.get("MINIREC_BENCH_CACHE", "/tmp/minirec_bench"))
QUICK = os.environ.get("QUICK") == "1"  # a smoke run of every part (minutes)


def write_section(part: str, text: str) -> None:
    """Replace this part's section of accuracy_neural.md (others are kept)."""
    RESULTS.mkdir(exist_ok=True)
    old = OUT.read_text() if OUT.exists() else "# Neural models: accuracy\n"
    begin, end = f"<!-- part:{part} -->", f"<!-- /part:{part} -->"
    block = f"{begin}\n{text.strip()}\n\n{env_block(environment())}\n{end}"
    pat = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    new = (
        pat.sub(lambda _: block, old) if pat.search(old) else old + "\n" + block + "\n"
    )
    OUT.write_text(new)
    print(text)


def sampled_metrics(model, tu, ti, negs) -> dict:
    r = evaluate_sampled(model, tu, ti, negs, ks=(10,))
    return {"HR@10": r.metrics["HR@10"], "NDCG@10": r.metrics["NDCG@10"]}


def logger(name, tu, ti, negs, curve):
    def on_epoch(model, epoch, rec):
        m = sampled_metrics(model, tu, ti, negs)
        row = {"model": name, "epoch": epoch, "loss": rec["loss"], **m}
        row["s/epoch"] = rec["seconds"]
        curve.append(row)
        print(json.dumps(row), flush=True)

    return on_epoch


def part_ncf() -> None:
    from minirec.models.ncf import GMF, NCFMLP, NeuMF

    data = load_movielens("ml-1m")
    train, tu, ti, negs = ncf_protocol(data)
    ep = 2 if QUICK else 20
    common = dict(batch_size=2048, n_neg=4, seed=0, verbose=False)
    curve: list[dict] = []
    rows = []
    t0 = time.perf_counter()
    gmf = GMF(k=32, lr=0.003, n_epochs=ep, **common)
    gmf.fit(train, on_epoch=logger("GMF", tu, ti, negs, curve))
    rows.append({"model": "GMF (k=32)", **sampled_metrics(gmf, tu, ti, negs)})
    rows[-1]["train s"] = time.perf_counter() - t0
    gmf.save(CACHE / "gmf.npz")
    t0 = time.perf_counter()
    mlp = NCFMLP(layers=(128, 64, 32), lr=0.003, n_epochs=ep, **common)
    mlp.fit(train, on_epoch=logger("MLP", tu, ti, negs, curve))
    rows.append({"model": "MLP (128-64-32)", **sampled_metrics(mlp, tu, ti, negs)})
    rows[-1]["train s"] = time.perf_counter() - t0
    mlp.save(CACHE / "mlp.npz")
    t0 = time.perf_counter()
    neumf = NeuMF(
        k=32,
        layers=(128, 64, 32),
        optimizer="sgd",
        lr=0.05,
        n_epochs=1 if QUICK else 5,
        **common,
    )
    neumf.fit(train, gmf=gmf, mlp=mlp, on_epoch=logger("NeuMF", tu, ti, negs, curve))
    rows.append(
        {"model": "NeuMF + pre-training", **sampled_metrics(neumf, tu, ti, negs)}
    )
    rows[-1]["train s"] = time.perf_counter() - t0
    neumf.save(CACHE / "neumf.npz")
    body = f"""## NCF (He et al. 2017) at 32 predictive factors

Protocol: NCF files (`ncf/ml-1m.test.rating` + `.test.negative`), leave-one-out,
1 positive + 99 sampled negatives per user (6,040 users), HR@10 and NDCG@10,
pessimistic ties; train = all ML-1M ratings minus the test ratings (994,169 pairs),
4 negatives per positive re-drawn each epoch, seed 0. Reported: the **last** epoch
(no selection on the test set). Paper (Table/Fig. 4, factors 32): GMF ~0.70,
MLP ~0.69, NeuMF with pre-training 0.726 / 0.445.

Settings: GMF k=32, MLP tower 128-64-32 (embeddings 64), {ep} epochs each, Adam
lr 0.003 (lazy on embedding rows), batch 2048; NeuMF from these two (alpha 0.5),
then SGD lr 0.05, batch 2048, {neumf.n_epochs} epochs.

Command: `MINIREC_DATA=../shared/data OPENBLAS_NUM_THREADS=1 python
benchmarks/accuracy_neural.py ncf`

{markdown_table(rows)}

Per-epoch curve (test metrics logged after each epoch, for the picture only):

{markdown_table(curve)}
"""
    write_section("ncf", body)


def part_neumf() -> None:
    """NeuMF fine-tuning variants from the GMF / MLP saved by the ncf part."""
    from minirec.models import Recommender
    from minirec.models.ncf import NeuMF

    data = load_movielens("ml-1m")
    train, tu, ti, negs = ncf_protocol(data)
    gmf = Recommender.load(CACHE / "gmf.npz")
    mlp = Recommender.load(CACHE / "mlp.npz")
    opt = os.environ.get("NEUMF_OPT", "adam")
    lr = float(os.environ.get("NEUMF_LR", "0.0001"))
    n_ep = int(os.environ.get("NEUMF_EPOCHS", "3"))
    curve: list[dict] = []
    rows = [
        {"model": "GMF (start)", **sampled_metrics(gmf, tu, ti, negs)},
        {"model": "MLP (start)", **sampled_metrics(mlp, tu, ti, negs)},
    ]
    neumf = NeuMF(k=32, layers=(128, 64, 32), optimizer=opt, lr=lr, n_epochs=n_ep,
                  batch_size=2048, seed=0)  # fmt: skip
    t0 = time.perf_counter()
    neumf.fit(train, gmf=gmf, mlp=mlp, on_epoch=logger("NeuMF", tu, ti, negs, curve))
    rows.append(
        {"model": f"NeuMF + pre-training ({opt}, lr {lr:g})",
         **sampled_metrics(neumf, tu, ti, negs), "train s": time.perf_counter() - t0}
    )  # fmt: skip
    body = f"""## NeuMF fine-tuning variant: {opt}, lr {lr:g}, {n_ep} epochs

Same protocol as the ncf part (1 + 99 sampled, last epoch reported), starting from
the GMF and MLP that the ncf part trained and saved (alpha 0.5), batch 2048.

Command: `NEUMF_OPT={opt} NEUMF_LR={lr:g} NEUMF_EPOCHS={n_ep}
MINIREC_DATA=../shared/data OPENBLAS_NUM_THREADS=1 python
benchmarks/accuracy_neural.py neumf` (after `ncf`)

{markdown_table(rows)}

{markdown_table(curve)}
"""
    write_section(f"neumf-{opt}-{lr:g}", body)


def part_convncf() -> None:
    from minirec.models import Recommender
    from minirec.models.convncf import ConvNCF

    data = load_movielens("ml-1m")
    train, tu, ti, negs = ncf_protocol(data)
    curve: list[dict] = []
    gmf_path = CACHE / "gmf.npz"
    init = Recommender.load(gmf_path) if gmf_path.exists() else None
    n_ep = 1 if QUICK else int(os.environ.get("CONVNCF_EPOCHS", "2"))
    frac = float(os.environ.get("CONVNCF_FRACTION", "0.1"))
    ch = int(os.environ.get("CONVNCF_CHANNELS", "8"))
    m = ConvNCF(k=32, channels=ch, n_epochs=n_ep, batch_size=512, lr=0.0005,
                sample_fraction=frac, seed=0)  # fmt: skip
    t0 = time.perf_counter()
    m.fit(train, init_from=init, on_epoch=logger("ConvNCF", tu, ti, negs, curve))
    secs = time.perf_counter() - t0
    rows = [{"model": "ConvNCF", **sampled_metrics(m, tu, ti, negs), "train s": secs}]
    neumf_path = CACHE / "neumf.npz"
    if neumf_path.exists():
        rows.append(
            {"model": "NeuMF (ncf part)", **sampled_metrics(Recommender.load(
                neumf_path), tu, ti, negs)}
        )  # fmt: skip
    how = (
        "the trained GMF of the ncf part (the paper pre-trains with MF-BPR)"
        if init is not None
        else "a random init"
    )
    body = f"""## ConvNCF (He et al. 2018) on the NCF files

Protocol: as the ncf part (1 + 99 sampled, leave-one-out, last epoch reported).
Settings: embeddings k=32 from {how}; interaction map 32x32, 4 conv layers (2x2,
stride 2) of {ch} channels, 2x2 max pooling, FC; BPR loss, one sampled negative per
positive, Adam lr 0.0005, batch 512; {n_ep} "epochs" of {frac:.0%} of the positives
each (CPU time: a full ML-1M epoch takes over an hour here; the paper trains far
longer, with k=64 and 32 channels). So this is ConvNCF *briefly fine-tuned from
GMF*, not a reproduction.

Command: `CONVNCF_EPOCHS={n_ep} CONVNCF_FRACTION={frac:g} CONVNCF_CHANNELS={ch}
MINIREC_DATA=../shared/data OPENBLAS_NUM_THREADS=1 python
benchmarks/accuracy_neural.py convncf` (after `ncf`, which saves GMF/NeuMF)

{markdown_table(rows)}

{markdown_table(curve)}
"""
    write_section("convncf", body)


def part_autorec() -> None:
    from minirec.evaluation import evaluate_ratings
    from minirec.models.autorec import AutoRec

    data = load_movielens("ml-1m")
    train, test = random_split(data, 0.1, seed=0)
    # the model's defaults unless overridden (QUICK: a few iterations)
    kw = {"n_epochs": 3} if QUICK else {}
    for env, key, cast in [
        ("AUTOREC_OPTIMIZER", "optimizer", str),
        ("AUTOREC_REG", "reg", float),
        ("AUTOREC_LR", "lr", float),
        ("AUTOREC_EPOCHS", "n_epochs", int),
        ("AUTOREC_PATIENCE", "patience", int),
    ]:
        if env in os.environ:
            kw[key] = cast(os.environ[env])
    m = AutoRec(**kw)
    curve = []

    def on_epoch(model, epoch, rec):
        r = evaluate_ratings(model, test).metrics["RMSE"]
        row = {"epoch": epoch, "loss": rec["loss"], "valid RMSE": rec.get("valid_rmse")}
        row.update({"test RMSE": r, "s": rec["seconds"]})
        curve.append(row)
        print(json.dumps(row), flush=True)

    load0 = " ".join(f"{x:.2f}" for x in os.getloadavg())
    t0 = time.perf_counter()
    m.fit(train, on_epoch=on_epoch)
    secs = time.perf_counter() - t0
    rmse = evaluate_ratings(m, test).metrics["RMSE"]
    p = m.get_params()
    rows = [
        {
            "model": f"I-AutoRec (h={m.hidden})",
            "best epoch": m.best_epoch_,
            "epochs run": len(m.history_),
            "valid RMSE": curve[m.best_epoch_ - 1]["valid RMSE"],
            "test RMSE": rmse,
            "train s": secs,
        }
    ]
    env = "".join(f"{e}={os.environ[e]} " for e in sorted(os.environ) if "AUTOREC" in e)
    title = f"I-AutoRec, {m.optimizer}, reg={m.reg:g}, early stopping"
    body = f"""## AutoRec (Sedhain et al. 2015), {title}

Protocol: ML-1M, all 1,000,209 ratings, random 90/10 split (`random_split(data,
0.1, seed=0)`), RMSE on the 10% (predictions clipped to [1, 5]; items or users
without an input rating get the training mean). Paper: 0.831 (target <= 0.835).
Model selection: {p["validation_fraction"]:g} of the training ratings (drawn with
seed {p["seed"]}) are held out of the inputs and targets; their RMSE after every
{"L-BFGS iteration" if m.optimizer == "lbfgs" else "epoch"} picks the weights kept
(stop after {p["patience"]} without improvement). The test set selects nothing: the
test RMSE column of the curve is printed for the picture only, and the reported
number is the kept (best-validation) weights' test RMSE.

Settings (`{m!r}`): {m.hidden} sigmoid hidden units, identity output, objective
sum over items of the masked squared error + reg/2 (||W||² + ||V||²), the penalty
counted once per pass over the data.

Command: `{env}MINIREC_DATA=../shared/data OPENBLAS_NUM_THREADS=1
OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 python benchmarks/accuracy_neural.py autorec`
(load average at the start: {load0}).

{markdown_table(rows)}

Learning curve (loss = L / n_items; s = seconds of the epoch or iteration):

{markdown_table(curve)}
"""
    write_section(f"autorec-{m.optimizer}-reg{m.reg:g}", body)


def part_deepfm() -> None:
    from minirec.data.ctr import ctr_task, evaluate_ctr
    from minirec.models.deepfm import DeepFM

    data = load_movielens("ml-1m")
    task = ctr_task(data, test_fraction=0.2, seed=0)
    rows = []
    n_ep = 1 if QUICK else int(os.environ.get("DEEPFM_EPOCHS", "3"))
    models = [
        ("logistic FM (DeepFM with dnn off)", DeepFM(k=16, hidden=(), n_epochs=n_ep)),
        ("DeepFM (DNN 256-128)", DeepFM(k=16, hidden=(256, 128), n_epochs=n_ep)),
    ]
    for name, m in models:
        t0 = time.perf_counter()
        m.fit(task.train)
        r = evaluate_ctr(m, task.test)
        rows.append({"model": name, **r, "train s": time.perf_counter() - t0})
        print(rows[-1], flush=True)
    body = f"""## DeepFM vs logistic FM on the ML-1M CTR task

Protocol: ML-1M, click = rating >= 4 (57.5% positives), fields user, item, gender,
age, occupation, genres (multi-hot, values 1/#genres); random 80/20 split of the
ratings (`minirec.data.ctr.ctr_task(data, 0.2, seed=0)`); AUC and logloss on the
20%. Both models share the code path (field embeddings k=16, Adam lr 0.001, batch
1024, {n_ep} epochs, last epoch reported); the FM has the DNN switched off. (The
paper's 400-400-400 DNN costs ~6x more per epoch; CPU time made us use 256-128.)

Command: `MINIREC_DATA=../shared/data OPENBLAS_NUM_THREADS=1 python
benchmarks/accuracy_neural.py deepfm`

{markdown_table(rows)}
"""
    write_section("deepfm", body)


PARTS = {
    "ncf": part_ncf,
    "neumf": part_neumf,
    "convncf": part_convncf,
    "autorec": part_autorec,
    "deepfm": part_deepfm,
}

if __name__ == "__main__":
    CACHE.mkdir(parents=True, exist_ok=True)
    todo = sys.argv[1:] or list(PARTS)
    for p in todo:
        if p not in PARTS:
            raise SystemExit(f"unknown part {p!r}; choose from {list(PARTS)}")
    for p in todo:
        print(f"== {p}", flush=True)
        PARTS[p]()
