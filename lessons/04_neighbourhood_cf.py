# %% [markdown]
# # 04 · Neighbourhood collaborative filtering: user-CF and item-CF
#
# **Goal.** Build user-based and item-based collaborative filtering from the
# definitions: a similarity between items (or users) computed from who rated
# what, then a prediction from the k most similar neighbours. Check a hand-written
# NumPy version against minirec's kernels and models, then run `ItemKNN` and
# `UserKNN` on MovieLens, for rating prediction (RMSE) and for ranking.
#
# **Covers:** `000-2.1` (the collaborative-filtering part: user CF and item CF;
# content-based TF-IDF / Word2Vec and hybrids are lesson 05) and `004-2` (its
# user-CF / item-CF paradigm). No erratum here: the documents name the methods
# but print no formula, so the formulas below are the standard ones (Sarwar et al.
# 2001; Koren 2010 §2.2; Surprise's KNNBaseline), cited as such. Library:
# `minirec/models/knn.py`, `minirec/backends/numpy_ops/knn.py`.

# %%
import time

import _course
import matplotlib.pyplot as plt
import numpy as np
from _exercises import attempt

from minirec import Interactions
from minirec.backends import numpy_ops
from minirec.data import load_ml100k_split, random_split
from minirec.evaluation import evaluate_ratings
from minirec.models import BiasedBaseline
from minirec.models.knn import ItemKNN, UserKNN

# %% [markdown]
# ## What the documents say
#
# Doc 000 (`000_b4c4b935d973744a.txt`, §2.1.1 "基于协同过滤的推荐",
# "recommendation based on collaborative filtering"): two items, "2.1.1.1
# 用户协同过滤" (user CF) and "2.1.1.2 物品协同过滤" (item CF).
# Doc 004 (`004_f2459186f67a34fe.txt`, §2.1):
#
# > **协同过滤**：利用用户历史行为数据和用户群体相似度，生成推荐列表。包括基于用户的
# > 协同过滤和基于物品的协同过滤。
#
# > *English:* **Collaborative filtering**: use users' past behaviour and the
# > similarity between groups of users to produce a recommendation list. It
# > includes user-based and item-based collaborative filtering.
#
# The formulas that make this concrete, for items i, j with rating vectors over users:
#
# * cosine: $s_{ij} = \dfrac{r_i \cdot r_j}{\lVert r_i\rVert\,\lVert r_j\rVert}$
# * Pearson over the common users $U_{ij}$, on residuals $x = r - b$:
#   $s_{ij} = \dfrac{\sum_{u\in U_{ij}} x_{ui}x_{uj}}
#   {\sqrt{\sum_{u\in U_{ij}} x_{ui}^2}\sqrt{\sum_{u\in U_{ij}} x_{uj}^2}}$
# * shrinkage: $s_{ij} \leftarrow s_{ij}\,\dfrac{|U_{ij}|}{|U_{ij}| + \lambda}$
# * prediction: $\hat r_{ui} = b_{ui} + \dfrac{\sum_{j\in N^k_u(i)} s_{ij}(r_{uj}-b_{uj})}
#   {\sum_{j\in N^k_u(i)} s_{ij}}$, with $N^k_u(i)$ the k items most similar to i
#   among those u rated, and $b_{ui} = \mu + b_u + b_i$.
#
# User CF is the same with the roles of users and items swapped.

# %% [markdown]
# ## By hand on a tiny rating matrix

# %%
R = np.array(
    [  # 6 users x 5 items, 0 = not rated
        [5, 4, 0, 1, 0],
        [4, 5, 1, 0, 1],
        [1, 0, 5, 4, 5],
        [0, 1, 4, 5, 4],
        [5, 5, 0, 2, 1],
        [2, 1, 4, 0, 5],
    ],
    dtype=float,
)
rated = R > 0
u_idx, i_idx = np.nonzero(rated)
data = Interactions.from_arrays(u_idx, i_idx, R[u_idx, i_idx])
base = BiasedBaseline().fit(data)
B = base.mu_ + base.bu_[:, None] + base.bi_[None, :]  # b_ui for every pair
X = np.where(rated, R - B, 0.0)  # residuals, 0 where not rated


