"""`mmgenre serve` for real: the command started on a free port, HTTP requests with httpx, real posters and a
trained run, and the web page driven in headless Chromium."""

from __future__ import annotations

import io
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from conftest import MMGENRE, POSTERS, poster_rows
from PIL import Image, ImageDraw, ImageFont

from mmgenre.data.skips import SkipLog
from mmgenre.predictor import Predictor

pytestmark = pytest.mark.slow
MAX_FILES = 4
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-quic"]  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def synthetic_poster(path: Path) -> Path:
    """A drawn poster (a title and a name on a gradient): safe to show in a committed screenshot."""
    image = Image.new("RGB", (300, 450))
    draw = ImageDraw.Draw(image)
    for y in range(450):
        draw.line([(0, y), (300, y)], fill=(20 + y // 6, 24 + y // 12, 60 + y // 4))
    draw.ellipse((70, 90, 230, 250), fill=(235, 180, 60))
    draw.text((150, 300), "THE LAST", font=ImageFont.load_default(size=34), fill="white", anchor="mm")
    draw.text((150, 345), "HORIZON", font=ImageFont.load_default(size=46), fill="white", anchor="mm")
    draw.text((150, 410), "JANE DOE  JOHN ROE", font=ImageFont.load_default(size=16), fill="white", anchor="mm")
    image.save(path)
    return path


@pytest.fixture(scope="module")
def posters() -> list[Path]:
    return [POSTERS / row["file"] for row in poster_rows(3, start=200)]


@pytest.fixture(scope="module")
def server(tiny_run, tmp_path_factory):
    """`mmgenre serve` in its own process, small limits so they can be hit cheaply; yields (process, log file)."""
    run, _ = tiny_run
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with open(log, "w") as handle:
        process = subprocess.Popen(
            [MMGENRE, "serve", str(run), "--port", str(port), "--max-upload-mb", "1", "--max-files", str(MAX_FILES),
             "--batch-window-ms", "30"],
            stdout=handle, stderr=subprocess.STDOUT, env={**os.environ, "MMGENRE_LOG": "WARNING"},
        )  # fmt: skip
    process.url = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
    yield process, log
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0, log.read_text()
    assert "Traceback" not in log.read_text(), log.read_text()


@pytest.fixture(scope="module")
def expected(tiny_run, posters, server) -> dict[str, dict]:
    """What Predictor.predict says about the posters (computed while the server warms up), by file name."""
    with Predictor.load(tiny_run[0]) as predictor:
        skips = SkipLog()
        results = predictor.predict(posters, skips)
    assert len(results) == len(posters), skips.summary(len(posters))
    return {Path(r.file).name: r.to_json() for r in results}


@pytest.fixture(scope="module")
def url(server, expected) -> str:
    process, log = server
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        assert process.poll() is None, f"mmgenre serve exited:\n{log.read_text()}"
        try:
            if httpx.get(f"{process.url}/healthz", timeout=2).status_code == 200:
                return process.url
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    pytest.fail(f"the server never answered /healthz:\n{log.read_text()}")


def post(url: str, files: list[tuple[str, bytes]]) -> httpx.Response:
    return httpx.post(f"{url}/v1/predict", files=[("files", (n, d)) for n, d in files], timeout=120)


def assert_same(prediction: dict, reference: dict) -> None:
    assert prediction["genres"] == reference["genres"]
    assert list(prediction["scores"]) == list(reference["scores"])  # same genres, same order (best first)
    for genre, score in reference["scores"].items():
        assert prediction["scores"][genre] == pytest.approx(score, abs=2e-4)
    assert prediction["ocr_text"] == reference["ocr_text"]


def test_predictions_match_the_predictor(url, posters, expected):
    response = post(url, [(p.name, p.read_bytes()) for p in posters])
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["errors"] == []
    assert [p["file"] for p in answer["predictions"]] == [p.name for p in posters]
    assert [p["index"] for p in answer["predictions"]] == [0, 1, 2]
    for prediction in answer["predictions"]:
        assert_same(prediction, expected[prediction["file"]])
        assert set(prediction["seconds"]) == {"features", "head"}
    assert set(answer["seconds"]) == {"upload", "queued", "batch", "total"}
    single = post(url, [(posters[1].name, posters[1].read_bytes())]).json()["predictions"]
    assert_same(single[0], expected[posters[1].name])


def test_model_health_and_openapi(url, tiny_run):
    run, _ = tiny_run
    model = httpx.get(f"{url}/v1/model").json()
    saved = json.loads((run / "run.json").read_text())
    assert model["labels"] == saved["labels"]
    assert list(model["thresholds"]) == saved["labels"] and all(0 < t < 1 for t in model["thresholds"].values())
    assert model["recipe"]["name"] == "tiny"
    assert model["recipe"]["ocr"]["name"] == "rapidocr"
    assert model["limits"]["max_files"] == MAX_FILES and model["limits"]["max_upload_bytes"] == 2**20
    assert model["device"] == "cpu"
    health = httpx.get(f"{url}/healthz").json()
    assert health["status"] == "ok" and health["requests"] >= 0
    schema = httpx.get(f"{url}/openapi.json").json()
    body = schema["paths"]["/v1/predict"]["post"]["requestBody"]["content"]
    assert body["multipart/form-data"]["schema"]["properties"]["files"]["type"] == "array"
    docs = httpx.get(f"{url}/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def png_bytes(image: Image.Image) -> bytes:
    data = io.BytesIO()
    image.save(data, format="PNG")
    return data.getvalue()


def bad_upload(kind: str, poster: Path) -> tuple[str, bytes]:
    if kind == "not an image":
        return "notes.jpg", b"this is not a poster\n" * 20
    if kind == "corrupt or truncated image":
        data = poster.read_bytes()
        return "truncated.jpg", data[: len(data) // 3]
    if kind == "file too large":
        return "huge.jpg", poster.read_bytes() + os.urandom(2**20)
    if kind == "image too large":  # a decompression bomb: a few KB of PNG, 144 million pixels
        return "bomb.png", png_bytes(Image.new("1", (12000, 12000)))
    assert kind == "empty file"
    return "empty.jpg", b""


BAD_KINDS = {"not an image": 422, "corrupt or truncated image": 422, "file too large": 413, "image too large": 422,
             "empty file": 422}  # fmt: skip


@pytest.mark.parametrize("kind", list(BAD_KINDS))
def test_a_bad_upload_gets_a_4xx_naming_the_file(url, posters, kind):
    name, data = bad_upload(kind, posters[0])
    response = post(url, [(name, data)])
    assert response.status_code == BAD_KINDS[kind], response.text
    answer = response.json()
    assert answer["code"] == "no_usable_poster" and name in answer["error"]
    assert [(e["index"], e["file"], e["category"]) for e in answer["errors"]] == [(0, name, kind)]


def test_good_and_bad_files_together_get_200_with_errors(url, posters, expected):
    good = posters[2]
    files = [bad_upload("not an image", good), (good.name, good.read_bytes()), bad_upload("file too large", good)]
    response = post(url, files)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert [(p["index"], p["file"]) for p in answer["predictions"]] == [(1, good.name)]
    assert_same(answer["predictions"][0], expected[good.name])
    assert [(e["index"], e["file"], e["category"]) for e in answer["errors"]] == [
        (0, "notes.jpg", "not an image"),
        (2, "huge.jpg", "file too large"),
    ]


def test_requests_breaking_a_limit_are_refused(url, posters):
    data = posters[0].read_bytes()
    many = post(url, [(f"poster{i}.jpg", data) for i in range(1, MAX_FILES + 2)])
    assert many.status_code == 413
    assert many.json()["code"] == "too_many_files"
    assert [e["file"] for e in many.json()["errors"]] == [f"poster{MAX_FILES + 1}.jpg"]
    none = httpx.post(f"{url}/v1/predict", data={"title": "no file here"}, files=[("other", ("", b""))])
    assert none.status_code == 400 and none.json()["code"] == "no_files"
    empty_form = httpx.post(f"{url}/v1/predict", data={"title": "no file here"})
    assert empty_form.status_code == 415 and empty_form.json()["code"] == "not_multipart"
    not_multipart = httpx.post(f"{url}/v1/predict", json={"files": ["a.jpg"]})
    assert not_multipart.status_code == 415 and "multipart/form-data" in not_multipart.json()["error"]


def raw_request(url: str, head: bytes, body_chunks) -> tuple[bytes, int]:
    """Send a request by hand, stopping as soon as the server answers; returns the answer and the bytes sent."""
    host, port = url.removeprefix("http://").split(":")
    sent = 0
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        sock.sendall(head)
        for chunk in body_chunks:
            if select.select([sock], [], [], 0)[0]:
                break
            try:
                sock.sendall(chunk)
            except OSError:  # the server closed the connection after answering
                break
            sent += len(chunk)
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) < body_length(answer):
            data = sock.recv(65536)
            if not data:
                break
            answer += data
        return answer, sent


def body_length(answer: bytes) -> int:
    for line in answer.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return 0


def test_an_endless_upload_is_refused_while_it_streams(url):
    """A chunked body without a length: refused once it passes the request limit, not read to its end."""
    head = (b"POST /v1/predict HTTP/1.1\r\nHost: test\r\nContent-Type: multipart/form-data; boundary=b\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")  # fmt: skip
    part = b'--b\r\nContent-Disposition: form-data; name="files"; filename="endless.jpg"\r\n\r\n'
    zeros = b"\0" * 2**16
    chunks = (b"%x\r\n%s\r\n" % (len(c), c) for c in [part] + [zeros] * (2**30 // len(zeros)))  # 1 GB
    answer, sent = raw_request(url, head, chunks)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b'"code":"request_too_large"' in answer.replace(b" ", b"")
    assert sent < 64 * 2**20  # the limit is about 5 MB here (4 files of 1 MB)
    declared = head.replace(b"Transfer-Encoding: chunked", b"Content-Length: 10000000000")
    answer, sent = raw_request(url, declared, [part])
    assert answer.startswith(b"HTTP/1.1 413") and b"request_too_large" in answer


def test_concurrent_requests_are_batched_and_answered_correctly(url, posters, expected):
    barrier, answers = threading.Barrier(8), {}

    def client(number: int) -> None:
        poster = posters[number % len(posters)]
        barrier.wait()
        answers[number] = (poster.name, post(url, [(poster.name, poster.read_bytes())]))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert sorted(answers) == list(range(8))
    for name, response in answers.values():
        assert response.status_code == 200, response.text
        assert_same(response.json()["predictions"][0], expected[name])
    assert max(r.json()["batch"]["requests"] for _, r in answers.values()) > 1  # batched together


def test_the_page_shows_genre_bars_in_headless_chromium(url, posters, expected, tmp_path):
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    drawn = synthetic_poster(tmp_path / "the-last-horizon.png")
    api = post(url, [(drawn.name, drawn.read_bytes())]).json()["predictions"][0]
    real, notes = posters[0], tmp_path / "notes.txt"
    notes.write_text("not a poster\n")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 640})
        page.goto(url)
        page.wait_for_function("document.querySelector('#model').textContent.startsWith('tiny')")
        page.set_input_files("#files", str(drawn))
        shown = shown_prediction(page, drawn.name)
        assert sorted(shown["genres"]) == sorted(api["genres"]) and shown["listed"] == ", ".join(api["genres"])
        assert shown["ocr"] == api["ocr_text"]
        assert shown["bars"] == len(api["scores"])
        if os.environ.get("MMGENRE_SCREENSHOT"):
            page.screenshot(path=os.environ["MMGENRE_SCREENSHOT"])
        page.set_input_files("#files", [str(real), str(notes)])
        assert shown_prediction(page, real.name)["listed"] == ", ".join(expected[real.name]["genres"])
        failed = page.wait_for_selector('.card.failed[data-file="notes.txt"] .status')
        assert "not an image" in failed.text_content()
        browser.close()


def shown_prediction(page, name: str) -> dict:
    """The genres highlighted on a poster's card (once its bars are there), the genres listed above the bars, its
    OCR text and its number of bars."""
    card = f'.card.done[data-file="{name}"]'
    page.wait_for_selector(f"{card} .bar", timeout=60_000)
    return {
        "genres": page.eval_on_selector_all(f"{card} .bar.chosen .genre", "nodes => nodes.map(n => n.textContent)"),
        "listed": page.text_content(f"{card} .genres"),
        "ocr": page.text_content(f"{card} .ocr pre"),
        "bars": len(page.query_selector_all(f"{card} .bar")),
    }


def test_serve_without_the_extra_says_what_to_install(tiny_run):
    code = "import sys; sys.modules['fastapi'] = None; from mmgenre.cli.main import cli; cli()"
    result = subprocess.run(
        [sys.executable, "-c", code, "serve", str(tiny_run[0])], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "Error: `mmgenre serve` needs the serve extra (fastapi missing): pip install 'mmgenre[serve]'" in (
        result.stderr
    )
