# %% [markdown]
# # 01 · Evaluation: RMSE, HR/NDCG, sampled vs full ranking, and a leaking split
#
# **Goal.** Before any model: how to measure one. We compute doc 003's MSE/RMSE
# by hand, the ranking metrics HR@k and NDCG@k, show how much easier the popular
# "1 positive + 99 sampled negatives" protocol is than ranking the full catalog, and
# reproduce doc 002's per-user split, which takes the "last 10" interactions in
# *file order*: on ML-100k that leaks the future into training (erratum **E4**).
#
# **Covers:** `003-eval` (doc 003, evaluation slide), `002-4.1-code` with erratum
# **E4** (doc 002 §4.1 code). Library: `minirec/metrics.py`,
# `minirec/evaluation.py`, `minirec/data/split.py`.

# %%
import warnings

import _course
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from _exercises import attempt

from minirec import metrics as M
from minirec.data import leave_last_out, per_user_split
from minirec.evaluation import evaluate_full, evaluate_ratings, evaluate_sampled
from minirec.models import BiasedBaseline, GlobalMean, Popularity, Random, Recommender

data = _course.load_ratings("ml-100k")

# %% [markdown]
# ## MSE and RMSE (`003-eval`)
#
# Doc 003 (`003_4bb2a43235ff549f.txt`, "实战案例" ("case study") slide, 评估
# ("evaluation")):
#
# $$MSE = \frac{1}{|A|} \sum_{(u,i) \in A} (r_{ui} - \hat{r}_{ui})^2, \qquad
#   RMSE = \sqrt{MSE}$$
#
# where $A$ is the set of held-out (user, item) pairs. Hold out 20% of each user's
# ratings (seed 0), fit two baselines on the rest, and compute it in two lines.

# %%
train, test = per_user_split(data, test_fraction=0.2, seed=0)
found = {}
for model in (GlobalMean(), BiasedBaseline()):
    model.fit(train)
    r_hat = model.predict_pairs(test.users, test.items).astype(np.float64)
    mse = np.mean((test.ratings - r_hat) ** 2)
    rmse = np.sqrt(mse)
    lib = evaluate_ratings(model, test)
    print(f"{type(model).__name__:<15} MSE {mse:.4f}  RMSE {rmse:.4f}   library: {lib}")
    np.testing.assert_allclose(rmse, M.rmse(test.ratings, r_hat), rtol=1e-6)
    np.testing.assert_allclose(rmse, lib.metrics["RMSE"], rtol=1e-6)
    found[type(model).__name__] = rmse
assert found["BiasedBaseline"] < found["GlobalMean"]  # biases help

# %% [markdown]
# ## Ranking metrics: HR@k and NDCG@k
#
# A recommender shows a list, so we ask where the held-out item lands. With the
# 0-based rank $r$ of the one held-out item of a user:
#
# $$HR@k = \mathbb{1}[r < k], \qquad NDCG@k = \frac{\mathbb{1}[r < k]}{\log_2(r + 2)}$$
#
# (IDCG = 1 with a single relevant item), averaged over users. With several relevant
# items, $DCG@k = \sum_{r<k} rel_r / \log_2(r+2)$ divided by the best possible DCG.

# %%
ranks = np.array([0, 3, 12, 1, 50])
hr = np.mean(ranks < 10)
ndcg = np.mean(np.where(ranks < 10, 1 / np.log2(ranks + 2), 0))
lib = M.leave_one_out_metrics(ranks, ks=(10,))
print(f"by hand HR@10 {hr:.4f} NDCG@10 {ndcg:.4f}; library {lib}")
np.testing.assert_allclose([hr, ndcg], [lib["HR@10"], lib["NDCG@10"]])
hits = np.array([[1, 0, 1, 0, 0]], dtype=bool)  # one user, 2 of 3 relevant retrieved
dcg = (hits[0] / np.log2(np.arange(2, 7))).sum()
idcg = (1 / np.log2(np.arange(2, 5))).sum()  # 3 relevant items, ideally at the top
np.testing.assert_allclose(dcg / idcg, M.ndcg_at_k(hits, np.array([3]), k=5))

# %% [markdown]
# ## Sampled vs full ranking
#
# Leave each user's latest rating out (by timestamp). **Full ranking** ranks the
# held-out item against every item the user has not rated in training.
# **Sampled(1+99)** (the NCF protocol) ranks it against 99 random items the user
# never rated. Four scorers: random, the rating baseline $\mu + b_u + b_i$, and
# popularity twice: minirec's `Popularity` and a 10-line one written here as a
# `Recommender` subclass (`_fit` + `_score` is all a model needs), which scores an
# item by its number of training interactions, recent ones counting double.


