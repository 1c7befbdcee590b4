"""Images and a fake camera video made from a real payload, for the browser tests."""

from __future__ import annotations

import io
from pathlib import Path

import segno
from PIL import Image, ImageDraw, ImageFont

# Chromium's fake capture device reads YUV4MPEG2 (.y4m): a header line, then per frame
# "FRAME\n" and the Y, U and V planes (4:2:0, so U and V at half width and height).
Y4M_WIDTH = 640
Y4M_HEIGHT = 480
Y4M_FPS = 10


def qr_image(text: str, scale: int = 8) -> Image.Image:
    """The QR code of ``text`` at error correction M, as the issuer prints it."""
    code = segno.make(text, error="m", boost_error=False)
    buffer = io.BytesIO()
    code.save(buffer, kind="png", scale=scale, border=4)
    buffer.seek(0)
    with Image.open(buffer) as image:
        return image.convert("L")


def qr_png(text: str, scale: int = 8) -> bytes:
    buffer = io.BytesIO()
    qr_image(text, scale).save(buffer, format="PNG")
    return buffer.getvalue()


def certificate_frame(text: str, offset: tuple[int, int] = (0, 0)) -> Image.Image:
    """A camera's view of a printed certificate: a page on a desk, with the QR code on it."""
    frame = Image.new("RGB", (Y4M_WIDTH, Y4M_HEIGHT), (86, 92, 101))
    draw = ImageDraw.Draw(frame)
    dx, dy = offset
    page = (24 + dx, 18 + dy, 616 + dx, 462 + dy)
    draw.rectangle(page, fill=(250, 250, 247))
    title = ImageFont.load_default(size=20)
    body = ImageFont.load_default(size=13)
    left, top = page[0] + 22, page[1] + 22
    draw.text((left, top), "AUTHORIZED ECONOMIC OPERATOR", font=title, fill=(15, 42, 68))
    draw.text((left, top + 28), "Certificate MN-AEO-2024-0042", font=body, fill=(40, 40, 40))
    for row in range(9):
        width = 250 - (row % 3) * 40
        y = top + 70 + row * 24
        draw.rectangle((left, y, left + width, y + 8), fill=(160, 165, 172))
    qr = qr_image(text, scale=4)
    side = min(qr.width, 300)
    qr = qr.resize((side, side), Image.Resampling.NEAREST)
    frame.paste(qr.convert("RGB"), (page[2] - side - 22, page[1] + 70))
    return frame


def blank_frame() -> Image.Image:
    """The desk before the certificate is held up."""
    return Image.new("RGB", (Y4M_WIDTH, Y4M_HEIGHT), (86, 92, 101))


def write_y4m(path: Path, frames: list[Image.Image]) -> Path:
    header = f"YUV4MPEG2 W{Y4M_WIDTH} H{Y4M_HEIGHT} F{Y4M_FPS}:1 Ip A1:1 C420jpeg\n"
    with path.open("wb") as out:
        out.write(header.encode("ascii"))
        for frame in frames:
            if frame.size != (Y4M_WIDTH, Y4M_HEIGHT):
                raise ValueError(f"frame is {frame.size}, the video is {Y4M_WIDTH}x{Y4M_HEIGHT}")
            y, cb, cr = frame.convert("YCbCr").split()
            half = (Y4M_WIDTH // 2, Y4M_HEIGHT // 2)
            out.write(b"FRAME\n")
            out.write(y.tobytes())
            out.write(cb.resize(half, Image.Resampling.BOX).tobytes())
            out.write(cr.resize(half, Image.Resampling.BOX).tobytes())
    return path
