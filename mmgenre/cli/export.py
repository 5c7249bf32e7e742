"""`mmgenre export`: a trained run as ONNX files for the torch-free runtime (`predict|serve --runtime onnx`)."""

from __future__ import annotations

import click

from mmgenre.cli.options import json_option, print_json


@click.command("export")
@click.argument("run", metavar="RUN|MODEL")
@click.option("--format", "fmt", type=click.Choice(["onnx"]), default="onnx", show_default=True)
@click.option(
    "--out", required=True, type=click.Path(file_okay=False), help="Folder to write (new, empty, or an earlier export)."
)
@json_option
def export_command(run: str, fmt: str, out: str, as_json: bool) -> None:
    """Export a trained RUN (or an installed MODEL, `mmgenre models`): the head and encoders as ONNX files (checked
    with onnx.checker), their preprocessing, labels, thresholds and the recipe, for `mmgenre predict|serve OUT
    --runtime onnx`."""
    from mmgenre.export.onnx_folder import export_onnx
    from mmgenre.registry import Registry
    from mmgenre.training.installed_models import find_model

    registry = Registry.from_entry_points()
    manifest = export_onnx(find_model(run, registry).path, out, registry=registry)
    parts = {key: getattr(manifest, key) for key in ("image_encoder", "text_encoder", "fusion")}
    if as_json:
        print_json({"out": out, **manifest.model_dump(mode="json")})
        return
    for key, part in parts.items():
        if part is not None:
            click.echo(f"{key}: {part.component} -> {out}/{part.file}")
    if manifest.ocr:
        click.echo(f"ocr: {manifest.ocr} (run as it is by the ONNX runtime)")
    click.echo(f"exported to {out}: mmgenre predict {out} POSTER --runtime onnx", err=True)


COMMANDS = [export_command]
