"""Load test of `mmgenre serve`: N concurrent clients send a fixed number of one-poster requests.

    python benchmarks/serve_load.py --run runs/paper-offline --clients 8 --requests 1000 --batch-window-ms 10,0

Each batching window given (0: batching off) gets its own server process on the same run. Measures requests/s,
p50/p95 latency, errors (any answer but a 200 with one prediction; must be 0) and the server's resident memory
(the process, and with its OCR workers) at start, after a warm-up of 2 x clients requests, and at the end: it
should not grow over the measured requests. Without the run, the tiny test recipe is trained into a temporary
folder first (about 2 minutes). Writes benchmarks/results/serve-*.json and prints a table.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEFAULT_POSTERS, ROOT, print_table, write_result  # noqa: E402

from mmgenre import DEFAULT_GENRES  # noqa: E402

MMGENRE = str(Path(sys.executable).with_name("mmgenre"))
TINY = ROOT / "tests" / "recipes" / "tiny.yaml"


def poster_files(data: Path, count: int) -> list[Path]:
    """The first `count` posters listed in the folder's labels.csv."""
    with open(data / "labels.csv", encoding="utf-8-sig") as handle:
        files = [data / row["file"] for row in csv.DictReader(handle)]
    return [f for f in files if f.is_file()][:count]


