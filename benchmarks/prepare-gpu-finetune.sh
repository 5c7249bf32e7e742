#!/usr/bin/env bash
# Prepares benchmarks/run-finetune-on-gpu.sh (full fine-tuning of EfficientNet-Lite2, issue 23) for a lent GPU machine
# (Python 3.12 with torch, torchvision, timm, scikit-learn, pillow; no pydantic, no network; at most 64 MiB travel with
# the working tree). Builds .device-finetune/ (git-ignored) in the repository root:
#   wheels/  pydantic and its needs, fetched as benchmarks/prepare-gpu-run.sh fetches its wheels
#   site/    mmgenre's dist-info from its wheel: the entry points that register the built-in plugins (the code is the
#            checkout's own, on PYTHONPATH there; the whole wheel would repeat 2 MB of it)
#   pack/    `benchmarks/gpu_finetune.py pack`: offline-best's split, every validation and test poster, as many
#            training posters as fit what is left of 62 MiB, the text vectors and the EfficientNet-Lite2 stand-in
# The OCR text vectors come from the feature cache: fill it first (mmgenre features offline-best --data DIR), or
# this computes what is missing. Usage: bash benchmarks/prepare-gpu-finetune.sh [POSTERS_DIR]   (then, with the
# device tool:  run  command="bash benchmarks/run-finetune-on-gpu.sh"  carry=[".device-finetune"]  timeout_s=600)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
POSTERS=${1:-../shared/data/posters}
DIR=.device-finetune
LIMIT=$((62 * 1048576))  # of the 64 MiB that travel: 2 MiB spare for files others add to the tree meanwhile
if [ -e "$DIR" ] && [ ! -f "$DIR/.made-by-prepare-gpu-finetune" ]; then
    echo "$DIR exists and was not made by this script: move it away first" >&2
    exit 1
fi
rm -rf "$DIR"
mkdir -p "$DIR/wheels" "$DIR/site"
touch "$DIR/.made-by-prepare-gpu-finetune"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

"$PY" -m pip wheel -q --no-deps --no-build-isolation -w "$scratch" .
"$PY" -m zipfile -e "$scratch"/mmgenre-*.whl "$scratch/unpacked"
cp -r "$scratch"/unpacked/mmgenre-*.dist-info "$DIR/site/"
wanted=()
for name in pydantic pydantic-core annotated-types typing-inspection typing-extensions; do
    wanted+=("$name==$("$PY" -c "import importlib.metadata as m; print(m.version('$name'))")")
done
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d "$DIR/wheels" "${wanted[@]}" 2>&1 | grep -v "is ignored" || true

tree=$(git ls-files -z --cached --others --exclude-standard | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
taken=$(du -sb "$DIR" | cut -f1)
"$PY" benchmarks/gpu_finetune.py pack --data "$POSTERS" --out "$DIR" --max-bytes $((LIMIT - tree - taken))

du -sh "$DIR"/*
total=$(( $(du -sb "$DIR" | cut -f1) + tree ))
echo "to carry: $((total / 1048576)) MiB of 64 (the pack, wheels and metadata, and the tree that travels with them)"
if ((total > LIMIT)); then echo "too large for one run" >&2; exit 1; fi
