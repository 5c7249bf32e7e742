"""mmgenre's public API for plugins: everything a component package may import from mmgenre, in one place.

    from mmgenre.api import OcrEngine, OcrResult, Params, Word, hookimpl

Plugins (the built-in ones included) import only this module and `mmgenre.testing`; the rest of mmgenre is
internal and may change in any release. What is here follows the policy in docs/api.md: a name is removed or
changed incompatibly only after a release in which it warns. The import contracts in .importlinter
(`lint-imports`) keep plugins to this module. Importing it is light: no torch, no model libraries.
"""

from __future__ import annotations

import warnings

from mmgenre import DEFAULT_GENRES
from mmgenre.components import (
    Component,
    DatasetSource,
    Encoded,
    EncoderInfo,
    Executor,
    ExportedPart,
    FeatureDims,
    FusionContext,
    FusionHead,
    ImageEncoder,
    Loss,
    OcrEngine,
    OcrResult,
    PackagedModel,
    Params,
    Store,
    TextEncoder,
    Word,
    export_torch_module,
)
from mmgenre.data.dataset import Poster, PosterDataset, load_dataset, read_labels_csv
from mmgenre.data.images import BadImage, decode_image, file_problem, load_image, to_rgb, upscale
from mmgenre.data.skips import Skip, SkipLog
from mmgenre.errors import (
    ComponentUnavailableError,
    DatasetError,
    MmgenreError,
    NotExportableError,
    RecipeError,
)
from mmgenre.features.cache import FeatureCache
from mmgenre.features.dask_executor import DaskExecutor, DaskOptions
from mmgenre.features.local_executor import LocalExecutor
from mmgenre.features.plan import Settings
from mmgenre.features.ray_executor import RayExecutor, RayOptions
from mmgenre.features.shard_store import ShardStore
from mmgenre.features.store_url import open_store
from mmgenre.features.tasks import Task, TaskResult, plan_tasks, store_result
from mmgenre.hookspecs import hookimpl

API_VERSION = "1.1"  # 1.1: encoders may split into a cached prefix and a trainable `tail()`
"""The version of this API (docs/api.md): the minor part grows when names are added, the major part when a
name is removed or changes incompatibly (after warning for a release)."""

__all__ = [
    "API_VERSION",
    "DEFAULT_GENRES",
    # registering components
    "hookimpl",
    # component base classes, one per kind, and their parameters
    "Component",
    "DatasetSource",
    "FusionHead",
    "ImageEncoder",
    "Loss",
    "OcrEngine",
    "Params",
    "TextEncoder",
    # where features are computed and kept (chosen per command: --executor NAME, --store URL)
    "Executor",
    "Store",
    "open_store",
    "plan_tasks",
    "store_result",
    "Settings",
    "Task",
    "TaskResult",
    # what the built-in executors and stores run on (their libraries are imported only when they start)
    "DaskExecutor",
    "DaskOptions",
    "FeatureCache",
    "LocalExecutor",
    "RayExecutor",
    "RayOptions",
    "ShardStore",
    # trained models shipped in a package, usable by name wherever a run folder is (`mmgenre models`)
    "PackagedModel",
    # the values that cross the boundary between mmgenre and a component
    "Encoded",
    "EncoderInfo",
    "FeatureDims",
    "FusionContext",
    "OcrResult",
    "Word",
    # exporting to ONNX (`mmgenre export`): a component's optional export_onnx returns an ExportedPart
    "ExportedPart",
    "export_torch_module",
    # datasets: posters, labels.csv, skipped inputs
    "Poster",
    "PosterDataset",
    "Skip",
    "SkipLog",
    "load_dataset",
    "read_labels_csv",
    # images
    "BadImage",
    "decode_image",
    "file_problem",
    "load_image",
    "to_rgb",
    "upscale",
    # errors a component raises for the user to read (one `Error:` line)
    "ComponentUnavailableError",
    "DatasetError",
    "MmgenreError",
    "NotExportableError",
    "RecipeError",
]

_RENAMED: dict[str, str] = {}  # old name -> new name, importable for a release after a rename (docs/api.md)


def __getattr__(name: str) -> object:
    """An old name of the API still gives its object for a release, with a DeprecationWarning naming the new one."""
    if name in _RENAMED:
        new = _RENAMED[name]
        warnings.warn(f"mmgenre.api.{name} is now mmgenre.api.{new}", DeprecationWarning, stacklevel=2)
        return globals()[new]
    raise AttributeError(f"module 'mmgenre.api' has no attribute {name!r}")