# %%
class RecentPopularity(Recommender):
    """score(u, i) = #interactions with i, the latest 10% of them counted twice."""

    name = "recent-popularity"

    def __init__(self) -> None:
        pass

    def _fit(self, data):
        recent = data.timestamps >= np.quantile(data.timestamps, 0.9)
        w = np.where(recent, 2.0, 1.0)
        self.counts_ = np.bincount(data.items, weights=w, minlength=data.n_items)

    def _score(self, u):
        return np.broadcast_to(self.counts_, (len(u), len(self.counts_)))


tr1, te1 = leave_last_out(data, n=1)
rng = np.random.default_rng(0)
seen = data.to_dense() > 0  # never sample an item the user rated at any time
neg = np.empty((len(te1), 99), dtype=np.int64)
for c, u in enumerate(te1.users):
    neg[c] = rng.choice(np.flatnonzero(~seen[u]), 99, replace=False)

rows = []
models = {
    "Random": Random(seed=0),
    "Popularity": Popularity(),
    "BiasedBaseline": BiasedBaseline(),
    "RecentPopularity": RecentPopularity(),
}
for name, model in models.items():
    model.fit(tr1)
    s = evaluate_sampled(model, te1.users, te1.items, neg, ks=(10,))
    f = evaluate_full(model, te1, tr1, ks=(10,))
    rows.append(
        {
            "model": name,
            "sampled HR@10": s.metrics["HR@10"],
            "sampled NDCG@10": s.metrics["NDCG@10"],
            "full HR@10": f.metrics["HR@10"],
            "full NDCG@10": f.metrics["NDCG@10"],
        }
    )
table = pd.DataFrame(rows).set_index("model")
print(table.round(4).to_string())

# %% [markdown]
# The by-hand check of the full protocol for RecentPopularity: the rank of the held-out
# item is the number of unseen items scoring at least as high (pessimistic ties).

# %%
model = models["RecentPopularity"]
S = model.score_items(te1.users).astype(np.float64)
S[tr1.to_dense()[te1.users] > 0] = -np.inf
pos = S[np.arange(len(te1)), te1.items]
rank = (S >= pos[:, None]).sum(1) - 1  # minus the positive itself
np.testing.assert_allclose(
    np.mean(rank < 10), table.loc["RecentPopularity", "full HR@10"]
)
ratio = table["sampled HR@10"] / table["full HR@10"].clip(lower=1e-9)
print("sampled / full HR@10:", ratio.round(1).to_dict())
assert (table["sampled HR@10"] >= table["full HR@10"]).all()
assert table.loc["RecentPopularity", "full HR@10"] > table.loc["Random", "full HR@10"]

# %% [markdown]
# Sampled numbers are several times the full ones, and random scoring already gets
# HR@10 ≈ 10/100 under sampling. Sampled metrics are fine for comparing with a
# paper that used the same negatives (lesson 11 uses the NCF files), but they can
# even reorder models (Krichene & Rendle, "On Sampled Metrics for Item
# Recommendation", KDD 2020); minirec reports the protocol with every number.
#
# ## Doc 002's split (`002-4.1-code`, erratum E4)
#
# Doc 002 §4.1 (`002_d2c789357b2f7be6.txt`) prints:
#
# ```python
# ratings = pd.read_csv('ratings.dat', sep='::', names=['user', 'item', 'rating', 'timestamp'])
# ...
# for u in user_dict:
#     items = user_dict[u]
#     train_items = items[:-10]
#     test_items = items[-10:]
# ```
#
# Two problems. (1) `sep='::'` is more than one character: pandas' C parser cannot
# handle it, so pandas warns and falls back to the slow Python parser; pass
# `engine='python'` (minirec's loader reads `::` files itself). (2) `items[-10:]`
# is "the last 10 **in file order**", not the 10 most recent. ML-1M's ratings.dat
# happens to be grouped by user, but ML-100k's `u.data` is not ordered by time, and
# nothing in the code sorts: test interactions can be older than training ones.

# %%
tmp = _course.out_dir() / "ratings_sample.dat"
tmp.write_text("1::1193::5::978300760\n1::661::3::978302109\n1::914::3::978301968\n")
cols = ["user", "item", "rating", "timestamp"]
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    printed = pd.read_csv(tmp, sep="::", names=cols)
print("printed form:", [str(w.message)[:90] for w in caught])
assert any(issubclass(w.category, pd.errors.ParserWarning) for w in caught)
try:
    pd.read_csv(tmp, sep="::", names=cols, engine="c")
    raise AssertionError("the C engine accepted a two-character separator")
except ValueError as e:
    print("engine='c':", e)
fixed = pd.read_csv(tmp, sep="::", names=cols, engine="python")  # no warning
pd.testing.assert_frame_equal(printed, fixed)

# %% [markdown]
# Now the split itself on ML-100k, as printed (file order) and corrected
# (`leave_last_out(data, n=10)`: each user's 10 latest by timestamp). The leak is
# measured directly: the share of test ratings made *before* the same user's latest
# training rating, i.e. the model trains on that user's future.


