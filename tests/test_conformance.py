"""Every built-in plugin passes mmgenre.testing's conformance checks, run through the pytest plugin exactly as a
third-party package runs them: one test per check and component, no skips allowed."""

from __future__ import annotations

import base64
import io
import json

import pytest
from conftest import REGISTRY
from gemini_server import FakeGemini, reply
from PIL import Image, ImageStat

from mmgenre.testing.samples import POSTER_TITLE

BUILT_IN = (
    "tesseract",
    "rapidocr",
    "easyocr",
    "gemini",
    "clip",
    "offline-encoders",
    "fusion",
    "losses",
    "datasets",
    "models",
    "executors",
    "stores",
)

pytestmark = [pytest.mark.slow, pytest.mark.mmgenre_plugins(*BUILT_IN)]


class ReadingGemini(FakeGemini):
    """Stands in for the Gemini API (no key or network here): it answers the sample poster's title for an image
    with ink on it and nothing for a blank one. So Gemini's checks test the engine's side of the contract
    (request, reply parsing, empty replies, results), not how well Gemini reads."""

    def answer(self, handler, step: tuple) -> None:
        data = self.requests[-1]["body"]["contents"][0]["parts"][0]["inlineData"]["data"]
        image = Image.open(io.BytesIO(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))).convert("L")
        text = POSTER_TITLE if max(ImageStat.Stat(image).stddev) > 2 else ""
        self._send(handler, 200, json.dumps(reply(text)).encode())


@pytest.fixture(scope="module", autouse=True)
def gemini_api():
    server = ReadingGemini()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GEMINI_API_KEY", "conformance-check-key")
        patch.setenv("GEMINI_BASE_URL", server.url)
        patch.delenv("GOOGLE_API_KEY", raising=False)
        yield server
    server.close()


def test_conformance(mmgenre_check):
    mmgenre_check(strict=True)  # every built-in component can run here: a skip would hide a broken contract


def test_every_built_in_plugin_is_checked():
    assert {plugin.name for plugin in REGISTRY.plugins if plugin.package == "mmgenre"} == set(BUILT_IN)
