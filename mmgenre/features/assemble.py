"""Reading a plan's features back from the store, aligned row by row for a fusion head."""

from __future__ import annotations

import logging

import numpy as np

from mmgenre.features.codec import DamagedEntry, unpack
from mmgenre.features.featureset import FeatureSet, pad_tokens
from mmgenre.features.namespaces import Namespace, text_key
from mmgenre.features.plan import FeaturePlan, read_texts
from mmgenre.features.store import FeatureStore

log = logging.getLogger("mmgenre")


def read_arrays(store: FeatureStore, space: Namespace | None, keys: list[str]) -> dict[str, np.ndarray] | None:
    """The arrays of `keys` in a namespace; a damaged or non-finite entry is left out (its poster is skipped)
    and said once, naming the store."""
    if space is None:
        return None
    arrays, damaged = {}, {}
    for key, entry in store.get_many(space.name, keys).items():
        try:
            arrays[key] = unpack(*entry)
        except DamagedEntry as error:
            damaged[key] = str(error)
    if damaged:
        key, problem = next(iter(damaged.items()))
        log.warning(
            "%d cached %s features in %s can't be used and their posters are skipped (entry %s: %s); "
            "`mmgenre cache clear --name %s` recomputes them",
            len(damaged),
            space.name,
            getattr(store, "location", None) or getattr(store, "path", "the feature store"),  # a Store, or a cache
            key[:16],
            problem,
            space.component,
        )
    return arrays


def assemble(plan: FeaturePlan, store: FeatureStore) -> FeatureSet:
    """The features of every poster that has all of them (the others were logged as skipped)."""
    spaces = plan.spaces
    keys = list(dict.fromkeys(source.key for source in plan.readable))
    arrays: dict[str, dict[str, np.ndarray]] = {}
    texts: dict[str, str] | None = None
    for name in ("image", "image_tokens"):
        found = read_arrays(store, getattr(spaces, name), keys)
        if found is not None:
            arrays[name] = found
    if spaces.ocr is not None:
        texts = read_texts(store, spaces.ocr.name, keys)
        by_text = list({text_key(text) for text in texts.values()})
        for name in ("text", "text_tokens"):
            found = read_arrays(store, getattr(spaces, name), by_text)
            if found is not None:
                arrays[name] = {key: found[text_key(t)] for key, t in texts.items() if text_key(t) in found}
    return stack(plan, arrays, texts)


def stack(plan: FeaturePlan, arrays: dict[str, dict[str, np.ndarray]], texts: dict[str, str] | None) -> FeatureSet:
    rows = [i for i, s in enumerate(plan.sources) if s is not None and all(s.key in a for a in arrays.values())]
    keys = [plan.sources[i].key for i in rows]  # type: ignore[union-attr]
    stacked: dict[str, np.ndarray] = {}
    for name, by_key in arrays.items():
        values = [by_key[k] for k in keys]
        if name.endswith("_tokens"):
            stacked[name], stacked[name.replace("_tokens", "_mask")] = pad_tokens(values)
        else:
            widths = {value.shape for value in values}
            if len(widths) > 1:
                raise DamagedEntry(
                    f"the cached {name} features have different shapes ({', '.join(map(str, sorted(widths)))}): "
                    "the cache or an imported shard is damaged; `mmgenre cache check` finds it"
                )
            stacked[name] = np.stack(values).astype(np.float32) if values else np.zeros((0, 0), np.float32)
    return FeatureSet(
        np.array(rows, dtype=np.int64), stacked, [texts[k] for k in keys] if texts is not None else None, keys
    )
