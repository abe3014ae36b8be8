"""Accuracy of the neural models on their published protocols (real data).

Parts (run one or several; each replaces its own section of
benchmarks/results/accuracy_neural.md):

* ``ncf``: GMF, NCF-MLP and NeuMF with pre-training at 32 predictive factors on the
  NCF files (He et al. 2017): ML-1M, leave-one-out (each user's latest rating, from
  ``ncf/ml-1m.test.rating``), the positive ranked against the 99 sampled items of
  ``ncf/ml-1m.test.negative`` ("sampled 1+99"), HR@10 / NDCG@10, pessimistic ties.
  Training = all ML-1M ratings minus the test ratings, as implicit feedback, 4
  negatives per positive re-drawn each epoch. The epoch is selected by early
  stopping on validation cases carved from the training part (one held-out training
  interaction per user + 99 sampled items); the reported numbers are the test
  metrics of the selected epoch, and of the last epoch run. Test metrics are
  printed after every epoch for the curve only. Settings: ``NCF_*`` / ``NEUMF_*``
  environment variables (``NCF_SETTINGS``).
  ``NCF_LAZY=0 NCF_TAG=-dense`` (dense Adam, as the paper's Keras code) is the
  section ``ncf-dense``, the best run.
* ``ncf-refit``: GMF and MLP re-trained on all training pairs for the epochs
  validation selected in ``ncf-dense``; NeuMF = their fused start.
* ``neumf``: NeuMF variants (``NEUMF_*``) from the GMF / MLP saved by ``ncf``.
* ``convncf``: ConvNCF on the same files, started from MF-BPR embeddings (as the
  paper), epoch selected on the same validation cases.
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

import numpy as np

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


# ---------------------------------------------------------------- ncf / neumf
# Settings of the ncf part (environment variables, defaults = the final run).
NCF_SETTINGS = {
    "NCF_BATCH": "256",  # paper: 256
    "NCF_LR": "0.001",  # paper: Adam 0.001 (ours lazy on the embedding rows)
    "NCF_EPOCHS": "20",  # the most; early stopping on the validation cases
    "NCF_PATIENCE": "4",
    "NCF_LAYERS": "128,128,64,32",  # paper §4.1: three hidden layers, emb 64
    "NCF_REG": "0",
    "NCF_LAZY": "1",  # 1: Adam updates only the batch's embedding rows; 0: dense
    "NCF_SEED": "0",  # seed of the GMF / MLP initialisation and negatives
    "NCF_INIT": "he",  # the MLP tower's init; "xavier" = the released code's Keras
    "NEUMF_OPT": "sgd",  # paper: plain SGD after pre-training
    "NEUMF_LR": "0.05",
    "NEUMF_EPOCHS": "8",
    "NEUMF_PATIENCE": "3",
    "NEUMF_ALPHA": "0.5",  # paper: 0.5; "valid" = NeuMF(alpha="valid"), on validation
}
# NCF_TAG=-x writes the section "ncf-x" (a variant) instead of "ncf" and saves the
# models as ncf-*-x.npz; NCF_MODELS=mlp trains only the MLP and loads the GMF that
# a previous ncf run saved (NCF_GMF_FROM, default ncf-gmf.npz); NCF_MODELS=neumf
# loads both (NCF_MLP_FROM likewise) and only tunes NeuMF


def saved_from(label: str) -> str:
    """The cached model file that an ``NCF_MODELS`` run without `label` loads."""
    return os.environ.get(f"NCF_{label}_FROM", f"ncf-{label.lower()}.npz")


def ncf_settings() -> dict:
    return {k: os.environ.get(k, v) for k, v in NCF_SETTINGS.items()}


def ncf_data():
    """(train minus validation, valid cases, test cases) on the NCF files.

    Validation = one random training interaction per user + 99 sampled items the
    user never rated (``ncf_validation`` of accuracy_classic, seed 1), as the
    paper's §4.1 tunes: the epochs are selected on it, never on the test set.
    """
    from accuracy_classic import ncf_validation

    data = load_movielens("ml-1m")
    train, tu, ti, negs = ncf_protocol(data)
    tr, vu, vi, vneg = ncf_validation(data, train)
    return tr, (vu, vi, vneg), (tu, ti, negs)


def ncf_logger(name, valid, test, curve):
    """Per-epoch validation and test HR/NDCG@10 (the test columns select nothing)."""

    def on_epoch(model, epoch, rec):
        v = sampled_metrics(model, *valid)
        t = sampled_metrics(model, *test)
        row = {"model": name, "epoch": epoch, "loss": rec["loss"]}
        row.update({"val HR@10": v["HR@10"], "val NDCG@10": v["NDCG@10"]})
        row.update({"test HR@10": t["HR@10"], "test NDCG@10": t["NDCG@10"]})
        row["s/epoch"] = rec["seconds"]
        curve.append(row)
        print(json.dumps(row), flush=True)

    return on_epoch


def blend_metrics(gmf, mlp, alpha, cases) -> dict:
    """HR/NDCG@10 of the logit blend alpha z_GMF + (1 - alpha) z_MLP: NeuMF's
    output right after the pre-trained weights are fused (before any tuning)."""
    from minirec.metrics import leave_one_out_metrics, rank_of_positive

    u, p, neg = cases
    n, m = neg.shape
    uu, nn = np.repeat(u, m), neg.ravel()
    pos = alpha * gmf.predict_pairs(u, p) + (1 - alpha) * mlp.predict_pairs(u, p)
    ns = alpha * gmf.predict_pairs(uu, nn) + (1 - alpha) * mlp.predict_pairs(uu, nn)
    rank = rank_of_positive(pos, ns.reshape(n, m), valid=neg != p[:, None])
    r = leave_one_out_metrics(rank, (10,))
    return {"HR@10": r["HR@10"], "NDCG@10": r["NDCG@10"]}


def selected_rows(label, curve, model) -> list[dict]:
    """Two rows per model: the epoch selected on validation HR@10 (first maximum,
    the weights the model keeps) and the last epoch run."""
    rows = [r for r in curve if r["model"] == label]
    best = max(rows, key=lambda r: (r["val HR@10"], -r["epoch"]))
    out = []
    for rule, r in (("best val HR@10", best), ("last epoch run", rows[-1])):
        out.append(
            {
                "model": label,
                "selection": rule,
                "epoch": r["epoch"],
                "val HR@10": r["val HR@10"],
                "test HR@10": r["test HR@10"],
                "test NDCG@10": r["test NDCG@10"],
            }
        )
    if model is not None and getattr(model, "best_epoch_", None) not in (
        None,
        best["epoch"],
    ):
        print(f"warning: {label}: model kept epoch {model.best_epoch_}", flush=True)
    return out


def run_neumf(tr, valid, test, gmf, mlp, s, curve, rows) -> tuple:
    """NeuMF from the pre-trained GMF and MLP; epoch 0 = the fused start."""
    from minirec.models.ncf import NeuMF

    def blend_row(a: float) -> dict:
        v, t = blend_metrics(gmf, mlp, a, valid), blend_metrics(gmf, mlp, a, test)
        return {
            "alpha": a,
            "val HR@10": v["HR@10"],
            "val NDCG@10": v["NDCG@10"],
            "test HR@10": t["HR@10"],
            "test NDCG@10": t["NDCG@10"],
        }

    blend = [blend_row(round(0.1 * a, 1)) for a in range(11)]
    if s["NEUMF_ALPHA"] == "valid":
        alpha = max(blend, key=lambda r: (r["val HR@10"], r["val NDCG@10"]))["alpha"]
    else:
        alpha = float(s["NEUMF_ALPHA"])
    label = "NeuMF"
    start = {"model": label, "epoch": 0, "loss": float("nan")}
    start.update({k: v for k, v in blend_row(alpha).items() if k != "alpha"})
    start["s/epoch"] = 0.0
    curve.append(start)
    print(json.dumps(start), flush=True)
    neumf = NeuMF(
        k=gmf.k,
        layers=tuple(mlp.layers),
        alpha="valid" if s["NEUMF_ALPHA"] == "valid" else alpha,
        optimizer=s["NEUMF_OPT"],
        lr=float(s["NEUMF_LR"]),
        n_epochs=1 if QUICK else int(s["NEUMF_EPOCHS"]),
        patience=int(s["NEUMF_PATIENCE"]),
        batch_size=int(s["NCF_BATCH"]),
        seed=0,
        gmf=gmf,
        mlp=mlp,
    )
    t0 = time.perf_counter()
    on_epoch = ncf_logger(label, valid, test, curve)
    neumf.fit(tr, valid=valid, on_epoch=on_epoch)
    secs = time.perf_counter() - t0
    if neumf.alpha_ != alpha:  # the library's choice (first best HR@10) vs the table's
        raise RuntimeError(
            f"NeuMF(alpha='valid') chose {neumf.alpha_}, the table {alpha}"
        )
    rows += selected_rows(label, curve, None)  # epoch 0 competes too
    rows[-2]["train s"] = rows[-1]["train s"] = secs
    return neumf, blend, alpha


def ncf_protocol_text(s) -> str:
    return f"""Protocol: NCF files (`ncf/ml-1m.test.rating` + `.test.negative`),
