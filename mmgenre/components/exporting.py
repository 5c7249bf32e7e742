"""Exporting a component to ONNX: what an exported part is, and the torch -> ONNX step components share.

Export is an optional capability: `ImageEncoder`, `TextEncoder` and `FusionHead` have an `export_onnx` that
raises NotExportableError unless the component's plugin implements it. The preprocessing a part needs is
plain data (sizes, mean/std, a tokenizer file), so a runtime without torch can repeat it.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmgenre.errors import NotExportableError

OPSET = 17
DYNAMO_OPSET = 18  # the lowest torch.export's ONNX translation writes


@dataclass(frozen=True)
class ExportedPart:
    """One exported ONNX file in an export folder.

    `preprocessing` for an image encoder: resize (shorter side), crop, interpolation, mean, std, views;
    for a text encoder: tokenizer (a tokenizer.json written beside the model), max_length, strip.
    """

    file: str  # the .onnx file's name in the folder
    inputs: list[str]
    outputs: list[str]
    preprocessing: dict[str, Any] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)  # other files it wrote beside it (a tokenizer)


def cannot_export(component: object, why: str = "its plugin does not implement export_onnx") -> NotExportableError:
    """The error a component that can't be exported raises, naming it."""
    label = getattr(component, "kind_label", "component")
    return NotExportableError(f"the {label} '{getattr(component, 'name', '?')}' cannot be exported to ONNX: {why}")


def export_torch_module(
    module: Any,
    example: tuple,
    path: Path,
    *,
    inputs: Sequence[str],
    outputs: Sequence[str],
    dynamic_axes: dict[str, dict[int, str]],
    dynamic_shapes: Any = None,
) -> None:
    """Trace `module` on `example` into the ONNX file `path`, then check it with `onnx.checker`; a failure is a
    NotExportableError naming the file.

    The TorchScript exporter (torch and onnx only) freezes sizes that pass through Python ints; a module that
    reshapes by a sequence length (attention over token sequences) gives `dynamic_shapes` (torch.export.Dim per
    input, as torch.export takes them) and is exported by torch.export instead (needs onnxscript)."""
    import torch

    try:
        import onnx

        if dynamic_shapes is not None:
            import onnxscript  # noqa: F401 (torch.export's ONNX translation)
    except ImportError as error:
        raise NotExportableError(f"exporting to ONNX needs {error.name}: pip install 'mmgenre[onnx]'") from None
    module = module.eval()
    try:
        with warnings.catch_warnings(), quiet_logger("onnxscript"):
            warnings.simplefilter("ignore")  # the tracer's notes on Python values it folds into constants
            if dynamic_shapes is None:
                torch.onnx.export(
                    module, example, str(path), input_names=list(inputs), output_names=list(outputs),
                    dynamic_axes=dynamic_axes, opset_version=OPSET, dynamo=False,
                )  # fmt: skip
            else:
                torch.onnx.export(
                    module, example, str(path), input_names=list(inputs), output_names=list(outputs),
                    dynamic_shapes=dynamic_shapes, opset_version=DYNAMO_OPSET, dynamo=True, verbose=False,
                    external_data=False,
                )  # fmt: skip
    except Exception as error:  # the exporter's own errors name the operator that failed
        raise NotExportableError(f"{path.name}: the ONNX exporter failed: {str(error)[:400]}") from None
    try:
        onnx.checker.check_model(str(path), full_check=True)
    except onnx.checker.ValidationError as error:
        raise NotExportableError(f"{path} fails onnx.checker: {str(error)[:400]}") from None


@contextmanager
def quiet_logger(name: str) -> Iterator[None]:
    """The logger `name` (and its children) at ERROR for the block: the exporter's optimiser notes are noise."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
