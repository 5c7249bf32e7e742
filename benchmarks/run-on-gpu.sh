#!/usr/bin/env bash
# The GPU checks and benchmarks, as run on a lent H200 machine (no network there): the CUDA tests
# (pytest -m gpu) and the encoder benchmark. Needs, in the repository root:
#   .whl/     wheels of mmgenre (pip wheel --no-deps .) and of what the machine lacks (pydantic, ...)
#   .device/posters/  a few hundred posters with labels.csv (the benchmark repeats them)
set -uo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH="$PWD:$PWD/plugins:/tmp/site" HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
export MMGENRE_TEST_POSTERS="$PWD/.device/posters" MMGENRE_LOG=WARNING
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 -m pytest -m gpu tests/test_gpu.py -q -p no:cacheprovider -o addopts="" --tb=short -W ignore 2>&1 | tail -30
python3 benchmarks/encoders.py --device cuda --posters 300 --repeat 40 --data .device/posters --workers 16
if [ -n "${OUT:-}" ]; then cp benchmarks/results/encoders-gpu-*.json "$OUT"/; fi
