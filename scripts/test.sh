#!/usr/bin/env bash
# Set up, then run the test suite (arguments go to pytest, e.g. -k recipes or -m "not slow").
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
if ! command -v chromium >/dev/null 2>&1; then  # the report test renders the HTML page headless
  echo "test: installing chromium (apt)" >&2
  as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
export HF_HUB_OFFLINE=1 PATH="$PWD/.venv/bin:$PATH"
# the import contracts first (.importlinter, docs/api.md): mmgenre's layers, plugins on mmgenre.api only, no cycles
if ! contracts=$(.venv/bin/lint-imports --no-logo --no-cache .importlinter 2>&1); then
  echo "$contracts" >&2
  echo "test: the import contracts are broken (lint-imports, above)" >&2
  exit 1
fi
echo "test: import $(grep -o 'Contracts: .*' <<<"$contracts")" >&2
exec .venv/bin/python -m pytest "$@"
