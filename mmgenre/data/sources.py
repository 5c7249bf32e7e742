"""Naming a dataset: `--data DIR` (a folder), `--data FILE.csv` (a manifest), `--data NAME:PATH` (any source)."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from mmgenre.components import DatasetSource
from mmgenre.data.dataset import PosterDataset
from mmgenre.errors import DatasetError
from mmgenre.registry import Registry


def dataset_source(data: str | Path | dict, registry: Registry, where: str = "--data") -> DatasetSource:
    """The source a `--data` value or a stored reference ({"name": ..., "params": ...}) names."""
    if isinstance(data, dict):
        name, params = data["name"], data.get("params", {})
    else:
        name, params = _parse(str(data), registry)
    return cast(DatasetSource, registry.create("dataset", name, params, key=where))


def _parse(text: str, registry: Registry) -> tuple[str, dict]:
    prefix, sep, rest = text.partition(":")
    if sep and prefix in registry.names("dataset") and rest:
        return prefix, {"path": rest}
    if text.lower().endswith(".csv") and not Path(text).is_dir():
        return "manifest", {"path": text}
    return "folder", {"path": text}


def open_dataset(
    data: str | Path | dict | None, labels: list[str], registry: Registry, fallback: DatasetSource | None = None
) -> PosterDataset:
    """Load the posters of `data`, or of the recipe's own `dataset` section (`fallback`) when no --data is given."""
    if data is not None:
        return dataset_source(data, registry).load(labels)
    if fallback is not None:
        return fallback.load(labels)
    raise DatasetError("no dataset: pass --data DIR (or FILE.csv, or NAME:PATH), or set `dataset:` in the recipe")
