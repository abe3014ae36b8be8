"""Feed-forward layers: Linear, Embedding, Dropout, activations, Sequential, MLP,
Conv2d, MaxPool2d, LayerNorm, PositionalEmbedding.

Shapes follow the row-vector convention of docs/notation.md: ``Linear`` computes
``y = x W + b`` with W of shape (in, out).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._utils import as_rng, check_positive_int
from ..autograd import Tensor
from ..autograd import ops as F
from ..backends.device import canonical_device, namespace_for
from . import init as inits
from .module import Module, Parameter


class Linear(Module):
    """y = x W + b; W (in_dim, out_dim) initialized by `init` ("xavier" or "he")."""

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        bias: bool = True,
        init: str = "xavier",
        rng=None,
        xp=None,
    ):
        check_positive_int("in_dim", in_dim)
        check_positive_int("out_dim", out_dim)
        if init not in inits.INITIALIZERS:
            raise ValueError(f"init={init!r}: choose one of {list(inits.INITIALIZERS)}")
        self.W = Parameter(inits.INITIALIZERS[init]((in_dim, out_dim), as_rng(rng), xp))
        self.b = Parameter(inits.zeros(out_dim, xp)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.W, self.b)


class Embedding(Module):
    """A table of `n` rows of size `dim` (init N(0, std^2)); ``emb(idx)`` gathers rows.

    With ``sparse=True`` the gradient is a RowGrad of the touched rows only, which
    optimizers with a lazy mode (``Adam(lazy=True)``, SGD, Adagrad) update cheaply.
    """

    def __init__(
        self,
        n: int,
        dim: int,
        std: float = 0.01,
        sparse: bool = False,
        rng=None,
        xp=None,
    ):
        check_positive_int("n", n)
        check_positive_int("dim", dim)
        self.W = Parameter(inits.normal((n, dim), std, as_rng(rng), xp))
        self.sparse = sparse

    def forward(self, idx) -> Tensor:
        idx = idx.data if isinstance(idx, Tensor) else idx
        if hasattr(idx, "dtype") and idx.dtype.kind not in "iu":
            raise TypeError(f"Embedding: indices must be integers, got {idx.dtype}")
        n = self.W.shape[0]
        if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= n):
            bad = int(idx.max()) if int(idx.max()) >= n else int(idx.min())
            raise IndexError(
                f"Embedding: index {bad} out of range for a table of {n} rows; map raw "
                "ids to internal indices 0..n-1 first (Interactions does this)"
            )
        return F.embedding(self.W, idx, sparse=self.sparse)


class Dropout(Module):
    """Inverted dropout with probability `p` in training mode, identity in eval mode."""

    def __init__(self, p: float = 0.5, rng=None):
        if not 0 <= p < 1:
            raise ValueError(f"Dropout p={p!r}: must be in [0, 1)")
        self.p = p
        self.rng = as_rng(rng)

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training, self.rng)

    def _moved(self, device: str) -> None:
        """The masks are drawn where the data is: a Generator of `device`'s
        namespace, seeded by one draw from the current one."""
        on_host = isinstance(self.rng, np.random.Generator)
        if on_host == (canonical_device(device) == "cpu"):
            return
        seed = int(self.rng.integers(0, 2**62, size=1)[0])
        self.rng = namespace_for(device).random.default_rng(seed)


class ReLU(Module):
    def forward(self, x):
        return F.relu(x)


class Tanh(Module):
    def forward(self, x):
        return F.tanh(x)


class Sigmoid(Module):
    def forward(self, x):
        return F.sigmoid(x)


class Identity(Module):
    def forward(self, x):
        return x


ACTIVATIONS = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid, "none": Identity}


class Sequential(Module):
    """Apply the modules in order."""

    def __init__(self, *layers: Module):
        self.layers = list(layers)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, k: int) -> Module:
        return self.layers[k]


def MLP(
    sizes: Sequence[int],
    activation: str = "relu",
    dropout: float = 0.0,
    activate_last: bool = True,
    init: str | None = None,
    rng=None,
    xp=None,
) -> Sequential:
    """Linear layers ``sizes[0] -> sizes[1] -> ... -> sizes[-1]``, each followed by
    `activation` (and Dropout when ``dropout > 0``); the last one too unless
    ``activate_last=False``. NCF's tower is ``MLP([64, 32, 16, 8])``.
    `init` defaults to "he" for relu, else "xavier"."""
    if len(sizes) < 2:
        raise ValueError(f"MLP sizes={list(sizes)}: need at least [in_dim, out_dim]")
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"activation={activation!r}: choose one of {list(ACTIVATIONS)}"
        )
    rng = as_rng(rng)
    init = init or ("he" if activation == "relu" else "xavier")
    layers: list[Module] = []
    for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(Linear(a, b, init=init, rng=rng, xp=xp))
        if activate_last or k < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(Dropout(dropout, rng=rng))
    return Sequential(*layers)


class Conv2d(Module):
    """2-D convolution (cross-correlation) on (N, C, H, W), weight (O, C, k, k)."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel: int,
        stride: int = 1,
        padding: int = 0,
        bias: bool = True,
        rng=None,
        xp=None,
    ):
        for name, v in (
            ("in_ch", in_ch),
            ("out_ch", out_ch),
            ("kernel", kernel),
            ("stride", stride),
        ):
            check_positive_int(name, v)
        self.W = Parameter(
            inits.he_normal((out_ch, in_ch, kernel, kernel), as_rng(rng), xp)
        )
        self.b = Parameter(inits.zeros(out_ch, xp)) if bias else None
        self.stride, self.padding = stride, padding

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.W.shape[1]:
            raise ValueError(
                f"Conv2d: expected input (N, {self.W.shape[1]}, H, W), got {x.shape}"
            )
        return F.conv2d(x, self.W, self.b, self.stride, self.padding)


class MaxPool2d(Module):
    def __init__(self, kernel: int, stride: int | None = None):
        self.kernel, self.stride = check_positive_int("kernel", kernel), stride

    def forward(self, x: Tensor) -> Tensor:
        return F.max_pool2d(x, self.kernel, self.stride)


class LayerNorm(Module):
    """Normalize the last axis, then scale by gamma and shift by beta."""

    def __init__(self, dim: int, eps: float = 1e-5, xp=None):
        xp = xp or np
        self.gamma = Parameter(xp.ones(dim, dtype=np.float32))
        self.beta = Parameter(xp.zeros(dim, dtype=np.float32))
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, self.eps) * self.gamma + self.beta


class PositionalEmbedding(Module):
    """Learned positions (SASRec): ``x + P[:T]`` for x (B, T, dim), T <= max_len."""

    def __init__(self, max_len: int, dim: int, std: float = 0.01, rng=None, xp=None):
        self.P = Parameter(inits.normal((max_len, dim), std, as_rng(rng), xp))

    def forward(self, x: Tensor) -> Tensor:
        T = x.shape[-2]
        if T > self.P.shape[0]:
            raise ValueError(
                f"PositionalEmbedding: sequence length {T} > max_len "
                f"{self.P.shape[0]}; "
                "build it with a larger max_len or truncate the sequences"
            )
        return x + self.P[:T]
