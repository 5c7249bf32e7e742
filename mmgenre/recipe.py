"""Recipes: YAML files that compose registered components by name, validated in two passes.

Pass 1 checks the recipe's shape (`Recipe` below); pass 2 checks each component's name against the
registry and its `params` against the component's own pydantic model.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from mmgenre import DEFAULT_GENRES
from mmgenre.components import KINDS, Component, DatasetSource, FusionHead, ImageEncoder, Loss, OcrEngine, TextEncoder
from mmgenre.errors import RecipeError
from mmgenre.files.reader import nesting, read_text
from mmgenre.recipe_catalog import DEFAULT_RECIPE, available_recipes, find_recipe, recipe_dirs  # noqa: F401 (callers)
from mmgenre.registry import Registry, did_you_mean

if TYPE_CHECKING:
    from mmgenre.data.augment import PosterView


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


SEED = Annotated[int, Field(ge=0, le=2**32 - 1, description="a seed: 0 to 2**32 - 1")]
DEVICE_PATTERN = r"^(auto|cpu|mps|cuda(:\d{1,2})?)$"  # what torch accepts, and `auto`
NAME_PATTERN = r"^([A-Za-z0-9][A-Za-z0-9._-]{0,63})?$"  # a slug: it names the run folder under runs/
Label = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^|\n\r]+$")]
Beta = Annotated[float, Field(ge=0, lt=1)]


class ComponentRef(Strict):
    name: str
    params: dict[str, Any] = Field(default_factory=dict)


class SplitSpec(Strict):
    """Fractions of the dataset for each split; stratified for multi-label data, seeded."""

    train: float = Field(0.7, gt=0, lt=1)
    val: float = Field(0.1, gt=0, lt=1)
    test: float = Field(0.2, gt=0, lt=1)
    seed: SEED = 0

    @model_validator(mode="after")
    def _fractions_sum_to_one(self) -> SplitSpec:
        if abs(self.train + self.val + self.test - 1) > 1e-6:
            raise ValueError(f"train + val + test must be 1, got {self.train + self.val + self.test:g}")
        return self


class DataSpec(Strict):
    labels: list[Label] = Field(default_factory=lambda: list(DEFAULT_GENRES), min_length=1, max_length=1000)
    split: SplitSpec = Field(default_factory=SplitSpec)
    min_side: int = Field(32, ge=1, le=100_000, description="posters smaller than this (pixels) are skipped")
    max_pixels: int = Field(
        50_000_000, ge=1, le=500_000_000, description="larger images are refused (decompression bombs)"
    )
    train_where: str | None = Field(None, description="train (and validate) only on posters matching this filter")
    test_where: str | None = Field(None, description="test only on posters matching this filter")
    train_max: int | None = Field(None, ge=2, description="at most this many training posters (seeded draw)")

    @field_validator("labels")
    @classmethod
    def _unique_labels(cls, labels: list[str]) -> list[str]:
        repeated = sorted({label for label in labels if labels.count(label) > 1})
        if repeated:
            raise ValueError(f"genres are named twice: {', '.join(repeated)}")
        return labels

    @field_validator("train_where", "test_where")
    @classmethod
    def _filter_parses(cls, text: str | None, info: ValidationInfo) -> str | None:
        """A filter's syntax is checked with the recipe; its columns when the dataset is read."""
        from mmgenre.data.filters import FilterError, parse_filter

        if text is not None:
            try:
                parse_filter(text)
            except FilterError as error:
                raise ValueError(str(error).replace("bad filter: ", "")) from None
        return text


class FeatureSpec(Strict):
    batch_size: int = Field(64, ge=1, le=8192)
    ocr_workers: int | None = Field(None, ge=1, le=512, description="worker processes for OCR; default: all cores")
    loader_workers: int | None = Field(
        None, ge=0, le=512, description="image decoding workers; default: all cores on GPU, 0 on CPU"
    )
    device: str = Field("auto", pattern=DEVICE_PATTERN)
    decode: Literal["auto", "cpu", "nvimgcodec"] = Field(
        "auto", description="JPEG decoding: on the GPU when encoding there (nvJPEG, or nvImageCodec), or 'cpu'"
    )
    precision: Literal["auto", "fp32"] = Field("auto", description="encoders: bf16 autocast on a GPU, or fp32")


