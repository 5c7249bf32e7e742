"""Gemini reads the poster like a person would: the paper's OCR (it used Gemini-Pro-Vision)."""

from __future__ import annotations

import io
import os
import random
import re
import time
from urllib.parse import urlsplit

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from mmgenre.api import ComponentUnavailableError, OcrEngine, OcrResult, Params, Word
from mmgenre_gemini.rate_limit import RateLimiter

KEY_VARIABLES = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
ENDPOINT_VARIABLE = "GEMINI_BASE_URL"
DEFAULT_ENDPOINT = "https://generativelanguage.googleapis.com"
# Params a recipe must not set: where the key goes, or the key itself (recipes are shared files).
ENDPOINT_LIKE = re.compile(r"url|endpoint|host|proxy|server|address|key|token|secret|credential|auth", re.IGNORECASE)
RETRY_STATUS = {408, 429, 500, 502, 503, 504}
FATAL_STATUS = {401, 403}
PROMPT = (
    "Transcribe all the text printed on this movie poster exactly as written, one line per block "
    "of text, largest text first. Reply with the text only, or with nothing if there is no text."
)


class GeminiParams(Params):
    model: str = Field("gemini-2.5-flash", description="Gemini model (the paper used gemini-pro-vision, now retired)")
    prompt: str = PROMPT
    timeout: float = Field(60.0, gt=0, description="seconds per request")
    max_retries: int = Field(4, ge=0, description="retries after 429, 5xx, timeouts and malformed replies")
    backoff: float = Field(2.0, ge=0, description="first retry delay in seconds, doubled each retry")
    requests_per_minute: float = Field(60.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def no_endpoint_or_key(cls, data: object) -> object:
        """A recipe never names where the API key is sent (nor the key): those come from the environment."""
        if isinstance(data, dict):
            named = sorted(
                k for k in data if isinstance(k, str) and k not in cls.model_fields and ENDPOINT_LIKE.search(k)
            )
            if named:
                raise PydanticCustomError(
                    "endpoint_in_recipe",
                    "{names}: a recipe can't set the Gemini endpoint or key (it would receive the API key); set "
                    "the endpoint in the environment ({endpoint}, default {default}) and the key in {keys}",
                    {
                        "names": ", ".join(f"'{k}'" for k in named),
                        "endpoint": ENDPOINT_VARIABLE,
                        "default": DEFAULT_ENDPOINT,
                        "keys": " or ".join(KEY_VARIABLES),
                    },
                )
        return data


def gemini_endpoint() -> str:
    """The API's base URL: GEMINI_BASE_URL (proxies, tests), else Google's."""
    return os.environ.get(ENDPOINT_VARIABLE, "").strip() or DEFAULT_ENDPOINT


def endpoint_host(url: str) -> str:
    """host[:port] of a URL, without any user:password@ part."""
    return urlsplit(url).netloc.rpartition("@")[2] or url


class GeminiOcr(OcrEngine):
    """Google Gemini as OCR (google-genai SDK; needs GEMINI_API_KEY or GOOGLE_API_KEY)."""

    name = "gemini"
    Params = GeminiParams
    parallelism = "thread"
    cache_exempt = frozenset({"timeout", "max_retries", "backoff", "requests_per_minute"})
    requires_modules = ("google.genai",)
    install_hint = "pip install 'mmgenre[gemini]'"

    def __getstate__(self) -> dict:
        return {"params": self.params}  # never pickle the client (it holds the key)

    def setup(self) -> None:
        if getattr(self, "_client", None) is not None:
            return
        try:
            from google import genai
            from google.genai import types
        except ImportError:
            raise ComponentUnavailableError(f"gemini needs the google-genai SDK: {self.install_hint}") from None
        key = next((os.environ[v] for v in KEY_VARIABLES if os.environ.get(v)), None)
        if not key:
            raise ComponentUnavailableError("gemini needs an API key in GEMINI_API_KEY or GOOGLE_API_KEY")
        base_url = gemini_endpoint()
        options = types.HttpOptions(  # one timeout for connecting and for each read
            base_url=base_url, timeout=int(self.params.timeout * 1000), retry_options=types.HttpRetryOptions(attempts=1)
        )
        self._key, self._host = key, endpoint_host(base_url)
        self._client = genai.Client(vertexai=False, api_key=key, http_options=options)
        self._limiter = RateLimiter(self.params.requests_per_minute)

    def read(self, image) -> OcrResult:
        self.setup()
        from google.genai import errors, types

        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=95)
        contents = [types.Part.from_bytes(data=buffer.getvalue(), mime_type="image/jpeg"), self.params.prompt]
        config = types.GenerateContentConfig(temperature=0.0)
        for attempt in range(self.params.max_retries + 1):
            self._limiter.wait()
            try:
                response = self._client.models.generate_content(
                    model=self.params.model, contents=contents, config=config
                )
                text = (response.text or "").strip()
                return OcrResult(text=text, words=[Word(line.strip()) for line in text.splitlines() if line.strip()])
            except errors.APIError as error:
                if error.code in FATAL_STATUS:
                    raise ComponentUnavailableError(f"Gemini refused the API key (HTTP {error.code})") from None
                if error.code not in RETRY_STATUS or attempt == self.params.max_retries:
                    raise RuntimeError(self._redact(f"Gemini HTTP {error.code}: {error.message}")) from None
            except Exception as error:  # timeouts, dropped connections, malformed JSON
                if attempt == self.params.max_retries:
                    raise RuntimeError(
                        self._redact(
                            f"Gemini request to {self._host} failed after {attempt + 1} attempts: {self._reason(error)}"
                        )
                    ) from None
            time.sleep(self.params.backoff * 2**attempt * (1 + 0.1 * random.random()))
        raise AssertionError("unreachable")

    def _reason(self, error: Exception) -> str:
        """What went wrong, naming the timeout when one was hit. Matched by class name: the SDK's HTTP client
        is httpx or its fork httpx2, depending on the SDK's version."""
        names = {cls.__name__ for cls in type(error).__mro__}
        if "ConnectTimeout" in names:
            return f"no connection within {self.params.timeout:g} s (ocr.params.timeout)"
        if names & {"TimeoutException", "TimeoutError"}:
            return f"no answer within {self.params.timeout:g} s (ocr.params.timeout)"
        if names & {"ConnectError", "ConnectionError"}:
            return f"cannot connect ({error})"
        return f"{type(error).__name__}: {error}"

    def _redact(self, message: str) -> str:
        return message.replace(self._key, "***") if getattr(self, "_key", None) else message
