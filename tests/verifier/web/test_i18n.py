"""Every string the page shows lives in the language catalogs, and the catalogs agree."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from contracts.domain.enums import TIER_NAMES
from verifier.pipeline import STAGES
from verifier.verdict import Outcome, StageState
from verifier.web.app import STATIC_DIR

I18N_DIR = STATIC_DIR / "i18n"
JS_DIR = STATIC_DIR.parent / "js"
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _load(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _keys_used_by_the_page() -> set[str]:
    html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    keys = set(re.findall(r'data-i18n="([^"]+)"', html))
    for attribute_list in re.findall(r'data-i18n-attr="([^"]+)"', html):
        keys.update(pair.split(":")[1].strip() for pair in attribute_list.split(";"))
    for source in JS_DIR.glob("*.js"):
        text = source.read_text(encoding="utf-8")
        keys.update(re.findall(r'\bt\(\s*"([a-z_]+\.[a-z_.]+)"', text))
        keys.update(re.findall(r'setStatus\(\s*"([a-z_]+\.[a-z_.]+)"', text))
        keys.update(re.findall(r'showError\(\s*"([a-z_]+\.[a-z_.]+)"', text))
        keys.update(re.findall(r'add\(\s*"([a-z_]+\.[a-z_.]+)"', text))
    return keys


def test_every_key_the_page_uses_is_in_the_english_catalog() -> None:
    english = _load(I18N_DIR / "en.json")
    used = _keys_used_by_the_page()
    assert len(used) > 30, "the key scan found the page's strings"
    assert sorted(used - set(english)) == []


def test_every_name_the_verdict_json_carries_has_an_english_string() -> None:
    # The page builds these keys from the verdict; the library's enums are the source.
    english = _load(I18N_DIR / "en.json")
    expected = (
        [f"outcome.{outcome.value}" for outcome in Outcome]
        + [f"stage_name.{stage}" for stage in STAGES]
        + [f"stage.{state.value}" for state in StageState]
        + [f"tier.{name}" for name in TIER_NAMES]
        + [f"camera.{kind}" for kind in ("insecure", "denied", "missing", "failed")]
    )
    assert [key for key in expected if key not in english] == []


def test_every_request_error_code_the_app_sends_to_the_page_has_a_message() -> None:
    english = _load(I18N_DIR / "en.json")
    for code in ("empty_text", "not_an_image", "too_large", "no_qr_code", "server", "network"):
        assert f"error.{code}" in english


def test_the_language_index_lists_only_catalogs_that_exist_and_agree_with_english() -> None:
    index = _load(I18N_DIR / "languages.json")
    english = _load(I18N_DIR / f"{index['default']}.json")
    codes = [entry["code"] for entry in index["languages"]]
    assert index["default"] in codes
    assert sorted(p.stem for p in I18N_DIR.glob("*.json") if p.stem != "languages") == sorted(codes)
    for code in codes:
        catalog = _load(I18N_DIR / f"{code}.json")
        assert sorted(set(catalog) - set(english)) == [], f"{code}: keys English does not have"
        for key, text in catalog.items():
            # A message with plural forms is an object of CLDR categories (verifier.i18n).
            texts = list(text.values()) if isinstance(text, dict) else [text]
            originals = english[key]
            wanted = set().union(
                *(
                    PLACEHOLDER.findall(t)
                    for t in (originals.values() if isinstance(originals, dict) else [originals])
                )
            )
            for one in texts:
                assert set(PLACEHOLDER.findall(one)) == wanted, (
                    f"{code}: {key} changes the placeholders"
                )


def test_every_language_catalog_has_every_key_the_page_uses() -> None:
    index = _load(I18N_DIR / "languages.json")
    used = _keys_used_by_the_page()
    for entry in index["languages"]:
        catalog = _load(I18N_DIR / f"{entry['code']}.json")
        assert sorted(used - set(catalog)) == [], entry["code"]


def test_every_reason_code_the_verifier_decides_on_has_a_text_in_every_language() -> None:
    from verifier.verdict import _OUTCOME_OF_REASON, INFO_REASONS

    index = _load(I18N_DIR / "languages.json")
    codes = {*_OUTCOME_OF_REASON, *INFO_REASONS, "check_unavailable"}
    for entry in index["languages"]:
        catalog = _load(I18N_DIR / f"{entry['code']}.json")
        assert sorted(code for code in codes if f"reason.{code}" not in catalog) == []