ViewWidth = Annotated[int, Field(ge=32, le=4096)]
JpegQuality = Annotated[int, Field(ge=1, le=95)]
AspectFactor = Annotated[float, Field(ge=0.2, le=5)]


class AugmentedViews(Strict):
    """`train.augmented_views`: copies of the train split's posters, each augmented its own way (the steps, in
    this order, are mmgenre/data/augment.py's PosterView)."""

    copies: int = Field(1, ge=1, le=8, description="augmented copies of every training poster (1 to 8)")
    crop: float = Field(0.6, gt=0, le=1, description="a random crop keeps at least this share of the area; 1: none")
    aspect: tuple[AspectFactor, AspectFactor] = Field(
        (0.8, 1.25), description="the crop's shape: the poster's own times a factor in this range"
    )
    flip: bool = Field(False, description="mirror half of the copies (their text then reads backwards)")
    jitter: float = Field(0.2, ge=0, le=1, description="brightness, contrast, saturation: times 1 +- this")
    trivial: bool = Field(True, description="one TrivialAugmentWide op per copy (shear, rotate, posterize...)")
    width: tuple[ViewWidth, ViewWidth] | None = Field(
        (150, 250), description="downscaled to a width in this range (pixels); null: as wide as cropped"
    )
    jpeg: tuple[JpegQuality, JpegQuality] | None = Field(
        (30, 90), description="saved again as a JPEG at a quality in this range; null: not re-compressed"
    )

    @model_validator(mode="after")
    def _ranges_ascend_and_something_changes(self) -> AugmentedViews:
        for name in ("aspect", "width", "jpeg"):
            bounds = getattr(self, name)
            if bounds is not None and bounds[0] > bounds[1]:
                raise ValueError(f"{name}: the first value ({bounds[0]:g}) is above the second ({bounds[1]:g})")
        if self.crop == 1 and not (self.flip or self.jitter or self.trivial or self.width or self.jpeg):
            raise ValueError("every augmentation is off (crop 1, no flip, jitter 0, trivial false, no width, no jpeg)")
        return self

    def views(self) -> list[PosterView]:
        """One PosterView per copy, numbered from 1."""
        from mmgenre.data.augment import PosterView

        settings = self.model_dump(exclude={"copies"})
        return [PosterView(copy=index, **settings) for index in range(1, self.copies + 1)]


class TextViews(Strict):
    """`train.text_views`: OCR dropout. Copies of the train split's posters with the same image features and OCR text
    that lost some lines (mmgenre/training/text_views.py); embedding the new texts is one text-encoder pass, cached."""

    copies: int = Field(1, ge=1, le=8, description="copies of every training poster with degraded OCR text (1 to 8)")
    drop_text: float = Field(0.0, ge=0, le=1, description="chance that a copy keeps no OCR text at all")
    drop_lines: float = Field(0.3, ge=0, le=1, description="chance that each OCR line is dropped from a copy")
    shuffle: bool = Field(True, description="shuffle the lines a copy keeps")

    @model_validator(mode="after")
    def _something_changes(self) -> TextViews:
        if not (self.drop_text or self.drop_lines or self.shuffle):
            raise ValueError("the copies would equal the posters' text (drop_text 0, drop_lines 0, shuffle false)")
        return self


