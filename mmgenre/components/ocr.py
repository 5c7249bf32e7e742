"""The OCR engine interface: poster image in, text (and word boxes when the engine has them) out."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, ClassVar, Literal

from mmgenre.components.base import Component

if TYPE_CHECKING:
    from PIL import Image


@dataclass(frozen=True)
class Word:
    """One recognised word or line, with its box (left, top, right, bottom) in image pixels."""

    text: str
    box: tuple[int, int, int, int] | None = None
    confidence: float | None = None  # 0..1


@dataclass(frozen=True)
class OcrResult:
    """The text an engine read on a poster, in reading order."""

    text: str
    words: list[Word] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> OcrResult:
        words = [Word(w["text"], tuple(w["box"]) if w["box"] else None, w["confidence"]) for w in data["words"]]
        return cls(text=data["text"], words=words)


class OcrEngine(Component):
    """Reads the text printed on a poster."""

    # "process": CPU-bound, run in worker processes; "thread": waits on I/O (remote APIs).
    parallelism: ClassVar[Literal["process", "thread"]] = "process"

    @property
    def batch_size(self) -> int:
        """Posters per `read_batch` call the engine wants; above 1 the executor reads batches in its own process
        (a GPU engine) instead of posters one by one in workers."""
        return 1

    def setup(self) -> None:
        """Load models or clients, kept on the object; called once before the first `read`."""

    def configure_process(self) -> None:
        """Process-wide settings (thread counts, environment) for a worker process that runs only this engine.

        Never called when the engine runs inside someone else's process (a server, a notebook)."""

    def read_batch(self, images: list[Image.Image]) -> list[OcrResult | Exception]:
        """Read several posters at once (engines that batch on a GPU override this); a failure is returned in
        the poster's place."""
        results: list[OcrResult | Exception] = []
        for image in images:
            try:
                results.append(self.read(image))
            except Exception as error:  # one poster's failure must not stop the others
                results.append(error)
        return results

    @abstractmethod
    def read(self, image: Image.Image) -> OcrResult:
        """Return the text on an RGB poster image. Raise an exception to fail this poster only."""
