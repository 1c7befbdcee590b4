"""Reading the QR code out of a photo or a scan, with zxing-cpp.

Phone photos of printed certificates are rotated, skewed, small, blurred and JPEG-compressed;
zxing-cpp handles most of that in its default pass, and the fallbacks below (another
binarizer, an upscaled copy for small crops, a contrast-stretched copy) catch most of the rest.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Iterator

import zxingcpp
from PIL import Image, ImageOps

from verifier.errors import InputError

# A phone photo is a few megabytes; refusing far larger files keeps a bad upload from
# costing the verifier its memory.
MAX_IMAGE_BYTES = 40 * 1024 * 1024
_UPSCALE_BELOW = 500
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


def open_image(data: bytes) -> Image.Image:
    """Bytes of an image file to a loaded, upright image; refuses bombs and non-images."""
    if len(data) > MAX_IMAGE_BYTES:
        raise InputError(f"image is larger than {MAX_IMAGE_BYTES // 2**20} MiB", code="too_large")
    try:
        with warnings.catch_warnings():
            # Pillow only warns between 89 and 179 megapixels; such an image is no photo of
            # a certificate either, so the warning is a refusal here.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            image.load()
            return ImageOps.exif_transpose(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InputError(f"image has too many pixels: {exc}", code="too_large") from exc
    except Exception as exc:  # Pillow raises many types for corrupt files; all mean unreadable
        raise InputError(f"not a readable image: {exc}") from exc


def _attempts(image: Image.Image) -> Iterator[tuple[Image.Image, zxingcpp.Binarizer]]:
    gray = image.convert("L")
    yield gray, zxingcpp.Binarizer.LocalAverage
    yield gray, zxingcpp.Binarizer.GlobalHistogram
    if min(gray.size) < _UPSCALE_BELOW:
        factor = -(-_UPSCALE_BELOW // max(1, min(gray.size)))
        big = gray.resize((gray.width * factor, gray.height * factor), Image.Resampling.LANCZOS)
        yield big, zxingcpp.Binarizer.LocalAverage
    yield ImageOps.autocontrast(gray, cutoff=2), zxingcpp.Binarizer.LocalAverage


def read_qr_texts(image: Image.Image) -> list[str]:
    """The texts of every QR code zxing-cpp finds, trying the fallbacks until one works."""
    try:
        for candidate, binarizer in _attempts(image):
            found = zxingcpp.read_barcodes(candidate, formats=_QR_ONLY, binarizer=binarizer)
            texts = [barcode.text for barcode in found if barcode.valid and barcode.text]
            if texts:
                return texts
    except Exception as exc:  # zxing/Pillow on an odd image mode or size
        raise InputError(f"could not scan the image: {exc}") from exc
    return []


def payload_text_from_image(image: Image.Image) -> str:
    """The AEO payload among the QR codes in ``image`` (the first, when there are several)."""
    texts = read_qr_texts(image)
    if not texts:
        raise InputError("no QR code found in the image", code="no_qr_code")
    return next((t for t in texts if _PAYLOAD_RE.match(t)), texts[0])
