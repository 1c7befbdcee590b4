"""An issuing officer's day in a real headless Chromium, on MN's registry whose sender and
indexer threads run against the test chain: search, issue (a mistake caught as it is typed),
pending then confirmed without a reload, suspend with a reason (reached by keyboard alone),
import a CSV and watch its progress bar; axe-core on every page of it.

Set AEO_CONSOLE_SCREENSHOTS=docs/img to refresh the screenshots docs/console.md shows.
"""

from __future__ import annotations

import os
import secrets
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, expect, sync_playwright

from contracts.bootstrap import Consortium
from registry_api.app import create_app
from registry_api.db import Role
from registry_api.workers import ChainAccess
from tests.verifier.web.conftest import launch

from ..conftest import new_database_url
from ..support import make_settings
from .servers import bound_socket, serve
from .support import People, cheap_passwords, console_of
from .test_browser import AXE, VIEWPORT, WAIT_MS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREENSHOTS = os.environ.get("AEO_CONSOLE_SCREENSHOTS")
NUMBER = "MN-AEO-2026-0100"
CSV = (
    "number,holder_legal_name,holder_street,holder_city,holder_country,holder_id_scheme,"
    "holder_id_number,business_roles,tiers,issuing_office,officer,valid_from,valid_until\n"
    "MN-AEO-2019-0001,Tavan Bogd Trade LLC,Peace Avenue 17,Ulaanbaatar,MN,TIN,5012345,"
    "IM;EX,AEOF,Ulaanbaatar Customs House,B. Bat-Erdene,2019-05-01,2029-04-30\n"
    "MN-AEO-2019-0002,Gobi Cashmere LLC,Peace Avenue 18,Ulaanbaatar,Mongolia,TIN,5012346,"
    "IM,AEOS,Ulaanbaatar Customs House,B. Bat-Erdene,2019-05-01,2029-04-30\n"
)


@pytest.fixture
def registry(tmp_path: Path, consortium: Consortium) -> Iterator[tuple[str, FastAPI]]:
    data_dir = tmp_path / f"mn-{uuid.uuid4().hex[:6]}"
    settings = make_settings(
        data_dir,
        new_database_url(data_dir),
        run_workers=True,
        sender_poll_interval=0.05,
        indexer_poll_interval=0.1,
        passphrase=secrets.token_urlsafe(24),
    )
    access = ChainAccess(
        chain=consortium.chain,
        deployment=consortium.deployment,
        operator=consortium.member("MN").operator,
    )
    app = create_app(settings, chain_access=access)
    console_of(app).passwords = cheap_passwords()
    with serve(app, bound_socket()) as url:
        yield url, app


@pytest.fixture
def chromium() -> Iterator[Browser]:
    with sync_playwright() as driver:
        browser = launch(driver)
        yield browser
        browser.close()


def _shot(page: Page, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"console-{name}.png"
    page.screenshot(path=str(path))
    assert path.stat().st_size > 5_000
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(SCREENSHOTS) / path.name)


def _axe(page: Page) -> list[dict[str, object]]:
    page.wait_for_load_state()
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in result
        if v["impact"] in {"serious", "critical"}
    ]