leave-one-out, 1 positive + 99 sampled negatives per user (6,040 users), HR@10
and NDCG@10, pessimistic ties; train = all ML-1M ratings minus the test ratings
(994,169 pairs) minus one random training interaction per user held out for
**validation** (with 99 sampled items the user never rated: `ncf_validation` of
accuracy_classic.py, seed 1; 988,129 training pairs remain). 4 negatives per
positive re-drawn each epoch, seed {s["NCF_SEED"]}. **Selection rule**: after every
epoch HR@10 on the validation cases is measured; the model keeps the first epoch
with the best validation HR@10 and stops after {s["NCF_PATIENCE"]} epochs (NeuMF:
{s["NEUMF_PATIENCE"]}) without improvement; the test columns are logged for the
picture and select nothing. Rows "best val HR@10" = the test metrics of the
selected epoch (the reported numbers); "last epoch run" = the last epoch trained
(after early stopping). The paper (factors 32) reports its best
iteration *on the test set*: GMF ~0.70, MLP ~0.69, NeuMF with pre-training 0.726
/ 0.445. The models are trained without the validation interactions (not
re-fitted on them)."""


def part_ncf() -> None:
    from minirec.models.ncf import GMF, NCFMLP

    s = ncf_settings()
    tr, valid, test = ncf_data()
    ep = 2 if QUICK else int(s["NCF_EPOCHS"])
    layers = tuple(int(x) for x in s["NCF_LAYERS"].split(","))
    common = dict(
        batch_size=int(s["NCF_BATCH"]),
        lr=float(s["NCF_LR"]),
        reg=float(s["NCF_REG"]),
        n_negatives=4,
        n_epochs=ep,
        patience=int(s["NCF_PATIENCE"]),
        lazy=s["NCF_LAZY"] == "1",
        seed=int(s["NCF_SEED"]),
    )
    load0 = " ".join(f"{x:.2f}" for x in os.getloadavg())
    curve: list[dict] = []
    rows: list[dict] = []
    models = {}
    tag = os.environ.get("NCF_TAG", "")
    todo = os.environ.get("NCF_MODELS", "gmf,mlp").split(",")
    for label in ("GMF", "MLP"):  # not trained here: a saved one
        if label.lower() in todo:
            continue
        from minirec.models import Recommender

        src = saved_from(label)
        models[label] = m = Recommender.load(CACHE / src)
        v, t = sampled_metrics(m, *valid), sampled_metrics(m, *test)
        rows.append({"model": f"{label} (saved: {src})", "selection":
                     "best val HR@10", "epoch": "-", "val HR@10": v["HR@10"],
                     "test HR@10": t["HR@10"], "test NDCG@10": t["NDCG@10"],
                     "train s": "-"})  # fmt: skip
    for label, make, path in (
        ("GMF", lambda: GMF(k=layers[-1], **common), f"ncf-gmf{tag}.npz"),
        (
            "MLP",
            lambda: NCFMLP(layers=layers, init=s["NCF_INIT"], **common),
            f"ncf-mlp{tag}.npz",
        ),
    ):
        if label.lower() not in todo:
            continue
        m = make()
        t0 = time.perf_counter()
        m.fit(tr, valid=valid, on_epoch=ncf_logger(label, valid, test, curve))
        secs = time.perf_counter() - t0
        rows += selected_rows(label, curve, m)
        rows[-2]["train s"] = rows[-1]["train s"] = secs
        m.save(CACHE / path)
        models[label] = m
    gmf, mlp = models["GMF"], models["MLP"]
    neumf, blend, alpha = run_neumf(tr, valid, test, gmf, mlp, s, curve, rows)
    neumf.save(CACHE / f"ncf-neumf{tag}.npz")
    env = " ".join(f"{k}={v}" for k, v in s.items() if v != NCF_SETTINGS[k])
    for k in ("NCF_TAG", "NCF_MODELS", "NCF_GMF_FROM", "NCF_MLP_FROM"):
        env += f" {k}={os.environ[k]}" if k in os.environ else ""
    env = env.strip()
    adam = (
        "lazy: only the embedding rows of the batch are updated"
        if s["NCF_LAZY"] == "1"
        else "dense: every embedding row each step, as the paper's Keras code"
    )
    saved = [
        f"the {x} ({saved_from(x)})" for x in ("GMF", "MLP") if x.lower() not in todo
    ]
    loaded = (
        f"\nNot trained here: {' and '.join(saved)}, as selected and saved by a "
        "previous ncf run (the section with the file's tag gives its training "
        "settings; those below are this run's: its command, and the NeuMF).\n"
        if saved
        else ""
    )
    title = (
        "NCF (He et al. 2017) at 32 predictive factors, epochs selected on validation"
        + ("" if s["NCF_LAZY"] == "1" else ", dense Adam")
    )
    body = f"""## {title}

