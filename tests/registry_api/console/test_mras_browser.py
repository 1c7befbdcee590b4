"""The MRA, partner, consortium and audit pages in a real headless Chromium, on two
administrations' registries (MN and KR) served by uvicorn on one deployed consortium: an MRA
proposed in MN's console and signed in KR's, each seen pending and then confirmed without a
reload; axe-core on every new page; the action buttons reached and pressed with the keyboard.

The registries' workers are driven by the test (``settle()``), so that "pending" is seen
before the chain confirms; the page's htmx polling then shows "confirmed" by itself.

Set AEO_CONSOLE_SCREENSHOTS=docs/img to refresh the screenshots docs/console.md shows.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, expect, sync_playwright

from contracts.bootstrap import Consortium
from registry_api.app import create_app
from registry_api.db import Role
from registry_api.workers import ChainAccess, Workers
from tests.verifier.web.conftest import launch

from ..conftest import new_database_url
from ..support import make_settings
from .servers import bound_socket, serve
from .support import People, cheap_passwords, console_of
from .test_browser import VIEWPORT, WAIT_MS, _axe, _shot, _sign_in_locally

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TEXT = "Arrangement between the customs administrations of Mongolia and Korea on AEO"


@dataclass
class Registry:
    authority: str
    url: str
    app: FastAPI
    people: People

    def settle(self) -> None:
        workers: Workers = self.app.state.workers
        workers.settle()


@pytest.fixture
def registries(tmp_path: Path, consortium: Consortium) -> Iterator[dict[str, Registry]]:
    with ExitStack() as stack:
        served = {}
        for authority in ("MN", "KR"):
            data_dir = tmp_path / f"{authority.lower()}-{uuid.uuid4().hex[:6]}"
            settings = make_settings(
                data_dir,
                new_database_url(data_dir),
                authority=authority,
                run_workers=False,
                passphrase=secrets.token_urlsafe(18),
            )
            access = ChainAccess(
                chain=consortium.chain,
                deployment=consortium.deployment,
                operator=consortium.member(authority).operator,
            )
            app = create_app(settings, chain_access=access)
            console_of(app).passwords = cheap_passwords()
            url = stack.enter_context(serve(app, bound_socket()))
            served[authority] = Registry(authority, url, app, People(app))
        yield served


@pytest.fixture
def chromium() -> Iterator[Browser]:
    with sync_playwright() as driver:
        browser = launch(driver)
        yield browser
        browser.close()


def _tab(chromium: Browser) -> Page:
    # axe-core is injected as an inline script: the page's CSP would refuse it.
    context = chromium.new_context(
        viewport=VIEWPORT, locale="en-US", timezone_id="UTC", bypass_csp=True
    )
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    return page


def _press_with_keyboard(page: Page, words: str, most: int = 80) -> None:
    """Tab to the control that says ``words`` (a button, or a link styled as one) and press
    Enter: the action is reachable without a mouse."""
    for _ in range(most):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => [document.activeElement.tagName, document.activeElement.textContent.trim()]"
        )
        if focused[1] == words and focused[0] in {"A", "BUTTON"}:
            page.keyboard.press("Enter")
            return
    raise AssertionError(f"{words!r} is not reached with the Tab key")


def test_an_mra_proposed_in_mns_console_is_signed_in_krs_and_every_new_page_passes_axe(
    registries: dict[str, Registry], chromium: Browser, tmp_path: Path
) -> None:
    mn, kr = registries["MN"], registries["KR"]
    found: dict[str, object] = {}

    def check(page: Page, label: str) -> None:
        page.wait_for_load_state()
        violations = _axe(page)
        if violations:
            found[label] = violations

    # MN's MRA officer proposes, from the keyboard.
    page = _tab(chromium)
    _sign_in_locally(page, mn.url, "bat", mn.people.add("bat", Role.MRA_OFFICER))
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Bat")
    page.get_by_role("link", name="MRAs").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mutual recognition arrangements")
    check(page, "MRA list, empty")
    _press_with_keyboard(page, "Propose an MRA")
    expect(page.get_by_role("heading", level=1)).to_have_text("Propose an MRA")
    check(page, "proposal form")
    page.get_by_label("First day in force").fill("")
    page.get_by_role("button", name="Propose and sign the MRA").click()
    expect(page.locator(".error-summary")).to_be_visible()
    expect(page.locator("#partner_1-error")).to_contain_text(
        "Enter at least one partner administration"
    )
    check(page, "proposal form with errors")
    _shot(page, tmp_path, "mra-propose-errors")
    page.locator('input[name="own_tiers"][value="S"]').check()
    page.get_by_label("Partner administration (code, for example KR)").fill("KR")
    page.locator('input[name="tiers_1"][value="AA"]').check()
    page.get_by_label("First day in force").fill(date.today().isoformat())
    page.get_by_label("Text of the arrangement").fill(TEXT)
    _press_with_keyboard(page, "Propose and sign the MRA")
    expect(page.get_by_role("heading", level=1)).to_have_text("Proposal of an MRA")
    expect(page.locator("#operation-state")).to_have_text(
        "Pending: waiting to be sent to the chain"
    )
    check(page, "operation, pending")
    _shot(page, tmp_path, "mra-pending")
    mn.settle()
    # No reload: the page polls its operation until the chain has confirmed it.
    expect(page.locator("#operation-state")).to_have_text("Confirmed by the chain")
    link = page.get_by_role("link", name=re.compile(r"^See MRA \d+$"))
    expect(link).to_be_visible()
    mra_id = int((link.text_content() or "").rsplit(" ", 1)[1])
    check(page, "operation, confirmed")

    # KR's MRA officer signs it in KR's console.
    kr.settle()
    other = _tab(chromium)
    _sign_in_locally(other, kr.url, "kim", kr.people.add("kim", Role.MRA_OFFICER))
    expect(other.get_by_role("heading", level=1)).to_have_text("Welcome, Kim")
    other.goto(f"{kr.url}/console/mras/{mra_id}")
    expect(other.locator(".summary")).to_contain_text("Proposed, waiting for signatures")
    check(other, "MRA page")
    _press_with_keyboard(other, "Sign the MRA")
    expect(other.get_by_role("heading", level=1)).to_have_text(f"Sign MRA {mra_id}")
    expect(other.locator("#consequence")).to_contain_text("When every party has signed")
    check(other, "confirmation")
    _shot(other, tmp_path, "mra-confirm")
    _press_with_keyboard(other, "Sign the MRA")
    expect(other.locator("#operation-state")).to_contain_text("Pending")
    kr.settle()
    expect(other.locator("#operation-state")).to_have_text("Confirmed by the chain")
    other.goto(f"{kr.url}/console/mras")
    expect(other.locator("#mras")).to_contain_text("In force")
    expect(other.locator("#recognized")).to_contain_text("S")

    mn.settle()
    page.goto(f"{mn.url}/console/mras")
    expect(page.locator("#mras")).to_contain_text("In force")
    expect(page.locator("#recognized")).to_contain_text("AA")
    check(page, "MRA list")
    _shot(page, tmp_path, "mras")

    # An administrator's pages: partners, webhooks, consortium, API keys, audit log.
    admin = _tab(chromium)
    _sign_in_locally(admin, mn.url, "root", mn.people.add("root", Role.ADMIN))
    expect(admin.get_by_role("heading", level=1)).to_have_text("Welcome, Root")
    for words, heading, label in (
        ("Partners", "What KR sees of our registry", "partners"),
        ("Consortium", "Consortium", "consortium"),
        ("Audit log", "Audit log", "audit"),
    ):
        admin.get_by_role("link", name=words, exact=True).first.click()
        expect(admin.get_by_role("heading", level=1)).to_have_text(heading)
        check(admin, label)
        _shot(admin, tmp_path, label)
    expect(admin.locator("#audit")).to_contain_text("mra_propose")
    expect(admin.locator("#audit")).to_contain_text("bat")
    admin.goto(f"{mn.url}/console/partners/webhooks")
    admin.get_by_role("button", name="Add the webhook").click()
    expect(admin.locator("#url-error")).to_be_visible()
    check(admin, "webhooks with errors")
    admin.goto(f"{mn.url}/console/consortium/api-keys")
    check(admin, "API keys")
    admin.goto(f"{mn.url}/console/consortium/signing-keys/rotate")
    check(admin, "rotation")
    for tab in (page, other, admin):
        tab.context.close()
    assert found == {}, json.dumps(found, indent=1)
