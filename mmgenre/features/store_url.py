"""One function opens a feature store from a URL (`--store`), whichever plugin provides it.

    (nothing)                    the SQLite cache in MMGENRE_CACHE or ~/.cache/mmgenre
    PATH  or  sqlite:PATH        the SQLite cache in folder PATH
    parquet+file:///ABS/PATH     Parquet shards in a local folder (any fsspec protocol after `parquet+`)
    s3://BUCKET/PREFIX           Parquet shards on S3 (or an S3-compatible service: ?endpoint_url=http://...)

A query string sets the store's params (`s3://b/p?endpoint_url=http://127.0.0.1:9000`); unknown ones are errors.
"""

from __future__ import annotations

from pathlib import Path

from mmgenre.components.store import Store, url_scheme
from mmgenre.errors import MmgenreError


def store_classes(registry) -> dict[str, type[Store]]:
    """Scheme -> the store class that opens it, from every registered store."""
    by_scheme: dict[str, type[Store]] = {}
    for entry in registry.entries("store"):
        for scheme in entry.component.schemes:  # type: ignore[attr-defined]
            by_scheme.setdefault(scheme, entry.component)  # type: ignore[arg-type]
    return by_scheme


def open_store(url: str | Path | None = None, registry=None, *, read_only: bool = False) -> Store:
    """The store a URL names (see the module's docstring); an unknown scheme is an error listing the known ones."""
    from mmgenre.registry import Registry, format_params_error

    registry = registry or Registry.from_entry_points()
    url = "" if url is None else str(url)
    scheme = url_scheme(url)
    classes = store_classes(registry)
    if scheme not in classes:
        known = ", ".join(f"{s}:" if s else "a plain path" for s in sorted(classes))
        raise MmgenreError(f"--store {url}: unknown store scheme '{scheme}:'. Known: {known}")
    store_class = classes[scheme]
    params = store_class.url_params(url)
    if read_only:
        params["read_only"] = True
    from pydantic import ValidationError

    try:
        validated = store_class.Params.model_validate(params)
    except ValidationError as error:
        raise MmgenreError(format_params_error(error, store_class, "store", f"--store {url}")) from None
    return store_class(validated)
