# %% [markdown]
# # 21 · Bandits: "reinforcement learning adjusts the policy in real time"
#
# **Goal.** Doc 004 lists reinforcement learning as the third paradigm of
# recommendation next to collaborative filtering and deep learning, in one sentence.
# This lesson makes that sentence concrete with the simplest RL setting that fits a
# recommender — the multi-armed bandit — simulated on real MovieLens ratings, and
# compares it honestly with matrix factorization. It closes with measured numbers for
# the practical challenges doc 004 §1.2 and doc 001 §2.3/§7 list.
#
# **Covers:** `004-2` (the RL paradigm), `004-1.2` (latency, dynamic updates,
# privacy), `001-2.3` (side information, RL, cold start, sparsity, explainability,
# privacy, online updates, efficiency). Library: `minirec/models/base.py`
# (`recommend`, `unknown="popular"`), `minirec/models/baselines.py`.
#
# Doc 004 §1.2 (`004_f2459186f67a34fe.txt`):
#
# > 强化学习算法通过模拟用户行为，实时调整推荐策略，提升推荐效果。
#
# > *English:* reinforcement-learning algorithms simulate user behaviour and adjust
# > the recommendation policy in real time, improving the recommendations.
#
# A bandit is RL with one state: at each step a user arrives,
# the policy shows one movie (an *arm*), observes a click or not, and updates.

# %%
import time

import _course
import matplotlib.pyplot as plt
import numpy as np
from _exercises import attempt

from minirec.models import BiasedBaseline, Popularity, available_models, get_model_class

data = _course.load_ratings("ml-100k")
SEEDS = 20 if _course.FULL else 3
T = 100_000 if _course.FULL else 20_000

# %% [markdown]
# ## The environment: real ratings, no made-up numbers
#
# Arms: the 50 most rated movies. A user "clicks" movie $a$ when they rated it
# $\ge 4$; a movie the user did not rate (or rated lower) is no click. This fills
# every (user, arm) cell from the real data, so the simulation needs no fitted
# model. Users arrive uniformly at random. The expected reward of arm $a$ is
# $\mu_a$ = share of users who liked it; regret after $T$ steps is
# $\sum_t (\mu^* - \mu_{a_t})$ against the best fixed arm.
#
# Half of the users (seed 0) are *past* users whose ratings an offline model may
# use; the bandits and the models are all scored on the other, *new* half.

# %%
R = data.to_dense()
K = 50
arms = np.argsort(-data.item_counts())[:K]
like = (R[:, arms] >= 4).astype(np.float64)  # (users, arms) 0/1 clicks
rng = np.random.default_rng(0)
is_new = rng.random(data.n_users) < 0.5
new_users = np.flatnonzero(is_new)
mu = like[new_users].mean(0)  # true arm means for the new users
best = int(mu.argmax())
titles = data.item_titles
print(f"{K} arms; best arm {titles[arms[best]]!r} liked by {mu[best]:.1%} of new users")
print(f"arm means range {mu.min():.3f}..{mu.max():.3f}; {len(new_users)} new users")
# the same share counted from the raw rating triples, without the dense matrix
raw_likes = is_new[data.users] & (data.items == arms[best]) & (data.ratings >= 4)
assert np.isclose(mu[best], raw_likes.sum() / len(new_users))

# %% [markdown]
# ## Three policies in a few lines each
#
# * **ε-greedy**: with probability ε show a random arm, else the arm with the best
#   running mean $\hat\mu_a = s_a / n_a$.
# * **UCB1** (Auer et al. 2002): show $\arg\max_a \hat\mu_a + \sqrt{2 \ln t / n_a}$
#   (each arm once first): optimism in the face of uncertainty.
# * **Thompson sampling**: keep a Beta$(1 + s_a, 1 + n_a - s_a)$ posterior per arm,
#   draw one sample per arm, show the argmax.
#
# Every update is $O(1)$: $n_a \mathrel{+}= 1$, $s_a \mathrel{+}= r$.


