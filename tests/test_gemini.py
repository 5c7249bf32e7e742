"""The Gemini OCR engine, through the real google-genai SDK, against a local server speaking the API."""

from __future__ import annotations

import logging
import sqlite3

import pytest
from conftest import POSTERS, REGISTRY, poster_rows
from gemini_server import FakeGemini
from PIL import Image

from mmgenre.data.skips import SkipLog
from mmgenre.errors import ComponentUnavailableError
from mmgenre.features.cache import FeatureCache
from mmgenre.features.local_executor import LocalExecutor
from mmgenre.features.namespaces import FeatureSpaces, Namespace
from mmgenre.features.plan import FeaturePlan, Settings, read_texts
from mmgenre.features.sources import ImageOptions, hash_sources

KEY = "test-key-0123456789-secret"


@pytest.fixture
def server(monkeypatch):
    fake = FakeGemini()
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    monkeypatch.setenv("GEMINI_BASE_URL", fake.url)  # the endpoint comes from the environment only
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    yield fake
    fake.close()


def engine(server: FakeGemini, **params):
    params = {"backoff": 0.01, "max_retries": 2, "timeout": 2.0, **params}
    return REGISTRY.create("ocr", "gemini", params)


@pytest.fixture(scope="module")
def poster():
    return Image.open(POSTERS / poster_rows(1)[0]["file"]).convert("RGB")


def test_success_sends_the_poster_and_prompt_with_the_key_in_a_header(server, poster):
    server.script = [("ok", "THE MATRIX\nKeanu Reeves")]
    result = engine(server).read(poster)
    assert result.text == "THE MATRIX\nKeanu Reeves" and [w.text for w in result.words] == [
        "THE MATRIX",
        "Keanu Reeves",
    ]
    (request,) = server.requests
    assert request["path"].endswith("/models/gemini-2.5-flash:generateContent")
    assert request["headers"].get("x-goog-api-key") == KEY
    parts = request["body"]["contents"][0]["parts"]
    inline = parts[0]["inlineData"]
    assert (inline.get("mimeType") or inline.get("mime_type")) == "image/jpeg" and len(inline["data"]) > 1000
    assert "Transcribe" in parts[1]["text"]


def test_empty_text_is_an_empty_result(server, poster):
    server.script = [("empty",)]
    assert engine(server).read(poster).text == ""


def test_rate_limit_then_success_is_retried(server, poster):
    server.script = [("status", 429), ("ok", "ALIENS")]
    assert engine(server).read(poster).text == "ALIENS"
    assert len(server.requests) == 2


def test_server_errors_until_give_up_fail_after_the_retries(server, poster):
    server.script = [("status", 500)] * 3
    with pytest.raises(RuntimeError, match="HTTP 500") as error:
        engine(server, max_retries=2).read(poster)
    assert len(server.requests) == 3 and KEY not in str(error.value)


def test_malformed_json_is_retried_then_reported(server, poster):
    server.script = [("malformed",), ("ok", "FIXED")]
    assert engine(server).read(poster).text == "FIXED"
    server.script = [("malformed",)] * 3
    with pytest.raises(RuntimeError, match="after 3 attempts"):
        engine(server).read(poster)


def test_slow_responses_time_out_and_are_retried(server, poster):
    server.script = [("slow", 3.0, "TOO LATE"), ("ok", "IN TIME")]
    assert engine(server, timeout=1.0).read(poster).text == "IN TIME"


def test_a_refused_key_stops_the_run_without_showing_the_key(server, poster):
    server.script = [("status", 403)]
    with pytest.raises(ComponentUnavailableError, match="refused the API key") as error:
        engine(server).read(poster)
    assert KEY not in str(error.value)


def test_missing_key_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    with pytest.raises(ComponentUnavailableError, match="GEMINI_API_KEY or GOOGLE_API_KEY"):
        REGISTRY.create("ocr", "gemini").setup()


def read_ocr(ocr, sources, cache, skips) -> dict[str, str]:
    """Plan and execute the OCR of `sources` (what the cache lacks), then read the texts back."""
    space = Namespace.of(ocr, "ocr")
    cache.register(space)
    missing = set(cache.missing(space.name, [s.key for s in sources]))
    plan = FeaturePlan(sources, FeatureSpaces(ocr=space), ImageOptions(), ocr, None, None)
    plan.ocr_todo = [s for s in sources if s.key in missing]
    with LocalExecutor(Settings(ocr_workers=1)) as executor:
        executor.execute(plan, cache, skips)
    return read_texts(cache, space.name, [s.key for s in sources])


def test_failures_after_retries_are_per_poster_and_keep_other_results(server, tmp_path, caplog):
    rows = poster_rows(3)
    paths = [POSTERS / r["file"] for r in rows]
    skips = SkipLog()
    options = ImageOptions()
    sources = [s for s in hash_sources(paths, options, skips) if s]
    server.script = [("ok", "FIRST"), ("status", 500), ("status", 500), ("status", 500), ("ok", "THIRD")]
    cache = FeatureCache(tmp_path)
    with caplog.at_level(logging.WARNING, logger="mmgenre"):
        texts = read_ocr(engine(server), sources, cache, skips)
    assert sorted(texts.values()) == ["FIRST", "THIRD"]
    assert skips.counts() == {"OCR failed": 1} and str(paths[1]) in caplog.text
    cached = read_ocr(engine(server), sources, cache, SkipLog())
    assert len(server.requests) == 6  # the rerun asked only for the failed poster (scripted: default text)
    assert sorted(cached.values()) == ["DEFAULT TEXT", "FIRST", "THIRD"]
    assert KEY not in caplog.text
    cache.close()
    with sqlite3.connect(tmp_path / "features.sqlite") as db:
        dump = "\n".join(db.iterdump())
    assert KEY not in dump and server.url not in dump  # neither the key nor the endpoint is in the cache key
