"""Issue 20, the server's resources: a slow client is cut off without holding up others, a port in use is one
`Error:` line, and SIGTERM ends the server cleanly with no child process left behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from conftest import MMGENRE, POSTERS, poster_rows
from test_reliability import assert_error, mmgenre
from test_serve import free_port

READ_TIMEOUT = 2.0


def descendants(pid: int) -> set[int]:
    """Every process below `pid` (from /proc: children of each thread, recursively)."""
    found, todo = set(), [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = list(Path(f"/proc/{parent}/task").iterdir())
        except OSError:  # it exited since its parent listed it
            continue
        for task in tasks:
            try:
                children = {int(c) for c in (task / "children").read_text().split()}
            except OSError:
                continue
            todo.extend(children - found)
            found |= children
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture(scope="module")
def server(tiny_run, tmp_path_factory):
    """`mmgenre serve` with a short read timeout and two OCR workers; yields (process, url, log)."""
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with open(log, "w") as handle:
        process = subprocess.Popen(
            [MMGENRE, "serve", str(tiny_run[0]), "--port", str(port), "--read-timeout", str(READ_TIMEOUT),
             "--ocr-workers", "2"],
            stdout=handle, stderr=subprocess.STDOUT, env={**os.environ, "MMGENRE_LOG": "WARNING"},
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.5)
    yield process, url, log
    if process.poll() is None:
        process.kill()


def test_a_client_that_sends_too_slowly_is_cut_off_and_others_are_answered(server):
    process, url, _ = server
    host, port = url.removeprefix("http://").split(":")
    head = (b"POST /v1/predict HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data; boundary=b\r\n"
            b"Content-Length: 100000\r\n\r\n--b\r\n")  # fmt: skip
    with socket.create_connection((host, int(port)), timeout=30) as slow:
        slow.sendall(head)  # and then nothing more
        started = time.monotonic()
        assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200  # meanwhile, others are answered
        answer = b""
        while data := slow.recv(65536):
            answer += data
        waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408") and b"request_timeout" in answer, answer[:300]
    assert READ_TIMEOUT - 0.5 < waited < READ_TIMEOUT + 10  # cut off at the timeout, connection closed


def test_a_port_in_use_is_one_error_line(tiny_run, server):
    _, url, _ = server
    port = url.rsplit(":", 1)[1]
    started = time.monotonic()
    result = mmgenre("serve", tiny_run[0], "--port", port, timeout=60)
    assert_error(result, f"port {port} on 127.0.0.1 is already in use")
    assert time.monotonic() - started < 30  # said before the model is loaded


def test_sigterm_stops_the_server_and_leaves_no_child_process(server):
    process, url, log = server
    files = {"files": ("p.jpg", (POSTERS / poster_rows(1)[0]["file"]).read_bytes())}
    assert httpx.post(f"{url}/v1/predict", files=files, timeout=120).status_code == 200
    children = descendants(process.pid)
    assert children  # the OCR worker processes
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0, log.read_text()
    assert time.monotonic() - started < 30
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in children if alive(pid)], log.read_text()
    assert "Traceback" not in log.read_text()
