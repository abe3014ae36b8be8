"""``Module`` and ``Parameter``: parameters are found by walking attributes, in the
order they were set (Parameters, sub-Modules, and lists / tuples of them)."""

from __future__ import annotations

from collections.abc import Iterator

from ..autograd import Tensor
from ..backends.device import move
from ..errors import ModelFileError


class Parameter(Tensor):
    """A Tensor that a Module owns and an optimizer updates (requires_grad=True)."""

    __slots__ = ()

    def __init__(self, data, name: str = ""):
        super().__init__(data, requires_grad=True, name=name)


class Module:
    """Base class of the layers. Subclasses set Parameters / Modules as attributes in
    ``__init__`` and define ``forward``; ``module(x)`` calls ``forward(x)``."""

    training: bool = True

    def forward(self, *args):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # -- walking the tree --------------------------------------------------------------
    def _children(self) -> Iterator[tuple[str, object]]:
        for name, v in vars(self).items():
            if isinstance(v, (Parameter, Module)):
                yield name, v
            elif isinstance(v, (list, tuple)):
                for k, item in enumerate(v):
                    if isinstance(item, (Parameter, Module)):
                        yield f"{name}.{k}", item

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """(dotted name, Parameter) pairs, each Parameter once."""
        seen: set[int] = set()
        for name, p in self._named(prefix):
            if id(p) not in seen:
                seen.add(id(p))
                yield name, p

    def _named(self, prefix):
        for name, v in self._children():
            full = f"{prefix}{name}"
            if isinstance(v, Parameter):
                yield full, v
            else:
                yield from v._named(full + ".")

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def modules(self) -> Iterator[Module]:
        yield self
        for _, v in self._children():
            if isinstance(v, Module):
                yield from v.modules()

    def num_parameters(self) -> int:
        return sum(p.size for p in self.parameters())

    # -- modes and gradients -----------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout on) for this module and every sub-module."""
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> Module:
        """Evaluation mode (dropout off)."""
        return self.train(False)

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    # -- saving ------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """{dotted name: a copy of the parameter array}; ``np.savez`` can store it."""
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state: dict, strict: bool = True) -> None:
        """Copy arrays into the parameters in place (optimizers keep their references).

        Raises ModelFileError naming missing / unexpected keys or a shape mismatch.
        """
        params = dict(self.named_parameters())
        missing = [k for k in params if k not in state]
        unexpected = [k for k in state if k not in params]
        if strict and (missing or unexpected):
            raise ModelFileError(
                f"{type(self).__name__}.load_state_dict: missing keys {missing}, "
                f"unexpected keys {unexpected}; was the state saved from a module with "
                "the same layers and sizes?"
            )
        for name, p in params.items():
            if name not in state:
                continue
            v = state[name]
            if tuple(v.shape) != p.shape:
                raise ModelFileError(
                    f"{type(self).__name__}.load_state_dict: {name!r} has shape "
                    f"{tuple(v.shape)} in the state but {p.shape} in the module; "
                    "build the module with the hyperparameters it was saved with"
                )
            # `v` may live elsewhere (a GPU state into a CPU module): moved explicitly
            p.data[...] = p.xp.asarray(move(v, p.device), dtype=p.dtype)

    def to(self, device) -> Module:
        """Move every parameter to `device`: ``"cpu"`` / ``"numpy"``, ``"cuda"`` /
        ``"cupy"``, or an array namespace module (numpy / cupy). In place: the
        Parameters stay the same objects (their ``.data`` is copied across,
        explicitly; grads are dropped), so build the optimizer after moving; each
        sub-module's other arrays move in its ``_moved(device)``. Without CuPy or a
        GPU it raises BackendUnavailableError naming ``pip install 'minirec[gpu]'``."""
        if not isinstance(device, str):  # a namespace module
            device = "cpu" if device.__name__ == "numpy" else "cuda"
        for p in self.parameters():
            p.data = move(p.data, device)
            p.grad = None
        for m in self.modules():
            m._moved(device)
        return self

    def _moved(self, device: str) -> None:
        """Move what this module holds besides Parameters (constant arrays, a random
        Generator) to `device`; called by :meth:`to` after the Parameters moved."""

    def __repr__(self) -> str:
        kids = [f"  {n}: {type(v).__name__}" for n, v in self._children()]
        return (
            f"{type(self).__name__}(\n" + "\n".join(kids) + "\n)"
            if kids
            else (f"{type(self).__name__}()")
        )
