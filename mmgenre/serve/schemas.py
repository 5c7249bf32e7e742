"""The shapes of the API's answers, for the OpenAPI page (/docs); the handlers build plain dicts of these shapes."""

from __future__ import annotations

from pydantic import BaseModel, Field


class PosterPrediction(BaseModel):
    index: int = Field(description="position of the file in the request")
    file: str = Field(description="the uploaded file's name")
    genres: list[str] = Field(description="genres whose score is over their tuned threshold (or the top one)")
    scores: dict[str, float] = Field(description="every genre's score, best first")
    ocr_text: str | None = Field(description="the text the OCR engine read on the poster")
    seconds: dict[str, float] = Field(description="this poster's share of feature extraction and of the head")


class FileError(BaseModel):
    index: int
    file: str
    category: str = Field(description="e.g. 'not an image', 'corrupt or truncated image', 'file too large'")
    detail: str


class PredictAnswer(BaseModel):
    predictions: list[PosterPrediction]
    errors: list[FileError] = Field(description="the files that could not be used (the others are predicted)")
    seconds: dict[str, float] = Field(description="upload, queued, batch (the predictor call) and total")
    batch: dict[str, int] = Field(description="requests and posters in the predictor call that answered this one")


class Refusal(BaseModel):
    code: str = Field(description="no_files, too_many_files, request_too_large, no_usable_poster, not_multipart...")
    error: str
    errors: list[FileError] = Field(default_factory=list, description="the files concerned, when there are any")


UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"}}},
                    "required": ["files"],
                }
            }
        },
    }
}
