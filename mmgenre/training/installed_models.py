"""Finding a trained model by what a user types: a run folder's path, or the name of an installed model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mmgenre.errors import RunError
from mmgenre.registry import Registry, did_you_mean

DEFAULT_MODEL = "offline-best"  # the bundled model: `mmgenre predict poster.jpg` uses it


@dataclass(frozen=True)
class ModelRef:
    """A trained model on disk, and how the user named it."""

    path: Path
    name: str  # the installed model's name, or the run folder as given
    packaged: bool  # shipped inside a package: read-only, nothing is written beside it
    source: str  # "run folder", or the plugin and package that ship it

    def describe(self) -> str:
        return f"model {self.name} ({self.source})" if self.packaged else self.name


def find_model(ref: str | None, registry: Registry) -> ModelRef:
    """The run folder `ref`, else the installed model called `ref`; no `ref`: the bundled default model."""
    name = DEFAULT_MODEL if ref is None else ref
    if ref is not None and Path(ref).is_dir():
        return ModelRef(Path(ref), ref, packaged=False, source="run folder")
    installed = registry.names("model")
    if name in installed:
        return packaged_model(name, registry)
    if ref is None:
        raise RunError(
            f"no model was given and the bundled model '{DEFAULT_MODEL}' is not installed: give a run folder "
            f"(mmgenre train ...) or one of the installed models: {', '.join(installed) or '(none)'}"
        )
    raise RunError(
        f"'{ref}' is neither a run folder nor an installed model.{did_you_mean(ref, installed)} "
        f"Installed models: {', '.join(installed) or '(none)'} (see `mmgenre models`)"
    )


def packaged_model(name: str, registry: Registry) -> ModelRef:
    entry = next(e for e in registry.entries("model") if e.component.name == name)
    plugin = next((p for p in registry.plugins if p.name == entry.plugin), None)
    source = f"{plugin.package} {plugin.version}" if plugin else f"plugin {entry.plugin}"
    return ModelRef(entry.component.path(), name, packaged=True, source=source)  # type: ignore[attr-defined]


def looks_like_model(ref: str, registry: Registry) -> bool:
    """Whether a first argument names a model (a folder, an installed model, or a misspelt one: a name without a
    file suffix that is no file) rather than a poster."""
    path = Path(ref)
    return path.is_dir() or (not path.exists() and (ref in registry.names("model") or not path.suffix))


def describe_installed(model: ModelRef) -> dict:
    """What `mmgenre models` shows of a model: recipe, genres, test macro-F1, size on disk and source."""
    from mmgenre.training.run_folder import RunFolder

    run = RunFolder(model.path)
    test = run.metrics().get("test", {})
    return {
        "name": model.name,
        "recipe": run.recipe_data().get("name", "?"),
        "genres": run.info().labels,
        "test_macro_f1": test.get("macro_f1", float("nan")),
        "test_posters": test.get("posters"),
        "bytes": sum(f.stat().st_size for f in model.path.iterdir() if f.is_file()),
        "source": model.source,
        "path": str(model.path),
    }


def split_model_argument(items: tuple[str, ...], given: str | None, registry: Registry) -> tuple[ModelRef, list[str]]:
    """`predict [RUN|MODEL] POSTERS...`: the model (`--model`, else a first argument that names one, else the
    bundled default) and the posters."""
    if given is None and items and looks_like_model(items[0], registry):
        given, items = items[0], items[1:]
    return find_model(given, registry), list(items)
