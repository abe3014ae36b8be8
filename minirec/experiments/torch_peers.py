"""PyTorch peers of the neural rows: the same model written in PyTorch, trained
on the same split with the same fields and hyperparameters, in the same run.

Only the input encoding is minirec's (:func:`minirec.data.features.build_fm_fields`,
so both models see the same feature slots); the network, its initialisation (the
same distributions, drawn by ``torch.nn.init``), the optimizer and the loss are
PyTorch's own.
"""

from __future__ import annotations

import time

import numpy as np

from .config import Config, ConfigError


def _deepfm_net(torch, n_features: int, slot_field: np.ndarray, k: int, hidden):
    nn = torch.nn
    n_fields = int(slot_field.max()) + 1
    # S[s, f] = 1 where slot s belongs to field f: e_f = sum of its slots' v x
    S = torch.zeros(len(slot_field), n_fields)
    S[torch.arange(len(slot_field)), torch.as_tensor(slot_field, dtype=torch.long)] = 1

    class DeepFM(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Embedding(n_features, 1, sparse=True)
            self.v = nn.Embedding(n_features, k, sparse=True)
            nn.init.normal_(self.v.weight, std=0.01)
            nn.init.zeros_(self.w.weight)
            self.b = nn.Parameter(torch.zeros(1))
            self.register_buffer("S", S)
            sizes, layers = [n_fields * k, *hidden], []
            for a, b in zip(sizes[:-1], sizes[1:]):
                layers += [nn.Linear(a, b), nn.ReLU()]
            self.dnn = nn.Sequential(*layers, nn.Linear(sizes[-1], 1))
            # the DeepFM of minirec.models.deepfm: He-normal ReLU layers, a Glorot
            # output layer, zero biases (torch.nn.init's own functions)
            for m in self.dnn:
                if isinstance(m, nn.Linear):
                    nn.init.zeros_(m.bias)
                    if m.out_features == 1:
                        nn.init.xavier_uniform_(m.weight)
                    else:
                        nn.init.kaiming_normal_(m.weight, nonlinearity="relu")

        def forward(self, idx, val):
            x = val.unsqueeze(-1)
            first = (self.w(idx) * x).sum((1, 2))
            e = self.v(idx) * x  # (N, slots, k)
            fm = 0.5 * (e.sum(1).pow(2) - e.pow(2).sum(1)).sum(1)
            per_field = torch.einsum("nsk,sf->nfk", e, self.S).flatten(1)
            return self.b + first + fm + self.dnn(per_field).squeeze(1)

    return DeepFM()


def deepfm(peer: dict, h, cfg: Config) -> tuple[dict, float]:
    """DeepFM (Guo et al. 2017) in PyTorch on a ctr holdout: logit = b + Σ w x +
    FM pairwise term + DNN over the field embeddings; Adam (SparseAdam on the
    embeddings) on the log loss, the last epoch kept. Returns (AUC / logloss on
    the test part, fit seconds)."""
    import torch

    from ..data.ctr import evaluate_ctr
    from ..data.features import build_fm_fields

    if cfg.protocol != "ctr":
        raise ConfigError(
            f"{cfg.path}: key 'peer': torch DeepFM runs on the ctr protocol"
        )
    p = {"k": 16, "hidden": [256, 128], "lr": 0.001, "batch_size": 1024, "n_epochs": 3}
    p.update(peer.get("params", {}))
    torch.manual_seed(cfg.seed)
    fields = build_fm_fields(h.train)
    net = _deepfm_net(torch, fields.n_features, fields.slot_field, p["k"], p["hidden"])
    # Adam on the dense weights, lazy (sparse) Adam on the embedding rows a batch
    # touches: minirec's DeepFM optimizer
    sparse = [net.w.weight, net.v.weight]
    dense = [q for q in net.parameters() if all(q is not t for t in sparse)]
    opts = [
        torch.optim.SparseAdam(sparse, lr=p["lr"]),
        torch.optim.Adam(dense, lr=p["lr"]),
    ]
    idx, val = fields.rows(h.train.users, h.train.items)
    idx, val = torch.from_numpy(idx.astype(np.int64)), torch.from_numpy(val)
    y = torch.from_numpy(h.train.ratings.astype(np.float32))
    gen = torch.Generator().manual_seed(cfg.seed)
    t0 = time.perf_counter()
    for _ in range(int(p["n_epochs"])):
        net.train()
        for rows in torch.randperm(len(y), generator=gen).split(int(p["batch_size"])):
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                net(idx[rows], val[rows]), y[rows]
            )
            for opt in opts:
                opt.zero_grad()
            loss.backward()
            for opt in opts:
                opt.step()
    secs = time.perf_counter() - t0
    net.eval()

    class _Probs:  # the one method evaluate_ctr calls
        def predict_pairs(self, u, i):
            a, b = fields.rows(u, i)
            with torch.no_grad():
                z = net(torch.from_numpy(a.astype(np.int64)), torch.from_numpy(b))
            return torch.sigmoid(z).double().numpy()

    return evaluate_ctr(_Probs(), h.test), secs