{ncf_protocol_text(s)}
{loaded}
Settings: GMF k={gmf.k}; MLP `layers={layers}` (embeddings {layers[0] // 2},
hidden layers {" -> ".join(map(str, layers[1:]))}{
        ": the paper's three hidden layers for 32 factors" if len(layers) == 4 else ""
    }, tower init {s["NCF_INIT"]}); both Adam lr {s["NCF_LR"]} ({adam}), batch
{s["NCF_BATCH"]}, reg {s["NCF_REG"]}, at most {ep} epochs. NeuMF: the selected GMF
and MLP fused (output weights h = [alpha h_GMF; (1 - alpha) h_MLP], bias alpha
b_GMF + (1 - alpha) b_MLP, alpha = {alpha:g}{
        ', chosen on the validation cases by `NeuMF(alpha="valid")`'
        if s["NEUMF_ALPHA"] == "valid"
        else ""
    }), then {s["NEUMF_OPT"]} lr
{s["NEUMF_LR"]}, batch {s["NCF_BATCH"]}, at most {neumf.n_epochs} epochs; NeuMF
epoch 0 = the fused start (it takes part in the selection).

Command: `{env + " " if env else ""}MINIREC_DATA=../shared/data
OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 python
benchmarks/accuracy_neural.py ncf` (load average at the start: {load0}).

{markdown_table(rows)}

The fused start for each alpha (logit blend alpha z_GMF + (1 - alpha) z_MLP of
the two selected models, no tuning; alpha = 0.5 is the paper's):

{markdown_table(blend)}

Per-epoch curve (validation selects; test logged for the picture only):

{markdown_table(curve)}
"""
    write_section("ncf" + tag, body)


def part_ncf_refit() -> None:
    """GMF and MLP re-trained on all training pairs (validation interactions
    included) for the epochs that validation selected in section ``ncf-dense``
    (``NCF_REFIT_FROM`` names another); NeuMF = their alpha = 0.5 fused start
    (what that section selected), and ``NCF_REFIT_ALPHA``'s when it is given (the
    blend validation chose there). ``NCF_MODELS=mlp`` loads the GMF that an
    earlier ncf-refit run saved, and ``NCF_MODELS=gmf`` the MLP (``NCF_GMF_FROM`` /
    ``NCF_MLP_FROM`` name other files); ``NCF_TAG`` as in part ``ncf``."""
    from minirec.models import Recommender
    from minirec.models.ncf import GMF, NCFMLP

    s = ncf_settings()
    data = load_movielens("ml-1m")
    train, tu, ti, negs = ncf_protocol(data)
    test = (tu, ti, negs)
    ep = {"GMF": int(os.environ.get("NCF_REFIT_GMF_EPOCHS", "18")),
          "MLP": int(os.environ.get("NCF_REFIT_MLP_EPOCHS", "11"))}  # fmt: skip
    if QUICK:
        ep = {"GMF": 1, "MLP": 1}
    layers = tuple(int(x) for x in s["NCF_LAYERS"].split(","))
    common = dict(batch_size=int(s["NCF_BATCH"]), lr=float(s["NCF_LR"]),
                  reg=float(s["NCF_REG"]), n_negatives=4, lazy=s["NCF_LAZY"] == "1",
                  seed=0)  # fmt: skip
    load0 = " ".join(f"{x:.2f}" for x in os.getloadavg())
    curve: list[dict] = []
    rows: list[dict] = []
    models = {}
    tag = os.environ.get("NCF_TAG", "")
    source = os.environ.get("NCF_REFIT_FROM", "ncf-dense")
    todo = os.environ.get("NCF_MODELS", "gmf,mlp").split(",")
    for label, make in (
        ("GMF", lambda: GMF(k=layers[-1], n_epochs=ep["GMF"], **common)),
        (
            "MLP",
            lambda: NCFMLP(
                layers=layers, n_epochs=ep["MLP"], init=s["NCF_INIT"], **common
            ),
        ),
    ):
        if label.lower() not in todo:  # the one an earlier ncf-refit run saved
            src = os.environ.get(f"NCF_{label}_FROM", f"ncf-{label.lower()}-refit.npz")
            m = models[label] = Recommender.load(CACHE / src)
            t = sampled_metrics(m, *test)
            rows.append({"model": f"{label} (saved: {src})",
                         "epochs": ep[label], "test HR@10": t["HR@10"],
                         "test NDCG@10": t["NDCG@10"], "train s": "-"})  # fmt: skip
            continue
        m = make()

        def on_epoch(model, epoch, rec, label=label):
            row = {"model": label, "epoch": epoch, "loss": rec["loss"]}
            met = sampled_metrics(model, *test)
            row.update({f"test {k}": v for k, v in met.items()})
            row["s/epoch"] = rec["seconds"]
            curve.append(row)
            print(json.dumps(row), flush=True)

        t0 = time.perf_counter()
        m.fit(train, on_epoch=on_epoch)
        secs = time.perf_counter() - t0
        last = curve[-1]
        rows.append({"model": label, "epochs": ep[label],
                     "test HR@10": last["test HR@10"],
                     "test NDCG@10": last["test NDCG@10"],
                     "train s": secs})  # fmt: skip
        m.save(CACHE / f"ncf-{label.lower()}-refit{tag}.npz")
        models[label] = m
    # alpha 0.5 (the paper's), and NCF_REFIT_ALPHA when given: the blend that
    # validation chose in section `source` (its alpha table)
    alphas = sorted({0.5, float(os.environ.get("NCF_REFIT_ALPHA", "0.5"))})
    for a in alphas:
        t = blend_metrics(models["GMF"], models["MLP"], a, test)
        rows.append({"model": f"NeuMF (fused start, alpha {a:g})", "epochs": "-",
                     "test HR@10": t["HR@10"], "test NDCG@10": t["NDCG@10"],
                     "train s": "-"})  # fmt: skip
    env = " ".join(f"{k}={v}" for k, v in s.items() if v != NCF_SETTINGS[k])
    for k in ("NCF_TAG", "NCF_MODELS", "NCF_REFIT_FROM", "NCF_REFIT_GMF_EPOCHS",
              "NCF_REFIT_MLP_EPOCHS", "NCF_GMF_FROM", "NCF_MLP_FROM",
              "NCF_REFIT_ALPHA"):  # fmt: skip
        env += f" {k}={os.environ[k]}" if k in os.environ else ""
    env = env.strip()
    body = f"""## NCF at 32 factors, re-fitted on all training pairs

Protocol: the NCF test files as in `{source}`, but the models train on **all**
994,169 training pairs (the validation interactions put back) for the number of
epochs that validation selected in section `{source}` (GMF {ep["GMF"]}, MLP
{ep["MLP"]}); nothing is selected here and the test cases are scored once per
epoch for the curve only (the reported row is the last epoch). NeuMF = the two
models fused with alpha = 0.5 (the paper's{
        "".join(
            f"; and alpha = {a:g}, the blend validation chose in `{source}`"
            for a in alphas
            if a != 0.5
        )
    }), the start that validation selected in `{source}` over every fine-tuned