class TrainSpec(Strict):
    optimizer: Literal["adam", "adamw"] = "adam"
    lr: float = Field(1e-4, gt=0, le=10)
    betas: tuple[Beta, Beta] = (0.9, 0.999)
    weight_decay: float = Field(0.0, ge=0, le=10)
    batch_size: int = Field(32, ge=1, le=65_536)
    max_epochs: int = Field(100, ge=1, le=100_000)
    patience: int = Field(10, ge=1, le=100_000, description="epochs without improvement before stopping")
    monitor: Literal["macro_f1", "macro_f1_tuned", "map"] = "macro_f1_tuned"
    seed: SEED = 0
    device: str = Field("cpu", pattern=DEVICE_PATTERN)
    ensemble: int = Field(1, ge=1, le=32, description="heads trained from seeds seed, seed+1, ...; scores averaged")
    encoder_lr: float | None = Field(
        None, gt=0, le=10, description="learning rate of the encoders' trainable layers, if any (null: lr)"
    )
    encoder_weight_decay: float | None = Field(
        None, ge=0, le=10, description="weight decay of the encoders' trainable layers (null: weight_decay)"
    )
    warmup_epochs: float = Field(
        0.0, ge=0, le=1000, description="the encoders' trainable layers' learning rate rises linearly from 0 over these"
    )
    ema: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="validate and keep an exponential moving average of the weights, with this "
        "decay per step (e.g. 0.999; null: the weights as trained)",
    )
    downscaled_views: list[Annotated[int, Field(ge=32, le=4096)]] = Field(
        default_factory=list, max_length=8,
        description="more training rows: the train split's posters downscaled to these widths (OCR and encoders run "
        "on the small images, cached like `eval --resize-to`); validation and test stay as they are",
    )  # fmt: skip
    augmented_views: AugmentedViews | None = Field(
        None,
        description="more training rows: augmented copies of the train split's posters (crops, jitter, "
        "TrivialAugmentWide, small widths, JPEG re-compression; OCR and encoders run on them, cached per copy); "
        "null: none",
    )
    text_views: TextViews | None = Field(
        None,
        description="OCR dropout: more training rows with the same image features and OCR text that lost lines "
        "(or all of it) and was shuffled; null: none",
    )


class RecipeSettings(Strict):
    name: str = Field("", pattern=NAME_PATTERN, description="letters, digits, '.', '_' and '-' (it names run folders)")
    description: str = ""
    data: DataSpec = Field(default_factory=DataSpec)
    features: FeatureSpec = Field(default_factory=FeatureSpec)
    train: TrainSpec = Field(default_factory=TrainSpec)


RECIPE_KINDS = [kind for kind in KINDS.values() if kind.in_recipe]  # executors and stores are chosen per command

# One section per kind of component: required kinds must be named, the others may be left out.
Recipe = create_model(  # type: ignore[call-overload]
    "Recipe",
    __base__=RecipeSettings,
    **{kind.key: (ComponentRef, ...) if kind.required else (ComponentRef | None, None) for kind in RECIPE_KINDS},
)


