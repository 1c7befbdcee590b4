"""QR codes read from realistic images of the project's own certificates: rotated, perspective-
skewed, scaled down, JPEG-compressed, blurred, unevenly lit, and printed on a page then
photographed. Every image is generated here from a real signed payload and decoded by
zxing-cpp through the verifier's input stage."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
import segno
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from tests.verifier.world import LONG_NAME, NOW, World, base_claims, build_world, record_for
from verifier.payload import NAME_MAX_BYTES, shorten_name
from verifier.pipeline import verify
from verifier.verdict import Outcome

Transform = Callable[[Image.Image], Image.Image]


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
