"""The verifier's words in every language: one gettext catalogue per language (Babel), from
which the border page's JSON catalogues are generated, so a string is translated once.

``verifier/locale/<locale>/LC_MESSAGES/verifier.po`` holds one language. Every message has a
stable key as its ``msgctxt`` (``outcome.revoked``, ``reason.no_mra``, ``pdf.valid_until``),
the English text as its ``msgid`` and the translation as its ``msgstr``. The English
catalogue is the source: a new or changed message is written there first, then
``python -m verifier.i18n update`` merges it into every other catalogue (empty, to translate)
and regenerates ``verifier/web/static/i18n/<code>.json`` for the page. A test fails while a
catalogue lacks a key, leaves one untranslated or fuzzy, changes a ``{placeholder}``, or a
JSON catalogue differs from what the ``.po`` files generate.

Keys with plural forms carry a ``msgid_plural``; their JSON entry is an object keyed by the
CLDR plural categories of the language (``one``, ``few``, ``many``, ``other``), filled by
evaluating the catalogue's own ``Plural-Forms`` rule, so the page and the CLI agree.

The page speaks BCP 47 tags (``zh-Hans``), gettext folders use ``zh_Hans``; :func:`tag` and
:func:`locale_of` convert. The ``pdf.*`` keys are the printed certificate's (the registry
service reads them); they are left out of the page's JSON.

Usage: ``python -m verifier.i18n check|update``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Final

from babel import Locale
from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from babel.support import NullTranslations, Translations

VERIFIER_DIR: Final = Path(__file__).resolve().parent
REPO_DIR: Final = VERIFIER_DIR.parent
LOCALE_DIR: Final = VERIFIER_DIR / "locale"
WEB_I18N_DIR: Final = VERIFIER_DIR / "web" / "static" / "i18n"
DOMAIN: Final = "verifier"
SOURCE_LOCALE: Final = "en"
PROJECT: Final = "aeo-registry"
#: the order of the page's language menu and of ``--lang``'s help
LOCALES: Final = ("en", "mn", "ru", "kk", "ko", "zh_Hans")
#: keys only the registry's printed certificate uses: not sent to the page
PRINT_ONLY_PREFIXES: Final = ("pdf.",)
PLACEHOLDER: Final = re.compile(r"\{(\w+)\}")


class LanguageError(ValueError):
    """A language the catalogues do not have (the message names the ones they do)."""


def tag(locale: str) -> str:
    """``zh_Hans`` -> ``zh-Hans`` (BCP 47, what browsers and the page use)."""
    return locale.replace("_", "-")


def locale_of(code: str) -> str:
    """The catalogue for a language code or tag: ``ru``, ``ru_RU.UTF-8``, ``zh-CN``,
    ``zh-Hans-CN`` all find theirs; raises :class:`LanguageError` for one we lack."""
    cleaned = code.strip().split(".")[0].split("@")[0].replace("-", "_")
    if not cleaned:
        raise LanguageError(_unknown(code))
    parts = cleaned.split("_")
    wanted = [cleaned, "_".join(parts[:2]), parts[0]]
    by_lower = {locale.lower(): locale for locale in LOCALES}
    for candidate in wanted:
        if candidate.lower() in by_lower:
            return by_lower[candidate.lower()]
    # Chinese written in simplified characters: zh, zh_CN, zh_SG (not zh_TW, zh_HK, Hant).
    if parts[0].lower() == "zh" and not {p.lower() for p in parts[1:]} & {
        "hant",
        "tw",
        "hk",
        "mo",
    }:
        return "zh_Hans"
    raise LanguageError(_unknown(code))


def _unknown(code: str) -> str:
    return f"unknown language {code!r}: choose one of {', '.join(tag(x) for x in LOCALES)}"


def default_locale(environ: Mapping[str, str] | None = None) -> str:
    """The language of the environment (``LC_ALL``, then ``LC_MESSAGES``, then ``LANG``, as
    POSIX orders them); English when none names a language we have."""
    env = os.environ if environ is None else environ
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(variable, "")
        if value and value not in ("C", "POSIX") and not value.startswith("C."):
            try:
                return locale_of(value)
            except LanguageError:
                return SOURCE_LOCALE
    return SOURCE_LOCALE


# ---------------------------------------------------------------- reading the catalogues


def po_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(locale: str) -> Catalog:
    with po_path(locale).open("rb") as po:
        return read_po(po, locale=locale, domain=DOMAIN)


def _keyed(catalog: Catalog) -> dict[str, Message]:
    return {str(m.context): m for m in catalog if m.id and m.context}


@dataclass(frozen=True)
class Words:
    """One language's messages, looked up by key (the English text fills any gap)."""

    locale: str
    translations: NullTranslations
    source: Mapping[str, Message]

    def __call__(self, key: str, /, **params: object) -> str:
        """The text of ``key`` with its ``{placeholders}`` filled."""
        message = self.source.get(key)
        if message is None:
            raise KeyError(f"no message {key!r} in the verifier's catalogue")
        if isinstance(message.id, tuple | list):
            raise KeyError(f"{key!r} has plural forms: use .plural()")
        return _fill(str(self.translations.pgettext(key, str(message.id))), params)

    def plural(self, key: str, count: int, /, **params: object) -> str:
        message = self.source[key]
        if not isinstance(message.id, tuple | list):
            raise KeyError(f"{key!r} has no plural forms: call the Words itself")
        singular, plural = str(message.id[0]), str(message.id[1])
        text = str(self.translations.npgettext(key, singular, plural, count))
        return _fill(text, {"count": count, **params})

    def has(self, key: str) -> bool:
        return key in self.source

    def is_plural(self, key: str) -> bool:
        return isinstance(self.source[key].id, tuple | list)

    def keys(self, prefix: str = "") -> list[str]:
        return sorted(key for key in self.source if key.startswith(prefix))

    @property
    def babel_locale(self) -> Locale:
        # The pseudo-locale has English's dates and numbers: only its words are stretched.
        return Locale.parse(SOURCE_LOCALE if self.locale == PSEUDO_LOCALE else self.locale)