epoch. Settings as `{source}` (Adam lr {s["NCF_LR"]},
{"lazy" if s["NCF_LAZY"] == "1" else "dense"}, batch {s["NCF_BATCH"]}, 4 negatives,
reg {s["NCF_REG"]}, seed 0, MLP tower init {s["NCF_INIT"]}).

Command: `{env + " " if env else ""}MINIREC_DATA=../shared/data
OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 python
benchmarks/accuracy_neural.py ncf-refit` (load average at the start: {load0}).

{markdown_table(rows)}

Per-epoch test curve (for the picture; nothing is selected on it):

{markdown_table(curve)}
"""
    write_section("ncf-refit" + tag, body)


def part_neumf() -> None:
    """NeuMF variants from the GMF / MLP that the ncf part selected and saved."""
    from minirec.models import Recommender

    s = ncf_settings()
    tr, valid, test = ncf_data()
    gmf = Recommender.load(CACHE / "ncf-gmf.npz")
    mlp = Recommender.load(CACHE / "ncf-mlp.npz")
    load0 = " ".join(f"{x:.2f}" for x in os.getloadavg())
    curve: list[dict] = []
    rows: list[dict] = []
    for label, m in (("GMF", gmf), ("MLP", mlp)):
        v, t = sampled_metrics(m, *valid), sampled_metrics(m, *test)
        row = {"model": f"{label} (start, saved by ncf)", "selection": "-"}
        row.update({"epoch": "-", "val HR@10": v["HR@10"]})
        row.update({"test HR@10": t["HR@10"], "test NDCG@10": t["NDCG@10"]})
        row["train s"] = "-"
        rows.append(row)
    neumf, blend, alpha = run_neumf(tr, valid, test, gmf, mlp, s, curve, rows)
    opt, lr = s["NEUMF_OPT"], s["NEUMF_LR"]
    keys = ("NEUMF_OPT", "NEUMF_LR", "NEUMF_EPOCHS", "NEUMF_PATIENCE", "NEUMF_ALPHA")
    env = " ".join(f"{k}={s[k]}" for k in keys)
    body = f"""## NeuMF variant (validation selection): {opt}, lr {lr}, alpha {alpha:g}

