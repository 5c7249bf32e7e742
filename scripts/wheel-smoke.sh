#!/usr/bin/env bash
# Build the wheel, install it into a fresh virtual environment and use it from an empty folder: the built-in
# recipes and plugins must come from the installed package, not from this checkout. The new environment
# borrows .venv's third-party packages (torch & co., a plain path entry: .venv's own mmgenre is not seen).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
.venv/bin/python -m pip wheel --no-deps --no-build-isolation -q -w "$work/dist" .
wheel=$(ls "$work"/dist/mmgenre-*.whl)
echo "wheel-smoke: $(basename "$wheel") ($(du -k "$wheel" | cut -f1) KB)" >&2
# W009: the built-in plugins are top-level packages beside mmgenre (mmgenre_rapidocr, ...), as third-party ones are
.venv/bin/check-wheel-contents --ignore W009 "$wheel" >&2
.venv/bin/python -m venv "$work/env"
site=$("$work/env/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' > "$site/borrowed-dependencies.pth"
"$work/env/bin/python" -m pip install --no-deps -q "$wheel"
posters=${MMGENRE_TEST_POSTERS:-$PWD/../shared/data/posters}
mkdir "$work/empty" && cd "$work/empty"
mmgenre="$work/env/bin/mmgenre"
"$work/env/bin/python" - <<'PY'
import mmgenre, sys
assert "site-packages" in mmgenre.__file__ and "/work/main/mmgenre" not in mmgenre.__file__, mmgenre.__file__
print("wheel-smoke: mmgenre imported from", mmgenre.__file__, file=sys.stderr)
PY
"$mmgenre" recipe list | grep -q '^paper-offline  *built-in' 
"$mmgenre" recipe show paper-offline --resolved > /dev/null
"$work/env/bin/python" - "$posters" <<'PY'  # a manifest of 40 posters, pointing into the poster folder
import csv, sys
rows = list(csv.DictReader(open(f"{sys.argv[1]}/labels.csv", newline="")))[:40]
with open("posters.csv", "w", newline="") as out:
    writer = csv.DictWriter(out, ["file", "genres"])
    writer.writeheader()
    writer.writerows({"file": f"{sys.argv[1]}/{r['file']}", "genres": r["genres"]} for r in rows)
PY
HF_HUB_OFFLINE=1 "$mmgenre" train paper-offline --data posters.csv --out run --cache-dir cache \
  --set train.max_epochs=1 --set image_encoder.params.variant=lite0 > /dev/null
HF_HUB_OFFLINE=1 "$mmgenre" predict run "$(sed -n 2p posters.csv | cut -d, -f1)" --cache-dir cache
models=$("$mmgenre" models)  # the bundled model, from the wheel (whole outputs: grep -q would cut a pipe)
grep -q '^offline-best  *offline-best  *13 ' <<<"$models"
tagged=$(HF_HUB_OFFLINE=1 "$mmgenre" predict "$(sed -n 3p posters.csv | cut -d, -f1)" --cache-dir cache 2>&1)
echo "$tagged" >&2
grep -q 'predicting with model offline-best' <<<"$tagged"
echo "wheel-smoke: ok" >&2