def pearson(i, j, shrink):
    common = rated[:, i] & rated[:, j]
    xi, xj = X[common, i], X[common, j]
    den = np.sqrt((xi**2).sum() * (xj**2).sum())
    s = (xi * xj).sum() / den if den > 0 else 0.0
    return s * common.sum() / (common.sum() + shrink)


S = np.array(
    [[pearson(i, j, 2.0) if i != j else 0.0 for j in range(5)] for i in range(5)]
)
print("item-item Pearson (shrink 2):\n", S.round(3))

# %% [markdown]
# minirec's kernel computes the same matrix from the sparse item x user matrix. Its
# readable NumPy version (the spec, dense products) is checked here; lesson 06b
# introduces the compiled twin that `ItemKNN` runs by default. It keeps only
# positive similarities, sorted best first:

# %%
Xi, Xu = data.by_item, data.by_user
resid = data.ratings - (base.mu_ + base.bu_[data.users] + base.bi_[data.items])
args = (Xi.indptr, Xi.indices, resid[Xi.rows], Xu.indptr, Xu.indices, resid[Xu.rows])
ptr, nbr, sims = numpy_ops.knn_similarity(*args, True, 2.0, 0)
dense = np.zeros((5, 5))
for i in range(5):
    dense[i, nbr[ptr[i] : ptr[i + 1]]] = sims[ptr[i] : ptr[i + 1]]
np.testing.assert_allclose(dense, np.maximum(S, 0), rtol=1e-5, atol=1e-6)
print("knn_similarity (NumPy spec) == hand-written Pearson, positives kept")

# %% [markdown]
# Predict user 0's rating of item 2 (not rated) with k = 2 neighbours, by hand,
# and with `ItemKNN`:

# %%
u, i, k = 0, 2, 2
cands = [j for j in np.argsort(-S[i], kind="stable") if rated[u, j] and S[i, j] > 0]
nbrs = [int(j) for j in cands[:k]]
dev = sum(S[i, j] * X[u, j] for j in nbrs) / sum(S[i, j] for j in nbrs)
by_hand = B[u, i] + dev
model = ItemKNN(k=k, shrink=2.0).fit(data)
print(f"neighbours of item {i} rated by user {u}: {nbrs}; r̂ = {by_hand:.4f}")
np.testing.assert_allclose(
    model.predict([u], [i])[0], np.clip(by_hand, 1, 5), rtol=1e-5
)
print("ItemKNN.predict agrees")

# %% [markdown]
# ## The library on MovieLens: rating prediction
#
# ML-100k u1.base -> u1.test when MINIREC_DATA is set (else a random 90/10 split
# of the synthetic data). Defaults follow Surprise's KNNBaseline: k = 40,
# pearson_baseline, shrinkage 100. `minirec reproduce rating --only ml100k-itemknn`
# runs all five folds next to Surprise itself (benchmarks/results/rating.md).

# %%
if _course.has("ml-100k"):
    train, test = load_ml100k_split("u1", _course.data_root())
    print("data: ML-100k u1.base -> u1.test")
else:
    train, test = random_split(_course.load_ratings("ml-100k"), 0.1, seed=0)
res = {}
for name, m in [
    ("BiasedBaseline", BiasedBaseline()),
    ("ItemKNN", ItemKNN()),
    ("UserKNN", UserKNN()),
]:
    t0 = time.perf_counter()
    m.fit(train)
    res[name] = evaluate_ratings(m, test).metrics["RMSE"]
    print(f"{name:15s} RMSE {res[name]:.4f}  ({time.perf_counter() - t0:.1f} s)")
assert res["ItemKNN"] < res["BiasedBaseline"] and res["UserKNN"] < res["BiasedBaseline"]

