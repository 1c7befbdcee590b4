"""The border page in each of its languages and in the pseudo-locale, in Chromium: every
outcome's verdict in the officer's words, nothing sticking out of its container, and the
language chosen by the browser's list or the menu (remembered)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from verifier.i18n import LOCALES, PSEUDO_LOCALE, languages_index, pseudo_page_catalog, tag

from .conftest import LAPTOP, PHONE
from .world import ISSUER_NAME, World

pytestmark = pytest.mark.browser

VERDICT_TIMEOUT_MS = 60_000
PSEUDO_TAG = tag(PSEUDO_LOCALE)

# The outcomes the test registry holds, with the tone the page gives each.
OUTCOMES = {
    "recognized": "tone.recognized",
    "not_recognized": "tone.not_recognized",
    "revoked": "tone.invalid",
    "tampered": "tone.invalid",
    "malformed": "tone.invalid",
}
OUTCOME_KEY = {"tampered": "outcome.bad_signature"}

# Every visible element's box must lie inside its parent's, and text must not be clipped by
# its own box: the check reads layout boxes, not pixels.
OVERFLOWS = """
() => {
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ')[0] : '');
  const found = [];
  const root = document.documentElement;
  if (root.scrollWidth > window.innerWidth + 1) {
    found.push(`the page is ${root.scrollWidth}px wide in a ${window.innerWidth}px window`);
  }
  for (const el of document.body.querySelectorAll('*')) {
    const skipped = '[hidden], .visually-hidden, svg, video, select, ' +
      'details:not([open]) > :not(summary)';
    if (el.closest(skipped)) continue;
    if (el.getClientRects().length === 0) continue;
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


def _catalog(locale: str) -> dict[str, Any]:
    if locale == PSEUDO_LOCALE:
        return pseudo_page_catalog()
    from verifier.i18n import page_catalog

    return page_catalog(locale)


def _text(catalog: dict[str, Any], key: str, **params: str) -> str:
    text = str(catalog[key])
    for name, value in params.items():
        text = text.replace("{" + name + "}", value)
    return text


def _open(browser: Browser, url: str, locale: str, *, laptop: bool = False) -> Page:
    """The page in a browser whose language list starts with ``locale``; the pseudo-locale's
    catalogue is served from the test (it is never committed)."""
    context = browser.new_context(
        viewport=LAPTOP if laptop else PHONE,
        locale=tag(locale),
        timezone_id="UTC",
        reduced_motion="reduce",
    )
    if locale == PSEUDO_LOCALE:
        index = languages_index()
        languages = index["languages"]
        assert isinstance(languages, list)
        index["languages"] = [*languages, {"code": PSEUDO_TAG, "name": "Pseudo", "dir": "ltr"}]

        def languages_json(route: Route) -> None:
            route.fulfill(json=index)

        def pseudo_json(route: Route) -> None:
            route.fulfill(
                body=json.dumps(pseudo_page_catalog(), ensure_ascii=False),
                content_type="application/json; charset=utf-8",
            )

        context.route("**/static/i18n/languages.json", languages_json)
        context.route(f"**/static/i18n/{PSEUDO_TAG}.json", pseudo_json)
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("body.is-ready")
    return page


def _check(page: Page, text: str) -> None:
    page.locator("#paste-text").fill(text)
    page.locator("#paste-submit").click()


@pytest.mark.parametrize("locale", [*LOCALES, PSEUDO_LOCALE])
def test_each_outcome_reads_in_the_language_and_fits_its_containers(
    browser: Browser, base_url: str, world: World, locale: str
) -> None:
    catalog = _catalog(locale)
    page = _open(browser, base_url, locale)
    try:
        assert page.locator("html").get_attribute("lang") == tag(locale)
        expect(page.locator("#checking-as")).to_have_text(
            _text(catalog, "app.checking_as", authority="KR")
        )
        assert page.evaluate(OVERFLOWS) == [], "before any verdict"
        texts = {**world.texts, "malformed": "AEO1:###"}
        for outcome, tone in OUTCOMES.items():
            _check(page, texts[outcome])
            headline = page.locator(".verdict-headline")
            expect(headline).to_have_text(_text(catalog, tone), timeout=VERDICT_TIMEOUT_MS)
            key = OUTCOME_KEY.get(outcome, f"outcome.{outcome}")
            expect(page.locator(".verdict-outcome")).to_have_text(
                _text(catalog, key, authority="KR")
            )
            if locale != "en":
                # Reasons in the officer's words, each with its code.
                for item in page.locator(".reason").all():
                    code = str(item.get_attribute("data-code"))
                    expect(item.locator(".reason-text")).to_have_text(
                        _text(catalog, f"reason.{code}")
                    )
            page.locator("details.stages > summary").click()
            overflows = page.evaluate(OVERFLOWS)
            assert overflows == [], f"{outcome}: {overflows}"
            page.locator("#scan-next").click()
    finally:
        page.context.close()


def test_the_pseudo_locale_fits_on_a_laptop_too(
    browser: Browser, base_url: str, world: World
) -> None:
    page = _open(browser, base_url, PSEUDO_LOCALE, laptop=True)
    try:
        _check(page, world.texts["recognized"])
        expect(page.locator(".verdict-headline")).to_contain_text("Ŕéçöĝñîžéđ")
        assert page.evaluate(OVERFLOWS) == []
    finally:
        page.context.close()


def test_chinese_browsers_get_simplified_chinese_and_the_issuer_line_is_translated(
    browser: Browser, base_url: str, world: World
) -> None:
    page = _open(browser, base_url, "zh_Hans")
    page.context.close()
    context = browser.new_context(viewport=PHONE, locale="zh-CN", timezone_id="UTC")
    page = context.new_page()
    try:
        page.goto(base_url)
        page.wait_for_selector("body.is-ready")
        assert page.locator("html").get_attribute("lang") == "zh-Hans"
        _check(page, world.texts["recognized"])
        expect(page.locator(".verdict-issuer")).to_have_text(
            f"签发机关：{ISSUER_NAME} (MN)", timeout=VERDICT_TIMEOUT_MS
        )
    finally:
        context.close()


def test_the_chosen_language_is_remembered_over_the_browsers(
    browser: Browser, base_url: str
) -> None:
    context = browser.new_context(viewport=PHONE, locale="ru-RU", timezone_id="UTC")
    page = context.new_page()
    try:
        page.goto(base_url)
        page.wait_for_selector("body.is-ready")
        assert page.locator("html").get_attribute("lang") == "ru"
        page.locator("#language").select_option("kk")
        expect(page.locator("#checking-as")).to_have_text("KR атынан тексеру")
        page.reload()
        page.wait_for_selector("body.is-ready")
        assert page.locator("html").get_attribute("lang") == "kk"
        expect(page.locator("#language")).to_have_value("kk")
        names = page.locator("#language option").all_text_contents()
        assert names == ["English", "монгол", "русский", "қазақ тілі", "한국어", "中文 (简体)"]
    finally:
        context.close()
