"""The HTTP API and web page over a Predictor: POST /v1/predict, GET /v1/model, GET /healthz, the page at /.

Bad uploads are answered per file: a request with some usable posters gets 200 with their predictions and an
`errors` list naming the others; a request with none gets 422 (413 when every file was too large); a request
that breaks a limit as a whole (no files, too many files, too large a body, not multipart) gets a 4xx at once.
Every refusal is JSON: {code, error, errors: [{index, file, category, detail}]}.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from mmgenre import __version__
from mmgenre.features.store import FeatureStore
from mmgenre.serve.batching import Answer, Batcher, Poster
from mmgenre.serve.limits import ServeLimits
from mmgenre.serve.schemas import UPLOAD_BODY, PredictAnswer, Refusal
from mmgenre.serve.uploads import Upload, UploadRefused, read_uploads

if TYPE_CHECKING:  # or an OnnxPredictor (--runtime onnx): the same interface, and no torch imported
    from mmgenre.predictor import Predictor

STATIC = Path(__file__).parent / "static"
REFUSALS = {status: {"model": Refusal} for status in (400, 408, 413, 415, 422)}


class Json(JSONResponse):
    """JSON that also renders paths and other odd values of a run's info (as strings), keeping non-ASCII text."""

    def render(self, content: object) -> bytes:
        return json.dumps(content, default=str, ensure_ascii=False).encode("utf-8")


def create_app(
    predictor: Predictor, limits: ServeLimits | None = None, *, cache: FeatureStore | None = None
) -> FastAPI:
    """The app; its lifespan starts the batching worker (the only caller of `predictor`) and stops it."""
    limits = limits or ServeLimits()
    batcher = Batcher(predictor, window_ms=limits.batch_window_ms, max_batch=limits.max_batch, cache=cache)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        batcher.start()
        try:
            yield
        finally:
            await asyncio.to_thread(batcher.close)

    app = FastAPI(title="mmgenre", version=__version__, lifespan=lifespan, default_response_class=Json,
                  description="Movie genres from a poster: its image and the text printed on it, fused.")  # fmt: skip
    app.state.batcher, app.state.limits = batcher, limits
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/healthz", summary="Liveness, and what the batching worker has answered so far")
    def healthz() -> Json:
        if not batcher.alive:
            return Json({"status": "down", "error": "the prediction worker has stopped"}, status_code=503)
        return Json({"status": "ok", **batcher.counts})

    @app.get("/v1/model", summary="Labels, tuned thresholds, recipe, components and versions, and the limits")
    def model() -> Json:
        return Json({**predictor.info(), "limits": limits.to_json()})

    @app.post(
        "/v1/predict",
        summary="Genres of one or more uploaded posters (multipart field `files`)",
        response_model=PredictAnswer,
        responses=REFUSALS,  # type: ignore[arg-type]
        openapi_extra=UPLOAD_BODY,
    )
    async def predict(request: Request) -> Json:
        return await answer_uploads(request, batcher, limits)

    return app


async def answer_uploads(request: Request, batcher: Batcher, limits: ServeLimits) -> Json:
    started = time.perf_counter()
    try:
        uploads = await read_uploads(request, limits)
        if not uploads:
            raise UploadRefused(
                400, "no_files", "no poster in the request: send one or more files in the field 'files'"
            )
    except UploadRefused as refused:
        closing = {"Connection": "close"} if refused.status == 408 else None  # the rest of its body never comes
        return Json(refused.to_json(), status_code=refused.status, headers=closing)
    posters = [Poster(u.index, u.name, bytes(u.data)) for u in uploads if u.error is None]
    uploaded = time.perf_counter()
    answer = Answer([], [], {}, {"requests": 0, "posters": 0})
    if posters:
        try:
            answer = await asyncio.wrap_future(batcher.submit(posters))
        except Exception as error:  # a fault of the server, not of the upload
            return Json({"code": "prediction_failed", "error": f"{type(error).__name__}: {error}"}, status_code=500)
    errors = sorted(answer.errors + read_errors(uploads), key=lambda e: e["index"])
    if not answer.predictions:
        too_large = all(e["category"] == "file too large" for e in errors)
        message = f"none of the {len(uploads)} posters could be used: " + "; ".join(
            f"{e['file']}: {e['category']}" for e in errors
        )
        return Json({"code": "no_usable_poster", "error": message, "errors": errors}, 413 if too_large else 422)
    seconds = {"upload": uploaded - started, **answer.seconds, "total": time.perf_counter() - started}
    return Json(
        {
            "predictions": answer.predictions,
            "errors": errors,
            "seconds": {k: round(v, 4) for k, v in seconds.items()},
            "batch": answer.batch,
        }
    )


def read_errors(uploads: list[Upload]) -> list[dict]:
    return [
        {"index": u.index, "file": u.name, "category": u.error[0], "detail": u.error[1]}
        for u in uploads
        if u.error is not None
    ]
