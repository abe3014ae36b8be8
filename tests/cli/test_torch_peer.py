"""The PyTorch DeepFM peer of `ctr/deepfm` (minirec.experiments.torch_peers): its
logit against DeepFM's formula written out in NumPy, and its record through the
runner on the synthetic ctr split."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the torch peer needs PyTorch (dev extra)")

from minirec.experiments import config as C  # noqa: E402
from minirec.experiments import runner  # noqa: E402
from minirec.experiments.torch_peers import _deepfm_net  # noqa: E402


def test_logit_is_deepfm_formula():
    """b + Σ_s w_s x_s + Σ_{s<t} <v_s, v_t> x_s x_t + DNN([e_1; ...; e_F]) with
    e_f = Σ_{s in f} v_s x_s, the pairwise sum taken literally."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    slot_field = np.array([0, 1, 2, 2, 2])  # a multi-hot field of three slots
    n_features, k = 12, 3
    net = _deepfm_net(torch, n_features, slot_field, k, [4])
    with torch.no_grad():
        net.v.weight.normal_()
        net.w.weight.normal_()
        net.b.fill_(0.3)
    idx = rng.integers(0, n_features, size=(6, 5))
    val = rng.random((6, 5)).astype(np.float32)
    with torch.no_grad():
        got = net(torch.from_numpy(idx), torch.from_numpy(val)).numpy()
    V, w = net.v.weight.detach().numpy(), net.w.weight.detach().numpy()[:, 0]
    lin = [(m.weight.detach().numpy(), m.bias.detach().numpy()) for m in net.dnn
           if isinstance(m, torch.nn.Linear)]  # fmt: skip
    for n in range(len(idx)):
        vx = V[idx[n]] * val[n][:, None]
        pair = sum(vx[s] @ vx[t] for s in range(5) for t in range(s + 1, 5))
        e = np.concatenate([vx[slot_field == f].sum(0) for f in range(3)])
        h = np.maximum(lin[0][0] @ e + lin[0][1], 0)
        dnn = (lin[1][0] @ h + lin[1][1])[0]
        want = 0.3 + w[idx[n]] @ val[n] + pair + dnn
        assert got[n] == pytest.approx(want, rel=1e-5, abs=1e-5)


def test_runner_records_the_torch_peer_on_the_same_split(tmp_path):
    text = (
        'title = "x"\nmodel = "deepfm"\ndataset = "synthetic"\nprotocol = "ctr"\n'
        'metrics = ["AUC", "logloss"]\n'
        'split = { how = "random", test_fraction = 0.2, seed = 0 }\n'
        "[params]\nk = 4\nhidden = [16]\nlr = 0.01\nbatch_size = 256\nn_epochs = 2\n"
        '[peer]\nlibrary = "torch"\nalgo = "DeepFM"\n'
        "params = { k = 4, hidden = [16], lr = 0.01, batch_size = 256, n_epochs = 2 }\n"
    )
    path = tmp_path / "row.toml"
    path.write_text(text)
    runner.clear_cache()
    rec = runner.run(C.load(path), say=lambda s: None)
    runner.clear_cache()
    peer = rec["peer"]
    assert peer["label"].startswith("torch DeepFM(k=4") and peer["version"]
    assert peer["seconds"] > 0 and set(peer["metrics"]) == {"AUC", "logloss"}
    # both learn the synthetic clicks; same data, different code and initialisation
    assert peer["metrics"]["AUC"] > 0.6 and rec["metrics"]["AUC"] > 0.6
    assert abs(peer["metrics"]["AUC"] - rec["metrics"]["AUC"]) < 0.05


def test_torch_peer_is_a_known_peer_and_others_are_errors(tmp_path):
    path = tmp_path / "row.toml"
    path.write_text(
        'title = "x"\nmodel = "deepfm"\ndataset = "synthetic"\nprotocol = "ctr"\n'
        'metrics = ["AUC"]\nsplit = { how = "random", test_fraction = 0.2, seed = 0 }\n'
        '[peer]\nlibrary = "torch"\nalgo = "NeuMF"\n'
    )
    with pytest.raises(C.ConfigError, match="peer.*torch/NeuMF is not a known peer"):
        C.load(path)
