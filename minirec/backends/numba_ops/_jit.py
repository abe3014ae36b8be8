"""Numba options the twins share."""

#: cache=True: compiled once per machine, not per run; error_model="numpy": x / 0
#: gives inf/nan (caught by the models' divergence checks) instead of raising
#: ZeroDivisionError from inside a kernel; fastmath lets LLVM reorder float sums
#: (vectorised dot products), so results match the spec to float tolerance
JIT = {"cache": True, "nogil": True, "fastmath": True, "error_model": "numpy"}
