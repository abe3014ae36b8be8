"""Losses. Scores are raw (logits); every loss returns a scalar Tensor (the mean over
the batch unless said otherwise).

=================  ======================================================  ==========
loss               formula (per example)                                   paper
=================  ======================================================  ==========
mse                (ŷ - y)²                                                 --
bce_with_logits    softplus(z) - y z  (= -y log σ(z) - (1-y) log(1-σ(z)))   --
bpr                -log σ(s⁺ - s⁻)                                          Rendle 2009
top1               mean_j σ(s⁻_j - s⁺) + σ(s⁻_j²)                           Hidasi 2016
bpr_max            -log Σ_j sm_j σ(s⁺ - s⁻_j) + λ Σ_j sm_j s⁻_j²            Hidasi 2018
hinge              max(0, margin - s⁺ + s⁻)                                 --
cross_entropy      -log softmax(z)_target   (full softmax over all classes) --
sampled_softmax    -log softmax([s⁺, s⁻_1..S] - log q)_0 (sampled, logQ-corrected)
                   (sm = softmax(s⁻) over the S negatives)
l2_penalty         reg/2 Σ ‖θ‖²  (doc 000 §4.1's λ/2 (‖P‖² + ‖Q‖²))          --
=================  ======================================================  ==========

bce_with_logits is one fused op (stable for any z); never apply sigmoid then log.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..autograd import Tensor, as_tensor
from ..autograd import ops as F


def mse(pred: Tensor, target) -> Tensor:
    """Mean squared error."""
    d = pred - as_tensor(target, pred)
    return F.mean(d * d)


def bce_with_logits(logits: Tensor, targets, weight=None) -> Tensor:
    """Mean binary cross-entropy of logits against 0/1 (or soft) targets, stable."""
    return F.bce_with_logits(logits, targets, weight)


def _pairs(pos: Tensor, neg: Tensor) -> Tensor:
    """pos (B,) against neg (B,) or (B, S): pos broadcast over the S negatives."""
    if neg.ndim == pos.ndim + 1:
        pos = F.reshape(pos, pos.shape + (1,))
    return pos


def bpr(pos: Tensor, neg: Tensor) -> Tensor:
    """Bayesian personalized ranking: mean of -log σ(pos - neg)."""
    return -F.mean(F.log_sigmoid(_pairs(pos, neg) - neg))


def top1(pos: Tensor, neg: Tensor) -> Tensor:
    """GRU4Rec's TOP1: mean of σ(neg - pos) + σ(neg²) (the second term regularizes)."""
    return F.mean(F.sigmoid(neg - _pairs(pos, neg)) + F.sigmoid(neg * neg))


def bpr_max(pos: Tensor, neg: Tensor, reg: float = 1.0) -> Tensor:
    """GRU4Rec's BPR-max over S negatives per example: pos (B,), neg (B, S)."""
    if neg.ndim != 2:
        raise ValueError(f"bpr_max: neg must be (B, S), got {neg.shape}")
    s = F.softmax(neg, axis=-1)
    p = F.sum(s * F.sigmoid(_pairs(pos, neg) - neg), axis=-1)
    return F.mean(-F.log(p + 1e-24) + reg * F.sum(s * neg * neg, axis=-1))


def hinge(pos: Tensor, neg: Tensor, margin: float = 1.0) -> Tensor:
    """Pairwise hinge: mean of max(0, margin - pos + neg). At the kink (margin - pos
    + neg = 0) the gradient is 0, relu's subgradient (torch's margin_ranking_loss
    takes 1 there)."""
    return F.mean(F.relu(margin - _pairs(pos, neg) + neg))


def cross_entropy(logits: Tensor, targets, weight=None) -> Tensor:
    """Full-softmax cross-entropy: logits (..., C), integer targets (...,).

    `weight` (same shape as targets) weighs examples, e.g. 0 for padding positions;
    the result is Σ w ℓ / Σ w.
    """
    xp = logits.xp
    t = targets.data if isinstance(targets, Tensor) else xp.asarray(targets)
    C = logits.shape[-1]
    if t.shape != logits.shape[:-1]:
        raise ValueError(f"cross_entropy: targets {t.shape} vs logits {logits.shape}")
    if t.size and (int(t.min()) < 0 or int(t.max()) >= C):
        raise IndexError(f"cross_entropy: a target is outside 0..{C - 1}")
    onehot = (t[..., None] == xp.arange(C)).astype(logits.dtype)
    nll = -F.sum(F.log_softmax(logits, axis=-1) * onehot, axis=-1)
    if weight is None:
        return F.mean(nll)
    w = weight.data if isinstance(weight, Tensor) else xp.asarray(weight, logits.dtype)
    return F.sum(nll * w) / max(float(w.sum()), 1e-12)


def sampled_softmax(pos: Tensor, neg: Tensor, log_q_pos=None, log_q_neg=None) -> Tensor:
    """Sampled-softmax cross-entropy: the positive (B,) against S sampled negatives
    (B, S). With the sampling log-probabilities ``log_q_*`` the logits are corrected
    by ``- log q`` (Bengio & Senécal; Jean et al. 2015), which makes it an estimate of
    the full softmax."""
    if log_q_pos is not None:
        pos = pos - as_tensor(log_q_pos, pos)
    if log_q_neg is not None:
        neg = neg - as_tensor(log_q_neg, neg)
    logits = F.concat([F.reshape(pos, pos.shape + (1,)), neg], axis=-1)
    return -F.mean(F.log_softmax(logits, axis=-1)[..., 0])


def l2_penalty(tensors: Iterable[Tensor], reg: float) -> Tensor:
    """reg / 2 * Σ ‖t‖² over the given tensors (e.g. the embedding rows of a batch)."""
    total = None
    for t in tensors:
        s = F.sum(t * t)
        total = s if total is None else total + s
    if total is None:
        raise ValueError("l2_penalty: no tensors given")
    return total * (reg / 2)
