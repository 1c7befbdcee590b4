"""The border officer's page in a real headless Chromium: photo, paste, camera, verdicts.

Set AEO_WEB_SCREENSHOTS=<dir> to keep the screenshots the tests take.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect

from verifier.offline import OfflineCache
from verifier.web.app import create_app

from .conftest import launch, open_page
from .media import blank_frame, certificate_frame, qr_png, write_y4m
from .server import serve
from .world import ISSUER_NAME, NOW, VERIFIER, World

pytestmark = pytest.mark.browser

# Waiting for the verdict is not a timing assertion: a slow shared CI machine may take long.
VERDICT_TIMEOUT_MS = 60_000

GREEN = "rgb(10, 107, 49)"
AMBER = "rgb(242, 176, 0)"
RED = "rgb(176, 0, 32)"


def _banner_colour(page: Page) -> str:
    return str(
        page.locator(".verdict-banner").evaluate("node => getComputedStyle(node).backgroundColor")
    )


def _keep(page: Page, tmp_path: Path, name: str, *, full_page: bool = True) -> Path:
    shot = tmp_path / f"{name}.png"
    page.screenshot(path=str(shot), full_page=full_page)
    keep_dir = os.environ.get("AEO_WEB_SCREENSHOTS")
    if keep_dir:
        Path(keep_dir).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep_dir) / shot.name)
    return shot


def _paste(page: Page, text: str) -> None:
    page.get_by_label("Paste the text of the QR code").fill(text)
    page.get_by_role("button", name="Check this text").click()


def test_uploading_a_qr_photo_of_a_recognized_certificate_shows_green(
    page: Page, world: World, tmp_path: Path
) -> None:
    page.locator("#photo").set_input_files(
        files=[
            {"name": "qr.png", "mimeType": "image/png", "buffer": qr_png(world.texts["recognized"])}
        ]
    )
    verdict = page.locator("#verdict .verdict")
    expect(verdict).to_have_class("verdict verdict--recognized", timeout=VERDICT_TIMEOUT_MS)
    expect(page.locator(".verdict-headline")).to_have_text("Recognized")
    expect(page.locator(".verdict-outcome")).to_contain_text("recognized by KR")
    # The issuer is the verdict's first line, above the headline.
    titles = page.locator(".verdict-titles > *")
    expect(titles.first).to_have_text(f"Issued by {ISSUER_NAME} (MN)")
    expect(titles.first).to_have_class("verdict-issuer")
    assert _banner_colour(page) == GREEN
    facts = page.locator(".facts")
    expect(facts).to_contain_text("Altan Trans Logistics LLC")
    expect(facts).to_contain_text("TIN MN6012345")
    expect(facts).to_contain_text(f"{ISSUER_NAME} (MN)")
    expect(facts).to_contain_text("MN-AEO-2024-0042")
    expect(facts).to_contain_text("S — security and safety")
    expect(facts).to_contain_text("Mar 1, 2024 to Feb 28, 2027")
    expect(page.locator(".as-of-time")).to_contain_text("Status as of Jun 2, 2025")
    expect(page.locator(".as-of-source")).to_contain_text("offline copy of the registry")
    expect(page.locator(".badge--stale")).to_have_count(0)
    assert _keep(page, tmp_path, "verifier-page-recognized").stat().st_size > 10_000


def test_pasting_the_text_of_a_tier_the_mra_does_not_cover_shows_amber(
    page: Page, world: World
) -> None:
    _paste(page, world.texts["not_recognized"])
    verdict = page.locator("#verdict .verdict")
    expect(verdict).to_have_class("verdict verdict--not-recognized", timeout=VERDICT_TIMEOUT_MS)
    expect(page.locator(".verdict-headline")).to_have_text("Valid — not recognized")
    assert _banner_colour(page) == AMBER
    expect(page.locator(".reason[data-code='tier_not_covered']")).to_contain_text(
        "does not cover tier C"
    )
    expect(page.locator(".facts")).to_contain_text("Khuree Customs Brokers LLC")


def test_a_tampered_code_shows_red_with_the_bad_signature_reason(
    page: Page, world: World, tmp_path: Path
) -> None:
    _paste(page, world.texts["tampered"])
    verdict = page.locator("#verdict .verdict")
    expect(verdict).to_have_class("verdict verdict--invalid", timeout=VERDICT_TIMEOUT_MS)
    expect(verdict).to_have_attribute("data-outcome", "bad_signature")
    expect(page.locator(".verdict-headline")).to_have_text("Not valid")
    expect(page.locator(".verdict-outcome")).to_have_text(
        "The signature does not match: the code was altered or forged."
    )
    assert _banner_colour(page) == RED
    expect(page.locator(".reason[data-code='bad_signature']")).to_contain_text(
        "the signature does not verify"
    )
    # The forged holder name is shown only as an unconfirmed claim.
    expect(page.locator(".section-title--warning")).to_have_text(
        "What the code claims (not confirmed)"
    )
    expect(page.locator(".facts--unconfirmed")).to_contain_text("Someone Else Trading LLC")
    expect(page.locator(".verdict-titles > *").first).to_have_text(
        "Claims to be issued by MN: not confirmed by its signature"
    )
    _keep(page, tmp_path, "verifier-page-tampered")


def test_a_revoked_certificate_shows_red_with_the_reason_and_date(page: Page, world: World) -> None:
    _paste(page, world.texts["revoked"])
    verdict = page.locator("#verdict .verdict")
    expect(verdict).to_have_class("verdict verdict--invalid", timeout=VERDICT_TIMEOUT_MS)
    expect(verdict).to_have_attribute("data-outcome", "revoked")
    expect(page.locator(".verdict-outcome")).to_have_text("Revoked by the issuing administration.")
    expect(page.locator(".reason[data-code='revoked']")).to_contain_text("since 2024-01-10")
    expect(page.locator(".reason[data-code='revoked']")).to_contain_text("FRAUD")
    # Revoked, but genuinely signed and matching the registry: its details are facts.
    expect(page.get_by_role("heading", name="Certificate", exact=True)).to_be_visible()
    expect(page.locator(".facts--unconfirmed")).to_have_count(0)


def test_on_a_laptop_the_verdict_sits_beside_the_scanner(
    browser: Browser, base_url: str, world: World
) -> None:
    page = open_page(browser, base_url, laptop=True)
    try:
        _paste(page, world.texts["recognized"])
        expect(page.locator("#verdict .verdict")).to_have_class(
            "verdict verdict--recognized", timeout=VERDICT_TIMEOUT_MS
        )
        scanner = page.locator("#scan").bounding_box()
        verdict = page.locator("#verdict .verdict").bounding_box()
        assert scanner is not None
        assert verdict is not None
        assert verdict["x"] >= scanner["x"] + scanner["width"]
        assert verdict["y"] < scanner["y"] + scanner["height"]
    finally:
        page.context.close()


def test_a_photo_without_a_qr_code_asks_to_try_again_without_a_verdict(page: Page) -> None:
    page.locator("#photo").set_input_files(
        files=[{"name": "desk.png", "mimeType": "image/png", "buffer": _blank_png()}]
    )
    expect(page.locator("#error")).to_be_visible(timeout=VERDICT_TIMEOUT_MS)
    expect(page.locator("#error-text")).to_have_text(
        "No QR code was found in that photo. Try again closer, with the whole code in the picture."
    )
    expect(page.locator("#verdict .verdict")).to_have_count(0)


def test_checking_empty_text_says_what_to_do(page: Page) -> None:
    page.get_by_role("button", name="Check this text").click()
    expect(page.locator("#error-text")).to_have_text("Paste the text of the QR code first.")


def test_the_verdict_is_announced_and_takes_focus(page: Page, world: World) -> None:
    live = page.locator("#verdict")
    expect(live).to_have_attribute("aria-live", "assertive")
    _paste(page, world.texts["recognized"])
    expect(page.locator(".verdict-headline")).to_be_focused(timeout=VERDICT_TIMEOUT_MS)
    # "Scan next certificate" clears the verdict for the next truck.
    page.get_by_role("button", name="Scan next certificate").click()
    expect(page.locator("#verdict .verdict")).to_have_count(0)


def test_the_page_names_the_verifying_administration_and_its_language(page: Page) -> None:
    expect(page.locator("#checking-as")).to_have_text("Checking as KR")
    expect(page).to_have_title("AEO certificate check")
    assert page.locator("html").get_attribute("lang") == "en"
    expect(page.get_by_label("Language")).to_have_value("en")


def test_the_fake_camera_showing_a_certificate_is_scanned_into_a_verdict(
    playwright: Playwright, cache: OfflineCache, world: World, tmp_path: Path
) -> None:
    # The camera first sees the empty desk, then the certificate held up in front of it.
    frames = [blank_frame()] * 5 + [
        certificate_frame(world.texts["recognized"], offset=(dx, dy))
        for dx, dy in [(0, 0), (2, 1), (4, 2), (3, 3), (1, 2), (0, 1)] * 2
    ]
    video = write_y4m(tmp_path / "certificate.y4m", frames)
    camera_args = [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    ]
    camera_browser: Browser = launch(playwright, camera_args)
    try:
        with serve(create_app(lambda: cache, as_authority=VERIFIER, clock=NOW)) as url:
            # An officer's laptop webcam; the phone layout is covered by the tests above.
            page = open_page(camera_browser, url, laptop=True)
            page.context.grant_permissions(["camera"])
            page.get_by_role("button", name="Start camera").click()
            verdict = page.locator("#verdict .verdict")
            expect(verdict).to_have_class("verdict verdict--recognized", timeout=VERDICT_TIMEOUT_MS)
            expect(page.locator(".facts")).to_contain_text("Altan Trans Logistics LLC")
            expect(page.get_by_role("button", name="Stop camera")).to_be_visible()
            expect(page.locator("#camera-video")).to_be_visible()
            expect(page.locator("#camera-status")).to_contain_text("Paused")
            _keep(page, tmp_path, "verifier-page-camera", full_page=False)
            page.context.close()
    finally:
        camera_browser.close()


def _blank_png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (800, 600), (235, 235, 230)).save(buffer, format="PNG")
    return buffer.getvalue()
