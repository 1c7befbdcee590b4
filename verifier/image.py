"""Reading the QR code out of a photo or a scan, with zxing-cpp.

Phone photos of printed certificates are rotated, skewed, small, blurred and JPEG-compressed;
zxing-cpp handles most of that in its default pass, and the fallbacks below (another
binarizer, an upscaled copy for small crops, a contrast-stretched copy) catch most of the rest.

Every image is bounded before any pixel is decoded, because a file of a few hundred bytes can
declare 65,535 by 65,535 pixels: the declared size must be at most ``MAX_IMAGE_PIXELS`` and no
longer than ``MAX_ASPECT_RATIO`` times its width (or the reverse), and what zxing-cpp scans
is one grayscale copy of at most ``MAX_SCAN_PIXELS`` (photos are shrunk, JPEGs already while
they are decoded) or, for a small crop, an enlarged copy of at most ``MAX_UPSCALED_PIXELS``.
docs/qr-format.md ("Images") gives the figures behind these numbers.
"""

from __future__ import annotations

import io
import math
import re
import warnings
from collections.abc import Iterator
from typing import Final

import zxingcpp
from PIL import Image, ImageOps

from verifier.errors import InputError

# A phone photo is a few megabytes; refusing far larger files keeps a bad upload from
# costing the verifier its memory.
MAX_IMAGE_BYTES: Final = 40 * 1024 * 1024
# The declared size of an image the verifier decodes at all: a 48-megapixel phone sensor
# writes 12-megapixel photos, and the border page allows the same 40 megapixels. Decoded in
# full (a PNG; a JPEG decodes shrunk, see below) that is 160 MB of RGBA at most.
MAX_IMAGE_PIXELS: Final = 40_000_000
# A QR code is square; a photo or scan of one, even of a whole certificate page, is nowhere
# near 20 times longer than it is wide. Narrower strips would need enlarging to a huge area
# before zxing-cpp could find anything in them.
MAX_ASPECT_RATIO: Final = 20
# zxing-cpp scans images larger than this shrunk to this many pixels: a QR code that fills a
# tenth of a 40-megapixel photo's width still has 5 pixels a module, and the scan's time and
# memory stay bounded whatever the picture shows.
MAX_SCAN_PIXELS: Final = 8_000_000
# A crop whose shorter side is under 500 pixels is also scanned enlarged to that side, but
# never to more than this many pixels.
MAX_UPSCALED_PIXELS: Final = 2_000_000
_UPSCALE_BELOW: Final = 500
_QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
_PAYLOAD_RE = re.compile(r"^\s*AEO\d+:")

_IMAGE_MAGIC = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",  # JPEG
    b"GIF87a",
    b"GIF89a",
    b"BM",
    b"II*\x00",  # TIFF
    b"MM\x00*",
)


def looks_like_image(data: bytes) -> bool:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return True
    return any(data.startswith(magic) for magic in _IMAGE_MAGIC)


def check_dimensions(width: int, height: int) -> None:
    """Refuses (``too_large``) an image size no photo or scan of a QR code has."""
    if width * height > MAX_IMAGE_PIXELS:
        raise InputError(
            f"image of {width:,} × {height:,} pixels has more than "
            f"{MAX_IMAGE_PIXELS // 1_000_000} megapixels",
            code="too_large",
        )
    if max(width, height) > MAX_ASPECT_RATIO * min(width, height):
        raise InputError(
            f"image of {width:,} × {height:,} pixels is more than {MAX_ASPECT_RATIO} times "
            "longer than it is wide: no photo of a QR code has that shape",
            code="too_large",
        )


