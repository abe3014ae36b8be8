#!/usr/bin/env bash
# The whole GPU check on a machine with an NVIDIA GPU (CUDA 12), from the repo root:
#
#     bash benchmarks/run_gpu.sh            # MINIREC_DATA=/path/to/data for ML-1M
#
# 1. installs minirec with the gpu and bench extras (CuPy, numba-cuda, peers),
# 2. runs the CUDA kernels' simulator suite on the real device and the gpu-marked
#    tests (tests/gpu, tests/backends), failing loudly if a GPU test is skipped,
# 3. runs benchmarks/bench_gpu.py, which writes benchmarks/results/gpu.md,
#    and prints `nvidia-smi` and the load next to it.
# Nothing here falls back to the CPU: without a GPU steps 2 and 3 stop with an error.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python}
nvidia-smi || { echo "run_gpu.sh: nvidia-smi failed: no NVIDIA GPU/driver here" >&2; exit 2; }
unset NUMBA_ENABLE_CUDASIM

$PY -m pip install -e ".[gpu,bench,dev]"
$PY -c "from minirec.backends.device import require_cupy, gpu_available; \
require_cupy(); assert gpu_available(), 'numba.cuda sees no GPU'; print('GPU ok')"

# the gpu-marked tests must run, not skip: -rs lists skips, and we fail on any
$PY -m pytest -q -rs tests/gpu tests/backends/test_cuda_ops.py tests/backends/test_device.py \
    | tee /tmp/minirec_gpu_tests.txt
if grep -q "SKIPPED.*tests/gpu" /tmp/minirec_gpu_tests.txt; then
    echo "run_gpu.sh: some GPU tests were skipped on a GPU machine (see above)" >&2
    exit 1
fi

uptime
$PY benchmarks/bench_gpu.py "$@"
echo "done: commit benchmarks/results/gpu.md"
