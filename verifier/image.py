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

import atexit
import io
import json
import math
import os
import re
import resource
import signal
import struct
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Final, NoReturn

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
# zxing-cpp's detector tries combinations of every finder-pattern-like shape it sees: an
# image tiled with finder patterns costs it minutes whatever its size bounds. The scan
# therefore runs in a child process that the kernel stops after this much CPU time (a photo
# of a certificate takes a few hundredths of a second).
SCAN_CPU_SECONDS: Final = 2
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


def _attempts(gray: Image.Image) -> Iterator[tuple[Image.Image, zxingcpp.Binarizer]]:
    yield gray, zxingcpp.Binarizer.LocalAverage
    yield gray, zxingcpp.Binarizer.GlobalHistogram
    big = _upscaled(gray)
    if big is not None:
        yield big, zxingcpp.Binarizer.LocalAverage
    yield ImageOps.autocontrast(gray, cutoff=2), zxingcpp.Binarizer.LocalAverage


def read_qr_texts(image: Image.Image) -> list[str]:
    """The texts of every QR code zxing-cpp finds, trying the fallbacks until one works.
    Refuses (``too_large``) an image :func:`check_dimensions` refuses, before scanning it, and
    (``too_complex``) one whose scan takes more than ``SCAN_CPU_SECONDS`` of CPU."""
    try:
        gray = _scannable(image)
    except InputError:
        raise
    except Exception as exc:  # Pillow on an odd image mode or size
        raise InputError(f"could not scan the image: {exc}") from exc
    if _CHILD_SCANS:
        return _SCANNER.scan(gray)
    return _scan(gray)


def _scan(gray: Image.Image) -> list[str]:
    try:
        for candidate, binarizer in _attempts(gray):
            found = zxingcpp.read_barcodes(candidate, formats=_QR_ONLY, binarizer=binarizer)
            texts = [barcode.text for barcode in found if barcode.valid and barcode.text]
            if texts:
                return texts
    except Exception as exc:  # zxing/Pillow on an odd image mode or size
        raise InputError(f"could not scan the image: {exc}") from exc
    return []


# One scanner process per verifying process, started on first use from a fresh interpreter
# (nothing of the caller's threads or memory in it), forks one child per scan under the CPU
# limit and says how each ended; a child stopped by its limit takes no other scan with it.
# Where processes cannot be forked (Windows) the scan runs in the caller's process, unbounded.
_CHILD_SCANS: Final = hasattr(os, "fork")
_STOPPED_BY_LIMIT: Final = (signal.SIGXCPU, signal.SIGKILL)
_HEADER: Final = struct.Struct(">II")
_SCANNER_MAIN: Final = (
    "import sys; from verifier.image import _serve_scans; "
    "_serve_scans(sys.stdin.buffer, sys.stdout.buffer)"
)


class _Scanner:
    """The verifying process's handle on its scanner process; one scan at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None

    def scan(self, gray: Image.Image) -> list[str]:
        request = _HEADER.pack(*gray.size) + gray.tobytes()
        with self._lock:
            kind, value = self._ask(request)
        if kind == "texts":
            return [str(text) for text in value]
        if kind == "too_complex":
            raise InputError(
                f"scanning the image took more than {SCAN_CPU_SECONDS} s of CPU "
                "(a photo of a QR code takes a fraction of that)",
                code="too_complex",
            )
        raise InputError(str(value))

    def _ask(self, request: bytes) -> tuple[str, Any]:
        for attempt in (1, 2):  # a scanner that died since its last scan is started again
            process = self._started()
            try:
                assert process.stdin is not None
                assert process.stdout is not None
                process.stdin.write(request)
                process.stdin.flush()
                return _read_message(process.stdout)
            except (OSError, EOFError, ValueError):
                self._stop()
                if attempt == 2:
                    raise InputError("the QR scanner process could not be run") from None
        raise AssertionError("unreachable")

    def _started(self) -> subprocess.Popen[bytes]:
        if self._process is None or self._process.poll() is not None:
            self._stop()
            root = str(Path(__file__).resolve().parents[1])
            paths = [root, *filter(None, [os.environ.get("PYTHONPATH")])]
            # Our own interpreter and module: no outside input reaches the command line.
            self._process = subprocess.Popen(  # noqa: S603
                [sys.executable, "-c", _SCANNER_MAIN],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env={**os.environ, "PYTHONPATH": os.pathsep.join(paths)},
            )
        return self._process

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def close(self) -> None:
        with self._lock:
            self._stop()

    def forget(self) -> None:
        """In a forked copy of the verifying process: the scanner and its pipes are the
        parent's, so the copy starts its own."""
        self._lock = threading.Lock()
        self._process = None


_SCANNER: Final = _Scanner()
atexit.register(_SCANNER.close)
if _CHILD_SCANS:
    os.register_at_fork(after_in_child=_SCANNER.forget)


def _read_exact(stream: IO[bytes], size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise EOFError("the other process closed the pipe")
    return data


def _write_message(stream: IO[bytes], kind: str, value: object) -> None:
    body = json.dumps([kind, value]).encode()
    stream.write(_HEADER.pack(len(body), 0) + body)
    stream.flush()


def _read_message(stream: IO[bytes]) -> tuple[str, Any]:
    size, _ = _HEADER.unpack(_read_exact(stream, _HEADER.size))
    kind, value = json.loads(_read_exact(stream, size))
    return str(kind), value


def _serve_scans(requests: IO[bytes], answers: IO[bytes]) -> None:
    """The scanner process: for each request (width, height, pixels) a forked child scans
    under the CPU limit and this process answers how it ended. Ends when the caller closes
    the pipe. Single-threaded, so forking it is safe."""
    while header := requests.read(_HEADER.size):
        width, height = _HEADER.unpack(_read_exact_rest(requests, header))
        pixels = _read_exact(requests, width * height)
        readable, writable = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(readable)
            _scan_in_this_child(writable, width, height, pixels)
        os.close(writable)
        with os.fdopen(readable, "rb") as result:
            body = result.read()
        if body:  # answered: reply first, the child's exit is off the caller's path
            kind, value = json.loads(body)
            _write_message(answers, kind, value)
            os.waitpid(pid, 0)
            continue
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) in _STOPPED_BY_LIMIT:
            _write_message(answers, "too_complex", None)
        else:
            _write_message(answers, "error", f"the QR scanner stopped (wait status {status})")


def _read_exact_rest(stream: IO[bytes], start: bytes) -> bytes:
    return (
        start + _read_exact(stream, _HEADER.size - len(start))
        if len(start) < _HEADER.size
        else start
    )


def _scan_in_this_child(writable: int, width: int, height: int, pixels: bytes) -> NoReturn:
    """The forked child: scan under the CPU limit, write the answer, exit at once whatever
    happens (it must never return into the scanner's loop)."""
    try:
        resource.setrlimit(resource.RLIMIT_CPU, (SCAN_CPU_SECONDS, SCAN_CPU_SECONDS + 1))
        answer: list[object]
        try:
            answer = ["texts", _scan(Image.frombytes("L", (width, height), pixels))]
        except InputError as exc:
            answer = ["error", exc.message]
        with os.fdopen(writable, "wb") as out:
            out.write(json.dumps(answer).encode())
    finally:
        os._exit(0)


def payload_text_from_image(image: Image.Image) -> str:
    """The AEO payload among the QR codes in ``image`` (the first, when there are several)."""
    texts = read_qr_texts(image)
    if not texts:
        raise InputError("no QR code found in the image", code="no_qr_code")
    return next((t for t in texts if _PAYLOAD_RE.match(t)), texts[0])
