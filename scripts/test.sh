#!/usr/bin/env bash
# Set up, then run the test suite (arguments go to pytest, e.g. -k recipes or -m "not slow").
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export HF_HUB_OFFLINE=1
exec .venv/bin/python -m pytest "$@"
