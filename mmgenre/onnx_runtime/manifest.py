"""The manifest of an exported model (`manifest.json`): its parts, their preprocessing, labels and thresholds.

Written by `mmgenre export`, read back here with the bounded reader and checked against these schemas before
any model file is opened.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, model_validator

from mmgenre.errors import MmgenreError
from mmgenre.files.reader import ReadError, is_regular_file, read_json
from mmgenre.files.schema import FileSchema, validate

MANIFEST = "manifest.json"
FORMAT = 1
KIND = "onnx"  # the folder's marker: .mmgenre-onnx
FileName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")]  # no folders, no ..
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class NotAnExport(MmgenreError):
    """A folder given to the ONNX runtime that `mmgenre export` did not write."""


class ImagePreprocessing(FileSchema):
    """timm's eval transform: shorter side resized, centre crop, scaled to 0..1, normalised; views averaged."""

    resize: int = Field(ge=1, le=8192)
    crop: int = Field(ge=1, le=8192)
    interpolation: Literal["bicubic", "bilinear"]
    mean: list[float] = Field(min_length=3, max_length=3)
    std: list[Annotated[float, Field(gt=0)]] = Field(min_length=3, max_length=3)
    views: list[Literal["center", "flip", "whole"]] = Field(min_length=1, max_length=3)


class TextPreprocessing(FileSchema):
    """A `tokenizers` tokenizer.json beside the model, truncation to `max_length`, texts stripped first."""

    tokenizer: FileName
    max_length: int = Field(ge=1, le=8192)
    strip: bool = True


class Part(FileSchema):
    component: Name
    file: FileName
    inputs: list[Name] = Field(min_length=1, max_length=16)
    outputs: list[Name] = Field(min_length=1, max_length=16)
    files: list[FileName] = Field(default_factory=list, max_length=16)
    identity: dict[str, Any] = Field(default_factory=dict, description="the component's, when it was exported")


class ImagePart(Part):
    preprocessing: ImagePreprocessing


class TextPart(Part):
    preprocessing: TextPreprocessing


class ExportManifest(FileSchema):
    format: Literal[1] = 1  # FORMAT
    runtime: Literal["onnx"] = "onnx"
    run: str = Field(max_length=4096, description="the run folder it was exported from")
    labels: list[Name] = Field(min_length=1, max_length=65536)
    thresholds: list[Annotated[float, Field(ge=0, le=1)]]
    ocr: Name | None = None
    image_encoder: ImagePart | None = None
    text_encoder: TextPart | None = None
    fusion: Part
    versions: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _aligned(self) -> ExportManifest:
        if len(set(self.labels)) != len(self.labels):
            raise ValueError("labels are not unique")
        if len(self.thresholds) != len(self.labels):
            raise ValueError(f"{len(self.thresholds)} thresholds for {len(self.labels)} labels")
        return self

    def files(self) -> list[str]:
        """Every model file the parts need."""
        parts = [p for p in (self.image_encoder, self.text_encoder, self.fusion) if p is not None]
        return [name for part in parts for name in (part.file, *part.files)]


def read_manifest(folder: Path) -> ExportManifest:
    """The manifest of an export folder, checked; a folder without one is told how to make it."""
    path = folder / MANIFEST
    if not folder.is_dir():
        raise NotAnExport(f"{folder} is not a folder")
    if not is_regular_file(path):
        hint = " (it is a run folder)" if (folder / "run.json").exists() else ""
        raise NotAnExport(
            f"{folder} is not an exported model{hint}: --runtime onnx takes the folder written by "
            f"`mmgenre export RUN --format onnx --out DIR`"
        )
    manifest = validate(ExportManifest, read_json(path, limit=64 * 2**20), path)
    missing = [name for name in manifest.files() if not is_regular_file(folder / name)]
    if missing:
        raise ReadError(f"{folder} is an incomplete export: {', '.join(missing)} missing; export the run again")
    return manifest
