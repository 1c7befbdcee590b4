"""The input stage: QR text from what a caller hands over (text, bytes, an image or a path),
bounded before any decoding work."""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image

from verifier.errors import (
    InputError,
)
from verifier.image import MAX_IMAGE_BYTES, looks_like_image, open_image, payload_text_from_image
from verifier.payload import (
    MAX_INPUT_CHARS,
)


def read_input(data: object) -> str:
    """The input stage: QR text from text, bytes, an image or a file path."""
    if isinstance(data, Image.Image):
        return payload_text_from_image(data)
    if isinstance(data, bytes | bytearray | memoryview):
        return _text_from_bytes(bytes(data))
    if isinstance(data, os.PathLike):
        return _text_from_file(Path(data))
    if isinstance(data, str):
        # A string is always payload text, never a path: callers that take text from the
        # network must not be able to make the verifier open local files. File paths come
        # as os.PathLike (the CLI converts an existing file argument to a Path).
        return _checked_text(data)
    raise InputError(f"cannot verify a {type(data).__name__}: give text, bytes, an image or a path")


def _text_from_file(path: Path) -> str:
    too_large = InputError(f"file {path} is larger than a photo should be", code="too_large")
    try:
        if path.stat().st_size > MAX_IMAGE_BYTES:
            raise too_large
        with path.open("rb") as handle:
            # Devices and pipes report size 0 (/dev/zero never ends): only a bounded read
            # keeps the limit.
            data = handle.read(MAX_IMAGE_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(data) > MAX_IMAGE_BYTES:
        raise too_large
    return _text_from_bytes(data)


def _text_from_bytes(data: bytes) -> str:
    if looks_like_image(data):
        return payload_text_from_image(open_image(data))
    try:
        return _checked_text(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError("bytes are neither an image nor UTF-8 text") from exc


def _checked_text(text: str) -> str:
    if len(text) > MAX_INPUT_CHARS:
        raise InputError(
            f"text of {len(text)} characters is longer than any QR code holds", code="too_large"
        )
    return text
