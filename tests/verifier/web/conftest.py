"""Fixtures for the page's tests: a registry state in an offline cache, the app served by
uvicorn, and Debian's Chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from verifier.offline import OfflineCache
from verifier.web.app import create_app

from .server import serve
from .world import NOW, VERIFIER, World, build_world

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 860}


def launch(playwright: Playwright, extra_args: list[str] | None = None) -> Browser:
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: run `make system-deps` (Debian chromium)")
    return playwright.chromium.launch(
        executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *(extra_args or [])]
    )


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("verifier-web"))


@pytest.fixture(scope="session")
def cache(world: World) -> Iterator[OfflineCache]:
    with OfflineCache(world.cache_path) as offline:
        yield offline


@pytest.fixture(scope="session")
def base_url(cache: OfflineCache) -> Iterator[str]:
    with serve(create_app(lambda: cache, as_authority=VERIFIER, clock=NOW)) as url:
        yield url


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = launch(playwright)
    yield chromium
    chromium.close()


def open_page(browser: Browser, url: str, *, laptop: bool = False) -> Page:
    context = browser.new_context(
        viewport=LAPTOP if laptop else PHONE,
        device_scale_factor=1 if laptop else 2,
        locale="en-US",
        timezone_id="UTC",
        reduced_motion="reduce",
    )
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("body.is-ready")
    return page


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    opened = open_page(browser, base_url)
    yield opened
    opened.context.close()
