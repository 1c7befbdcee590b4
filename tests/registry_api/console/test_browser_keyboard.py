"""Every action by keyboard alone (issue 12, "Accessible"), in a real Chromium on MN's
registry whose sender and indexer run on the test chain: the issue form filled and sent with
Tab, typing, Space and Enter, then the suspension form the same way; no mouse, no
``fill()``."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, expect

from registry_api.db import Role

from .support import People
from .test_browser import VIEWPORT, WAIT_MS
from .test_browser_certificates import (
    chromium as chromium,
    registry as registry,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NUMBER = "MN-AEO-2026-0300"
#: the issue form's fields in the order a person types them, and what they type
TYPED = (
    ("number", NUMBER),
    ("holder_legal_name", "Altai Freight LLC"),
    ("holder_street", "Seoul Street 12"),
    ("holder_city", "Ulaanbaatar"),
    ("holder_country", "MN"),
    ("holder_id_scheme", "TIN"),
    ("holder_id_number", "7012345"),
    ("business_roles", "CA"),
)
#: Tab presses allowed to reach one element (the whole page is about 60 stops)
TAB_LIMIT = 200


def _focused(page: Page, script: str) -> object:
    return page.evaluate(f"() => document.activeElement && document.activeElement.{script}")


def _tab_to_id(page: Page, element_id: str) -> None:
    for _ in range(TAB_LIMIT):
        page.keyboard.press("Tab")
        if _focused(page, "id") == element_id:
            return
    raise AssertionError(f"#{element_id} is not reachable with the Tab key")


def _tab_to_text(page: Page, text: str) -> None:
    for _ in range(TAB_LIMIT):
        page.keyboard.press("Tab")
        focused = _focused(page, "innerText")
        if isinstance(focused, str) and focused.strip() == text:
            return
    raise AssertionError(f"{text!r} is not reachable with the Tab key")


def test_an_officer_issues_and_suspends_with_the_keyboard_alone(
    registry: tuple[str, FastAPI], chromium: Browser
) -> None:
    url, app = registry
    password = People(app).add("tuya", Role.ISSUING_OFFICER)
    context = chromium.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="UTC")
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    try:
        page.goto(f"{url}/console/sign-in")
        _tab_to_id(page, "name")
        page.keyboard.type("tuya")
        _tab_to_id(page, "password")
        page.keyboard.type(password)
        page.keyboard.press("Enter")
        page.wait_for_url(f"{url}/console/")
        page.wait_for_load_state()

        # the issue form: reached, filled and sent from the keyboard
        _tab_to_text(page, "Certificates")
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", level=1)).to_have_text("Certificates")
        _tab_to_text(page, "Issue a certificate")
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", level=1)).to_have_text("Issue a certificate")
        for element_id, text in TYPED:
            _tab_to_id(page, element_id)
            page.keyboard.type(text)
        _tab_to_id(page, "tier-2")
        page.keyboard.press("Space")
        expect(page.locator("#tier-2")).to_be_checked()
        _tab_to_id(page, "issuing_office")
        page.keyboard.type("Zamyn-Uud Customs House")
        _tab_to_id(page, "valid_from")
        page.keyboard.type("01152026")  # the date field's month, day and year, as typed
        expect(page.locator("#valid_from")).to_have_value("2026-01-15")
        _tab_to_text(page, "Issue certificate")
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", level=1)).to_have_text(
            f"Certificate {NUMBER}", timeout=WAIT_MS
        )
        operation = page.locator(".followed .operation")
        expect(operation).to_contain_text("Confirmed by the chain", timeout=WAIT_MS)

        # the suspension: the reason chosen by typing its first letters, sent with Enter
        _tab_to_text(page, "Suspend")
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", level=1)).to_have_text(
            f"Suspend certificate {NUMBER}", timeout=WAIT_MS
        )
        _tab_to_id(page, "reason_code")
        page.keyboard.type("Failed")
        expect(page.locator("#reason_code option:checked")).to_have_text("Failed audit")
        _tab_to_text(page, "Suspend certificate")
        page.keyboard.press("Enter")
        expect(operation).to_contain_text("Confirmed by the chain", timeout=WAIT_MS)
        page.reload()
        expect(page.locator(".summary")).to_contain_text("Suspended")
        expect(page.locator(".summary")).to_contain_text("FAILED_AUDIT")
    finally:
        context.close()