Same protocol and selection rule as the `ncf` section; starts from the GMF and MLP
that the ncf part selected and saved; batch {s["NCF_BATCH"]}.

Command: `{env} MINIREC_DATA=../shared/data OPENBLAS_NUM_THREADS=1
OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 python benchmarks/accuracy_neural.py neumf`
(after `ncf`; load average at the start: {load0}).

{markdown_table(rows)}

{markdown_table(blend)}

{markdown_table(curve)}
"""
    write_section(f"neumf-val-{opt}-{lr}-a{alpha:g}", body)


def part_convncf() -> None:
    from minirec.models import Recommender
    from minirec.models.bpr import BPR
    from minirec.models.convncf import ConvNCF

    tr, valid, test = ncf_data()
    curve: list[dict] = []
    n_ep = 1 if QUICK else int(os.environ.get("CONVNCF_EPOCHS", "8"))
    frac = 0.01 if QUICK else float(os.environ.get("CONVNCF_FRACTION", "1"))
    ch = int(os.environ.get("CONVNCF_CHANNELS", "8"))
    lr = float(os.environ.get("CONVNCF_LR", "0.002"))
    load0 = " ".join(f"{x:.2f}" for x in os.getloadavg())
    # the paper's start: MF-BPR embeddings (settings of the BPR row of
    # accuracy_classic's validation grid, at ConvNCF's k = 32)
    t0 = time.perf_counter()
    bpr = BPR(k=32, lr=0.05, reg=0.01, n_epochs=2 if QUICK else 60, seed=0).fit(tr)
    bpr_s = time.perf_counter() - t0
    v, t = sampled_metrics(bpr, *valid), sampled_metrics(bpr, *test)
    rows = [{"model": "BPR k=32 (ConvNCF's start)", "selection": "-", "epoch": 60,
             "val HR@10": v["HR@10"], "test HR@10": t["HR@10"],
             "test NDCG@10": t["NDCG@10"], "train s": bpr_s}]  # fmt: skip
    m = ConvNCF(k=32, channels=ch, n_epochs=n_ep, batch_size=512, lr=lr,
                sample_fraction=frac, patience=2, seed=0, init_from=bpr)  # fmt: skip
    t0 = time.perf_counter()
    m.fit(tr, valid=valid, on_epoch=ncf_logger("ConvNCF", valid, test, curve))
    secs = time.perf_counter() - t0
    rows += selected_rows("ConvNCF", curve, m)
    rows[-2]["train s"] = rows[-1]["train s"] = secs
    m.save(CACHE / "convncf.npz")
    # NeuMF as the ncf part selects it: the alpha = 0.5 fused start of the saved
    # GMF and MLP (validation picked it over every fine-tuned epoch)
    tag = os.environ.get("CONVNCF_NEUMF_TAG", "-dense")
    paths = [CACHE / f"ncf-{name}{tag}.npz" for name in ("gmf", "mlp")]
    if all(p.exists() for p in paths):
        gmf, mlp = (Recommender.load(p) for p in paths)
        v, t = blend_metrics(gmf, mlp, 0.5, valid), blend_metrics(gmf, mlp, 0.5, test)
        rows.append({"model": f"NeuMF (section ncf{tag}: fused start, alpha 0.5)",
                     "selection": "best val HR@10", "epoch": 0,
                     "val HR@10": v["HR@10"], "test HR@10": t["HR@10"],
                     "test NDCG@10": t["NDCG@10"], "train s": "-"})  # fmt: skip
    body = f"""## ConvNCF (He et al. 2018) on the NCF files, started from MF-BPR

