"""The message catalogues: every message the templates and the console's Python use is in
every catalogue, translated, and nothing else is; no template shows text that is not a
message; a new language is one .po file."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from registry_api.console import i18n

JINJA = re.compile(r"{{.*?}}|{%.*?%}|{#.*?#}", re.DOTALL)
#: attributes people read (or hear)
READ_ATTRIBUTES = {"alt", "title", "aria-label", "placeholder"}


def test_the_sources_use_messages_and_the_loader_finds_them() -> None:
    messages = i18n.extract_messages()
    assert "Sign in to the AEO registry console" in messages  # a template's
    assert "The account name or password is not right" in messages  # Python's (N_)
    assert len(messages) > 80


@pytest.mark.parametrize("locale", i18n.available_locales())
def test_every_catalogue_has_every_message_of_the_sources_and_no_other(locale: str) -> None:
    assert i18n.problems(locale) == []


def test_the_check_command_agrees(capsys: pytest.CaptureFixture[str]) -> None:
    assert i18n.main(["check"]) == 0
    assert "matches the sources" in capsys.readouterr().out


def test_a_missing_or_untranslated_message_is_reported(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    po = tmp_path / "xx" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    po.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'
        'msgid "Sign in"\nmsgstr ""\n\nmsgid "A message nobody uses"\nmsgstr "X"\n',
        encoding="utf-8",
    )
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    found = i18n.problems("xx")
    assert "xx: 'Sign in' is not translated" in found
    assert "xx: 'A message nobody uses' is no longer used by the sources" in found
    assert any(problem.startswith("xx: missing 'Account name'") for problem in found)


def test_adding_a_language_writes_a_catalogue_with_every_message_to_translate(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    path = i18n.add("mn")
    catalog = i18n.read_catalog("mn")
    assert path == tmp_path / "mn" / "LC_MESSAGES" / "messages.po"
    assert {m.id for m in catalog if m.id} == set(i18n.extract_messages())
    assert all(problem.endswith("is not translated") for problem in i18n.problems("mn"))


def test_the_best_catalogue_for_the_browsers_languages_is_chosen() -> None:
    assert i18n.negotiate("mn-MN,mn;q=0.9,en;q=0.8") == "mn"
    assert i18n.negotiate("fr-FR,kk;q=0.5") == "kk"
    assert i18n.negotiate("ko-KR") == "ko"
    assert i18n.negotiate("fr-FR,de;q=0.5") == "en"
    assert i18n.negotiate("") == "en"
    assert i18n.negotiate("garbage;;q=x,,") == "en"


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_data(self, data: str) -> None:
        if re.search(r"[^\W\d_]", data):
            self.found.append(data.strip())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in READ_ATTRIBUTES and value and re.search(r"[^\W\d_]", value):
                self.found.append(f"{name}={value}")


@pytest.mark.parametrize(
    "template", sorted(p.name for p in i18n.TEMPLATE_DIR.glob("*.html")), ids=str
)
def test_no_template_shows_text_that_is_not_a_message(template: str) -> None:
    source = (i18n.TEMPLATE_DIR / template).read_text(encoding="utf-8")
    parser = _Text()
    parser.feed(JINJA.sub(" ", source))
    assert parser.found == []


@pytest.mark.parametrize(
    ("accept_language", "sign_in_title"),
    [
        ("ru-RU,ru;q=0.9", "Вход в консоль реестра УЭО"),
        ("kk", "УЭО тізілімінің консоліне кіру"),
        ("mn-MN", "ЭБЭЗО-ын бүртгэлийн консолд нэвтрэх"),
        ("ko-KR", "AEO 등록부 콘솔 로그인"),
        ("zh-Hans", "登录AEO登记册控制台"),
    ],
)
def test_the_sign_in_page_speaks_the_browsers_language(
    client: TestClient, accept_language: str, sign_in_title: str
) -> None:
    page = client.get("/console/sign-in", headers={"Accept-Language": accept_language})
    assert page.status_code == 200
    assert sign_in_title in page.text
    assert "Sign in to the AEO registry console" not in page.text


def test_update_leaves_a_new_message_untranslated_in_every_other_language(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for locale in ("en", "ru", "ko"):
        source = i18n.LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
        target = tmp_path / locale / "LC_MESSAGES" / "messages.po"
        target.parent.mkdir(parents=True)
        target.write_bytes(source.read_bytes())
    sources = i18n.template_catalog()
    sources.add("A message added today")
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    monkeypatch.setattr(i18n, "POT_FILE", tmp_path / "messages.pot")
    monkeypatch.setattr(i18n, "template_catalog", lambda: sources)
    i18n.update()
    assert i18n.read_catalog("en").get("A message added today").string == "A message added today"
    assert not i18n.read_catalog("ru").get("A message added today").string
    assert not i18n.read_catalog("ko").get("A message added today").string