# %%
def run(policy, seed, T=T, eps=0.1):
    rng = np.random.default_rng(seed)
    users = rng.choice(new_users, T)
    n = np.zeros(K)
    s = np.zeros(K)
    chosen = np.empty(T, dtype=np.int64)
    for t in range(T):
        if policy == "random":
            a = rng.integers(K)
        elif policy == "eps-greedy":
            if rng.random() < eps or t < K:
                a = rng.integers(K) if t >= K else t
            else:
                a = int(np.argmax(s / np.maximum(n, 1)))
        elif policy == "UCB1":
            if t < K:
                a = t
            else:
                a = int(np.argmax(s / n + np.sqrt(2 * np.log(t) / n)))
        else:  # Thompson
            a = int(np.argmax(rng.beta(1 + s, 1 + n - s)))
        r = like[users[t], a]
        n[a] += 1
        s[a] += r
        chosen[t] = a
    return chosen, s.sum() / T


POLICIES = ["random", "eps-greedy", "UCB1", "Thompson"]
regret = {}
reward = {}
t0 = time.perf_counter()
for p in POLICIES:
    curves, rewards = [], []
    for seed in range(SEEDS):
        chosen, avg = run(p, seed)
        curves.append(np.cumsum(mu[best] - mu[chosen]))
        rewards.append(avg)
    regret[p] = np.mean(curves, 0)
    reward[p] = float(np.mean(rewards))
print(
    f"{len(POLICIES)} policies x {SEEDS} seeds x {T:,} steps in "
    f"{time.perf_counter() - t0:.1f} s"
)
for p in POLICIES:
    print(
        f"{p:<11} regret after {T:,} steps {regret[p][-1]:8.1f}   "
        f"click rate {reward[p]:.3f}"
    )

# %% [markdown]
# UCB1's bonus $\sqrt{2 \ln t / n_a}$ is a loose bound for click rates this small,
# so it keeps exploring the many near-best arms much longer than Thompson sampling.
#
# Numeric checks: the random policy's expected regret is exactly
# $T(\mu^* - \bar\mu)$; Thompson and UCB1 must beat it by far, and their regret
# must grow sub-linearly (the second half of the run adds less than the first).