Protocol: as the `ncf` part: NCF test files (1 + 99 sampled, leave-one-out, HR@10
/ NDCG@10), trained without one random interaction per user that is held out for
**validation**; the epoch is selected on validation HR@10 (patience 2), the test
columns select nothing.

Settings: as the paper, the embeddings start from a trained MF-BPR (`BPR`, k=32,
lr 0.05, reg 0.01, 60 epochs, on the same training pairs); interaction map
32x32, 4 conv layers (2x2, stride 2) of {ch} channels, 2x2 max pooling, FC; BPR
loss, one sampled negative per positive, Adam lr {lr:g}, batch 512, at most
{n_ep} epochs of {frac:.0%} of the positives. The paper uses k=64 and 32
channels on Yelp / Gowalla, not ML-1M; 8 channels at k=32 is what CPU time
allows here.

Command: `CONVNCF_EPOCHS={n_ep} CONVNCF_FRACTION={frac:g} CONVNCF_CHANNELS={ch}
CONVNCF_LR={lr:g} MINIREC_DATA=../shared/data OPENBLAS_NUM_THREADS=1 python
benchmarks/accuracy_neural.py convncf` (load average at the start: {load0}; the
NeuMF row: the GMF and MLP that the `ncf{tag}` part selected and saved, fused with
alpha 0.5 = the NeuMF that part reports; `CONVNCF_NEUMF_TAG` picks the section)

