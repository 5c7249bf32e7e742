"""Network safety, on real sockets on 127.0.0.1: a recipe can't send the Gemini key elsewhere, and every connect
(Ray cluster, Gemini API) gives up within its timeout with an error naming what it tried, never the key."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import MMGENRE, POSTERS, REGISTRY, TEST_RECIPES, poster_rows, run_cli, write_dataset
from gemini_server import FakeGemini
from PIL import Image

KEY = "network-test-key-5f1c9a-secret"
TINY = TEST_RECIPES / "tiny.yaml"
HANG_GUARD = 60  # seconds a CLI subprocess may take before the test fails as a hang


class SilentServer:
    """Accepts TCP connections on 127.0.0.1 and records what arrives, answering nothing (or only `greeting`)."""

    def __init__(self, greeting: bytes = b"") -> None:
        self.greeting = greeting
        self.connections = 0
        self.received = bytearray()
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:  # closed
                return
            with self._lock:
                self.connections += 1
                self._open.append(connection)
            if self.greeting:
                connection.sendall(self.greeting)
            threading.Thread(target=self._read, args=(connection,), daemon=True).start()

    def _read(self, connection: socket.socket) -> None:
        try:
            while chunk := connection.recv(65536):
                with self._lock:
                    self.received += chunk
        except OSError:
            pass

    def close(self) -> None:
        self.socket.close()
        for connection in self._open:
            connection.close()


@pytest.fixture
def silent():
    server = SilentServer()
    yield server
    server.close()


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("Error:")]


def assert_one_error(returncode: int, output: str, *fragments: str) -> str:
    """Exit 1, exactly one `Error:` line holding every fragment, and no traceback; returns the line."""
    lines = error_lines(output)
    assert returncode == 1 and len(lines) == 1, output
    assert "Traceback" not in output, output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("network-data"), poster_rows(2))


# --- Ray: a bounded connect -------------------------------------------------------------------------------


def ray_features(data: Path, cache: Path, address: str, timeout: float | str | None = None):
    """`mmgenre features tiny --executor ray --ray-address ADDRESS` as a subprocess (a hang fails the test)."""
    pytest.importorskip("ray")
    env = {**os.environ, "MMGENRE_LOG": "WARNING"}
    if timeout is not None:
        env["MMGENRE_CONNECT_TIMEOUT"] = str(timeout)
    args = ["features", TINY, "--data", data, "--cache-dir", cache, "--executor", "ray", "--ray-address", address]
    done = subprocess.run(
        [MMGENRE, *map(str, args)], capture_output=True, text=True, env=env, timeout=HANG_GUARD, check=False
    )
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize("scheme", ["", "ray://"])
def test_a_refused_ray_address_is_one_error_line(data, tmp_path, scheme):
    address = f"{scheme}127.0.0.1:{closed_port()}"
    code, output = ray_features(data, tmp_path / "cache", address)
    assert_one_error(code, output, f"cannot reach the Ray cluster at {address}: connection refused (after ")


def test_a_silent_ray_address_gives_up_after_the_connect_timeout(data, tmp_path, silent):
    address = f"127.0.0.1:{silent.port}"
    code, output = ray_features(data, tmp_path / "cache", address, timeout=2)
    assert_one_error(code, output, f"cannot reach the Ray cluster at {address}: no answer within 2 s")
    assert silent.connections == 1  # it connected, then waited for the greeting, then gave up
    assert silent.received.startswith(b"PRI * HTTP/2.0")


def test_a_cluster_that_greets_but_never_answers_is_given_up_by_the_join_timeout():
    """Past the probe (the server greets like gRPC), ray.init itself would wait forever: it is bounded too."""
    pytest.importorskip("ray")
    server = SilentServer(greeting=b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")  # an HTTP/2 SETTINGS frame
    script = (
        "import sys\n"
        "from mmgenre.errors import MmgenreError\n"
        "from mmgenre.features.plan import Settings\n"
        "from mmgenre.features.ray_executor import RayExecutor\n"
        "try:\n"
        "    RayExecutor(Settings(), sys.argv[1], join_timeout=3).connect()\n"
        "except MmgenreError as error:\n"
        "    print('Error:', error)\n"
        "    sys.exit(1)\n"
    )
    address = f"127.0.0.1:{server.port}"
    try:
        done = subprocess.run(
            [sys.executable, "-c", script, address], capture_output=True, text=True, timeout=HANG_GUARD, check=False
        )
    finally:
        server.close()
    assert_one_error(
        done.returncode, done.stdout + done.stderr, f"cannot join the Ray cluster at {address}", "within 3 s"
    )


def test_an_address_that_is_not_ray_is_named(data, tmp_path):
    web = FakeGemini()  # an HTTP/1 server: it answers, but not in gRPC
    try:
        address = web.url.removeprefix("http://")
        code, output = ray_features(data, tmp_path / "cache", address)
    finally:
        web.close()
    assert_one_error(code, output, f"at {address}: the server there does not speak Ray's protocol")
    assert web.connections == 1


@pytest.mark.parametrize("value", ["soon", "0"])
def test_a_bad_connect_timeout_is_an_error(data, tmp_path, value):
    code, output = ray_features(data, tmp_path / "cache", f"127.0.0.1:{closed_port()}", timeout=value)
    assert_one_error(code, output, "MMGENRE_CONNECT_TIMEOUT must be a positive number", f"'{value}'")


# --- Gemini: the endpoint comes from the environment only -------------------------------------------------


@pytest.fixture
def gemini_key(monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.delenv("GEMINI_BASE_URL", raising=False)


@pytest.fixture
def recorder(gemini_key):
    """An HTTP server that answers like Gemini and records every request and TCP connection."""
    server = FakeGemini()
    yield server
    server.close()


def gemini_recipe(tmp_path: Path, params: dict) -> Path:
    lines = [f"extends: {TINY}", "name: shared", "ocr:", "  name: gemini", "  params:"]
    lines += [f"    {name}: {value!r}" for name, value in params.items()]
    path = tmp_path / "shared.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("param", ["base_url", "endpoint", "api_key", "proxy"])
@pytest.mark.parametrize("command", ["recipe-show", "features"])
def test_a_recipe_that_names_an_endpoint_or_key_is_refused_before_any_request(recorder, data, tmp_path, param, command):
    value = KEY if param == "api_key" else recorder.url
    recipe = gemini_recipe(tmp_path, {"timeout": 2, param: value})
    if command == "features":
        result = run_cli("features", recipe, "--data", data, "--cache-dir", tmp_path / "cache")
    else:
        result = run_cli("recipe", "show", recipe, "--resolved")
    line = assert_one_error(result.exit_code, result.output, f"'{param}'", "GEMINI_BASE_URL", str(recipe))
    assert "ocr.params" in line and "environment" in line
    assert recorder.connections == 0 and recorder.requests == [] and KEY not in result.output
    # the control: named by the environment, the same server gets the request, with the key
    os.environ["GEMINI_BASE_URL"] = recorder.url
    try:
        poster = Image.open(POSTERS / poster_rows(1)[0]["file"]).convert("RGB")
        assert REGISTRY.create("ocr", "gemini", {"timeout": 2}).read(poster).text == "DEFAULT TEXT"
    finally:
        del os.environ["GEMINI_BASE_URL"]
    assert [r["headers"].get("x-goog-api-key") for r in recorder.requests] == [KEY]


def test_a_set_override_cannot_name_an_endpoint_either(recorder, data, tmp_path):
    result = run_cli("features", TINY, "--data", data, "--cache-dir", tmp_path, "--set", "ocr.name=gemini",
                     "--set", f"ocr.params.base_url={recorder.url}")  # fmt: skip
    assert_one_error(result.exit_code, result.output, "'base_url'", "GEMINI_BASE_URL")
    assert recorder.connections == 0


def test_without_gemini_base_url_the_endpoint_is_googles(gemini_key):
    from mmgenre_gemini.engine import DEFAULT_ENDPOINT

    engine = REGISTRY.create("ocr", "gemini")
    engine.setup()
    assert DEFAULT_ENDPOINT == "https://generativelanguage.googleapis.com"
    assert engine._host == "generativelanguage.googleapis.com"  # noqa: SLF001 (what its errors name)


# --- Gemini: bounded requests whose errors name the host, never the key ------------------------------------


@pytest.fixture(scope="module")
def poster():
    return Image.open(POSTERS / poster_rows(1)[0]["file"]).convert("RGB")


def read_with(url: str, poster, caplog, **params) -> str:
    """The error of one OCR request to `url` (the API key set), with every log line at DEBUG captured."""
    os.environ["GEMINI_BASE_URL"] = url
    engine = REGISTRY.create("ocr", "gemini", {"timeout": 1, "max_retries": 1, "backoff": 0.01, **params})
    try:
        with caplog.at_level(logging.DEBUG), pytest.raises(RuntimeError) as error:
            engine.read(poster)
    finally:
        del os.environ["GEMINI_BASE_URL"]
    message = str(error.value)
    assert KEY not in message and KEY not in caplog.text
    return message


def test_a_gemini_server_that_never_answers_times_out_naming_the_host(gemini_key, silent, poster, caplog):
    message = read_with(silent.url, poster, caplog)
    assert message == (
        f"Gemini request to 127.0.0.1:{silent.port} failed after 2 attempts: no answer within 1 s (ocr.params.timeout)"
    )
    assert silent.connections == 2 and KEY.encode() in silent.received  # the requests went out, then waited


def test_a_gemini_server_that_never_accepts_times_out_connecting(gemini_key, poster, caplog):
    full = socket.create_server(("127.0.0.1", 0), backlog=0)  # never accepts: once its queue is full, SYNs wait
    port = full.getsockname()[1]
    fillers = [socket.socket() for _ in range(3)]
    for filler in fillers:
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
    try:
        message = read_with(f"http://127.0.0.1:{port}", poster, caplog)
    finally:
        for filler in fillers:
            filler.close()
        full.close()
    assert message.startswith(f"Gemini request to 127.0.0.1:{port} failed after 2 attempts: no connection within 1 s")


def test_a_refused_gemini_endpoint_names_the_host(gemini_key, poster, caplog):
    port = closed_port()
    message = read_with(f"http://proxy-user:proxy-pass-77@127.0.0.1:{port}", poster, caplog)
    assert message.startswith(f"Gemini request to 127.0.0.1:{port} failed after 2 attempts: cannot connect (")
    assert "refused" in message.lower() and "proxy-pass-77" not in message


def test_a_run_against_a_silent_gemini_never_prints_the_key(gemini_key, silent, data, tmp_path, monkeypatch):
    monkeypatch.setenv("GEMINI_BASE_URL", silent.url)
    monkeypatch.setenv("MMGENRE_LOG", "DEBUG")
    result = run_cli("features", TINY, "--data", data, "--cache-dir", tmp_path, "--set", "ocr.name=gemini",
                     "--set", "ocr.params.timeout=1", "--set", "ocr.params.max_retries=0")  # fmt: skip
    assert_one_error(result.exit_code, result.output, "no poster")
    assert f"Gemini request to 127.0.0.1:{silent.port}" in result.output and "no answer within 1 s" in result.output
    assert KEY not in result.output and KEY.encode() in silent.received