# %%
expected_random = T * (mu[best] - mu.mean())
np.testing.assert_allclose(regret["random"][-1], expected_random, rtol=0.05)
for p in ("UCB1", "Thompson"):
    assert regret[p][-1] < 0.5 * regret["random"][-1], p
    half = regret[p][T // 2 - 1]
    assert regret[p][-1] - half < half, f"{p}: regret is not flattening"

fig, ax = plt.subplots(figsize=(6.5, 4))
for p in POLICIES:
    ax.plot(regret[p], label=p)
ax.set(
    xlabel="step (one user arrives, one movie shown)",
    ylabel="cumulative regret",
    title=f"bandits on ML-100k ratings, {K} arms, mean of {SEEDS} seeds",
)
ax.legend()
_course.savefig(fig, "21_regret.png")
plt.close(fig)

# %% [markdown]
# ## Honest comparison with matrix factorization
#
# A bandit *without context* can at best find the single movie most users like.
# Offline models see more: popularity from the past users' likes, and MF that also
# knows each new user's ratings of the *other* (non-arm) movies. Two MFs:
#
# 1. **MF of the ratings**: ALS on the explicit ratings (closed form, $k = 16$,
#    λ = 10; lesson 07 derives it); show the arm with the highest predicted rating.
# 2. **MF of the clicks** (PureSVD, Cremonesi et al. 2010): the rank-16 truncated
#    SVD of the 0/1 "liked" matrix (unknown cells = 0, the new users' arm cells
#    hidden), computed by subspace iteration; show the arm with the highest score.

# %%
hidden = is_new[:, None] & np.isin(np.arange(data.n_items), arms)[None, :]
u_tr, i_tr = np.nonzero((R > 0) & ~hidden)
r_tr = R[u_tr, i_tr]


def als(u, i, r, n_users, n_items, k=16, reg=10.0, iters=8, seed=0):
    rng = np.random.default_rng(seed)
    mu_ = r.mean()
    P = rng.normal(0, 0.1, (n_users, k))
    Q = rng.normal(0, 0.1, (n_items, k))
    su = np.split(np.argsort(u, kind="stable"), np.cumsum(np.bincount(u))[:-1])
    si = np.split(np.argsort(i, kind="stable"), np.cumsum(np.bincount(i))[:-1])
    for _ in range(iters):
        for X, Y, rows, idx, first in ((P, Q, su, i, u), (Q, P, si, u, i)):
            for sel in rows:
                if len(sel):
                    Yj = Y[idx[sel]]
                    A = Yj.T @ Yj + reg * np.eye(k)
                    X[first[sel[0]]] = np.linalg.solve(A, Yj.T @ (r[sel] - mu_))
    return mu_, P, Q


def pure_svd_scores(Y, k=16, iters=8, seed=0):
    """Y V_k V_kᵀ, V_k = top-k right singular vectors (by subspace iteration)."""
    V = np.random.default_rng(seed).normal(size=(Y.shape[1], k))
    for _ in range(iters):
        V, _ = np.linalg.qr(Y.T @ (Y @ V))
    return (Y @ V) @ V.T


t0 = time.perf_counter()
mu_r, P, Q = als(u_tr, i_tr, r_tr, data.n_users, data.n_items)
als_seconds = time.perf_counter() - t0
als_choice = np.argmax(P[new_users] @ Q[arms].T, axis=1)
Yl = ((R >= 4) & ~hidden).astype(np.float64)
svd_choice = np.argmax(pure_svd_scores(Yl)[np.ix_(new_users, arms)], axis=1)
past_best = int(like[~is_new].mean(0).argmax())
table = {
    "random arm": mu.mean(),
    "Thompson (online, no context)": reward["Thompson"],
    "popularity of past users' likes (offline)": mu[past_best],
    "best fixed arm (oracle)": mu[best],
    "MF of the ratings, ALS (offline)": like[new_users, als_choice].mean(),
    "MF of the clicks, PureSVD (offline)": like[new_users, svd_choice].mean(),
    "best arm per user (oracle)": like[new_users].max(1).mean(),
}
print(f"ALS fit: {als_seconds:.1f} s")
for k_, v in table.items():
    print(f"{k_:<46} click rate {v:.3f}")
if data.name == "ml-100k":  # the claim below is about MovieLens, not synthetic data
    assert table["MF of the clicks, PureSVD (offline)"] > mu[best]
    assert table["MF of the clicks, PureSVD (offline)"] > reward["Thompson"]

# %% [markdown]
# What this shows (ML-100k, 50 arms, seed 0; the numbers are printed above): the
# bandits converge to the best *fixed* arm — exactly what the offline popularity of
# past users already knew. MF of the clicks, which uses what each user liked
# before, beats every non-personalized policy. MF of the *ratings* does worse than
# the best fixed arm: it predicts how much a user would like a movie *given that
# they watch it*, not whether they click — optimize the target you are scored on
# (lesson 08 makes the same point for ranking). The bandit's value is elsewhere: it needs no history (new catalogue,
# new arms, shifting tastes) and it keeps exploring. Real systems combine both:
# *contextual* bandits (LinUCB, Li et al. 2010) use MF user vectors as context.
# The simulator's limits: clicks are "rated ≥ 4", one movie per step, no position
# or fatigue effects, users arrive uniformly.
#
# ## The challenges of doc 004 §1.2 and doc 001 §2.3 / §7, measured
#
# Doc 004 §1.2: 高效推荐 (latency), 精准匹配 (accurate matching), 动态更新
# (dynamic updates), 隐私保护 (privacy). Doc 001 §2.3 and §7 add side information,
# cold start, sparsity, explainability, online updates and efficiency.
#
# **Efficiency / latency** — `recommend()` of library models, one user at a time
# (the latency a request sees) and in a batch (throughput):

# %%
fits = {"Popularity": Popularity(), "BiasedBaseline": BiasedBaseline()}
if "mf" in available_models():
    fits["MF"] = get_model_class("mf")()
for name, model in fits.items():
    model.fit(data)
    one = data.user_ids[:50]
    t0 = time.perf_counter()
    for uid in one:
        model.recommend([uid], n=10)
    single = (time.perf_counter() - t0) / len(one) * 1e3
    t0 = time.perf_counter()
    model.recommend(data.user_ids, n=10)
    batch = (time.perf_counter() - t0) / data.n_users * 1e3
    print(
        f"{name:<15} recommend(): {single:.2f} ms per single-user call, "
        f"{batch:.3f} ms per user in one batch of {data.n_users}"
    )

# %% [markdown]
# **Dynamic / online updates** — a bandit update is two additions; re-fitting the
# offline model is a batch job. Measured here: one Thompson update vs one ALS fit.

# %%
n_, s_ = np.zeros(K), np.zeros(K)
t0 = time.perf_counter()
for t in range(10_000):
    n_[t % K] += 1
    s_[t % K] += 1.0
upd = (time.perf_counter() - t0) / 10_000
print(
    f"bandit update {upd * 1e6:.2f} µs vs ALS refit {als_seconds:.1f} s "
    f"({als_seconds / upd:,.0f}x)"
)

# %% [markdown]
# **Cold start** — a user never seen in training: the estimator API can fall back
# to the most popular items (`unknown="popular"`) instead of raising
# `UnknownIdError`; a bandit is the principled version of that fallback.
#
# **Sparsity** — the arm sub-matrix is dense compared with the catalogue; a new
# user's row is empty.

# %%
pop = fits["Popularity"]
ids, _ = pop.recommend(["no-such-user"], n=3, unknown="popular")
print("cold-start user gets:", [str(titles[j]) for j in data.item_index(ids[0])])
arm_density = (R[:, arms] > 0).mean()
print(
    f"density: whole matrix {data.density:.2%}, 50 most rated movies {arm_density:.2%}"
)
assert arm_density > data.density

# %% [markdown]
# **Side information** (genres, titles) is used in lessons 05 and 19.
# **Explainability**: item-based scores decompose into "because you liked X"
# (lesson 04); an MF score $p_u^\top q_i$ does not. **Privacy**: the
# non-contextual bandit stores only per-arm counts ($2K$ numbers, no per-user data),
# MF stores a vector per user — learned from their history.
#
# ## Summary
# * A bandit turns "adjust the policy in real time" into code: ε-greedy, UCB1 and
#   Thompson sampling, with sub-linear regret on real ratings.
# * Without context it can only find the best fixed movie; MF with the user's
#   history recommends better. Contextual bandits combine the two.
# * Latency of `recommend()` and update cost are measured, not assumed.


# %% [markdown]
# ## Exercises
#
# Each exercise is a function to complete; running its cell checks your answer
# (solutions in `lessons/solutions/`). Open questions: make the environment
# non-stationary (at step T/2 the best movie stops being liked) — which policy
# recovers, and how does a sliding window help? Implement LinUCB with the ALS user
# vectors as context; replace "rated ≥ 4" by "rated at all".

# %% [markdown] tags=["exercise"]
# ### Exercise 21.1: UCB1's choice
#
# `n[a]` plays and `s[a]` total reward of each arm, `t` the step. Return the arm to
# show: the first arm never played if there is one, else
# $\arg\max_a s_a/n_a + \sqrt{2\ln t / n_a}$.


# %% tags=["exercise"]
def exercise_21_1(n, s, t):
    # your code here
    return int(np.argmax(s / np.maximum(n, 1)))


attempt("21_1", exercise_21_1)

# %% [markdown] tags=["exercise"]
# ### Exercise 21.2: the regret curve
#
# `mu` are the true arm means, `chosen` the arms shown at steps 1..T. Return the
# cumulative regret after every step, $\sum_{t' \le t}(\mu^* - \mu_{a_{t'}})$ (T,).


# %% tags=["exercise"]
def exercise_21_2(mu, chosen):
    # your code here
    return np.zeros(len(chosen))


attempt("21_2", exercise_21_2)

# %% [markdown] tags=["exercise"]
# ### Exercise 21.3: Thompson sampling's choice
#
# With uniform priors, arm a's posterior is Beta$(1 + s_a, 1 + n_a - s_a)$. Draw
# one sample per arm with a single call `rng.beta(...)` on the arrays and return
# the argmax.


# %% tags=["exercise"]
def exercise_21_3(n, s, rng):
    # your code here
    return int(np.argmax(s / np.maximum(n, 1)))


attempt("21_3", exercise_21_3)
