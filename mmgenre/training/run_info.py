"""run.json: what a run was trained on and with, read back through one checked schema."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, StringConstraints, field_validator, model_validator

from mmgenre.components import FeatureDims
from mmgenre.errors import RunError
from mmgenre.files.reader import ReadError
from mmgenre.files.schema import FileSchema, one_line, validate

log = logging.getLogger("mmgenre")
RUN_FORMAT = 2  # 1: runs written before run.json had a format; 2: `data` is a dataset reference, `components`
SPLIT_NAMES = ("train", "val", "test")
MAX_LABELS = 1000
MAX_WIDTH = 2**16  # feature widths: CLIP's are 512 to 1024; a head this wide would not fit in memory

Label = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^|\n\r]+$")]
Width = Annotated[int, Field(ge=1, le=MAX_WIDTH)]


class Dims(FileSchema):
    model_config = {**FileSchema.model_config, "extra": "forbid"}

    image: Width | None = None
    text: Width | None = None
    image_tokens: Width | None = None
    text_tokens: Width | None = None


class RunInfo(FileSchema):
    labels: list[Label] = Field(min_length=1, max_length=MAX_LABELS)
    dims: Dims
    data: dict[str, Any]  # the dataset source: {"name": "folder", "params": {"path": "/abs/posters"}}
    splits: dict[str, list[str]]  # poster ids per split
    train_genre_counts: list[Annotated[int, Field(ge=0)]] = Field(default_factory=list)
    limit: Annotated[int, Field(ge=1)] | None = None  # only the first N posters of `data` were used
    best_epoch: Annotated[int, Field(ge=0)] = 0
    seconds: Annotated[float, Field(ge=0)] = 0.0
    versions: dict[str, Any] = Field(default_factory=dict)
    skipped: dict[str, Any] = Field(default_factory=dict)
    components: dict[str, dict[str, Any]] = Field(default_factory=dict)  # key -> name, plugin, version, ...
    # training rows each view added (train.downscaled_views, train.augmented_views), by key suffix: {"@w182": 4480}
    train_views: dict[str, Annotated[int, Field(ge=0)]] = Field(default_factory=dict)
    format: int = RUN_FORMAT

    @field_validator("labels")
    @classmethod
    def _unique(cls, labels: list[str]) -> list[str]:
        repeated = sorted({label for label in labels if labels.count(label) > 1})
        if repeated:
            raise ValueError(f"genres are named twice: {', '.join(repeated)}")
        return labels

    @field_validator("data")
    @classmethod
    def _named(cls, data: dict) -> dict:
        if not isinstance(data.get("name"), str):
            raise ValueError("the dataset reference has no name")
        return data

    @field_validator("splits")
    @classmethod
    def _every_split(cls, splits: dict) -> dict:
        missing = [name for name in SPLIT_NAMES if name not in splits]
        if missing:
            raise ValueError(f"the split(s) {', '.join(missing)} are missing")
        return splits

    @model_validator(mode="after")
    def _counts_per_genre(self) -> RunInfo:
        if len(self.train_genre_counts) not in (0, len(self.labels)):
            raise ValueError(
                f"train_genre_counts has {len(self.train_genre_counts)} values for {len(self.labels)} genres"
            )
        return self

    def feature_dims(self) -> FeatureDims:
        return FeatureDims(**self.dims.model_dump())

    def to_json(self) -> dict:
        return self.model_dump(mode="json")

    @classmethod
    def from_json(cls, data: object, where: Path) -> RunInfo:
        """Checked: a newer format fails naming both versions; unknown keys are warned about and ignored."""
        if not isinstance(data, dict):
            raise RunError(f"{where} must hold a JSON object, not {type(data).__name__}")
        written = data.get("format", 1)
        if not isinstance(written, int) or isinstance(written, bool) or written > RUN_FORMAT:
            by = data.get("versions", {}).get("mmgenre", "?") if isinstance(data.get("versions"), dict) else "?"
            from mmgenre import __version__

            raise RunError(
                f"{where} was written by mmgenre {one_line(by, 40)} in run format {one_line(written, 40)}; this "
                f"mmgenre ({__version__}) reads formats up to {RUN_FORMAT}: upgrade mmgenre to use this run"
            )
        unknown = sorted(set(data) - set(cls.model_fields))
        if unknown:
            shown = ", ".join(name[:60] for name in unknown[:10])
            log.warning("%s: ignoring unknown keys %s (written by a newer mmgenre?)", where, shown)
        if isinstance(data.get("data"), str):  # format 1: the resolved dataset folder
            data = {**data, "data": {"name": "folder", "params": {"path": data["data"]}}}
        try:
            return validate(cls, data, where)
        except ReadError as error:
            raise RunError(str(error)) from None


def install_hint(source: dict[str, Any]) -> str:
    """Where a component recorded in run.json came from and how to install it: the package and version."""
    package, version = str(source.get("package", "?"))[:100], str(source.get("package_version", "?"))[:40]
    plugin = str(source.get("plugin", "?"))[:100]
    if package == "?":
        return "run.json does not say which package provided it"
    if package == "mmgenre":
        return f"it came with mmgenre {version} itself (plugin '{plugin}'): install mmgenre=={version}"
    pin = f"=={version}" if version != "?" else ""
    return f"it came from the package {package} {version} (plugin '{plugin}'): pip install '{package}{pin}'"
