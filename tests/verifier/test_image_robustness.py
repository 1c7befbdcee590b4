"""QR codes read from realistic images of the project's own certificates: rotated, perspective-
skewed, scaled down, JPEG-compressed, blurred, unevenly lit, and printed on a page then
photographed. Every image is generated here from a real signed payload and decoded by
zxing-cpp through the verifier's input stage."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
import segno
from PIL import Image, ImageDraw, ImageFile, ImageFilter, ImageFont

from contracts.domain.claims import NAME_MAX_BYTES, shorten_name
from tests.verifier.world import LONG_NAME, NOW, World, base_claims, build_world, record_for
from verifier import image as image_module
from verifier.image import (
    MAX_ASPECT_RATIO,
    MAX_IMAGE_PIXELS,
    MAX_SCAN_PIXELS,
    MAX_UPSCALED_PIXELS,
    SCAN_CPU_SECONDS,
    open_image,
)
from verifier.pipeline import verify
from verifier.verdict import Outcome, StageState

Transform = Callable[[Image.Image], Image.Image]
QR_FORMAT_DOC = Path(__file__).resolve().parents[2] / "docs" / "qr-format.md"


@pytest.fixture(scope="module")
def world() -> World:
    world = build_world()
    claims = base_claims(holder_name=shorten_name(LONG_NAME, NAME_MAX_BYTES))
    world.claims = claims
    world.set_record(record_for(claims))
    return world


@pytest.fixture(scope="module")
def qr(world: World) -> Image.Image:
    """The certificate's QR code as printed: version 10, 6 px per module."""
    out = io.BytesIO()
    segno.make(world.text(), error="m", mode="alphanumeric", micro=False).save(
        out, kind="png", scale=6, border=4
    )
    return Image.open(io.BytesIO(out.getvalue())).convert("RGB")


def rotate(degrees: float) -> Transform:
    return lambda image: image.rotate(
        degrees, expand=True, fillcolor="white", resample=Image.Resampling.BICUBIC
    )


def scale(factor: float) -> Transform:
    def apply(image: Image.Image) -> Image.Image:
        size = (round(image.width * factor), round(image.height * factor))
        return image.resize(size, Image.Resampling.LANCZOS)

    return apply


def jpeg(quality: int) -> Transform:
    def apply(image: Image.Image) -> Image.Image:
        out = io.BytesIO()
        image.convert("RGB").save(out, "JPEG", quality=quality)
        return Image.open(io.BytesIO(out.getvalue()))

    return apply


def blur(radius: float) -> Transform:
    return lambda image: image.filter(ImageFilter.GaussianBlur(radius))


def _solve(matrix: list[list[float]], values: list[float]) -> list[float]:
    """Gaussian elimination for the 8x8 perspective system (no numpy in the project)."""
    n = len(values)
    rows = [[*row, value] for row, value in zip(matrix, values, strict=True)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(rows[r][col]))
        rows[col], rows[pivot] = rows[pivot], rows[col]
        for r in range(n):
            if r != col:
                factor = rows[r][col] / rows[col][col]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[col], strict=True)]
    return [rows[i][n] / rows[i][i] for i in range(n)]


def perspective(corners: tuple[tuple[float, float], ...]) -> Transform:
    """Maps the image's corners to ``corners`` (fractions of the size): a camera held askew."""

    def apply(image: Image.Image) -> Image.Image:
        w, h = image.size
        source = [(0, 0), (w, 0), (w, h), (0, h)]
        target = [(x * w, y * h) for x, y in corners]
        matrix, values = [], []
        # PIL wants the inverse map: output (target) coordinates to input (source) ones.
        for (x, y), (u, v) in zip(target, source, strict=True):
            matrix.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
            values.append(u)
            matrix.append([0, 0, 0, x, y, 1, -v * x, -v * y])
            values.append(v)
        coeffs = _solve(matrix, values)
        return image.transform(
            (w, h), Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BICUBIC, fillcolor="white"
        )

    return apply