class ResolvedRecipe:
    """A validated recipe with its components instantiated: `recipe.fusion`, `recipe.ocr`, ... for every recipe
    section of KINDS (None where the recipe sets none), derived from the table of kinds."""

    if TYPE_CHECKING:  # typed access for the kinds the pipeline reads; any other kind is reachable too
        dataset: DatasetSource | None
        ocr: OcrEngine | None
        image_encoder: ImageEncoder | None
        text_encoder: TextEncoder | None
        fusion: FusionHead
        loss: Loss

    def __init__(
        self, spec: RecipeSettings, source: str, parts: dict[str, Component], provenance: dict[str, dict]
    ) -> None:
        self.spec = spec  # a Recipe: the settings plus one ComponentRef (or None) per recipe section
        self.source = source
        self.parts = parts  # recipe key -> component, for the sections the recipe sets
        self.provenance = provenance  # recipe key -> plugin, package, fingerprint

    def __getattr__(self, name: str) -> Any:
        if name in KINDS and KINDS[name].in_recipe:
            return self.__dict__.get("parts", {}).get(name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def labels(self) -> list[str]:
        return self.spec.data.labels

    def components(self) -> dict[str, Component]:
        return {kind.key: self.parts[kind.key] for kind in RECIPE_KINDS if kind.key in self.parts}

    def to_dict(self) -> dict:
        """The fully resolved recipe: every default filled in, component params included."""
        data = self.spec.model_dump(mode="json")
        for key, component in self.components().items():
            data[key] = {"name": component.name, "params": component.params.model_dump(mode="json")}
        return data

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


MAX_DEPTH = 32  # recipes are a few levels deep; anything deeper is a mistake or an attack
MAX_RECIPE_BYTES = 1_000_000


MAX_NODES = 100_000  # values in a recipe once its aliases are expanded: a recipe has a few hundred


def parse_yaml(text: str, where: str) -> Any:
    """YAML without tags that run code (the safe loader), without nesting deep enough to exhaust the stack,
    and without aliases that expand into more than MAX_NODES values (a "billion laughs") or into themselves."""
    try:
        loader = yaml.SafeLoader(text)
    except yaml.YAMLError as error:  # a character YAML does not allow
        raise RecipeError(f"{where} is not valid YAML: {yaml_problem(error)}") from None
    try:
        node = loader.get_single_node()
        if node is not None:
            check_expansion(node, where)
        data = loader.construct_document(node) if node is not None else None
    except RecursionError:
        raise RecipeError(f"{where} is nested too deeply (more than {MAX_DEPTH} levels)") from None
    except yaml.YAMLError as error:
        raise RecipeError(f"{where} is not valid YAML: {yaml_problem(error)}") from None
    finally:
        loader.dispose()
    if nesting(data, MAX_DEPTH) > MAX_DEPTH:
        raise RecipeError(f"{where} is nested too deeply (more than {MAX_DEPTH} levels)")
    return data


def check_expansion(root: yaml.Node, where: str) -> None:
    """Count the values a YAML node graph stands for with its aliases expanded (each node once, memoised;
    depth-first without recursion), and refuse a graph past MAX_NODES or one that contains itself."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        children = yaml_children(node)
        if finished:
            on_path.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes[id(child)] for child in children)
            if sizes[id(node)] > MAX_NODES:
                raise RecipeError(
                    f"{where} expands into more than {MAX_NODES:,} values (YAML aliases repeated inside each "
                    "other): not a recipe"
                )
        elif id(node) in on_path:
            raise RecipeError(f"{where} holds a YAML alias that contains itself: not a recipe")
        elif id(node) not in sizes:
            on_path.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in sizes)


def yaml_children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def yaml_problem(error: yaml.YAMLError) -> str:
    """A YAML error on one line: what is wrong and where (PyYAML's own text spans several lines)."""
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    mark = getattr(error, "problem_mark", None)
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else problem


def read_recipe_text(path: Path) -> str:
    """A recipe file's text: a regular file of a recipe's size, UTF-8; anything else is a clear error."""
    from mmgenre.files.reader import ReadError

    try:
        return read_text(path, MAX_RECIPE_BYTES)
    except ReadError as error:
        raise RecipeError(str(error).replace(str(path), display(path), 1)) from None


def read_yaml(path: Path) -> dict:
    data = parse_yaml(read_recipe_text(path), display(path))
    if not isinstance(data, dict):
        raise RecipeError(f"{display(path)} must hold a mapping of recipe keys, not {type(data).__name__}")
    return data


def display(path: Path) -> str:
    """A path as the user would type it: relative to the working directory when below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def merge(base: dict, override: dict) -> dict:
    """Deep-merge `override` into `base`; a component whose name changes gets only the new params."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        old = merged.get(key)
        replaces_component = (
            isinstance(value, dict)
            and isinstance(old, dict)
            and "name" in value
            and value.get("name") != old.get("name")
        )
        if isinstance(value, dict) and isinstance(old, dict) and not replaces_component:
            merged[key] = merge(old, value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def read_recipe_tree(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    """A recipe file with its `extends:` chain merged in (the file's own keys win)."""
    if path.resolve() in seen:
        chain = " -> ".join(display(p) for p in (*seen, path))
        raise RecipeError(f"recipes extend each other in a cycle: {chain}")
    data = read_yaml(path)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    base = read_recipe_tree(find_recipe(parent, relative_to=path.parent), (*seen, path.resolve()))
    return merge(base, data)


def parse_override(text: str) -> tuple[list[str], Any]:
    """`fusion.params.heads=4` -> (['fusion', 'params', 'heads'], 4); values are parsed as YAML."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip() or any(not part for part in key.strip().split(".")):
        raise RecipeError(f"bad --set '{text}': expected KEY.PATH=VALUE, e.g. train.lr=3e-4")
    try:
        value = parse_yaml(raw, f"--set {key.strip()}") if raw.strip() else ""
    except RecipeError as error:
        if "nested too deeply" in str(error):
            raise
        value = raw
    return key.strip().split("."), value


def apply_overrides(data: dict, overrides: list[str]) -> dict[str, str]:
    """Set each `key.path=value` in `data`; returns key path -> the --set text, for error messages.

    Changing a component's name drops the params written for the old component (params set with
    --set are applied afterwards), as `extends:` does.
    """
    origins = {}
    parsed = [(text, *parse_override(text)) for text in overrides]
    parsed.sort(key=lambda item: not (len(item[1]) == 2 and item[1][1] == "name"))  # names first
    for text, path, value in parsed:
        if len(path) == 2 and path[0] in KINDS and path[1] == "name":
            current = data.get(path[0])
            if isinstance(current, dict) and current.get("name") != value:
                data[path[0]] = {"name": value}
        node = data
        for part in path[:-1]:
            if node.get(part) is None:
                node[part] = {}
            if not isinstance(node[part], dict):
                raise RecipeError(f"bad --set '{text}': '{part}' holds a value, not a section")
            node = node[part]
        node[path[-1]] = value
        origins[".".join(path)] = f"--set {text}"
    return origins


def known_keys(loc: tuple) -> list[str]:
    """The field names accepted at a location of the recipe's shape."""
    model: type[BaseModel] = Recipe
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        annotation = getattr(field, "annotation", None)
        candidates = [a for a in getattr(annotation, "__args__", (annotation,)) if isinstance(a, type)]
        models = [a for a in candidates if issubclass(a, BaseModel)]
        if not models:
            return []
        model = models[0]
    return sorted(model.model_fields)


PATTERN_HINTS = {
    "name": "a recipe name is a slug of up to 64 letters, digits, '.', '_' and '-' (it names the run folder)",
    "device": "use auto, cpu, mps, cuda or cuda:N",
}


def format_shape_error(error: ValidationError, source: str, origins: dict[str, str]) -> str:
    lines = []
    for item in error.errors():
        loc = tuple(item["loc"])
        key = ".".join(str(p) for p in loc) or "(top level)"
        where = next(
            (o for k, o in origins.items() if k == key or k.startswith(key + ".") or key.startswith(k + ".")), source
        )
        if item["type"] == "extra_forbidden":
            known = known_keys(loc)
            lines.append(
                f"unknown key '{key}' ({where}).{did_you_mean(str(loc[-1]), known)} Accepted here: {', '.join(known)}"
            )
        elif item["type"] == "missing":
            lines.append(f"missing key '{key}' ({where})")
        elif item["type"] == "string_pattern_mismatch":
            lines.append(f"bad value at {key} ({where}): {PATTERN_HINTS.get(str(loc[-1]), item['msg'])}")
        else:
            lines.append(f"bad value at {key} ({where}): {item['msg']}")
    return "\n".join(lines)


def load_recipe(
    ref: str | os.PathLike | None = None, overrides: list[str] | None = None, registry: Registry | None = None
) -> ResolvedRecipe:
    """Find, read, override and validate a recipe, then instantiate its components."""
    path = find_recipe(ref, registry=registry)
    return resolve_recipe(read_recipe_tree(path), display(path), overrides, registry)


def resolve_recipe(
    data: dict, source: str, overrides: list[str] | None = None, registry: Registry | None = None
) -> ResolvedRecipe:
    """Validate recipe data (already read) in two passes and instantiate its components."""
    data = copy.deepcopy(data)
    origins = apply_overrides(data, overrides or [])
    try:
        spec = Recipe.model_validate(data)
    except ValidationError as error:
        raise RecipeError(format_shape_error(error, source, origins)) from None
    registry = registry or Registry.from_entry_points()
    parts: dict[str, Component] = {}
    for kind in RECIPE_KINDS:
        ref: ComponentRef | None = getattr(spec, kind.key)
        if ref is None:
            continue
        registry.get(kind.key, ref.name, f"{kind.key}.name ({origins.get(f'{kind.key}.name', source)})")
        param_origin = next((o for k, o in origins.items() if k.startswith(f"{kind.key}.params")), source)
        parts[kind.key] = registry.create(kind.key, ref.name, ref.params, key=kind.key, source=param_origin)
    provenance = {key: registry.provenance(key, c) for key, c in parts.items()}
    resolved = ResolvedRecipe(spec, source, parts, provenance)
    check_modalities(resolved)
    return resolved


def check_modalities(recipe: ResolvedRecipe) -> None:
    """A head that reads text needs an OCR engine and a text encoder; one that reads images, an encoder."""
    needs = recipe.fusion.modalities()
    missing = []
    if "image" in needs and recipe.image_encoder is None:
        missing.append("image_encoder")
    if "text" in needs:
        missing += [key for key in ("ocr", "text_encoder") if getattr(recipe, key) is None]
    if missing:
        raise RecipeError(
            f"fusion head '{recipe.fusion.name}' in {recipe.source} needs "
            f"{' and '.join(missing)}, which the recipe does not set"
        )
