"""Joining a Ray cluster without waiting forever: the address is probed (TCP connect, then the gRPC greeting)
within MMGENRE_CONNECT_TIMEOUT, and ray.init is given up after a join timeout; each failure names the address."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

from mmgenre.errors import MmgenreError

CONNECT_TIMEOUT = 10.0  # seconds to reach a cluster's port and get an answer (env MMGENRE_CONNECT_TIMEOUT)
JOIN_TIMEOUT = 60.0  # seconds for ray.init to join a cluster that answered
HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"  # + SETTINGS


def connect_timeout() -> float:
    """MMGENRE_CONNECT_TIMEOUT in seconds, else 10."""
    value = os.environ.get("MMGENRE_CONNECT_TIMEOUT", "").strip()
    try:
        seconds = float(value) if value else CONNECT_TIMEOUT
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < float("inf"):
        raise MmgenreError(f"MMGENRE_CONNECT_TIMEOUT must be a positive number of seconds, not '{value}'")
    return seconds


def cluster_endpoint(address: str) -> tuple[str, int]:
    """(host, port) of a Ray address: `host:port` (a head node's GCS), `ray://host[:port]` (Ray Client)."""
    client = address.startswith("ray://")
    rest = address[len("ray://") :].split("/", 1)[0] if client else address
    if rest.startswith("["):  # [IPv6]:port
        host, _, port = rest[1:].partition("]")
        port = port.removeprefix(":")
    else:
        host, _, port = rest.partition(":") if rest.count(":") == 1 else (rest, "", "")
    number = int(port) if port.isdigit() else (-1 if port else 10001 if client else 6379)
    if not host or not 0 < number < 65536:
        raise MmgenreError(f"bad Ray cluster address '{address}': expected HOST:PORT or ray://HOST:PORT")
    return host, number


def probe_cluster(address: str, timeout: float) -> None:
    """Connect to the cluster's port and wait for its gRPC (HTTP/2) greeting, both within `timeout` seconds,
    so that an unreachable or silent address fails at once instead of hanging ray.init."""
    host, port = cluster_endpoint(address)
    where = f"cannot reach the Ray cluster at {address}"
    started = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=timeout) as connection:
            if os.environ.get("RAY_USE_TLS", "0").lower() in ("1", "true"):
                return  # TLS first: Ray's greeting can't be read without it
            connection.settimeout(max(0.1, timeout - (time.monotonic() - started)))
            connection.sendall(HTTP2_PREFACE)
            greeting = connection.recv(9)
    except socket.gaierror:
        raise MmgenreError(f"{where}: unknown host '{host}'") from None
    except ConnectionRefusedError:
        raise MmgenreError(f"{where}: connection refused (after {time.monotonic() - started:.1f} s)") from None
    except TimeoutError:
        raise MmgenreError(
            f"{where}: no answer within {timeout:g} s (a Ray head node's port? MMGENRE_CONNECT_TIMEOUT sets the wait)"
        ) from None
    except OSError as error:
        reason = (error.strerror or str(error) or type(error).__name__).lower()
        raise MmgenreError(f"{where}: {reason} (after {time.monotonic() - started:.1f} s)") from None
    if len(greeting) < 4 or greeting[3] != 0x04:  # an HTTP/2 server answers with a SETTINGS frame
        raise MmgenreError(f"{where}: the server there does not speak Ray's protocol (gRPC)")


def join_cluster(address: str, timeout: float) -> None:
    """ray.init(address), given up after `timeout` seconds: ray.init itself waits for an unready cluster
    forever. It runs in a daemon thread (a given-up attempt is left behind, and ends with the process);
    Ray's note that a thread can't set its SIGTERM handler is dropped."""
    import ray

    outcome: list[BaseException | None] = []

    def init() -> None:
        try:
            ray.init(address=address)
            outcome.append(None)
        except BaseException as error:  # noqa: BLE001 (handed to the calling thread)
            outcome.append(error)

    worker_log = logging.getLogger("ray._private.worker")
    quiet = SigtermNoteFilter()
    worker_log.addFilter(quiet)
    try:
        thread = threading.Thread(target=init, name="mmgenre-ray-init", daemon=True)
        thread.start()
        thread.join(timeout)
    finally:
        worker_log.removeFilter(quiet)
    if not outcome:
        raise MmgenreError(f"cannot join the Ray cluster at {address}: ray.init did not finish within {timeout:g} s")
    error = outcome[0]
    if isinstance(error, (ConnectionError, ValueError)):
        raise MmgenreError(f"cannot reach the Ray cluster at {address}: {error}") from None
    if error is not None:
        raise error


class SigtermNoteFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "SIGTERM handler is not set" not in record.getMessage()