def train_tiny(data: Path, folder: Path) -> Path:
    """The tiny test recipe trained on 72 posters of `data` (a stand-in when the main job's run is missing)."""
    subset = folder / "data"
    subset.mkdir()
    with open(data / "labels.csv", encoding="utf-8-sig") as source, open(subset / "labels.csv", "w") as target:
        rows = [row for row in csv.DictReader(source) if set(row["genres"].split("|")) & set(DEFAULT_GENRES)][:72]
        writer = csv.DictWriter(target, fieldnames=["file", "genres"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows({**row, "file": str(data / row["file"])} for row in rows)
    run = folder / "run"
    command = [MMGENRE, "train", str(TINY), "--data", str(subset), "--cache-dir", str(folder / "cache"),
               "--out", str(run)]  # fmt: skip
    print(f"training the tiny recipe into {run} (the run to serve is missing)", file=sys.stderr)
    subprocess.run(
        command,
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "MMGENRE_LOG": "WARNING"},
    )
    return run


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def descendants(pid: int) -> list[int]:
    """The process and every process under it (the OCR workers and their forkserver), from /proc."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(parents.get(current, []))
    return found


def memory(pid: int) -> dict[str, float]:
    tree = 0.0
    for member in descendants(pid):
        with contextlib.suppress(OSError):  # a process that ended meanwhile
            tree += rss_mb(member)
    return {"server_mb": round(rss_mb(pid), 1), "with_workers_mb": round(tree, 1)}


class Server:
    """`mmgenre serve RUN` on a free port, until stopped."""

    def __init__(self, run: Path, window_ms: float, device: str, log: Path) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        command = [MMGENRE, "serve", str(run), "--port", self.url.rsplit(":", 1)[1], "--device", device,
                   "--batch-window-ms", str(window_ms)]  # fmt: skip
        self.log = log
        with open(log, "w") as handle:
            self.process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT)
        self.started = time.perf_counter()
        self.wait_ready()

    def wait_ready(self, timeout: float = 600) -> None:
        while time.perf_counter() - self.started < timeout:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        raise SystemExit(f"the server never got ready:\n{self.log.read_text()}")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=120)


def fire(url: str, posters: list[Path], clients: int, requests: int) -> tuple[list[float], list[str]]:
    """`requests` one-poster requests from `clients` threads; returns each latency (s) and each error."""
    latencies: list[float] = []
    errors: list[str] = []
    counter = iter(range(requests))
    lock = threading.Lock()

    def client() -> None:
        with httpx.Client(timeout=300) as http:
            while True:
                with lock:
                    number = next(counter, None)
                if number is None:
                    return
                poster = posters[number % len(posters)]
                started = time.perf_counter()
                try:
                    response = http.post(f"{url}/v1/predict", files=[("files", (poster.name, poster.read_bytes()))])
                    ok = response.status_code == 200 and len(response.json()["predictions"]) == 1
                    problem = "" if ok else f"{poster.name}: {response.status_code} {response.text[:200]}"
                except httpx.HTTPError as error:
                    problem = f"{poster.name}: {type(error).__name__}: {error}"
                with lock:
                    latencies.append(time.perf_counter() - started)
                    if problem:
                        errors.append(problem)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors


def measure(run: Path, window_ms: float, posters: list[Path], args, folder: Path) -> dict:
    server = Server(run, window_ms, args.device, folder / f"serve-{window_ms:g}.log")
    try:
        pid = server.process.pid
        at_start = memory(pid)
        fire(server.url, posters[::-1], args.clients, 2 * args.clients)  # warm-up (not measured)
        warm = memory(pid)
        started, load_before = time.perf_counter(), os.getloadavg()[0]
        latencies, errors = fire(server.url, posters, args.clients, args.requests)
        seconds = time.perf_counter() - started
        at_end = memory(pid)
        counts = httpx.get(f"{server.url}/healthz").json()
    finally:
        server.stop()
    ordered = sorted(latencies)
    return {
        "batch_window_ms": window_ms,
        "requests": len(latencies),
        "seconds": round(seconds, 1),
        "requests_per_s": round(len(latencies) / seconds, 2),
        "p50_ms": round(1000 * statistics.median(ordered), 1),
        "p95_ms": round(1000 * ordered[int(0.95 * (len(ordered) - 1))], 1),
        "errors": len(errors),
        "error_examples": errors[:5],
        "posters_per_batch": round(counts["posters"] / max(counts["batches"], 1), 2),
        "memory_start": at_start,
        "memory_warm": warm,
        "memory_end": at_end,
        "load_average_1min": [round(load_before, 1), round(os.getloadavg()[0], 1)],  # others' work on the machine
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, default=ROOT / "runs" / "paper-offline")
    parser.add_argument("--data", type=Path, default=DEFAULT_POSTERS, help="posters to upload [env MMGENRE_DATA]")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--batch-window-ms", default="10,0", help="comma-separated windows to compare; 0: off")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mmgenre-serve-load-") as temporary:
        folder = Path(temporary)
        run = args.run if (args.run / "run.json").is_file() else train_tiny(args.data, folder)
        recipe_name = yaml.safe_load((run / "recipe.yaml").read_text())["name"]
        posters = poster_files(args.data, args.requests + 2 * args.clients)
        rows = [measure(run, float(w), posters, args, folder) for w in args.batch_window_ms.split(",")]
    path = write_result(
        "serve",
        {"run": str(args.run) if run == args.run else "a stand-in trained now (the run given was missing)",
         "recipe": recipe_name, "clients": args.clients, "requests": args.requests, "posters": str(args.data),
         "modes": rows},
    )  # fmt: skip
    print_table([table_row(row) for row in rows])
    print(f"written to {path}", file=sys.stderr)
    if any(row["errors"] for row in rows):
        raise SystemExit("some requests failed: " + "; ".join(e for row in rows for e in row["error_examples"]))


def table_row(row: dict) -> dict:
    mb = lambda stage: f"{row[f'memory_{stage}']['server_mb']:.0f}/{row[f'memory_{stage}']['with_workers_mb']:.0f}"
    return {
        "batching": f"{row['batch_window_ms']:g} ms" if row["batch_window_ms"] else "off",
        "requests/s": row["requests_per_s"],
        "p50 ms": row["p50_ms"],
        "p95 ms": row["p95_ms"],
        "errors": row["errors"],
        "posters/batch": row["posters_per_batch"],
        "RSS MB start/warm/end (server/+workers)": f"{mb('start')} {mb('warm')} {mb('end')}",
    }


if __name__ == "__main__":
    main()
