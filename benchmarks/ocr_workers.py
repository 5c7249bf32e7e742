"""Posters per second with an empty feature cache for every command that computes features: `features`,
`eval --data`, `predict --data` and `serve` (batches of uploads), each in a new process with the bundled model.

    .venv/bin/python benchmarks/ocr_workers.py --posters 120

All of them read posters through the same OCR worker pool (one process per core), so their rates should be close.
"""

from __future__ import annotations

import argparse
import csv
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import DEFAULT_POSTERS, print_table, write_result

MMGENRE = str(Path(sys.executable).with_name("mmgenre"))


def dataset(folder: Path, source: Path, count: int) -> Path:
    """A labels.csv of the first `count` posters of `source`, by absolute path."""
    with open(source / "labels.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))[:count]
    folder.mkdir(parents=True)
    with open(folder / "labels.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["file", "genres"])
        writer.writeheader()
        for row in rows:
            writer.writerow({"file": str((source / row["file"]).resolve()), "genres": row["genres"]})
    return folder


def timed(command: list[str], env: dict) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def serve_seconds(model: str, files: list[Path], env: dict, batch: int = 32) -> float:
    """Start `mmgenre serve`, then time POSTing every poster in batches (the start-up is not counted)."""
    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([MMGENRE, "serve", model, "--port", str(port)], env=env, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        started = time.perf_counter()
        for start in range(0, len(files), batch):
            uploads = [("files", (f.name, f.read_bytes(), "image/jpeg")) for f in files[start : start + batch]]
            httpx.post(f"{url}/v1/predict", files=uploads, timeout=600).raise_for_status()
        return time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posters", type=int, default=120)
    parser.add_argument("--data", type=Path, default=DEFAULT_POSTERS)
    parser.add_argument("--model", default="offline-best")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        data = dataset(root / "data", args.data, args.posters)
        with open(data / "labels.csv", encoding="utf-8") as handle:
            files = [Path(row["file"]) for row in csv.DictReader(handle)]
        (root / "list.txt").write_text("".join(f"{f}\n" for f in files))
        commands = {
            "features": ["features", "offline-best", "--data", data],
            "eval --data": ["eval", args.model, "--data", data, "--split", "all"],
            "predict --data": ["predict", args.model, "--data", root / "list.txt", "--out", root / "out.csv"],
        }
        for name, command in [*commands.items(), ("serve", None)]:
            env = {**os.environ, "HF_HUB_OFFLINE": "1", "MMGENRE_CACHE": str(root / f"cache-{len(rows)}")}
            if command is None:
                seconds = serve_seconds(args.model, files, {**env, "MMGENRE_CACHE": str(root / "unused")})
            else:
                seconds = timed([MMGENRE, *map(str, command)], env)
            rows.append({"command": name, "posters": len(files), "seconds": round(seconds, 1),
                         "posters_per_second": round(len(files) / seconds, 2)})  # fmt: skip
            print(rows[-1], file=sys.stderr)
    print_table(rows)
    print(write_result("ocr-workers", {"model": args.model, "cores": os.cpu_count(), "rows": rows}))


if __name__ == "__main__":
    main()
