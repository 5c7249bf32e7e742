#!/usr/bin/env bash
# Set up everything mmgenre needs on a fresh Debian/Ubuntu machine: tesseract-ocr, a virtual
# environment in .venv, and the package with all its plugins. Safe to run again: it skips what is done.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v tesseract >/dev/null 2>&1; then
  echo "setup: installing tesseract-ocr (apt)" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr >/dev/null
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv" >&2
  "$PYTHON" -m venv .venv
fi

stamp=.venv/.mmgenre-installed
wanted=$( (cat pyproject.toml constraints.txt; pwd) | sha256sum | cut -d' ' -f1)  # reinstall when any changes
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "setup: installing mmgenre and its dependencies into .venv (a few minutes the first time)" >&2
  .venv/bin/python -m pip install -q --upgrade pip
  # constraints.txt pins every version (scripts/lock.sh writes it), so pip resolves at once instead of backtracking
  .venv/bin/python -m pip install -q -c constraints.txt -e '.[all,dev]'
  echo "$wanted" > "$stamp"
fi