def uneven_light(image: Image.Image) -> Image.Image:
    """A shadow across the code: light falls off from left to right."""
    gray = image.convert("L")
    shade = Image.linear_gradient("L").rotate(90).resize(gray.size)
    return Image.composite(gray, Image.new("L", gray.size, 40), shade.point(lambda p: 255 - p // 2))


def on_page(qr: Image.Image) -> Image.Image:
    """An A4 certificate at 150 dpi: title, holder details, the QR code in the corner."""
    page = Image.new("RGB", (1240, 1754), "white")
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default()
    draw.rectangle((60, 60, 1180, 1694), outline="black", width=4)
    draw.text((120, 140), "AUTHORIZED ECONOMIC OPERATOR CERTIFICATE", fill="black", font=font)
    for i, line in enumerate(
        [
            "Certificate number: MN-AEO-2025-000731",
            f"Holder: {LONG_NAME}",
            "Identification: TIN MN6734521098",
            "Tier: AEO-C + AEO-S (AEOF)",
            "Valid: 2025-03-01 to 2030-02-28",
            "Issued by the Mongolian Customs General Administration",
        ]
    ):
        draw.text((120, 260 + i * 40), line, fill="black", font=font)
    code = qr.resize((450, 450), Image.Resampling.NEAREST)  # about 7.6 cm printed
    page.paste(code, (1240 - 60 - 40 - 450, 1754 - 60 - 40 - 450))
    return page


def photographed(page: Image.Image) -> Image.Image:
    """A phone photo of the printed page: askew, slightly rotated, soft, small, JPEG."""
    steps: list[Transform] = [
        perspective(((0.03, 0.05), (0.96, 0.01), (0.99, 0.97), (0.0, 0.93))),
        rotate(4),
        blur(1.0),
        scale(0.7),
        jpeg(60),
    ]
    for step in steps:
        page = step(page)
    return page


CASES: dict[str, Transform] = {
    "rotated 15 degrees": rotate(15),
    "rotated 90 degrees": rotate(90),
    "rotated 200 degrees": rotate(200),
    "perspective skewed": perspective(((0.08, 0.0), (0.92, 0.08), (1.0, 0.95), (0.0, 1.0))),
    "scaled down to 2 px per module": scale(1 / 3),
    "JPEG quality 20": jpeg(20),
    "blurred": blur(1.5),
    "unevenly lit": uneven_light,
    "small, blurred and JPEG": lambda i: jpeg(40)(blur(0.8)(scale(0.5)(i))),
}


@pytest.mark.parametrize("name", list(CASES))
def test_transformed_qr_image_verifies(world: World, qr: Image.Image, name: str) -> None:
    image = CASES[name](qr)
    verdict = verify(image, as_authority="KR", clock=NOW, source=world.source)
    assert verdict.outcome is Outcome.RECOGNIZED, verdict.reasons


def test_qr_on_a_printed_page_verifies(world: World, qr: Image.Image) -> None:
    verdict = verify(on_page(qr), as_authority="KR", clock=NOW, source=world.source)
    assert verdict.outcome is Outcome.RECOGNIZED, verdict.reasons


def test_phone_photo_of_a_printed_page_verifies(world: World, qr: Image.Image) -> None:
    photo = photographed(on_page(qr))
    data = io.BytesIO()
    photo.save(data, "JPEG", quality=70)
    verdict = verify(data.getvalue(), as_authority="KR", clock=NOW, source=world.source)
    assert verdict.outcome is Outcome.RECOGNIZED, verdict.reasons


def test_qr_too_damaged_to_read_is_refused_at_the_input_stage(
    world: World, qr: Image.Image
) -> None:
    ruined = blur(8)(scale(0.25)(qr))
    verdict = verify(ruined, as_authority="KR", clock=NOW, source=world.source)
    assert verdict.outcome is Outcome.MALFORMED
    assert verdict.stage("input").code == "no_qr_code"


# ---------------------------------------------------------------- image bombs (issue #10)
#
# A file of a few hundred bytes can declare 65,535 pixels on a side. The verifier used to
# decode whatever was declared and then enlarge the shorter side to 500 pixels whatever the
# longer one: 4 to 24 GB and tens of seconds for the files below. Each is now refused from
# its header, before a pixel is decoded; what is decoded is scanned within bounded areas.


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """The size of every image whose pixels Pillow decodes from a file."""
    sizes: list[tuple[int, int]] = []
    load = ImageFile.ImageFile.load

    def spy(self: ImageFile.ImageFile) -> object:
        sizes.append(self.size)
        return load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    return sizes


@pytest.fixture
def scanned(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """The size of every image handed to the scanner process."""
    sizes: list[tuple[int, int]] = []
    scan = image_module._Scanner.scan

    def spy(self: image_module._Scanner, gray: Image.Image) -> list[str]:
        sizes.append(gray.size)
        return scan(self, gray)

    monkeypatch.setattr(image_module._Scanner, "scan", spy)
    return sizes


@pytest.fixture
def resized(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """The size of every resized copy made (the enlarged crop, the shrunk photo)."""
    sizes: list[tuple[int, int]] = []
    resize = Image.Image.resize

    def spy(self: Image.Image, size: tuple[int, int], *args: object, **kwargs: object) -> object:
        sizes.append(tuple(size))  # type: ignore[arg-type]
        return resize(self, size, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Image.Image, "resize", spy)
    return sizes


def encoded(image: Image.Image, kind: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, kind, **options)
    return out.getvalue()


def jpeg_declaring(width: int, height: int) -> bytes:
    """A 16 x 16 JPEG whose frame header says ``width`` x ``height``: a few hundred bytes."""
    data = bytearray(encoded(Image.new("L", (16, 16), 255), "JPEG"))
    sof = data.index(b"\xff\xc0")  # baseline frame: length(2) precision(1) height(2) width(2)
    data[sof + 5 : sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


BOMBS: dict[str, Callable[[], bytes]] = {
    "PNG 8 x 65535, 1 bit": lambda: encoded(Image.new("1", (8, 65535), 1), "PNG", optimize=True),
    "PNG 1 x 65535": lambda: encoded(Image.new("L", (1, 65535), 255), "PNG", optimize=True),
    "PNG 65535 x 1": lambda: encoded(Image.new("L", (65535, 1), 255), "PNG", optimize=True),
    "JPEG 8 x 65500": lambda: encoded(Image.new("L", (8, 65500), 255), "JPEG", quality=10),
}


@pytest.mark.parametrize("name", list(BOMBS))
def test_a_long_thin_image_bomb_is_refused_before_a_pixel_is_decoded(
    world: World, decoded: list[tuple[int, int]], resized: list[tuple[int, int]], name: str
) -> None:
    bomb = BOMBS[name]()
    assert len(bomb) < 8 * 1024  # the 1-bit PNG is 208 bytes, the JPEG 6.4 KB

    verdict = verify(bomb, as_authority="KR", clock=NOW, source=world.source)

    assert verdict.outcome is Outcome.MALFORMED
    refused = verdict.stage("input")
    assert (refused.state, refused.code) == (StageState.FAILED, "too_large")
    assert refused.message is not None
    assert "65,5" in refused.message
    assert "times longer than it is wide" in refused.message
    assert (decoded, resized) == ([], [])


def test_a_small_jpeg_declaring_a_huge_picture_is_refused_before_a_pixel_is_decoded(
    world: World, decoded: list[tuple[int, int]]
) -> None:
    bomb = jpeg_declaring(7000, 7000)  # 49 megapixels: under Pillow's own warning at 89
    assert len(bomb) < 1024

    verdict = verify(bomb, as_authority="KR", clock=NOW, source=world.source)

    refused = verdict.stage("input")
    assert (refused.state, refused.code) == (StageState.FAILED, "too_large")
    assert refused.message == "image of 7,000 × 7,000 pixels has more than 40 megapixels"
    assert decoded == []


def test_an_image_object_of_an_absurd_shape_is_refused_before_it_is_scanned(
    world: World, scanned: list[tuple[int, int]], resized: list[tuple[int, int]]
) -> None:
    """Library callers hand over decoded images: the scan bounds still apply."""
    verdict = verify(
        Image.new("L", (10, 5000), 255), as_authority="KR", clock=NOW, source=world.source
    )

    assert verdict.stage("input").code == "too_large"
    assert (scanned, resized) == ([], [])


def test_a_narrow_crop_is_enlarged_to_at_most_two_megapixels(world: World) -> None:
    """A 30 x 600 strip would have been enlarged 17 times, to 5.2 megapixels."""
    strip = Image.new("L", (30, 600), 255)

    tried = [candidate.size for candidate, _ in image_module._attempts(strip)]

    assert max(w * h for w, h in tried) > 30 * 600, "the crop was enlarged"
    assert max(w * h for w, h in tried) <= MAX_UPSCALED_PIXELS
    verdict = verify(encoded(strip, "PNG"), as_authority="KR", clock=NOW, source=world.source)
    assert verdict.stage("input").code == "no_qr_code"


def finder_patterns(width: int, height: int) -> Image.Image:
    """Nothing but QR finder patterns, one pixel a module: each is a candidate corner of a QR
    code for zxing-cpp, which tries their combinations."""
    tile = Image.new("L", (8, 8), 255)
    for y in range(7):
        for x in range(7):
            if max(abs(x - 3), abs(y - 3)) in (0, 1, 3):
                tile.putpixel((x, y), 0)
    field = Image.new("L", (width, height), 255)
    for x in range(0, width - 7, 8):
        for y in range(0, height - 7, 8):
            field.paste(tile, (x, y))
    return field


def test_an_image_that_would_cost_the_scanner_minutes_is_refused_at_its_cpu_limit(
    world: World,
) -> None:
    """A 2,400 x 1,600 PNG of finder patterns cost zxing-cpp tens of seconds of CPU; the
    scan's process is now stopped after SCAN_CPU_SECONDS."""
    bomb = encoded(finder_patterns(2400, 1600), "PNG", optimize=True)
    assert len(bomb) < 64 * 1024

    verdict = verify(bomb, as_authority="KR", clock=NOW, source=world.source)

    assert verdict.outcome is Outcome.MALFORMED
    refused = verdict.stage("input")
    assert (refused.state, refused.code) == (StageState.FAILED, "too_complex")
    assert refused.message == (
        f"scanning the image took more than {SCAN_CPU_SECONDS} s of CPU "
        "(a photo of a QR code takes a fraction of that)"
    )


def test_a_scanner_process_that_died_is_started_again(world: World, qr: Image.Image) -> None:
    verify(qr, as_authority="KR", clock=NOW, source=world.source)
    process = image_module._SCANNER._process
    assert process is not None
    process.kill()
    process.wait()

    verdict = verify(qr, as_authority="KR", clock=NOW, source=world.source)

    assert verdict.outcome is Outcome.RECOGNIZED, verdict.reasons
    assert image_module._SCANNER._process is not process


@pytest.mark.parametrize("kind", ["JPEG", "PNG"])
def test_a_photo_larger_than_the_scan_bound_is_scanned_shrunk_and_verifies(
    world: World, qr: Image.Image, scanned: list[tuple[int, int]], kind: str
) -> None:
    """16 megapixels, the QR code a sixth of the width: decoded, shrunk to 8 megapixels,
    still read."""
    photo = Image.new("RGB", (4620, 3465), "white")
    photo.paste(qr.resize((780, 780), Image.Resampling.NEAREST), (1900, 1300))
    assert photo.width * photo.height > 2 * MAX_SCAN_PIXELS

    verdict = verify(encoded(photo, kind), as_authority="KR", clock=NOW, source=world.source)

    assert verdict.outcome is Outcome.RECOGNIZED, verdict.reasons
    assert scanned
    assert max(w * h for w, h in scanned) <= MAX_SCAN_PIXELS


def test_a_jpeg_turned_by_its_exif_orientation_is_still_turned_upright() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    photo = encoded(Image.new("RGB", (400, 200), "white"), "JPEG", exif=exif)

    assert open_image(photo).size == (200, 400)


def test_the_image_limits_are_the_ones_the_format_document_states() -> None:
    doc = QR_FORMAT_DOC.read_text(encoding="utf-8")

    assert f"{MAX_IMAGE_PIXELS // 1_000_000} megapixels" in doc
    assert f"{MAX_SCAN_PIXELS // 1_000_000} megapixels" in doc
    assert f"{MAX_UPSCALED_PIXELS // 1_000_000} megapixels" in doc
    assert f"1:{MAX_ASPECT_RATIO}" in doc
