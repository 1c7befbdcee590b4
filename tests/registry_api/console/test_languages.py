"""The console's language: the menu on every page (each language named in itself), the
choice remembered in a cookie, the browser's languages read as the border page reads them
(``zh-CN`` is simplified Chinese), and ``<html lang>`` saying which."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from registry_api.console import i18n
from registry_api.db import Role

from .support import People, console_of, sign_in

MENU = ["English", "монгол", "русский", "қазақ тілі", "한국어", "中文 (简体)"]
MENU_LINK = re.compile(
    r'<li class="languages__item"><a href="([^"]+)" lang="([^"]+)"[^>]*>([^<]+)</a>'
)
ZH_TITLE = "登录AEO登记册控制台"


def _html_lang(html: str) -> str:
    found = re.search(r'<html lang="([^"]+)">', html)
    assert found is not None
    return found[1]


@pytest.mark.parametrize("header", ["zh-CN", "zh", "zh-Hans-CN", "zh-SG,en;q=0.5"])
def test_a_browser_asking_for_chinese_gets_simplified_chinese(header: str) -> None:
    assert i18n.negotiate(header) == "zh_Hans"


def test_traditional_chinese_is_not_read_as_simplified() -> None:
    assert i18n.negotiate("zh-TW") == "en"
    assert i18n.negotiate("zh-Hant-HK,ru;q=0.5") == "ru"


def test_a_zh_cn_browser_gets_the_sign_in_page_in_chinese(client: TestClient) -> None:
    page = client.get("/console/sign-in", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert page.status_code == 200
    assert ZH_TITLE in page.text
    assert _html_lang(page.text) == "zh-Hans"
    assert page.headers["content-language"] == "zh-Hans"


def test_the_sign_in_page_offers_the_six_languages_each_named_in_itself(
    client: TestClient,
) -> None:
    page = client.get("/console/sign-in?next=/console/mras", headers={"Accept-Language": "ru"})
    links = MENU_LINK.findall(page.text)
    assert [name for _, _, name in links] == MENU
    assert [lang for _, lang, _ in links] == ["en", "mn", "ru", "kk", "ko", "zh-Hans"]
    assert links[4][0] == "/console/language/ko?next=/console/sign-in%3Fnext%3D/console/mras"
    assert 'aria-current="true">русский<' in page.text


def test_the_language_chosen_in_the_menu_is_remembered_over_the_browsers(
    client: TestClient,
) -> None:
    chosen = client.get("/console/language/ko?next=/console/sign-in", follow_redirects=False)
    assert chosen.status_code == 303
    assert chosen.headers["location"] == "/console/sign-in"
    cookie = chosen.headers["set-cookie"]
    assert cookie.startswith("aeo_console_language=ko;")
    assert "Path=/console" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    page = client.get("/console/sign-in", headers={"Accept-Language": "ru-RU"})
    assert "AEO 등록부 콘솔 로그인" in page.text
    assert _html_lang(page.text) == "ko"
    client.get("/console/language/zh-Hans", follow_redirects=False)
    assert ZH_TITLE in client.get("/console/sign-in").text


def test_every_signed_in_page_has_the_menu_and_speaks_the_chosen_language(
    app: FastAPI, client: TestClient, people: People
) -> None:
    password = people.add("tuya", Role.ISSUING_OFFICER)
    sign_in(client, "tuya", password)
    client.get("/console/language/kk", follow_redirects=False)
    for path in ("/console/", "/console/certificates", "/console/imports", "/console/nowhere"):
        page = client.get(path)
        assert _html_lang(page.text) == "kk", path
        assert [name for _, _, name in MENU_LINK.findall(page.text)] == MENU, path
    assert console_of(app).templates.pseudo_locale is False


@pytest.mark.parametrize("language", ["fr", "en-XA", "zh-CN", "ko%22%3E"])
def test_a_language_not_in_the_menu_is_refused_with_a_page(
    client: TestClient, language: str
) -> None:
    page = client.get(f"/console/language/{language}", follow_redirects=False)
    assert page.status_code == 404
    assert "This language is not available" in page.text
    assert "aeo_console_language" not in page.headers.get("set-cookie", "")


def test_a_cookie_naming_no_catalogue_is_ignored(client: TestClient) -> None:
    client.cookies.set("aeo_console_language", "en-XA", path="/console")
    page = client.get("/console/sign-in", headers={"Accept-Language": "mn"})
    assert _html_lang(page.text) == "mn"


@pytest.mark.parametrize(
    "next_path", ["https://elsewhere.example/", "//elsewhere.example/", "/v1/certificates"]
)
def test_the_menu_never_sends_the_browser_off_the_console(
    client: TestClient, next_path: str
) -> None:
    chosen = client.get("/console/language/ru", params={"next": next_path}, follow_redirects=False)
    assert chosen.headers["location"] == "/console/"


def test_the_pseudo_locale_renders_pages_accented_and_longer_when_a_test_turns_it_on(
    app: FastAPI, client: TestClient
) -> None:
    console_of(app).templates.pseudo_locale = True
    client.get("/console/language/en-XA", follow_redirects=False)
    page = client.get("/console/sign-in")
    assert _html_lang(page.text) == "en-XA"
    assert "[Šîĝñ îñ ţö ţĥé ÅÉÖ ŕéĝîšţŕý çöñšöļé" in page.text
    # placeholders survive: the footer's reference carries the request id
    assert re.search(r"\[Ŕéƒéŕéñçé: [0-9a-f-]{8,}", page.text)
