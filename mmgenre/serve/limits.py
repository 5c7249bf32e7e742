"""What one server accepts and how it batches: sizes, counts and the batching window, all configurable."""

from __future__ import annotations

from dataclasses import asdict, dataclass

MB = 2**20


@dataclass(frozen=True)
class ServeLimits:
    max_upload_bytes: int = 20 * MB  # per poster file; bigger uploads are refused while they are read
    max_files: int = 32  # posters per request
    batch_window_ms: float = 0.0  # how long the worker waits for more requests to batch; 0: no batching
    max_batch: int = 64  # posters per predictor call at most
    read_timeout_s: float = 60.0  # a request body not received whole within this is refused (408)

    def __post_init__(self) -> None:
        if (
            self.max_upload_bytes < 1
            or self.max_files < 1
            or self.max_batch < 1
            or self.batch_window_ms < 0
            or not self.read_timeout_s > 0
        ):
            raise ValueError(f"invalid server limits: {self}")

    @property
    def max_request_bytes(self) -> int:
        """A whole request body at most: every file at its limit plus room for the multipart headers."""
        return self.max_files * (self.max_upload_bytes + 64 * 1024) + MB

    def to_json(self) -> dict:
        return {**asdict(self), "max_request_bytes": self.max_request_bytes}