def _tab_to(page: Page, text: str, limit: int = 80) -> None:
    """Press Tab until the focused element reads ``text`` (fails if it never does)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate("() => document.activeElement && document.activeElement.innerText")
        if isinstance(focused, str) and focused.strip() == text:
            return
    raise AssertionError(f"{text!r} is not reachable with the Tab key")


def test_an_officer_issues_suspends_and_imports_in_the_browser(
    registry: tuple[str, FastAPI], chromium: Browser, tmp_path: Path
) -> None:
    url, app = registry
    password = People(app).add("tuya", Role.ISSUING_OFFICER)
    # axe is injected as an inline script: this context lets it past the CSP
    context = chromium.new_context(
        viewport=VIEWPORT, locale="en-US", timezone_id="UTC", bypass_csp=True
    )
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    violations: dict[str, object] = {}

    def check(label: str) -> None:
        found = _axe(page)
        if found:
            violations[label] = found

    page.goto(f"{url}/console/sign-in")
    page.get_by_label("Account name").fill("tuya")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.locator("#status-active")).to_have_text("0")  # the figures, loaded after
    check("home with figures")

    # search: the results follow the form as it is typed
    page.get_by_role("link", name="Certificates", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Certificates")
    check("search")
    page.get_by_label("Holder's name").fill("nobody by this name")
    expect(page.locator("#results")).to_contain_text("No certificate matches.")

    # issue: a mistake shown next to its field as it is typed, then corrected
    page.get_by_role("link", name="Issue a certificate").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Issue a certificate")
    page.get_by_role("button", name="Issue certificate").click()
    expect(page.locator(".error-summary")).to_be_visible()
    check("issue with errors")
    page.get_by_label("Certificate number").fill(NUMBER)
    page.get_by_label("Legal name").fill("Khan Logistics LLC")
    page.get_by_label("Street and number").fill("Chinggis Avenue 5")
    page.get_by_label("City").fill("Ulaanbaatar")
    page.get_by_label("Country").fill("Mongolia")
    page.get_by_label("Identification scheme").fill("TIN")
    expect(page.locator("#holder_country-slot .field__error")).to_be_visible()
    page.get_by_label("Country").fill("MN")
    page.get_by_label("Identification number").fill("6012345")
    expect(page.locator("#holder_country-slot .field__error")).to_have_count(0)
    page.get_by_label("Business roles").fill("IM, EX")
    page.get_by_label("S: security and safety (AEOS)").check()
    page.get_by_label("Issuing office").fill("Ulaanbaatar Customs House")
    page.get_by_label("Valid from").fill("2026-01-15")
    page.get_by_label("Valid until (optional)").fill("2029-01-14")
    _shot(page, tmp_path, "issue")
    page.get_by_role("button", name="Issue certificate").click()

    # pending, then confirmed without a reload
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Certificate {NUMBER}")
    expect(page.locator(".followed .operation")).to_contain_text("Pending")
    expect(page.locator(".followed .operation")).to_contain_text("Confirmed by the chain")
    page.reload()
    check("certificate")
    _shot(page, tmp_path, "certificate")

    # suspend with a reason, by keyboard alone
    _tab_to(page, "Suspend")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Suspend certificate {NUMBER}")
    check("suspend")
    page.get_by_label("Reason").select_option(label="Failed audit")
    page.get_by_label("Remedy deadline (optional)").fill("2099-06-30")
    _shot(page, tmp_path, "suspend")
    _tab_to(page, "Suspend certificate")
    page.keyboard.press("Enter")
    expect(page.locator(".followed .operation")).to_contain_text("Confirmed by the chain")
    page.reload()
    expect(page.locator(".summary")).to_contain_text("Suspended")
    expect(page.locator(".summary")).to_contain_text("FAILED_AUDIT")
    expect(page.locator("table")).to_contain_text("tuya (console)")

    page.get_by_role("link", name="Revoke").click()
    expect(page.locator(".warning-text")).to_contain_text("is final")
    check("revoke")

    # import a CSV and watch its progress bar fill
    page.get_by_role("link", name="Imports", exact=True).click()
    check("imports")
    page.get_by_label("The file").set_input_files(
        {"name": "aeo-list.csv", "mimeType": "text/csv", "buffer": CSV.encode()}
    )
    page.get_by_role("button", name="Upload and import").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Import aeo-list.csv")
    expect(page.locator("#import-progress")).to_contain_text("Nothing more will change.")
    expect(page.locator("#import-bar")).to_have_attribute("value", "100")
    expect(page.locator("#count-confirmed")).to_have_text("1")
    expect(page.locator("#count-refused")).to_have_text("1")
    expect(page.locator("#import-progress table")).to_contain_text("holder_country")
    check("import progress")
    _shot(page, tmp_path, "import")

    page.goto(f"{url}/console/")
    expect(page.locator("#status-suspended")).to_have_text("1")
    _shot(page, tmp_path, "dashboard")
    context.close()
    assert violations == {}
