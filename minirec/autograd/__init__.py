"""minirec.autograd: a small reverse-mode autodiff over an array namespace (NumPy/CuPy).

What to import::

    from minirec.autograd import Tensor, no_grad, gradcheck
    from minirec.autograd import ops          # every op as a function
    import minirec.autograd.ops as F           # (the usual alias)

* ``Tensor(data, requires_grad=False, dtype=None)``: ``.data`` (the array), ``.grad``,
  ``.backward()``, ``.xp`` (its namespace), ``.numpy()``, ``.item()``, ``.detach()``.
  Python operators ``+ - * / ** @ -x x[idx]`` and methods ``sum mean max min reshape
  transpose T exp log log1p sqrt abs clip sigmoid tanh relu leaky_relu softplus
  log_sigmoid softmax log_softmax logsumexp`` build the graph. float32 by default
  (Python numbers and lists); arrays keep their dtype, so an integer Tensor indexes.
* ``backward()`` *adds* into the leaves' ``.grad`` (call ``zero_grad()`` between steps);
  intermediate gradients are not kept. ``.grad`` is read-only by convention (it may be
  a broadcast view); a sparse embedding's grad is a :class:`RowGrad`.
* ``ops``: add sub mul div neg pow exp log log1p sqrt abs clip sigmoid tanh relu
  leaky_relu softplus log_sigmoid matmul linear outer sum mean max min logsumexp
  softmax log_softmax reshape transpose getitem embedding concat stack where dropout
  layer_norm conv2d max_pool2d bce_with_logits.
* ``embedding(W, idx, sparse=False)`` is the gather (``xp.take``) with a fast
  scatter-add backward, no ``np.add.at``: :func:`scatter_add_dense` (one CSR product
  when the batch is large next to the table, else sort + unique rows) or, with
  ``sparse=True``, a :class:`RowGrad` from :func:`scatter_add_rows`. The CSR product
  uses scipy.sparse (cupyx.scipy.sparse on CuPy) when importable, else
  ``add.reduceat`` (benchmarks/results/autograd.md compares the ways).
* ``ops.linear(x, W, b)`` is one fused node for ``x @ W + b`` (what ``nn.Linear``
  uses); ``ops.bce_with_logits`` is fused and stable.
* ``gradcheck(f, *inputs)``: central differences in float64, raises with the worst
  element (or returns a :class:`GradcheckResult` with ``raise_on_fail=False``).

The core (tensor.py + ops.py) is meant to be read in one sitting; start with tensor.py.
"""

from . import ops
from .gradcheck import GradcheckResult, gradcheck
from .tensor import (
    RowGrad,
    Tensor,
    array_namespace,
    as_tensor,
    is_grad_enabled,
    no_grad,
    scatter_add_dense,
    scatter_add_rows,
)

__all__ = [
    "GradcheckResult",
    "RowGrad",
    "Tensor",
    "array_namespace",
    "as_tensor",
    "gradcheck",
    "is_grad_enabled",
    "no_grad",
    "ops",
    "scatter_add_dense",
    "scatter_add_rows",
]