{markdown_table(rows)}

Per-epoch curve (validation selects; test logged for the picture only):

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
    from minirec.models.fm import FM

    data = load_movielens("ml-1m")
    task = ctr_task(data, test_fraction=0.2, seed=0)
    rows = []
    n_ep = 1 if QUICK else int(os.environ.get("DEEPFM_EPOCHS", "3"))
    # the classic-models FM (Numba SGD kernel, logistic loss on the labels as
    # given: n_negatives=0); k, lr, reg_V, epochs chosen on a validation split
    # carved from task.train (random_split(task.train, 0.1, seed=1); grid k=16,
    # lr {0.005, 0.01, 0.02, 0.04}, reg_V {0.003, 0.01, 0.05}, 10 or 20 epochs;
    # best val AUC 0.8065)
    fm = FM(task="classification", n_negatives=0, k=16, lr=0.02, reg_V=0.01)
    fm.n_epochs = 10
    models = [
        ("FM, logistic (models/fm.py, SGD, 10 epochs)", fm),
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
20%. DeepFM and "DeepFM with dnn off" share the code path (field embeddings k=16,
Adam lr 0.001, batch 1024, {n_ep} epochs, last epoch reported). The first row is the
classic-models `FM` (`models/fm.py`, the Numba SGD kernel, logistic loss,
`n_negatives=0`: the click labels as given; same fields) with k=16, lr 0.02,
reg_V 0.01, 10 epochs, chosen on a validation split carved from the training part
(`random_split(task.train, 0.1, seed=1)`, best of 10 settings: AUC 0.8065). (The
paper's 400-400-400 DNN costs ~6x more per epoch; CPU time made us use 256-128.)

Command: `MINIREC_DATA=../shared/data OPENBLAS_NUM_THREADS=1 python
benchmarks/accuracy_neural.py deepfm`

{markdown_table(rows)}
"""
    write_section("deepfm", body)


PARTS = {
    "ncf": part_ncf,
    "ncf-refit": part_ncf_refit,
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
