"""The console's languages in a real Chromium: the menu switches every page and the choice
outlives a reload, a Chinese (zh-CN) browser is answered in simplified Chinese, and the
pseudo-locale (accented and 40 % longer) lays out every page and page state without
truncation, overflow or horizontal scroll at 1280 and 390 px (layout boxes compared, the
border page's check, not pixels)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, expect

from registry_api.db import Role
from tests.verifier.web.conftest import LAPTOP, PHONE

from .support import People, console_of, csrf_of, sign_in
from .test_browser import WAIT_MS
from .test_browser_certificates import (
    CSV,
    _shot,
    chromium as chromium,
    registry as registry,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NUMBER = "MN-AEO-2026-0200"
PSEUDO_TAG = "en-XA"

# The border page's check (tests/verifier/web/test_page_languages.py), with one addition:
# a table may scroll sideways inside its own region (.table-wrapper, GOV.UK's pattern for
# wide tables on a phone), so what lies inside a scrolling box is measured against it, not
# against its parents.
OVERFLOWS = """
() => {
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ')[0] : '');
  const found = [];
  const root = document.documentElement;
  if (root.scrollWidth > window.innerWidth + 1) {
    found.push(`the page is ${root.scrollWidth}px wide in a ${window.innerWidth}px window`);
  }
  const scrolling = (el) => {
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      if (['auto', 'scroll'].includes(getComputedStyle(up).overflowX)) return true;
    }
    return false;
  };
  for (const el of document.body.querySelectorAll('*')) {
    const skipped = '[hidden], .visually-hidden, .skip-link, svg, canvas, select, option, ' +
      'details:not([open]) > :not(summary)';
    if (el.closest(skipped)) continue;
    if (el.getClientRects().length === 0) continue;
    if (scrolling(el)) continue;
    const style = getComputedStyle(el);
    if (style.position === 'absolute' || style.position === 'fixed') continue;
    const scrolls = ['visible', 'auto', 'scroll'].includes(style.overflowX);
    if (el.scrollWidth > el.clientWidth + 1 && !scrolls) {
      found.push(`${name(el)} clips its text (${el.scrollWidth} > ${el.clientWidth})`);
    }
    const parent = el.parentElement;
    if (!parent || parent === document.body) continue;
    const box = el.getBoundingClientRect();
    const outer = parent.getBoundingClientRect();
    if (box.right > outer.right + 1 || box.left < outer.left - 1) {
      const where = (r) => `${Math.round(r.left)}..${Math.round(r.right)}`;
      found.push(`${name(el)} sticks out of ${name(parent)} (${where(box)} in ${where(outer)})`);
    }
  }
  return found;
}
"""


def _issue(url: str, name: str, password: str) -> None:
    """Issue :data:`NUMBER` through the console's form (English, outside the browser) and
    wait for the chain to confirm it."""
    with httpx.Client(base_url=url, timeout=WAIT_MS / 1000) as client:
        assert sign_in(client, name, password).status_code == 303
        form = client.get("/console/certificates/new").text
        idempotency = form.split('name="idempotency_key" value="', 1)[1].split('"', 1)[0]
        fields = {
            "csrf_token": csrf_of(form),
            "idempotency_key": idempotency,
            "number": NUMBER,
            "holder_legal_name": "Khan Logistics LLC",
            "holder_street": "Chinggis Avenue 5",
            "holder_city": "Ulaanbaatar",
            "holder_country": "MN",
            "holder_id_scheme": "TIN",
            "holder_id_number": "6012399",
            "business_roles": "IM, EX",
            "tiers": "2",  # S: security and safety
            "officer": "B. Bolor",
            "issuing_office": "Ulaanbaatar Customs House",
            "valid_from": "2026-01-15",
            "valid_until": "2029-01-14",
        }
        answer = client.post("/console/certificates/new", data=fields)
        assert answer.status_code == 303, answer.text
        deadline = time.monotonic() + WAIT_MS / 1000
        while "Active" not in client.get(f"/console/certificates/{NUMBER}").text:
            assert time.monotonic() < deadline, "the chain did not confirm the issuance"
            time.sleep(0.2)


@pytest.fixture
def pseudo_registry(registry: tuple[str, FastAPI]) -> tuple[str, People]:
    url, app = registry
    console_of(app).templates.pseudo_locale = True
    return url, People(app)


def _pseudo_page(chromium: Browser, url: str, viewport: dict[str, int]) -> Page:
    context = chromium.new_context(viewport=viewport, locale="en-US", timezone_id="UTC")
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(f"{url}/console/language/{PSEUDO_TAG}?next=/console/sign-in")
    assert page.locator("html").get_attribute("lang") == PSEUDO_TAG
    return page


def _sign_in(page: Page, url: str, name: str, password: str) -> None:
    page.goto(f"{url}/console/sign-in")
    page.locator("#name").fill(name)
    page.locator("#password").fill(password)
    page.locator("main form button[type=submit]").last.click()
    page.wait_for_url(f"{url}/console/")


def _submit(page: Page) -> None:
    """Send the page's main form as it is (empty: its errors are a page state too)."""
    page.locator("main form button[type=submit]").last.click()
    expect(page.locator(".error-summary")).to_be_visible()


