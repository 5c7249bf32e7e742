"""The exported parts as onnxruntime sessions, each opened on first use and kept by its owner."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from mmgenre.data.images import BadImage
from mmgenre.errors import ComponentUnavailableError
from mmgenre.features.cache import batched
from mmgenre.features.codec import pack
from mmgenre.features.encode_stage import EntryBatch
from mmgenre.features.namespaces import Namespace
from mmgenre.features.sources import ImageOptions, Source
from mmgenre.onnx_runtime.manifest import ImagePart, Part, TextPart
from mmgenre.onnx_runtime.preprocess import TextTokenizer, image_pixels


class OnnxPart:
    """One ONNX file: opened once (lazily, thread-safe), run with the inputs it declares."""

    def __init__(self, folder: Path, part: Part) -> None:
        self.folder, self.part = folder, part
        self._session = None
        self._lock = threading.Lock()

    def session(self):
        with self._lock:
            if self._session is None:
                try:
                    import onnxruntime
                except ImportError:
                    raise ComponentUnavailableError(
                        "--runtime onnx needs onnxruntime: pip install onnxruntime"
                    ) from None
                options = onnxruntime.SessionOptions()
                options.log_severity_level = 3  # warnings about unused initialisers are noise
                path = str(self.folder / self.part.file)
                self._session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
            return self._session

    def prepare(self) -> None:
        """Open the session now (from a background thread: a failure is raised again on first use)."""
        with contextlib.suppress(Exception):  # `run` opens it again and raises where the caller sees it
            self.session()

    def run(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The part's outputs by name, fed the inputs the file declares (others in `feed` are ignored)."""
        session = self.session()
        wanted = {i.name for i in session.get_inputs()}
        values = session.run(None, {name: value for name, value in feed.items() if name in wanted})
        return dict(zip([o.name for o in session.get_outputs()], values))


def entries_of(
    keys: list[str], pooled: np.ndarray, tokens: np.ndarray | None, mask: np.ndarray | None, spaces: tuple
) -> dict[str, list]:
    """A batch's outputs as store entries, as `encode_stage.encoded_entries` makes them (non-finite: left out)."""
    pooled_space, tokens_space = spaces
    entries: dict[str, list] = {pooled_space.name: []}
    if tokens_space is not None:
        entries[tokens_space.name] = []
    for i, key in enumerate(keys):
        row = tokens[i][mask[i]] if tokens is not None and mask is not None else None
        if not np.isfinite(pooled[i]).all() or (row is not None and not np.isfinite(row).all()):
            continue
        entries[pooled_space.name].append((key, *pack(pooled[i])))
        if tokens_space is not None and row is not None:
            entries[tokens_space.name].append((key, *pack(row)))
    return entries


class ImageEncoderPart(OnnxPart):
    part: ImagePart

    def entry_batches(
        self, sources: list[Source], options: ImageOptions, spaces: tuple[Namespace, Namespace | None], size: int
    ) -> Iterator[EntryBatch]:
        """Decode, preprocess and encode the posters `size` at a time; unusable ones are returned as bad."""
        for chunk in batched(sources, size):
            batch = EntryBatch(items=len(chunk))
            keys, pixels = [], []
            for source in chunk:
                try:
                    pixels.append(image_pixels(options.load(source), self.part.preprocessing))
                    keys.append(source.key)
                except BadImage as error:
                    batch.bad.append((source, error))
            if pixels:
                out = self.run({"pixels": np.stack(pixels)})
                tokens = out.get("tokens")
                mask = np.ones(tokens.shape[:2], dtype=bool) if tokens is not None else None
                batch.entries = entries_of(keys, out["pooled"], tokens, mask, spaces)
            yield batch


class TextEncoderPart(OnnxPart):
    part: TextPart

    def __init__(self, folder: Path, part: TextPart) -> None:
        super().__init__(folder, part)
        self._tokenizer: TextTokenizer | None = None

    def tokenizer(self) -> TextTokenizer:
        with self._lock:
            if self._tokenizer is None:
                self._tokenizer = TextTokenizer(self.folder, self.part.preprocessing)
            return self._tokenizer

    def prepare(self) -> None:
        super().prepare()
        with contextlib.suppress(Exception):
            self.tokenizer()

    def entry_batches(
        self, texts: dict[str, str], spaces: tuple[Namespace, Namespace | None], size: int
    ) -> Iterator[EntryBatch]:
        """Embed texts (text key -> text) `size` at a time."""
        tokenizer = self.tokenizer()
        for chunk in batched(list(texts), size):
            feed = tokenizer([texts[key] for key in chunk])
            out = self.run(feed)
            tokens = out.get("tokens")
            mask = feed["attention_mask"].astype(bool)
            yield EntryBatch(entries_of(chunk, out["pooled"], tokens, mask, spaces), items=len(chunk))
