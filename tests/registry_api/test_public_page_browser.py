"""The public lookup page in a real headless Chromium (Debian's, driven by Playwright): a
lookup with and without the holder's consent, bad input named next to its field, a photo of
a printed QR code, and the 429 page over the limit; axe-core on every page (no serious or
critical violation)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, expect, sync_playwright

from contracts.bootstrap import Consortium
from registry_api.db import Role
from tests.verifier.web.conftest import launch

from .conftest import ChainApp
from .console.servers import bound_socket
from .registry_support import open_registry
from .test_public_lookup import populated

pytestmark = [pytest.mark.browser, pytest.mark.slow]

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
#: a busy shared machine may answer slowly: this is not a timing test
WAIT_MS = 30_000


@pytest.fixture
def mn(tmp_path: Path, consortium: Consortium) -> Iterator[ChainApp]:
    with ExitStack() as stack:
        # Six lookups at once, then one a minute: the test uses five before the limit.
        service = open_registry(
            stack, tmp_path, consortium, "MN", public_lookup_burst=6, public_lookup_per_minute=1
        )
        yield populated(service)


def _serve(app: FastAPI) -> Iterator[str]:
    """The app over HTTP; its lifespan was started by the test client already."""
    sock = bound_socket()
    server = uvicorn.Server(
        uvicorn.Config(app, lifespan="off", ws="none", http="h11", log_level="warning")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.fixture
def url(mn: ChainApp) -> Iterator[str]:
    yield from _serve(mn.app)


@pytest.fixture
def chromium() -> Iterator[Browser]:
    with sync_playwright() as driver:
        browser = launch(driver)
        yield browser
        browser.close()


def _serious_violations(page: Page) -> list[dict[str, object]]:
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


def test_the_public_page_answers_numbers_and_qr_photos_and_refuses_beyond_the_limit(
    mn: ChainApp, url: str, chromium: Browser, tmp_path: Path
) -> None:
    qr = tmp_path / "qr.png"
    printed = mn.client.get("/v1/certificates/MN-P/qr.png", headers=mn.headers(Role.AUDITOR))
    assert printed.status_code == 200, printed.text
    qr.write_bytes(printed.content)

    page = chromium.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(f"{url}/public/lookup")
    expect(page.get_by_role("heading", name="Check an AEO certificate")).to_be_visible()
    assert _serious_violations(page) == []

    # With and without consent: the holder's name only where given; the other alike unknown.
    page.get_by_label("Certificate numbers or identifiers").fill("MN-P\nMN-N")
    page.get_by_role("button", name="Check certificates").click()
    rows = page.locator("#answers tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Valid AEO certificate")
    expect(rows.nth(0)).to_contain_text("Tavan Bogd Trade LLC")
    expect(rows.nth(1)).to_contain_text("the holder has not agreed to publication")
    expect(rows.nth(1)).not_to_contain_text("Tavan Bogd")
    assert _serious_violations(page) == []

    # Bad input: the summary links to the field, and the message stands next to it.
    page.get_by_label("Certificate numbers or identifiers").fill("VAT:1")
    page.get_by_role("button", name="Check certificates").click()
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    expect(page.locator("#q-error")).to_contain_text("VAT:1")
    expect(page.get_by_label("Certificate numbers or identifiers")).to_have_attribute(
        "aria-invalid", "true"
    )
    assert _serious_violations(page) == []

    # A photo of the printed QR code answers as its number.
    page.goto(f"{url}/public/lookup")
    page.get_by_label("Or a photo of the QR code").set_input_files(str(qr))
    page.get_by_role("button", name="Check the QR code").click()
    expect(page.locator("#answers tbody tr")).to_have_count(1)
    expect(page.locator("#answers tbody tr")).to_contain_text("MN-P")
    expect(page.locator("#answers tbody tr")).to_contain_text("Tavan Bogd Trade LLC")
    assert _serious_violations(page) == []

    # Beyond the limit, a page that says so (not problem JSON), 429 with Retry-After. Each
    # query differs: the browser keeps an answer a minute (Cache-Control) and would not ask.
    statuses, retry_after = [], None
    for attempt in range(10):
        response = page.goto(f"{url}/public/lookup?q=MN-{attempt}")
        assert response is not None
        statuses.append(response.status)
        if response.status == 429:
            retry_after = response.headers["retry-after"]
            break
    assert statuses[-1] == 429
    assert set(statuses[:-1]) == {200}
    assert retry_after is not None
    assert int(retry_after) >= 1
    expect(page.get_by_role("alert")).to_contain_text("Too many lookups from your address")
    assert _serious_violations(page) == []
