# %% [markdown]
# # 00 · Set-up and data: what a rating matrix looks like
#
# **Goal.** Load MovieLens with minirec, look at the user-item rating matrix the
# whole course factorizes, and measure the three facts every later lesson lives with:
# the matrix is almost empty (sparsity), a few movies take most of the ratings
# (popularity skew), and the same data serves three different tasks.
#
# **Covers** (see `lessons/README.md`): `000-5` (the MovieLens 1M numbers quoted by
# doc 000 §5), `001-6` (the datasets doc 001 §6 lists), `002-2.1` (the three tasks
# of doc 002 §2.1, shown as three label views of one table).
#
# **Set-up** (once): `make test` creates `.venv` and installs minirec; point
# `MINIREC_DATA` at a folder holding `ml-100k/`, `ml-1m/` (the original GroupLens
# files). Without it every lesson runs on a synthetic data set with planted
# structure. Run a lesson with `python lessons/00_setup_and_data.py`; `FULL=1` runs
# the full-size variant; `make notebooks` turns the lessons into executed notebooks.

# %%
import time

import _course
import matplotlib.pyplot as plt
import numpy as np
from _exercises import attempt

from minirec.data import load_movielens

data = _course.load_ratings("ml-100k")
REAL = data.name == "ml-100k"
print(data.describe())

# %% [markdown]
# ## The rating matrix
#
# Doc 000 §4.1.1 (`000_b4c4b935d973744a.txt`) defines it:
#
# > 用户-物品评分矩阵 $R$ 定义为 $R=[r_{ui}]_{m\times n}$, 其中 $r_{ui}$ 表示用户
# > $u$ 对物品 $i$ 的评分。
#
# > *English:* the user-item rating matrix $R$ is defined as
# > $R=[r_{ui}]_{m\times n}$, where $r_{ui}$ is user $u$'s rating of item $i$.
#
# minirec keeps only the observed entries (COO arrays `users`, `items`, `ratings`
# plus CSR views); a dense $R$ with 0 for "not rated" is fine for 100K ratings and
# is built here by hand to check the library's density.

# %%
m, n = data.n_users, data.n_items
R = np.zeros((m, n), dtype=np.float32)
R[data.users, data.items] = data.ratings
observed = np.count_nonzero(R)
density = observed / (m * n)
print(
    f"R is {m} x {n}; {observed:,} observed entries; density {density:.4%}, "
    f"sparsity {1 - density:.4%}"
)
np.testing.assert_allclose(density, data.density, rtol=1e-12)
assert observed == len(data)  # no duplicate (user, item) pairs
np.testing.assert_array_equal(R, data.to_dense())

# %% [markdown]
# The rating histogram. For ML-100k the GroupLens README (and
# `../shared/data/README.md`) publishes it: 1: 6,110; 2: 11,370; 3: 27,145;
# 4: 34,174; 5: 21,201. A published number is a numeric check.

# %%
hist = np.bincount(data.ratings.astype(int), minlength=6)[1:]
print("ratings 1..5:", hist.tolist(), f"mean {data.ratings.mean():.3f}")
if REAL:
    assert hist.tolist() == [6110, 11370, 27145, 34174, 21201]
    assert (m, n, len(data)) == (943, 1682, 100_000)

# %% [markdown]
# ## Popularity skew and user activity
#
# Sort items by their number of ratings: a long tail. The share of all ratings that
# the top 10% of items receive, and the Gini coefficient of the item counts, put one
# number on it (Gini 0 = every item equally popular, 1 = one item has everything).

