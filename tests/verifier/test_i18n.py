"""The verifier's gettext catalogues: complete in every language, and the page's JSON
generated from them (verifier/i18n.py)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from verifier import i18n
from verifier.verdict import Outcome


def test_every_catalogue_has_every_key_translated_with_its_placeholders() -> None:
    assert [p for locale in i18n.LOCALES for p in i18n.problems(locale)] == []


def test_the_page_json_catalogues_are_what_the_po_files_generate() -> None:
    assert i18n.drift() == []


def test_check_command_says_every_catalogue_matches(capsys: pytest.CaptureFixture[str]) -> None:
    assert i18n.main(["check"]) == 0
    assert "every catalogue (en, mn, ru, kk, ko, zh-Hans)" in capsys.readouterr().out


@pytest.fixture
def scratch_locales(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    shutil.copytree(i18n.LOCALE_DIR, tmp_path / "locale")
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path / "locale")
    i18n.words.cache_clear()
    yield tmp_path / "locale"
    i18n.words.cache_clear()


def _rewrite(locale_dir: Path, locale: str, change: Callable[[Catalog], None]) -> None:
    path = locale_dir / locale / "LC_MESSAGES" / "verifier.po"
    with path.open("rb") as po:
        catalog = read_po(po, locale=locale)
    change(catalog)
    with path.open("wb") as po:
        write_po(po, catalog)


def test_a_catalogue_missing_a_key_is_reported(scratch_locales: Path) -> None:
    _rewrite(scratch_locales, "kk", lambda c: c.delete("Expired.", context="outcome.expired"))
    assert i18n.problems("kk") == ["kk: missing 'outcome.expired'"]


def test_an_untranslated_or_placeholder_changing_message_is_reported(
    scratch_locales: Path,
) -> None:
    def damage(catalog: Catalog) -> None:
        expired = catalog.get("Expired.", context="outcome.expired")
        issued = catalog.get("Issued by {issuer}", context="issuer.confirmed")
        assert expired is not None
        assert issued is not None
        expired.string = ""
        issued.string = "Выдан: {issuerr}"

    _rewrite(scratch_locales, "ru", damage)
    found = i18n.problems("ru")
    assert "ru: 'outcome.expired' is not translated" in found
    assert any(p.startswith("ru: 'issuer.confirmed' changes the placeholders") for p in found)


def test_a_key_added_to_english_only_is_missing_elsewhere_until_update_adds_it(
    scratch_locales: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def add_halt(catalog: Catalog) -> None:
        catalog.add("Halt", "Halt", context="tone.halt")

    _rewrite(scratch_locales, "en", add_halt)
    assert "mn: missing 'tone.halt'" in i18n.problems("mn")
    monkeypatch.setattr(i18n, "WEB_I18N_DIR", tmp_path / "json")
    (tmp_path / "json").mkdir()
    i18n.update()
    assert "mn: 'tone.halt' is not translated" in i18n.problems("mn")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("ru", "ru"),
        ("ru_RU.UTF-8", "ru"),
        ("kk-KZ", "kk"),
        ("mn_MN", "mn"),
        ("ko_KR.UTF-8", "ko"),
        ("zh-Hans", "zh_Hans"),
        ("zh_CN.UTF-8", "zh_Hans"),
        ("zh-Hans-CN", "zh_Hans"),
        ("EN", "en"),
    ],
)
def test_language_codes_and_tags_find_their_catalogue(given: str, expected: str) -> None:
    assert i18n.locale_of(given) == expected


@pytest.mark.parametrize("given", ["fr", "zh-TW", "zh-Hant", "", "xx_YY"])
def test_a_language_without_a_catalogue_is_refused_naming_the_choices(given: str) -> None:
    with pytest.raises(i18n.LanguageError, match=r"choose one of en, mn, ru, kk, ko, zh-Hans"):
        i18n.locale_of(given)


def test_the_environment_language_follows_posix_precedence() -> None:
    assert i18n.default_locale({"LANG": "ru_RU.UTF-8"}) == "ru"
    assert i18n.default_locale({"LANG": "ru_RU.UTF-8", "LC_ALL": "ko_KR.UTF-8"}) == "ko"
    assert i18n.default_locale({"LC_ALL": "C.UTF-8", "LANG": "kk_KZ.UTF-8"}) == "kk"
    assert i18n.default_locale({"LANG": "de_DE.UTF-8"}) == "en"
    assert i18n.default_locale({}) == "en"


def test_russian_plural_forms_follow_the_catalogues_rule() -> None:
    ru = i18n.words("ru")
    assert [ru.plural("asof.days_old", n) for n in (1, 3, 5, 21, 22, 11)] == [
        "1 день назад",
        "3 дня назад",
        "5 дней назад",
        "21 день назад",
        "22 дня назад",
        "11 дней назад",
    ]
    assert i18n.words("en").plural("asof.days_old", 1) == "1 day old"
    assert i18n.words("ko").plural("asof.days_old", 7) == "7일 전"


def test_the_page_json_carries_plural_forms_by_cldr_category() -> None:
    assert i18n.page_catalog("ru")["asof.days_old"] == {
        "few": "{count} дня назад",
        "many": "{count} дней назад",
        "one": "{count} день назад",
    }
    assert i18n.page_catalog("zh_Hans")["asof.days_old"] == {"other": "{count}天前"}


def test_print_only_keys_stay_out_of_the_page_json() -> None:
    assert not [key for key in i18n.page_catalog("en") if key.startswith("pdf.")]
    assert i18n.words("ko")("pdf.title") == "수출입 안전관리 우수업체(AEO)"


def test_every_outcome_has_a_headline_in_every_language() -> None:
    for locale in i18n.LOCALES:
        w = i18n.words(locale)
        headlines = {w(f"headline.{outcome.value}") for outcome in Outcome}
        assert len(headlines) == len(Outcome), f"{locale}: two outcomes share a headline"


def test_english_headlines_are_the_verdicts_own() -> None:
    from verifier.verdict import HEADLINES

    en = i18n.words("en")
    assert {o: en(f"headline.{o.value}") for o in Outcome} == HEADLINES
