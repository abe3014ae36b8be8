"""LLVM-level hints for the tuned kernels of ``numba_fast`` (the only module that
uses them; they change no value anywhere).

* :func:`wide_vectors`, called first in a kernel, lets LLVM vectorise that
  kernel's loops with 512-bit registers on CPUs with AVX-512. LLVM's tuning for
  those CPUs prefers 256-bit vectors (``prefer-256-bit``: on the first AVX-512
  parts the 512-bit units lowered the clock), and Numba compiles for the host, so
  a kernel otherwise gets ymm code. The intrinsic sets the function attributes
  ``"prefer-vector-width"="512"`` and ``"min-legal-vector-width"="512"`` on the
  LLVM function it is called in (what clang's ``-mprefer-vector-width=512`` does
  for a file), and nothing else in the process changes. On a CPU without
  AVX-512 the attributes change nothing (its widest registers are used).
* :data:`SPECIALIZED_K`: the factor counts for which the SGD kernels compile a
  copy of their loop with k as a constant (``if k == 64: body(..., 64)`` with the
  body inlined at Numba IR level). With the trip count known, LLVM drops the
  remainder loop and most of the runtime checks in front of each vectorised loop
  over k, which for a 64- or 128-float row are about as long as the loop itself.
  Other k use the same body with k read from the array.

The two together are what pays (each alone gains little); results change only in
float32 summation order. The price is compile time, paid once per machine
(``cache=True``). The figures are the rows of benchmarks/bench_kernels.py and
bench_fm_knn.py (benchmarks/results/kernels.md, fm_knn.md).

``prefetch_row`` is the software prefetch of one row of a 2-D array.
"""

from __future__ import annotations

import numba
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

__all__ = ["SPECIALIZED_K", "wide_vectors", "prefetch_row"]

# The kernels spell these out as `if k == 32:` ... (the body needs a literal);
# tests/backends/test_codegen.py checks that they match this tuple.
SPECIALIZED_K = (32, 64, 128)

_WIDE_ATTRIBUTES = ('"prefer-vector-width"="512"', '"min-legal-vector-width"="512"')

if numba.config.DISABLE_JIT:

    def wide_vectors():
        """No-op without the JIT (a code-generation hint changes no value)."""

    def prefetch_row(A, r):
        """No-op without the JIT (a prefetch changes no value)."""

else:

    @intrinsic
    def wide_vectors(typingctx):
        """Let LLVM use 512-bit vectors in the function this is called in."""

        def codegen(context, builder, sig, args):
            attributes = builder.function.attributes
            for attr in _WIDE_ATTRIBUTES:
                # llvmlite's add() accepts only the attribute keywords it knows;
                # string attributes ("key"="value") are written out as given.
                # A hint only: if a future llvmlite stores attributes otherwise,
                # the kernel compiles without it
                try:
                    set.add(attributes, attr)
                except TypeError:
                    pass
            return context.get_dummy_value()

        return types.void(), codegen

    @intrinsic
    def prefetch_row(typingctx, A, r):
        """Software prefetch (``llvm.prefetch``: read, keep in all cache levels)
        of the 64-byte lines of row ``A[r]`` of a 2-D array (its first element
        and the row's length in bytes after it: the whole row when C-contiguous).
        A hint only: no value changes, and no address faults."""

        def codegen(context, builder, sig, args):
            aty, rty = sig.args
            ary = context.make_array(aty)(context, builder, args[0])
            row = context.cast(builder, args[1], rty, types.intp)
            zero = context.get_constant(types.intp, 0)
            ptr = cgutils.get_item_pointer(
                context, builder, aty, ary, [row, zero], wraparound=False
            )
            i8p = ir.IntType(8).as_pointer()
            i32 = ir.IntType(32)
            fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
            fn = cgutils.get_or_insert_function(
                builder.module, fnty, "llvm.prefetch.p0i8"
            )
            base = builder.bitcast(ptr, i8p)
            ncols = cgutils.unpack_tuple(builder, ary.shape, 2)[1]
            size = context.get_abi_sizeof(context.get_data_type(aty.dtype))
            nbytes = builder.mul(ncols, context.get_constant(types.intp, size))
            line = context.get_constant(types.intp, 64)
            with cgutils.for_range_slice(builder, zero, nbytes, line) as (off, _):
                builder.call(fn, [builder.gep(base, [off]), i32(0), i32(3), i32(1)])
            return context.get_dummy_value()

        if not (isinstance(A, types.Array) and A.ndim == 2) or not isinstance(
            r, types.Integer
        ):
            return None
        return types.void(A, r), codegen