# %%
item_counts = np.bincount(data.items, minlength=n)
user_counts = np.bincount(data.users, minlength=m)
np.testing.assert_array_equal(item_counts, data.item_counts())
c = np.sort(item_counts)[::-1]
top10 = c[: max(1, n // 10)].sum() / c.sum()
cs = np.sort(item_counts).astype(float)
gini = 1 - 2 * np.sum(np.cumsum(cs) / cs.sum()) / n + 1 / n
print(
    f"top 10% of items get {top10:.1%} of the ratings; Gini of item counts {gini:.3f}"
)
print(
    f"user activity: min {user_counts.min()}, median {np.median(user_counts):.0f}, "
    f"max {user_counts.max()} ratings"
)
titles = data.item_titles
print("most rated:", [str(titles[j]) for j in np.argsort(-item_counts)[:5]])
assert 0 < gini < 1 and top10 > 0.1  # more than a uniform 10%: skewed

# %%
fig, ax = plt.subplots(1, 4, figsize=(17, 3.6))
sub = R[np.argsort(-user_counts)[:150]][:, np.argsort(-item_counts)[:300]]
ax[0].imshow(sub > 0, aspect="auto", cmap="Greys", interpolation="nearest")
ax[0].set(
    title="R: 150 most active users x 300 most rated", xlabel="item", ylabel="user"
)
ax[1].loglog(np.arange(1, n + 1), np.maximum(c, 0.5), ".", ms=2)
ax[1].set(title="item popularity (long tail)", xlabel="item rank", ylabel="# ratings")
ax[2].hist(user_counts, bins=50)
ax[2].set(title="ratings per user", xlabel="# ratings", ylabel="users")
ax[3].bar(np.arange(1, 6), hist)
ax[3].set(title="rating histogram", xlabel="rating", ylabel="# ratings")
_course.savefig(fig, "00_rating_matrix.png")
plt.close(fig)

# %% [markdown]
# ## Genres: the side information of the items
#
# ML-100k's `u.item` has 19 genre flags per movie; minirec exposes them as
# `genre:<Name>` columns of `data.item_features` (internal item order). Lessons 05
# (content-based TF-IDF) and 19 (a knowledge graph) build on them.

# %%
gcols = [col for col in data.item_features.columns if col.startswith("genre:")]
G = data.item_features[gcols].to_numpy(dtype=np.float32)
per_genre = G.T @ item_counts  # ratings per genre (a movie counts once per genre)
for name_, v in sorted(zip(gcols, per_genre), key=lambda x: -x[1])[:6]:
    print(f"{name_[6:]:<12} {int(v):>7,} ratings")
assert G.shape == (n, len(gcols)) and G.sum() >= n * 0.9

# %% [markdown]
# ## Doc 000 §5: "MovieLens 1M, 6,000 users, 4,000 movies, 1M ratings" (`000-5`)
#
# > 我们使用MovieLens 1M数据集,该数据集包含6000个用户对4000部电影的100万条评分数据
#
# > *English:* we use the MovieLens 1M data set, which holds 1 million ratings by
# > 6,000 users of 4,000 movies.
#
# The round numbers are close: the real counts are 6,040 users, 3,706 rated movies
# (3,883 in `movies.dat`, ids up to 3,952) and 1,000,209 ratings. The shared copy
# has no timestamps (see `../shared/data/README.md`), so time-based splits of ML-1M
# raise a clear error and lesson 01 uses ML-100k for them.

# %%
if _course.has("ml-1m"):
    t0 = time.perf_counter()
    ml1m = load_movielens("ml-1m", path=_course.data_root())
    print(f"{ml1m!r} loaded in {time.perf_counter() - t0:.1f} s")
    assert (ml1m.n_users, len(ml1m)) == (6040, 1_000_209)
    assert len(np.unique(ml1m.items)) == 3706
    print(f"ML-1M density {ml1m.density:.2%} vs ML-100k {data.density:.2%}")
else:
    print("ml-1m not found under MINIREC_DATA: skipping the doc 000 §5 check")

# %% [markdown]
# ## Doc 001 §6: datasets (`001-6`)
#
# > 开源数据集: MovieLens、Netflix Prize、Amazon Review等
#
# > *English:* open data sets: MovieLens, Netflix Prize, Amazon Review, etc.
#
# MovieLens (100K and 1M) is here. The Netflix Prize data is no longer distributed
# by Netflix, so the course does not use it. An Amazon-review derived set is: the
# SASRec authors' "Video Games" sequences (`sasrec/Video.txt`, user item per line),
# used by lesson 18. It is far sparser than MovieLens:

# %%
root = _course.data_root()
if root is not None and (root / "sasrec" / "Video.txt").is_file():
    ui = np.loadtxt(root / "sasrec" / "Video.txt", dtype=np.int64)
    nu, ni = len(np.unique(ui[:, 0])), len(np.unique(ui[:, 1]))
    print(
        f"Amazon Video Games: {len(ui):,} interactions, {nu:,} users x {ni:,} "
        f"items, density {len(ui) / (nu * ni):.4%}"
    )
    assert (len(ui), nu, ni) == (287_107, 31_013, 23_715)  # the SASRec paper's row

# %% [markdown]
# ## Doc 002 §2.1: three tasks on one table (`002-2.1`)
#
# > 评分预测(Rating Prediction) · 排序(Ranking) · 点击率预测(CTR Prediction)
#
# > *English:* rating prediction · ranking · click-through-rate (CTR) prediction
#
# * **rating prediction**: the label is $r_{ui}$ itself, scored by RMSE (lesson 01,
#   lessons 06–09);
# * **ranking**: only *which* items a user interacted with matters; the label is
#   1 for observed pairs and unknown elsewhere (lessons 08, 11–18);
# * **CTR prediction**: a binary click label; on MovieLens the usual proxy is
#   "rating ≥ 4 is a click", scored by log loss / AUC (lessons 13, 16).

# %%
y_rating = data.ratings
y_rank = np.ones(len(data), dtype=np.int8)  # implicit: every observed pair counts
y_ctr = (data.ratings >= 4).astype(np.int8)
print(
    f"rating task: mean {y_rating.mean():.3f}; ranking task: {y_rank.sum():,} "
    f"positives of {m * n:,} cells; CTR task: click rate {y_ctr.mean():.1%}"
)
assert y_ctr.sum() == hist[3:].sum()

# %% [markdown]
# ## Library call
#
# Everything above in one line each: `data.describe()`, `data.density`,
# `data.item_counts()`, `data.by_user` (CSR: a user's items and ratings), and the
# fastest possible "model" — the most popular unseen movies.

# %%
from minirec.models import Popularity  # noqa: E402

pop = Popularity().fit(data)
uid = data.user_ids[0]
ids, scores = pop.recommend([uid], n=5)
row = data.by_user.row(0)
print(
    f"user {uid} rated {len(row)} movies; most popular unseen:",
    [str(titles[j]) for j in data.item_index(ids[0])],
)
assert not set(data.item_index(ids[0])) & set(row.tolist())

# %% [markdown]
# ## Summary
# * The rating matrix is 93.7% empty on ML-100k (95.5% on ML-1M); models learn from
#   the few observed cells and must be evaluated on held-out ones (lesson 01).
# * Popularity is very skewed: a popularity ranker is a strong, cheap baseline and a
#   source of bias in sampled evaluation.
# * One table, three tasks: rating prediction, ranking, CTR prediction.
#
# ## Exercises
#
# Each exercise is a function to complete; running its cell checks your answer
# numerically (the reference solutions are in `lessons/solutions/`). Open
# questions: plot the mean rating of an item against its number of ratings (are
# popular movies rated higher?); for ML-1M, how many of the 3,883 movies in
# `movies.dat` have no rating at all?

# %% [markdown] tags=["exercise"]
# ### Exercise 00.1: the Gini coefficient of a long tail
#
# Return the Gini coefficient of the nonnegative counts `counts` (ratings per item,
# or per user): 0 when all are equal, $(n-1)/n$ when one holds everything. Then
# compare users and items on ML-100k: which is more unequal?


# %% tags=["exercise"]
def exercise_00_1(counts):
    # your code here
    return 0.0


attempt("00_1", exercise_00_1)

# %% [markdown] tags=["exercise"]
# ### Exercise 00.2: density of the rating matrix
#
# Return the share of the `n_users` x `n_items` cells that hold at least one of
# the interactions `(users[t], items[t])` (a pair listed twice counts once).


# %% tags=["exercise"]
def exercise_00_2(users, items, n_users, n_items):
    # your code here
    return len(users) / (n_users * n_items)


attempt("00_2", exercise_00_2)