def _fill(template: str, params: Mapping[str, object]) -> str:
    return PLACEHOLDER.sub(
        lambda match: str(params[match[1]]) if match[1] in params else match[0], template
    )


def _compiled(catalog: Catalog) -> Translations:
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


@lru_cache(maxsize=16)
def words(code: str = SOURCE_LOCALE) -> Words:
    """The messages of ``code`` (any form :func:`locale_of` accepts, or the pseudo-locale)."""
    source = _keyed(read_catalog(SOURCE_LOCALE))
    if code == PSEUDO_LOCALE:
        return Words(PSEUDO_LOCALE, _Pseudo(), source)
    locale = locale_of(code)
    return Words(locale, _compiled(read_catalog(locale)), source)


# ---------------------------------------------------------------- the pseudo-locale

#: A test language (the name Android gives its accented pseudo-locale): every message's
#: letters accented and the text made 40 % longer, so layouts that truncate or overflow
#: with longer languages (Mongolian, Kazakh, Russian run a third longer than English) show
#: it in a test, in Latin script that anyone can still read. Never offered to users.
PSEUDO_LOCALE: Final = "en_XA"
_ACCENTED = str.maketrans(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "åƀçđéƒĝĥîĵķļɱñöþǫŕšţûṽŵẋýžÅƁÇĐÉƑĜĤÎĴĶĻṀÑÖÞǪŔŠŢÛṼŴẊÝŽ",
)
_PROTECTED = re.compile(r"(\{\w+\}|<[^>]*>|&\w+;)")
PSEUDO_GROWTH: Final = 0.4


def pseudo(text: str) -> str:
    """``"Valid until {date}"`` -> ``"[Ṽåļîđ ûñţîļ {date} · · ·]"``: accented, placeholders and
    markup kept, padded to 140 % of the length."""
    parts = _PROTECTED.split(text)
    body = "".join(
        part if _PROTECTED.fullmatch(part) else part.translate(_ACCENTED) for part in parts
    )
    padding = " ·" * max(1, round(len(text) * PSEUDO_GROWTH / 2))
    return f"[{body}{padding}]"


class _Pseudo(NullTranslations):
    def pgettext(self, context: str, message: str) -> str:
        return pseudo(message)

    def npgettext(self, context: str, singular: str, plural: str, num: int) -> str:
        return pseudo(singular if num == 1 else plural)


def pseudo_page_catalog() -> dict[str, object]:
    """The page's JSON in the pseudo-locale (made by tests, never committed)."""
    english = page_catalog(SOURCE_LOCALE)
    return {
        key: {k: pseudo(v) for k, v in text.items()}
        if isinstance(text, dict)
        else pseudo(str(text))
        for key, text in english.items()
    }


# ---------------------------------------------------------------- the page's JSON


def _plural_samples(locale: str) -> dict[str, int]:
    """For each CLDR plural category the language uses, an integer that falls in it."""
    rule = Locale.parse(locale).plural_form
    samples: dict[str, int] = {}
    for n in range(0, 1001):
        samples.setdefault(rule(n), n)
    return samples


def page_catalog(locale: str) -> dict[str, object]:
    """The JSON the page loads for ``locale``: every key but the print-only ones."""
    translated = _compiled(read_catalog(locale))
    out: dict[str, object] = {}
    for key, message in sorted(_keyed(read_catalog(SOURCE_LOCALE)).items()):
        if key.startswith(PRINT_ONLY_PREFIXES):
            continue
        if isinstance(message.id, tuple | list):
            singular, plural = message.id
            out[key] = {
                category: translated.npgettext(key, singular, plural, n)
                for category, n in sorted(_plural_samples(locale).items())
            }
        else:
            out[key] = translated.pgettext(key, message.id)
    return out