# %%
def doc002_split(data, n=10):
    """The printed code: per user, the last n rows in file order are test."""
    order = np.argsort(data.users, kind="stable")  # keeps file order within a user
    counts = np.bincount(data.users, minlength=data.n_users)
    pos_from_end = np.empty(len(data), dtype=np.int64)
    ends = np.cumsum(counts)[data.users[order]]
    pos_from_end[order] = ends - np.arange(len(data)) - 1
    test_mask = pos_from_end < n
    return data.subset(~test_mask), data.subset(test_mask)


def leak(train, test):
    """Share of test rows older than the same user's latest training row."""
    last_train = np.full(data.n_users, -np.inf)
    np.maximum.at(last_train, train.users, train.timestamps)
    return float(np.mean(test.timestamps < last_train[test.users]))


splits = {
    "doc 002 (file order)": doc002_split(data),
    "timestamp-sorted": leave_last_out(data, n=10),
}
rows = []
for name, (tr, te) in splits.items():
    row = {"split": name, "test rows": len(te), "leak": leak(tr, te)}
    for mname, model in (
        ("Popularity", Popularity()),
        ("BiasedBaseline", BiasedBaseline()),
    ):
        model.fit(tr)
        r = evaluate_full(model, te, tr, ks=(10,))
        row[f"{mname} Recall@10"] = r.metrics["Recall@10"]
        row[f"{mname} NDCG@10"] = r.metrics["NDCG@10"]
    rows.append(row)
leak_table = pd.DataFrame(rows).set_index("split")
print(leak_table.round(4).to_string())
assert leak_table.iloc[1]["leak"] == 0.0
if data.name == "ml-100k":
    assert len(splits["doc 002 (file order)"][1]) == len(splits["timestamp-sorted"][1])
    # u.data is not time-ordered: most "last 10" rows are not the latest 10
    assert leak_table.iloc[0]["leak"] > 0.5
    assert (leak_table.iloc[0, 2:] > leak_table.iloc[1, 2:]).all()

# %%
fig, ax = plt.subplots(1, 2, figsize=(11, 3.6))
table[["sampled HR@10", "full HR@10"]].plot.bar(ax=ax[0], rot=0)
ax[0].set(
    title=f"leave-last-one-out, {data.name}: sampled(1+99) vs full",
    xlabel="model",
    ylabel="HR@10",
)
leak_table[[c for c in leak_table.columns if "NDCG" in c]].T.plot.bar(ax=ax[1], rot=0)
ax[1].set(
    title="per-user last-10 split: file order vs timestamps",
    xlabel="model",
    ylabel="NDCG@10",
)
_course.savefig(fig, "01_evaluation.png")
plt.close(fig)

# %% [markdown]
# On ML-100k the file-order split puts the future into training for most users and
# every number looks better than on the honest split: the printed code would
# overstate any model. The fix is one argument (`sort by timestamp`) — minirec's
# `leave_last_out` and `temporal_split` (a global time cutoff, stricter still:
# no user's future at all) refuse data without timestamps instead of guessing.
#
# ## Summary
# * RMSE/MAE score rating prediction (`evaluate_ratings`); HR/NDCG/Recall score
#   ranking (`evaluate_full`, `evaluate_sampled`). Always name the protocol.
# * Sampled(1+99) metrics are several times the full-ranking ones.
# * Split by time when you evaluate "what comes next": doc 002's file-order split
#   leaks (E4), and `sep='::'` needs `engine='python'`.
#
# ## Exercises
#
# Each exercise is a function to complete; running its cell checks your answer
# numerically (the reference solutions are in `lessons/solutions/`). Open
# questions: sample the 99 negatives proportionally to popularity instead of
# uniformly (how do `Popularity`'s sampled numbers change?); replace
# `leave_last_out` by `temporal_split(data, 0.1)` (which users are left in the test
# part?); under which data order would doc 002's code be correct?

# %% [markdown] tags=["exercise"]
# ### Exercise 01.1: NDCG@k with several relevant items
#
# Given 0/1 relevances `rel` (users x items) and scores `scores` of the same shape,
# return the mean over users of NDCG@k: the DCG of the k best-scored items,
# $\sum_{r<k} rel_r / \log_2(r + 2)$, divided by the DCG of the ideal order.


# %% tags=["exercise"]
def exercise_01_1(rel, scores, k):
    # your code here
    return 0.0


attempt("01_1", exercise_01_1)

# %% [markdown] tags=["exercise"]
# ### Exercise 01.2: the rank of a held-out item under full ranking
#
# Given scores `S` (users x items), a boolean `seen` matrix (training items) and
# each user's held-out item `held`, return each user's 0-based rank of the held-out
# item among the items the user has not seen, with ties counted against it (the
# pessimistic convention of the full-ranking check above).


# %% tags=["exercise"]
def exercise_01_2(S, seen, held):
    # your code here
    return np.zeros(len(S), dtype=np.int64)


attempt("01_2", exercise_01_2)
