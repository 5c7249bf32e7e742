#!/usr/bin/env bash
# Pin every dependency (extras all and dev) into constraints.txt, which setup.sh installs against: with each
# version fixed, pip has nothing to search (without it, pip's resolver backtracks through transformers and
# open_clip releases for over 15 minutes). Run after changing dependencies in pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh >/dev/null
.venv/bin/python -m pip install -q uv
cap=(); [ -f /etc/xdg/pip/constraints.txt ] && cap=(-c /etc/xdg/pip/constraints.txt)  # this machine's torch cap
.venv/bin/uv pip compile --quiet --python-version 3.11 "${cap[@]}" --extra all --extra dev --no-header \
  --no-annotate pyproject.toml -o constraints.txt
sed -i '1i # Written by scripts/lock.sh: every dependency pinned; scripts/setup.sh installs with -c constraints.txt' constraints.txt
echo "constraints.txt: $(grep -c '==' constraints.txt) pins" >&2
