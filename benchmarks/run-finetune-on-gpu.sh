#!/usr/bin/env bash
# Full fine-tuning of EfficientNet-Lite2 against the frozen recipe (issue 23) in one run on a lent GPU machine: the
# pack that benchmarks/prepare-gpu-finetune.sh made here, then `benchmarks/gpu_finetune.py train` there (carry
# [".device-finetune"], timeout_s=600). Seeds 0, 1, 2: the frozen arm, then fine-tuned arms with OCR dropout 0.3 and
# 0, sharing --budget-s (300 s); arguments go to gpu_finetune.py train. About 6 minutes; the script is stopped at
# 540 s. Results go to $OUT (or benchmarks/results): finetune-gpu-<time>.json, rewritten after each arm so that a run
# cut short keeps what finished, and finetune-gpu.log, which ends with what could not be done.
set -uo pipefail

main() {
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    .device-finetune/wheels/*.whl || exit 1
export PYTHONPATH="$PWD:$PWD/plugins:/tmp/site:$PWD/.device-finetune/site:$PWD/.device-finetune/pack/stand-ins"
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 MMGENRE_LOG=WARNING CUBLAS_WORKSPACE_CONFIG=:4096:8
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 -c "import PIL.features, timm, torch, torchvision
print(f'torch {torch.__version__}, torchvision {torchvision.__version__}, timm {timm.__version__}, WebP', PIL.features.check('webp'))"
timeout 540 python3 benchmarks/gpu_finetune.py train --pack .device-finetune/pack --device cuda --out-dir "$OUTDIR" "$@"
local status=$?
echo "=== gpu_finetune.py: exit $status"
if [ "$status" != 0 ]; then
    echo "=== could not finish (124: out of time): the JSON in $OUTDIR holds the arms that did; its could_not is unset"
fi
}

OUTDIR=${OUT:-benchmarks/results}
mkdir -p "$OUTDIR"
main "$@" 2>&1 | tee "$OUTDIR/finetune-gpu.log"
