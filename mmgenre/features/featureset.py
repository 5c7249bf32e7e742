"""The features of a set of posters, aligned row by row, ready for a fusion head."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mmgenre.components import FeatureDims


@dataclass
class FeatureSet:
    """`rows[i]` is the index (in the input list) of the poster whose features are at row i.

    `arrays` holds some of: image (N, Di), text (N, Dt), image_tokens (N, Li, Di'), image_mask (N, Li),
    text_tokens (N, Lt, Dt'), text_mask (N, Lt); tokens are float16 to keep memory small.
    """

    rows: np.ndarray
    arrays: dict[str, np.ndarray]
    texts: list[str] | None = None
    content_keys: list[str] = field(default_factory=list)
    computed: dict[str, int] = field(default_factory=dict)  # per stage: items computed, not read from cache

    def __len__(self) -> int:
        return len(self.rows)

    def dims(self) -> FeatureDims:
        def width(name: str) -> int | None:
            return int(self.arrays[name].shape[-1]) if name in self.arrays else None

        return FeatureDims(width("image"), width("text"), width("image_tokens"), width("text_tokens"))

    def subset(self, positions: np.ndarray) -> FeatureSet:
        """The rows at `positions` (positions in this set, not input indices)."""
        return FeatureSet(
            rows=self.rows[positions],
            arrays={name: array[positions] for name, array in self.arrays.items()},
            texts=[self.texts[i] for i in positions] if self.texts is not None else None,
            content_keys=[self.content_keys[i] for i in positions] if self.content_keys else [],
        )

    def batch(self, positions: np.ndarray, device: str = "cpu") -> dict:
        """Torch tensors for a batch: floats as float32, masks as bool."""
        import torch

        batch = {}
        for name, array in self.arrays.items():
            tensor = torch.from_numpy(np.ascontiguousarray(array[positions]))
            batch[name] = tensor.to(device) if name.endswith("_mask") else tensor.to(device).float()
        return batch


def concatenate(sets: list[FeatureSet]) -> FeatureSet:
    """The rows of several sets of the same features, one after the other (token arrays padded to the longest)."""
    arrays = {}
    for name in sets[0].arrays:
        parts = [feature_set.arrays[name] for feature_set in sets]
        if parts[0].ndim >= 2 and (name.endswith("_tokens") or name.endswith("_mask")):
            longest = max(part.shape[1] for part in parts)
            parts = [
                np.pad(part, [(0, 0), (0, longest - part.shape[1])] + [(0, 0)] * (part.ndim - 2)) for part in parts
            ]
        arrays[name] = np.concatenate(parts)
    texts = None if any(s.texts is None for s in sets) else [t for s in sets for t in s.texts]  # type: ignore[union-attr]
    return FeatureSet(
        rows=np.arange(sum(len(s) for s in sets)),
        arrays=arrays,
        texts=texts,
        content_keys=[k for s in sets for k in s.content_keys] if all(s.content_keys for s in sets) else [],
    )


def pad_tokens(sequences: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Variable-length (L_i, D) arrays -> (N, L, D) float16 and a (N, L) mask of real tokens."""
    longest = max((len(s) for s in sequences), default=0)
    longest = max(longest, 1)
    width = sequences[0].shape[-1] if sequences else 0
    tokens = np.zeros((len(sequences), longest, width), dtype=np.float16)
    mask = np.zeros((len(sequences), longest), dtype=bool)
    for i, sequence in enumerate(sequences):
        tokens[i, : len(sequence)] = sequence
        mask[i, : len(sequence)] = True
    return tokens, mask