@pytest.mark.parametrize("width", ["laptop", "phone"])
def test_every_console_page_fits_in_the_pseudo_locale(
    pseudo_registry: tuple[str, People],
    chromium: Browser,
    width: str,
) -> None:
    url, people = pseudo_registry
    admin = people.add("bolor", Role.ADMIN)
    auditor = people.add("saraa", Role.AUDITOR)
    _issue(url, "bolor", admin)
    page = _pseudo_page(chromium, url, LAPTOP if width == "laptop" else PHONE)
    found: dict[str, list[str]] = {}

    def check(label: str) -> None:
        page.wait_for_load_state()
        overflows = page.evaluate(OVERFLOWS)
        if overflows:
            found[label] = overflows

    check("sign-in")
    page.locator("#name").fill("bolor")
    page.locator("#password").fill("not the password")
    page.locator("main form button[type=submit]").last.click()
    expect(page.locator(".error-summary")).to_be_visible()
    check("sign-in with an error")
    _sign_in(page, url, "bolor", admin)
    expect(page.locator("#status-active")).to_have_text("1", timeout=WAIT_MS)
    check("home with its figures")

    visits = {
        "certificates": "/certificates",
        "certificates found": "/certificates?holder=Khan",
        "certificates none found": "/certificates?holder=nobody",
        "a certificate": f"/certificates/{NUMBER}",
        "issue": "/certificates/new",
        "amend": f"/certificates/{NUMBER}/amend",
        "renew": f"/certificates/{NUMBER}/renew",
        "suspend": f"/certificates/{NUMBER}/suspend",
        "revoke": f"/certificates/{NUMBER}/revoke",
        "imports": "/imports",
        "MRAs": "/mras",
        "propose an MRA": "/mras/propose",
        "partners": "/partners",
        "webhooks": "/partners/webhooks",
        "consortium": "/consortium",
        "rotate the signing key": "/consortium/signing-keys/rotate",
        "API keys": "/consortium/api-keys",
        "audit log": "/audit",
        "sign-in log": "/sign-ins",
        "KPIs": "/kpis",
        "404": "/no-such-page",
    }
    with_errors = {"issue", "suspend", "propose an MRA", "webhooks", "API keys"}
    for label, path in visits.items():
        page.goto(f"{url}/console{path}")
        assert page.locator("html").get_attribute("lang") == PSEUDO_TAG, label
        check(label)
        if label in with_errors:
            _submit(page)
            check(f"{label} with errors")

    page.goto(f"{url}/console/imports")
    page.locator("input[type=file]").set_input_files(
        {"name": "aeo-list.csv", "mimeType": "text/csv", "buffer": CSV.encode()}
    )
    page.locator("main form button[type=submit]").last.click()
    expect(page.locator("#import-bar")).to_have_attribute("value", "100", timeout=WAIT_MS)
    check("import and its progress")

    # a role without access: the 403 page
    page.context.clear_cookies()
    page.goto(f"{url}/console/language/{PSEUDO_TAG}?next=/console/sign-in")
    _sign_in(page, url, "saraa", auditor)
    page.goto(f"{url}/console/certificates/new")
    assert page.locator("html").get_attribute("lang") == PSEUDO_TAG
    check("403")
    page.context.close()
    assert found == {}


def test_the_menu_switches_to_korean_and_a_reload_keeps_it(
    registry: tuple[str, FastAPI],
    chromium: Browser,
    tmp_path: Path,
) -> None:
    url, app = registry
    password = People(app).add("tuya", Role.ISSUING_OFFICER)
    context = chromium.new_context(viewport=LAPTOP, locale="en-US", timezone_id="UTC")
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    try:
        _sign_in(page, url, "tuya", password)
        assert page.locator("html").get_attribute("lang") == "en"
        page.get_by_role("link", name="Certificates", exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Certificates")
        page.get_by_role("navigation", name="Language").get_by_role("link", name="한국어").click()
        expect(page.locator("html")).to_have_attribute("lang", "ko")
        expect(page).to_have_url(f"{url}/console/certificates")
        expect(page.get_by_role("heading", level=1)).to_have_text("증서")
        page.reload()
        assert page.locator("html").get_attribute("lang") == "ko"
        expect(page.get_by_role("heading", level=1)).to_have_text("증서")
        page.get_by_role("link", name="홈", exact=True).click()
        assert page.locator("html").get_attribute("lang") == "ko"
        current = page.get_by_role("navigation", name="언어").locator("[aria-current=true]")
        expect(current).to_have_text("한국어")
        expect(page.locator("#status-active")).to_have_text("0", timeout=WAIT_MS)
        _shot(page, tmp_path, "korean")  # docs/console.md's picture of the menu
    finally:
        context.close()


def test_a_chinese_browser_gets_the_console_in_simplified_chinese(
    registry: tuple[str, FastAPI],
    chromium: Browser,
) -> None:
    url, _app = registry
    context = chromium.new_context(viewport=PHONE, locale="zh-CN", timezone_id="UTC")
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    try:
        page.goto(f"{url}/console/")
        assert page.locator("html").get_attribute("lang") == "zh-Hans"
        expect(page.get_by_role("heading", level=1)).to_have_text("登录AEO登记册控制台")
    finally:
        context.close()