def languages_index() -> dict[str, object]:
    return {
        "default": tag(SOURCE_LOCALE),
        "languages": [
            {
                "code": tag(locale),
                "name": str(Locale.parse(locale).get_display_name(locale)),
                "dir": (Locale.parse(locale).character_order == "right-to-left" and "rtl") or "ltr",
            }
            for locale in LOCALES
        ],
    }


def _json_text(data: object) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False) + "\n"


def generated_files() -> dict[Path, str]:
    """Every JSON file of the page's catalogue folder, as the ``.po`` files make it."""
    files = {WEB_I18N_DIR / "languages.json": _json_text(languages_index())}
    for locale in LOCALES:
        files[WEB_I18N_DIR / f"{tag(locale)}.json"] = _json_text(page_catalog(locale))
    return files


# ---------------------------------------------------------------- checking and updating


def problems(locale: str) -> list[str]:
    """What is wrong with ``locale``'s catalogue against the English one (empty: nothing)."""
    source = _keyed(read_catalog(SOURCE_LOCALE))
    held = _keyed(read_catalog(locale))
    found: list[str] = []
    for key, english in sorted(source.items()):
        message = held.get(key)
        if message is None:
            found.append(f"{locale}: missing {key!r}")
            continue
        if message.id != english.id:
            found.append(f"{locale}: {key!r} translates an older English text")
        strings = (
            list(message.string) if isinstance(message.string, tuple | list) else [message.string]
        )
        if not all(strings):
            found.append(f"{locale}: {key!r} is not translated")
        elif message.fuzzy:
            found.append(f"{locale}: {key!r} is marked fuzzy (check it, then remove the mark)")
        else:
            ids = list(english.id) if isinstance(english.id, tuple | list) else [english.id]
            wanted = set().union(*(PLACEHOLDER.findall(text) for text in ids))
            for text in strings:
                if set(PLACEHOLDER.findall(str(text))) - wanted or (
                    not isinstance(english.id, tuple | list)
                    and set(PLACEHOLDER.findall(str(text))) != wanted
                ):
                    found.append(f"{locale}: {key!r} changes the placeholders ({text!r})")
    for key in sorted(set(held) - set(source)):
        found.append(f"{locale}: {key!r} is not in the English catalogue")
    return found


def drift() -> list[str]:
    """The page's JSON files that differ from what the ``.po`` files generate."""
    found = []
    expected = generated_files()
    for path, text in expected.items():
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            found.append(f"{path.relative_to(REPO_DIR)} differs from the .po files")
    for path in WEB_I18N_DIR.glob("*.json"):
        if path not in expected:
            found.append(f"{path.relative_to(REPO_DIR)} has no catalogue")
    return found


def write_catalog(catalog: Catalog, path: Path) -> None:
    catalog.project = PROJECT
    catalog.version = ""
    catalog.copyright_holder = "the aeo-registry contributors"
    catalog.msgid_bugs_address = ""
    catalog.fuzzy = False
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=100, omit_header=False, sort_output=True,
             include_previous=False, ignore_obsolete=True, include_lineno=False)  # fmt: skip
    path.write_bytes(buffer.getvalue())


def update() -> list[Path]:
    """Merge the English catalogue into every other one (new keys empty, removed keys
    dropped), then regenerate the page's JSON."""
    template = read_catalog(SOURCE_LOCALE)
    written: list[Path] = []
    for locale in LOCALES:
        if locale == SOURCE_LOCALE:
            continue
        catalog = read_catalog(locale) if po_path(locale).is_file() else Catalog(locale=locale)
        before = set(_keyed(catalog))
        catalog.update(template, no_fuzzy_matching=True)
        # Babel copies the template's strings into new messages; here the template is the
        # English catalogue, so a new key must start empty (untranslated), not English.
        for message in catalog:
            if message.context and message.context not in before:
                plural = isinstance(message.id, tuple | list)
                message.string = ("",) * catalog.num_plurals if plural else ""
        write_catalog(catalog, po_path(locale))
        written.append(po_path(locale))
    for path, text in generated_files().items():
        path.write_text(text, encoding="utf-8")
        written.append(path)
    words.cache_clear()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m verifier.i18n")
    parser.add_argument("command", choices=["check", "update"])
    args = parser.parse_args(argv)
    if args.command == "update":
        for path in update():
            print(f"wrote {path.relative_to(REPO_DIR)}")
        return 0
    found = [problem for locale in LOCALES for problem in problems(locale)] + drift()
    for problem in found:
        print(problem, file=sys.stderr)
    if found:
        print("translate the messages, then run: python -m verifier.i18n update", file=sys.stderr)
        return 1
    print(f"every catalogue ({', '.join(tag(x) for x in LOCALES)}) matches the English one")
    return 0


if __name__ == "__main__":
    sys.exit(main())
