"""Reading poster uploads from a multipart request as it streams in, within the server's limits.

A file over the size limit is cut off while it is read (its bytes are dropped, the request goes on and that file
gets an error); a request over the file count or the total size is refused at once. Nothing is buffered beyond
the limits, and nothing is spooled to disk.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from mmgenre.serve.limits import MB, ServeLimits

FIELD = "files"
UNSAFE = re.compile(r"[\x00-\x1f\x7f]")


@dataclass
class Upload:
    """One uploaded file: its bytes, or why it was refused while reading (`error`: category, detail)."""

    index: int  # position in the request
    name: str
    data: bytearray = field(default_factory=bytearray)
    error: tuple[str, str] | None = None
    unnamed: bool = False  # sent without a file name


class UploadRefused(Exception):
    """A request refused as a whole: HTTP status, a short code, a sentence, and the files it concerns."""

    def __init__(self, status: int, code: str, message: str, errors: list[dict] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.errors = status, code, message, errors or []

    def to_json(self) -> dict:
        return {"code": self.code, "error": self.message, "errors": self.errors}


def clean_name(raw: bytes | None, index: int) -> str:
    """A file name fit for messages: no folders, no control characters, at most 200 characters."""
    name = raw.decode("utf-8", errors="replace") if raw else ""
    name = UNSAFE.sub("", name.replace("\\", "/").rsplit("/", 1)[-1]).strip()[:200]
    return name or f"upload-{index + 1}"


class PartCollector:
    """python-multipart callbacks that collect the file parts, each capped at the size limit."""

    def __init__(self, limits: ServeLimits) -> None:
        self.limits = limits
        self.uploads: list[Upload] = []
        self.current: Upload | None = None
        self._header, self._value, self._disposition = b"", b"", b""

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": lambda data, start, end: self._add("_header", data[start:end]),
            "on_header_value": lambda data, start, end: self._add("_value", data[start:end]),
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
        }

    def _add(self, attribute: str, data: bytes) -> None:
        setattr(self, attribute, getattr(self, attribute) + data)

    def on_part_begin(self) -> None:
        self.current, self._disposition = None, b""

    def on_header_end(self) -> None:
        if self._header.lower() == b"content-disposition":
            self._disposition = self._value
        self._header, self._value = b"", b""

    def on_headers_finished(self) -> None:
        """A part with a file name (or in the `files` field) is a poster; other form fields are ignored."""
        _, options = parse_options_header(self._disposition)
        if b"filename" not in options and options.get(b"name") != FIELD.encode():
            return
        index = len(self.uploads)
        name = clean_name(options.get(b"filename"), index)
        if index >= self.limits.max_files:
            raise UploadRefused(
                413,
                "too_many_files",
                f"too many files: at most {self.limits.max_files} posters per request",
                [{"index": index, "file": name, "category": "too many files",
                  "detail": f"file {index + 1} of a request, limit {self.limits.max_files}"}],
            )  # fmt: skip
        self.current = Upload(index, name, unnamed=not options.get(b"filename"))
        self.uploads.append(self.current)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        upload = self.current
        if upload is None or upload.error is not None:
            return
        if len(upload.data) + (end - start) > self.limits.max_upload_bytes:
            limit = self.limits.max_upload_bytes / MB
            upload.data, upload.error = bytearray(), ("file too large", f"more than {limit:g} MB")
            return
        upload.data += data[start:end]

    def on_part_end(self) -> None:
        """A browser sends an empty part with an empty file name for a file input left empty: not an upload."""
        upload, self.current = self.current, None
        if upload is not None and upload.unnamed and not upload.data and upload.error is None:
            self.uploads.pop()


async def read_uploads(request: Request, limits: ServeLimits) -> list[Upload]:
    """The poster files of a multipart/form-data request, in order; raises UploadRefused."""
    kind, params = parse_options_header(request.headers.get("content-type", ""))
    if kind != b"multipart/form-data":
        raise UploadRefused(415, "not_multipart", f"send the posters as multipart/form-data in the field '{FIELD}'")
    if not params.get(b"boundary"):
        raise UploadRefused(400, "bad_multipart", "the multipart/form-data content type has no boundary")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_request_bytes:
        raise too_large(limits)
    collector = PartCollector(limits)
    parser = MultipartParser(params[b"boundary"], collector.callbacks())  # type: ignore[arg-type]
    received = 0
    try:
        async for chunk in within(request.stream(), limits.read_timeout_s):
            received += len(chunk)
            if received > limits.max_request_bytes:
                raise too_large(limits)
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as error:
        raise UploadRefused(400, "bad_multipart", f"the multipart body cannot be parsed: {error}") from None
    except ClientDisconnect:
        raise UploadRefused(400, "client_disconnected", "the client went away during the upload") from None
    return collector.uploads


async def within(chunks: AsyncIterator[bytes], seconds: float) -> AsyncIterator[bytes]:
    """The chunks of a body that must arrive whole within `seconds`: a client that sends too slowly (or stops)
    gets a 408 and its connection closed, and holds no worker meanwhile (it only waits on its own socket)."""
    deadline = asyncio.get_running_loop().time() + seconds
    iterator = chunks.__aiter__()
    while True:
        left = deadline - asyncio.get_running_loop().time()
        try:
            yield await asyncio.wait_for(iterator.__anext__(), max(left, 0.001))
        except StopAsyncIteration:
            return
        except asyncio.TimeoutError:  # TimeoutError itself from Python 3.11
            raise UploadRefused(
                408, "request_timeout", f"the request body did not arrive within {seconds:g} s (--read-timeout)"
            ) from None


def too_large(limits: ServeLimits) -> UploadRefused:
    return UploadRefused(
        413,
        "request_too_large",
        f"the request body is over {limits.max_request_bytes / MB:.0f} MB: at most {limits.max_files} files "
        f"of {limits.max_upload_bytes / MB:g} MB each",
    )