# %% [markdown]
# How many neighbours? The similarities are computed once; only k changes the
# prediction, so sweep k on one fitted model (changing `k` after fitting is safe:
# every positive neighbour is stored).

# %%
m = ItemKNN(k=40).fit(train)
ks = [1, 2, 5, 10, 20, 40, 80, 160]
curve = []
for kk in ks:
    m.k = kk
    curve.append(evaluate_ratings(m, test).metrics["RMSE"])
print("k:", ks)
print("RMSE:", [f"{x:.4f}" for x in curve])
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.semilogx(ks, curve, "o-", label="ItemKNN (pearson_baseline, shrink 100)")
ax.axhline(res["BiasedBaseline"], color="gray", ls="--", label="μ + b_u + b_i")
ax.set_xlabel("k (neighbours used)")
ax.set_ylabel("test RMSE")
ax.set_title("ItemKNN: test RMSE against the number of neighbours")
ax.legend()
_course.savefig(fig, "04_knn_k.png")

# %% [markdown]
# ## Ranking: item-CF as "people who liked this also liked"
#
# For top-N lists on 0/1 interactions (`task="ranking"`), each item a user has
# interacted with votes for its k most similar items with their cosine similarity
# (Deshpande & Karypis 2004); the seen items are then filtered out.

# %%
rank = ItemKNN(k=50, task="ranking").fit(train)
some_user = train.user_ids[0]
ids, scores = rank.recommend([some_user], n=5)
titles = rank.item_titles_
for it, sc in zip(ids[0], scores[0]):
    j = int(rank.item_index([it])[0])
    print(f"{sc:7.3f}  {titles[j] if titles is not None else it}")

# %% [markdown]
# ## Summary
#
# * Neighbourhood CF needs no training loop: a similarity (cosine, or Pearson on
#   baseline residuals, shrunk towards 0 when few users are shared) and a rule to
#   combine the k nearest neighbours' residuals.
# * minirec's kernels compute the similarities from the sparse matrix by
#   co-occurrence (compiled, rows in parallel: lesson 06b) and keep only the
#   positive ones, sorted, as a sparse neighbour list; `ItemKNN` / `UserKNN` match Surprise's
#   KNNBaseline prediction for prediction (tests/models/test_knn.py).
#
# ## Exercises
#
# Each exercise is a function to complete; running its cell checks your answer
# numerically (the solutions are in `lessons/solutions/`). Open questions: set
# `shrink=0` and compare the RMSE (which items' neighbour lists change most? hint:
# items with few ratings); use `similarity="cosine", baseline="none"` (KNNBasic with
# full-norm cosine): why is it so much worse for rating prediction? Evaluate
# `ItemKNN(task="ranking")` and `UserKNN(task="ranking")` on the NCF protocol
# (`minirec.data.ncf_protocol`, `evaluate_sampled`) and compare with
# benchmarks/results/fm_knn.md.

# %% [markdown] tags=["exercise"]
# ### Exercise 04.1: item-item cosine similarity on implicit data
#
# `X` is a 0/1 users x items matrix (who interacted with what). Return the items x
# items matrix of cosine similarities between item columns, with 0 on the diagonal
# and 0 for an item nobody interacted with.


# %% tags=["exercise"]
def exercise_04_1(X):
    # your code here
    return np.zeros((X.shape[1], X.shape[1]))


attempt("04_1", exercise_04_1)

# %% [markdown] tags=["exercise"]
# ### Exercise 04.2: the item-based kNN prediction
#
# Given item similarities `S`, baseline residuals `X` (users x items, 0 where not
# rated), baselines `B` ($b_{ui}$ for every pair) and the boolean `rated` matrix,
# return user `u`'s predicted rating of item `i` with the `k` most similar items
# the user rated (positive similarities only), as in "By hand on a tiny rating
# matrix" above.


# %% tags=["exercise"]
def exercise_04_2(S, X, B, rated, u, i, k):
    # your code here
    return B[u, i] + X[u][rated[u]].mean()


attempt("04_2", exercise_04_2)
