"""``aeo bench verify``: how fast a border post's verifier answers, and how big the QR is.

- ``offline_verify_per_s``: QR text (as a scanner hands it over) to verdict against the
  offline cache, on one thread, cycling through ``certificates`` different certificates
  (nothing per payload can be cached). Counted per CPU-second of that thread: on a shared
  machine that is what one core does; ``offline_verify_per_s_wall`` is the same run by the
  wall clock.
- ``image_verdict_median_ms`` / ``_p95_ms``: a 1280x960 JPEG photo of a printed certificate
  page (perspective, rotation, blur, JPEG) to verdict, decoding included.
- ``qr_version`` / ``qr_ecc``: the symbol the registry draws for the longest realistic
  record (longest number and identification, every tier, a name the encoder must cut).
- ``signature_verify_per_s``: the baseline measured in the same run: the bare signature
  check of one payload (``cryptography``/OpenSSL, one core), the ceiling no verifier that
  checks signatures can pass here; ``offline_verify_signature_ratio`` is
  ``offline_verify_per_s`` over it (1.0 would mean everything but the signature is free).
"""

from __future__ import annotations

import io
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont
from rich.console import Console

from aeo.bench.common import BenchError, Report, ms, percentile, stepper, time_loop
from aeo.bench.data import build_verifier_world, longest_text
from registry_api.rendering.pdf import QR_ERROR_CORRECTION, make_qr
from verifier import keys
from verifier.offline import OfflineCache
from verifier.payload import decode
from verifier.pipeline import verify
from verifier.verdict import Outcome

PHOTO_SIZE = (1280, 960)


def certificate_photo(text: str) -> bytes:
    """A phone photo (JPEG, 1280x960) of an A4 certificate printed with ``text``'s QR code:
    the page on a desk, seen askew and slightly rotated, a little soft."""
    page = Image.new("RGB", (1240, 1754), "white")
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=28)
    draw.rectangle((60, 60, 1180, 1694), outline="black", width=4)
    draw.text((120, 140), "AUTHORIZED ECONOMIC OPERATOR CERTIFICATE", fill="black", font=font)
    for i, line in enumerate(
        (
            "Certificate number: MN-AEO-0000001",
            "Holder: Gobi Trans Logistics LLC",
            "Identification: TIN 5000001",
            "Tier: AEO-S (security and safety)",
            "Issued by the Mongolia Customs General Administration",
        )
    ):
        draw.text((120, 260 + i * 48), line, fill="black", font=font)
    out = io.BytesIO()
    make_qr(text).save(out, kind="png", scale=8, border=4)
    code = Image.open(io.BytesIO(out.getvalue())).convert("RGB").resize((450, 450))
    page.paste(code, (1240 - 100 - 450, 1754 - 100 - 450))
    # The page fills most of a landscape frame, lying on a grey desk.
    height = 900
    width = round(page.width * height / page.height)
    page = page.resize((width, height), Image.Resampling.LANCZOS)
    photo = Image.new("RGB", PHOTO_SIZE, (118, 112, 104))
    left = (PHOTO_SIZE[0] - width) // 2
    photo.paste(page, (left, 30))
    # A camera held askew: the source quadrilateral (upper-left, lower-left, lower-right,
    # upper-right) that the frame maps onto.
    w, h = PHOTO_SIZE
    photo = photo.transform(
        PHOTO_SIZE,
        Image.Transform.QUAD,
        (-30, -10, 10, h + 20, w - 15, h - 5, w + 25, 15),
        Image.Resampling.BICUBIC,
        fillcolor=(118, 112, 104),
    )
    photo = photo.rotate(3, resample=Image.Resampling.BICUBIC, fillcolor=(118, 112, 104))
    photo = photo.filter(ImageFilter.GaussianBlur(0.8))
    jpeg = io.BytesIO()
    photo.save(jpeg, "JPEG", quality=82)
    return jpeg.getvalue()


def _signature_check(text: str, cache: OfflineCache) -> Callable[[], object]:
    """The signature check alone, on the key the cache publishes for ``text``'s kid."""
    cose = decode(text).cose
    record = cache.signing_key(cose.kid)
    if record is None:
        raise BenchError(f"the benchmark's cache has no key {cose.kid.hex()}")
    public = keys.load_public_key(record.algorithm, record.public_key)
    message = cose.to_be_signed()
    if not keys.verify_signature(public, message, cose.signature):
        raise BenchError("the benchmark's payload signature does not verify")
    return lambda: keys.verify_signature(public, message, cose.signature)


def run(
    *,
    certificates: int = 1000,
    seconds: float = 5.0,
    images: int = 30,
    console: Console | None = None,
) -> Report:
    if certificates < 1 or images < 1 or seconds <= 0:
        raise BenchError("certificates and images must be at least 1, seconds positive")
    with tempfile.TemporaryDirectory(prefix="aeo-bench-verify-") as tmp:
        world = build_verifier_world(Path(tmp), certificates)
        cache = OfflineCache(world.cache_path)
        try:
            return _measure(
                world.texts, world.as_authority, world.now, cache, seconds, images, console
            )
        finally:
            cache.close()


def _measure(
    texts: tuple[str, ...],
    as_authority: str,
    now: datetime,
    cache: OfflineCache,
    seconds: float,
    images: int,
    console: Console | None,
) -> Report:
    def check(data: str | bytes) -> None:
        verdict = verify(data, as_authority=as_authority, clock=now, source=cache)
        if verdict.outcome is not Outcome.RECOGNIZED:
            raise BenchError(f"the benchmark's certificate did not verify: {verdict.reasons}")

    for text in texts[:50]:  # warm up, and prove the world verifies
        check(text)
    position = 0

    def one() -> None:
        nonlocal position
        verify(texts[position % len(texts)], as_authority=as_authority, clock=now, source=cache)
        position += 1

    with stepper(console, "offline verification", None):
        timing = time_loop(one, min_seconds=seconds, min_count=100)
    signature = _signature_check(texts[0], cache)
    with stepper(console, "bare signature check", None):
        signature_timing = time_loop(signature, min_seconds=min(seconds, 2.0), min_count=100)
    photo = certificate_photo(texts[1 % len(texts)])
    check(photo)
    durations = []
    with stepper(console, "photo to verdict", images) as step:
        for i in range(images):
            started = time.perf_counter()
            verify(photo, as_authority=as_authority, clock=now, source=cache)
            durations.append(time.perf_counter() - started)
            step("photo to verdict", i + 1)
    longest = longest_text()
    symbol = make_qr(longest)
    return {
        "offline_verify_per_s": timing.per_second_cpu,
        "offline_verify_per_s_wall": timing.per_second_wall,
        "offline_verify_count": timing.count,
        "offline_certificates": len(texts),
        "signature_verify_per_s": signature_timing.per_second_cpu,
        "offline_verify_signature_ratio": round(
            timing.per_second_cpu / signature_timing.per_second_cpu, 3
        ),
        "image_verdict_median_ms": ms(statistics.median(durations), 2),
        "image_verdict_p95_ms": ms(percentile(durations, 95), 2),
        "image_count": len(durations),
        "image_size": f"{PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} JPEG, {len(photo) // 1024} KiB",
        "qr_version": int(symbol.version),
        "qr_ecc": QR_ERROR_CORRECTION,
        "qr_text_chars": len(longest),
    }