def open_image(data: bytes) -> Image.Image:
    """Bytes of an image file to an upright grayscale image ready to scan, of at most
    ``MAX_SCAN_PIXELS``; refuses bombs (before decoding any pixel) and non-images."""
    if len(data) > MAX_IMAGE_BYTES:
        raise InputError(f"image is larger than {MAX_IMAGE_BYTES // 2**20} MiB", code="too_large")
    try:
        with warnings.catch_warnings():
            # Pillow's own bomb check (a warning from 89 megapixels) comes after ours; as an
            # error it is one more refusal should the declared size ever be bypassed.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))  # reads the header only
            check_dimensions(*image.size)
            # A JPEG decodes straight to grayscale, and shrunk by 2, 4 or 8 in the DCT when
            # the photo is that much larger than the scan: a fraction of the time and memory.
            image.draft("L", _scan_size(image.size))
            image.load()
            # Shrunk before it is turned upright: exif_transpose copies the whole image.
            return ImageOps.exif_transpose(_scannable(image))
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InputError(f"image has too many pixels: {exc}", code="too_large") from exc
    except Exception as exc:  # Pillow raises many types for corrupt files; all mean unreadable
        raise InputError(f"not a readable image: {exc}") from exc


def _scan_size(size: tuple[int, int]) -> tuple[int, int]:
    """``size`` shrunk, keeping its shape, to at most ``MAX_SCAN_PIXELS``."""
    width, height = size
    if width * height <= MAX_SCAN_PIXELS:
        return size
    scale = math.sqrt(MAX_SCAN_PIXELS / (width * height))
    return max(1, math.floor(width * scale)), max(1, math.floor(height * scale))


def _scannable(image: Image.Image) -> Image.Image:
    """One grayscale copy of ``image`` of at most ``MAX_SCAN_PIXELS`` (checked first)."""
    check_dimensions(*image.size)
    gray = image.convert("L")
    size = _scan_size(gray.size)
    if size != gray.size:
        # Box averaging: a quarter of Lanczos's time, and modules of several pixels need no
        # sharper filter to stay readable.
        gray = gray.resize(size, Image.Resampling.BOX)
    return gray


def _upscaled(gray: Image.Image) -> Image.Image | None:
    """A small crop enlarged so its shorter side reaches 500 pixels, within
    ``MAX_UPSCALED_PIXELS``; None when the image is not small or cannot grow."""
    shorter = min(gray.size)
    if shorter >= _UPSCALE_BELOW:
        return None
    wanted = -(-_UPSCALE_BELOW // shorter)
    allowed = math.isqrt(MAX_UPSCALED_PIXELS // (gray.width * gray.height))
    factor = min(wanted, allowed)
    if factor < 2:
        return None
    return gray.resize((gray.width * factor, gray.height * factor), Image.Resampling.LANCZOS)


def _attempts(image: Image.Image) -> Iterator[tuple[Image.Image, zxingcpp.Binarizer]]:
    gray = _scannable(image)
    yield gray, zxingcpp.Binarizer.LocalAverage
    yield gray, zxingcpp.Binarizer.GlobalHistogram
    big = _upscaled(gray)
    if big is not None:
        yield big, zxingcpp.Binarizer.LocalAverage
    yield ImageOps.autocontrast(gray, cutoff=2), zxingcpp.Binarizer.LocalAverage


def read_qr_texts(image: Image.Image) -> list[str]:
    """The texts of every QR code zxing-cpp finds, trying the fallbacks until one works.
    Refuses (``too_large``) an image :func:`check_dimensions` refuses, before scanning it."""
    try:
        for candidate, binarizer in _attempts(image):
            found = zxingcpp.read_barcodes(candidate, formats=_QR_ONLY, binarizer=binarizer)
            texts = [barcode.text for barcode in found if barcode.valid and barcode.text]
            if texts:
                return texts
    except InputError:
        raise
    except Exception as exc:  # zxing/Pillow on an odd image mode or size
        raise InputError(f"could not scan the image: {exc}") from exc
    return []


def payload_text_from_image(image: Image.Image) -> str:
    """The AEO payload among the QR codes in ``image`` (the first, when there are several)."""
    texts = read_qr_texts(image)
    if not texts:
        raise InputError("no QR code found in the image", code="no_qr_code")
    return next((t for t in texts if _PAYLOAD_RE.match(t)), texts[0])
