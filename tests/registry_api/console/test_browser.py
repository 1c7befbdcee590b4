"""The console in a real headless Chromium (Debian's, driven by Playwright): single sign-on
through the real OpenID provider, local sign-in with a second factor, lockout, a form sent
without its CSRF token, an ended session, a role without access; axe-core on every page; the
sign-in form by keyboard alone.

Set AEO_CONSOLE_SCREENSHOTS=docs/img to refresh the screenshots docs/console.md shows.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pyotp
import pytest
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, expect, sync_playwright

from registry_api.app import create_app
from registry_api.console.templating import LANGUAGES
from registry_api.db import Role, utc_now
from tests.registry_api.kpi_history import seed as seed_kpi_history
from tests.verifier.web.conftest import launch

from .servers import CLIENT_ID, PROVIDER_NAME, ROLE_MAPPING, registry_with_provider
from .support import People, cheap_passwords, console_of, console_settings

pytestmark = [pytest.mark.browser, pytest.mark.slow]

AXE = Path(__file__).resolve().parents[3] / "node_modules" / "axe-core" / "axe.min.js"
VIEWPORT = {"width": 1024, "height": 720}
#: read at import: the registry tests' fixtures clear every AEO_* variable before a test
SCREENSHOTS = os.environ.get("AEO_CONSOLE_SCREENSHOTS")
#: a page of the console may take long to answer on a busy shared machine: not a timing test
WAIT_MS = 30_000


@dataclass
class OffsetClock:
    """Real time, which a test may move forward (TOTP codes need the real time)."""

    offset: timedelta = field(default_factory=timedelta)

    def __call__(self) -> datetime:
        return utc_now() + self.offset


@dataclass
class Served:
    url: str
    app: FastAPI
    clock: OffsetClock
    people: People


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("console-browser")
    secret = secrets.token_urlsafe(24)
    clock = OffsetClock()

    def make_app(issuer: str | None) -> FastAPI:
        settings = console_settings(
            tmp,
            f"sqlite:///{tmp / 'registry.db'}",
            console_oidc_issuer=issuer,
            console_oidc_client_id=CLIENT_ID,
            console_oidc_client_secret=secret,
            console_oidc_provider_name=PROVIDER_NAME,
            console_oidc_role_mapping=ROLE_MAPPING,
        )
        app = create_app(settings)
        console = console_of(app)
        console.clock = clock
        console.passwords = cheap_passwords()
        return app

    with registry_with_provider(make_app, tmp / "provider.log", client_secret=secret) as (
        url,
        app,
    ):
        yield Served(url, app, clock, People(app))


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as driver:
        browser = launch(driver)
        yield browser
        browser.close()


@dataclass
class Tab:
    page: Page
    csp_violations: list[str]


def _open(chromium: Browser, *, bypass_csp: bool = False) -> Tab:
    context = chromium.new_context(
        viewport=VIEWPORT, locale="en-US", timezone_id="UTC", bypass_csp=bypass_csp
    )
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return Tab(page, violations)


@pytest.fixture
def tab(chromium: Browser) -> Iterator[Tab]:
    opened = _open(chromium)
    yield opened
    assert opened.csp_violations == []
    opened.page.context.close()


def _shot(page: Page, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"console-{name}.png"
    page.screenshot(path=str(path))
    assert path.stat().st_size > 5_000  # a page, not a blank
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(SCREENSHOTS) / path.name)


def _sign_in_locally(page: Page, url: str, name: str, password: str) -> None:
    page.goto(f"{url}/console/sign-in")
    page.get_by_label("Account name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()


def _name(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(3)}"


def test_signing_in_through_the_identity_provider_lands_on_home_with_the_mapped_role(
    served: Served, tab: Tab, tmp_path: Path
) -> None:
    page = tab.page
    page.goto(f"{served.url}/console/sign-in")
    _shot(page, tmp_path, "sign-in")
    page.get_by_role("link", name="Sign in with Test IdP").click()
    page.get_by_label("User name").fill("alice")
    page.get_by_role("button", name="Sign in to the provider").click()
    # The callback's page moves on to the console by itself (the Strict cookie goes along).
    expect(page).to_have_url(f"{served.url}/console/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Alice Officer")
    expect(page.locator(".header__role")).to_have_text("Issuing officer")
    _shot(page, tmp_path, "home")
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator(".notice")).to_have_text("You have signed out.")
    page.goto(f"{served.url}/console/")
    expect(page).to_have_url(f"{served.url}/console/sign-in?next=/console/")


def test_a_local_account_sets_up_a_second_factor_then_signs_in_with_a_code(
    served: Served, tab: Tab, tmp_path: Path
) -> None:
    page = tab.page
    name = _name("bolor")
    password = served.people.add(name, Role.ISSUING_OFFICER, totp_required=True)
    _sign_in_locally(page, served.url, name, password)
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up your authenticator app")
    _shot(page, tmp_path, "totp-setup")
    secret = page.locator("code.secret").inner_text().replace(" ", "")
    page.get_by_label("Code").fill(pyotp.TOTP(secret).at(served.clock()))
    page.get_by_role("button", name="Turn on the second factor").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Welcome, {name.title()}")
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator(".notice")).to_have_text("You have signed out.")

    served.clock.offset += timedelta(seconds=60)  # the next code: each is used once
    _sign_in_locally(page, served.url, name, password)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Enter the code from your authenticator app"
    )
    page.get_by_label("Code").fill(pyotp.TOTP(secret).at(served.clock()))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Welcome, {name.title()}")
    expect(page.locator(".summary")).to_contain_text("with your password and a code")


def test_five_wrong_passwords_lock_the_account_and_the_page_says_only_wrong_password(
    served: Served, tab: Tab, tmp_path: Path
) -> None:
    page = tab.page
    name = _name("locked")
    password = served.people.add(name)
    for _ in range(5):
        _sign_in_locally(page, served.url, name, "not the password!")
        expect(page.locator(".error-summary")).to_be_visible()
    _sign_in_locally(page, served.url, name, password)
    summary = page.locator(".error-summary")
    expect(summary).to_contain_text("The account name or password is not right")
    expect(page.get_by_label("Account name")).to_have_value(name)
    _shot(page, tmp_path, "sign-in-error")
    person = served.people.get(name)
    assert person.locked_until is not None


def test_a_form_sent_without_its_csrf_token_is_refused_and_nothing_is_done(
    served: Served, tab: Tab
) -> None:
    page = tab.page
    name = _name("csrf")
    _sign_in_locally(page, served.url, name, served.people.add(name))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Welcome, {name.title()}")
    # As a forged form would be: no hidden field, and no htmx header.
    page.evaluate(
        """() => {
            document.querySelectorAll('input[name="csrf_token"]').forEach(e => e.remove());
            document.body.removeAttribute('hx-headers');
            document.body.setAttribute('hx-boost', 'false');
        }"""
    )
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("This form has expired")
    page.goto(f"{served.url}/console/")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Welcome, {name.title()}")


def test_an_ended_session_sends_the_browser_to_sign_in_with_a_notice(
    served: Served, tab: Tab
) -> None:
    page = tab.page
    name = _name("idle")
    password = served.people.add(name)
    _sign_in_locally(page, served.url, name, password)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Welcome, {name.title()}")
    # The home page asks for its figures after loading (htmx): let that request finish in the
    # session still alive, or it may be the one that meets the ended session.
    page.wait_for_load_state("networkidle")
    served.clock.offset += timedelta(minutes=31)
    page.get_by_role("link", name="Home").click()
    expect(page.locator(".notice")).to_have_text(
        "Your session has ended. Sign in again to continue."
    )
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to the AEO registry console")
    _sign_in_locally(page, served.url, name, password)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Welcome, {name.title()}")


def test_a_role_without_access_gets_the_403_page(served: Served, tab: Tab, tmp_path: Path) -> None:
    page = tab.page
    name = _name("officer")
    _sign_in_locally(page, served.url, name, served.people.add(name, Role.ISSUING_OFFICER))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Welcome, {name.title()}")
    expect(page.get_by_role("link", name="Sign-in log")).to_have_count(0)
    page.goto(f"{served.url}/console/sign-ins")
    expect(page.get_by_role("heading", level=1)).to_have_text("You cannot see this page")
    _shot(page, tmp_path, "forbidden")


def test_the_sign_in_button_is_reached_and_pressed_with_the_keyboard_alone(
    served: Served, tab: Tab
) -> None:
    page = tab.page
    name = _name("keys")
    password = served.people.add(name)
    page.goto(f"{served.url}/console/sign-in")
    order = []
    # the skip link, the language menu, then the page (the menu's six links come before it)
    for _ in range(10 + len(LANGUAGES)):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => [document.activeElement.tagName, document.activeElement.id,"
            " document.activeElement.textContent.trim()]"
        )
        order.append(focused)
        if focused[0] == "INPUT" and focused[1] == "name":
            page.keyboard.type(name)
        if focused[0] == "INPUT" and focused[1] == "password":
            page.keyboard.type(password)
        if focused[0] == "BUTTON":
            break
    assert order[0] == ["A", "", "Skip to main content"]
    assert ["BUTTON", "", "Sign in"] in order
    assert [tag for tag, _id, _text in order].index("BUTTON") <= 8 + len(LANGUAGES)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Welcome, {name.title()}")


def _axe(page: Page) -> list[dict[str, object]]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in result
        if v["impact"] in {"serious", "critical"}
    ]


def test_axe_finds_no_serious_or_critical_violation_on_any_page(
    served: Served, chromium: Browser
) -> None:
    tab = _open(chromium, bypass_csp=True)  # axe is injected as an inline script
    page = tab.page
    url = served.url
    found: dict[str, object] = {}

    def check(label: str) -> None:
        page.wait_for_load_state()
        violations = _axe(page)
        if violations:
            found[label] = violations

    page.goto(f"{url}/console/sign-in")
    check("sign-in")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.locator(".error-summary")).to_be_visible()
    check("sign-in with errors")
    page.goto(f"{url}/console/no-such-page")
    check("404")

    admin = _name("admin")
    password = served.people.add(admin, Role.ADMIN, totp_required=True, change_required=True)
    _sign_in_locally(page, url, admin, password)
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose a new password")
    check("password change")
    page.get_by_role("button", name="Change password").click()
    expect(page.locator(".error-summary")).to_be_visible()
    check("password change with errors")
    page.get_by_label("New password", exact=True).fill("correct horse battery")
    page.get_by_label("New password again").fill("correct horse battery")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up your authenticator app")
    check("second factor set-up")
    secret = page.locator("code.secret").inner_text().replace(" ", "")
    page.get_by_label("Code").fill(pyotp.TOTP(secret).at(served.clock()))
    page.get_by_role("button", name="Turn on the second factor").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Welcome, {admin.title()}")
    check("home")
    page.get_by_role("link", name="Sign-in log").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign-in log")
    check("sign-in log")
    page.get_by_role("link", name="KPIs").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Programme KPIs")
    check("kpis")
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator(".notice")).to_be_visible()

    served.clock.offset += timedelta(seconds=60)
    _sign_in_locally(page, url, admin, "correct horse battery")
    expect(page.get_by_label("Code")).to_be_visible()
    check("second factor")
    page.get_by_label("Code").fill("000000")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(".error-summary")).to_be_visible()
    check("second factor with errors")

    officer = _name("officer")
    page.context.clear_cookies()
    _sign_in_locally(page, url, officer, served.people.add(officer, Role.ISSUING_OFFICER))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Welcome, {officer.title()}")
    page.goto(f"{url}/console/sign-ins")
    expect(page.get_by_role("heading", level=1)).to_have_text("You cannot see this page")
    check("403")
    tab.page.context.close()
    assert found == {}, json.dumps(found, indent=1)


def test_the_kpi_page_draws_its_charts_under_the_content_security_policy(
    served: Served, tab: Tab, tmp_path: Path
) -> None:
    with served.app.state.session_factory() as session:
        seed_kpi_history(session)
    page = tab.page
    name = _name("auditor")
    _sign_in_locally(page, served.url, name, served.people.add(name, Role.AUDITOR))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Welcome, {name.title()}")
    # Through the navigation (htmx swaps the page in), then drawn by the console's bundle.
    page.get_by_role("link", name="KPIs").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Programme KPIs")
    page.goto(f"{served.url}/console/kpis?from=2026-01-01&to=2026-05-31")
    for chart in ("status", "transitions", "border"):
        canvas = page.locator(f'canvas[data-chart="{chart}"]')
        expect(canvas).to_have_attribute("aria-label", re.compile(".+"))
        # Chart.js sizes the canvas to its box and paints bars: some pixel is not blank.
        painted = canvas.evaluate(
            "c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
            " for (let i = 3; i < d.length; i += 4) { if (d[i] !== 0) return true; }"
            " return false; }"
        )
        assert painted, chart
    _shot(page, tmp_path, "kpis")
