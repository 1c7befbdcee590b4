"""Message catalogues for the registry's screens (gettext, with Babel), and the tool that
keeps them true to the sources.

Every string a person reads comes from a catalogue: templates say ``{{ _("...") }}`` (the
``jinja2.ext.i18n`` extension), Python marks its strings with :func:`N_` (or ``_``) and
the template translates them. ``locale/messages.pot`` lists every message the sources use;
``locale/<lang>/LC_MESSAGES/messages.po`` holds one language. The ``.po`` files are compiled
when the service loads them (no generated ``.mo`` to keep in step).

Adding a language: ``python -m registry_api.console.i18n add fr`` writes ``fr``'s ``.po``
with every message, empty; fill in each ``msgstr``. A test fails while a catalogue lacks a
message of the sources, has one the sources no longer use, or leaves one untranslated.

Usage: ``python -m registry_api.console.i18n check|update|add LANG``.
"""

from __future__ import annotations

import argparse
import copy
import io
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from babel import Locale, UnknownLocaleError, negotiate_locale
from babel.messages.catalog import Catalog
from babel.messages.extract import extract
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from babel.support import NullTranslations, Translations

from verifier.i18n import LOCALES as MENU_ORDER, PSEUDO_LOCALE, LanguageError, locale_of, pseudo

CONSOLE_DIR = Path(__file__).resolve().parent
LOCALE_DIR = CONSOLE_DIR / "locale"
TEMPLATE_DIR = CONSOLE_DIR / "templates"
DOMAIN = "messages"
POT_FILE = LOCALE_DIR / f"{DOMAIN}.pot"
#: the language the sources are written in; its catalogue translates each message to itself
SOURCE_LOCALE = "en"
PROJECT = "aeo-registry"

#: where messages come from: (folder, file pattern, extraction method); other parts of the
#: registry that grow screens add theirs here
SOURCES: tuple[tuple[Path, str, str], ...] = (
    (TEMPLATE_DIR, "**/*.html", "jinja2"),
    (CONSOLE_DIR, "**/*.py", "python"),
)
KEYWORDS = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)}
#: the cookie that remembers the language a person chose in the menu (a BCP 47 tag)
LANGUAGE_COOKIE = "aeo_console_language"
JINJA_OPTIONS = {"extensions": "jinja2.ext.i18n", "trimmed": "true"}


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue; the template translates it when it shows it."""
    return message


# ---------------------------------------------------------------- loading


def available_locales() -> tuple[str, ...]:
    """Every language with a catalogue, the source language first, then in the border
    page's menu order (a language only the console has comes last)."""
    found = sorted(
        path.parent.parent.name for path in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po")
    )

    def place(code: str) -> tuple[bool, int]:
        order = MENU_ORDER.index(code) if code in MENU_ORDER else len(MENU_ORDER)
        return code != SOURCE_LOCALE, order

    return tuple(sorted(found, key=place))


def tag(locale: str) -> str:
    """``zh_Hans`` -> ``zh-Hans``: the BCP 47 tag of ``<html lang>``, the menu and the
    cookie (catalogue folders use gettext's ``zh_Hans``)."""
    return locale.replace("_", "-")


class _PseudoTranslations(NullTranslations):
    """The pseudo-locale: every message accented and 40 % longer, its ``%(name)s``
    placeholders kept (the verifier's :func:`~verifier.i18n.pseudo` keeps ``{name}`` ones,
    so they travel as those)."""

    _NAMED = re.compile(r"%\((\w+)\)s")
    _BRACED = re.compile(r"\{(\w+)\}")

    def _pseudo(self, message: str) -> str:
        return self._BRACED.sub(r"%(\1)s", pseudo(self._NAMED.sub(r"{\1}", message)))

    def gettext(self, message: str) -> str:
        return self._pseudo(message)

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        return self._pseudo(msgid1 if n == 1 else msgid2)

    def pgettext(self, context: str, message: str) -> str:
        return self._pseudo(message)

    def npgettext(self, context: str, singular: str, plural: str, num: int) -> str:
        return self._pseudo(singular if num == 1 else plural)

    # Jinja looks for the ``u``-names first, which Babel binds to its own methods.
    ugettext = gettext
    ungettext = ngettext


@lru_cache(maxsize=32)
def translations(locale: str) -> NullTranslations:
    """The compiled catalogue of ``locale`` (compiled from its ``.po`` on first use); the
    pseudo-locale (:data:`~verifier.i18n.PSEUDO_LOCALE`, for layout tests) is made from the
    English text."""
    if locale == PSEUDO_LOCALE:
        return _PseudoTranslations()
    path = LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as po:
        catalog = read_po(po, locale=locale, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def negotiate(accept_language: str | None) -> str:
    """The catalogue that best fits an ``Accept-Language`` header (the source language when
    none does)."""
    wanted: list[tuple[float, str]] = []
    for index, part in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            wanted.append((-quality + index * 1e-6, tag.strip().replace("-", "_")))
    offered = list(available_locales())
    for _, wanted_tag in sorted(wanted):
        found = negotiate_locale([wanted_tag], offered) or _border_page_match(wanted_tag)
        if found in offered:
            return found
    return SOURCE_LOCALE


def _border_page_match(wanted: str) -> str | None:
    """The border page's reading of a tag (``zh-CN``, ``zh`` and ``zh-Hans-*`` are
    simplified Chinese, which Babel's matching does not see in ``zh_Hans``)."""
    try:
        return locale_of(wanted)
    except LanguageError:
        return None


def chosen(value: str | None, offered: tuple[str, ...]) -> str | None:
    """The catalogue a language cookie (or the menu's link) names, if it is one of
    ``offered``: exact tags only, as the menu writes them."""
    if not value:
        return None
    code = value.strip().replace("-", "_")
    return code if code in offered else None


def language_name(locale: str) -> str:
    try:
        return str(Locale.parse(locale).get_display_name(locale) or locale)
    except (UnknownLocaleError, ValueError):
        return locale


# ---------------------------------------------------------------- the sources' messages


@dataclass(frozen=True, slots=True)
class Message:
    msgid: str | tuple[str, str]
    locations: tuple[tuple[str, int], ...]


def _source_files() -> Iterator[tuple[Path, str]]:
    for folder, pattern, method in SOURCES:
        for path in sorted(folder.glob(pattern)):
            if "locale" not in path.relative_to(CONSOLE_DIR).parts:
                yield path, method


def extract_messages() -> dict[str | tuple[str, str], Message]:
    """Every message the sources use, with where."""
    found: dict[str | tuple[str, str], list[tuple[str, int]]] = {}
    repo = CONSOLE_DIR.parent.parent
    for path, method in _source_files():
        with path.open("rb") as source:
            options = JINJA_OPTIONS if method == "jinja2" else {}
            extractor = "jinja2.ext:babel_extract" if method == "jinja2" else "python"
            for line, message, _comments, _context in extract(
                extractor, source, keywords=KEYWORDS, options=options
            ):
                key = message if isinstance(message, str) else tuple(message[:2])
                where = (path.relative_to(repo).as_posix(), line)
                found.setdefault(key, []).append(where)  # type: ignore[arg-type]
    return {key: Message(key, tuple(where)) for key, where in found.items()}


def template_catalog() -> Catalog:
    catalog = Catalog(project=PROJECT, domain=DOMAIN, fuzzy=False)
    for message in extract_messages().values():
        catalog.add(message.msgid, locations=message.locations)
    return catalog


def read_catalog(locale: str) -> Catalog:
    path = LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as po:
        return read_po(po, locale=locale, domain=DOMAIN)


def _write(catalog: Catalog, path: Path) -> None:
    catalog.project = PROJECT
    catalog.version = ""
    catalog.copyright_holder = "the aeo-registry contributors"
    catalog.msgid_bugs_address = ""
    catalog.fuzzy = False
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    # No line numbers: they would change with every edit of a template.
    write_po(buffer, catalog, width=100, omit_header=False, sort_output=True,
             include_previous=False, ignore_obsolete=True, include_lineno=False)  # fmt: skip
    path.write_bytes(buffer.getvalue())


def problems(locale: str) -> list[str]:
    """What is wrong with ``locale``'s catalogue against the sources (empty: nothing)."""
    used = extract_messages()
    catalog = read_catalog(locale)
    held = {message.id: message for message in catalog if message.id}
    found: list[str] = []
    for key in sorted(used, key=str):
        message = held.get(key if isinstance(key, str) else key[0])
        if message is None:
            found.append(f"{locale}: missing {key!r} (used at {used[key].locations[0]})")
        elif not message.string or (
            isinstance(message.string, tuple | list) and not all(message.string)
        ):
            found.append(f"{locale}: {key!r} is not translated")
        elif message.fuzzy:
            found.append(f"{locale}: {key!r} is marked fuzzy (check it, then remove the mark)")
    plain_used = {key if isinstance(key, str) else key[0] for key in used}
    for msgid in sorted(held, key=str):
        key = msgid if isinstance(msgid, str) else msgid[0]
        if key not in plain_used:
            found.append(f"{locale}: {key!r} is no longer used by the sources")
    return found


def update() -> list[Path]:
    """Rewrite the ``.pot`` from the sources and merge it into every ``.po``: new messages
    are added (translated to themselves in the source language, empty elsewhere), messages
    no longer used are dropped."""
    template = template_catalog()
    _write(template, POT_FILE)
    written = [POT_FILE]
    for locale in available_locales():
        catalog = read_catalog(locale)
        # A copy per language: Babel adds the template's own message objects, and the
        # source language's copy-to-itself below would otherwise fill every later
        # language's new messages with English, which the check takes as translated.
        catalog.update(copy.deepcopy(template), no_fuzzy_matching=True)
        if locale == SOURCE_LOCALE:
            for message in catalog:
                if message.id and not message.string:
                    message.string = message.id
        path = LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
        _write(catalog, path)
        written.append(path)
    translations.cache_clear()
    return written


def add(locale: str) -> Path:
    """A new language's catalogue with every message, untranslated."""
    Locale.parse(locale)  # raises for an unknown code
    path = LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    if path.exists():
        raise FileExistsError(f"{path} exists already")
    catalog = Catalog(locale=locale, project=PROJECT, domain=DOMAIN, fuzzy=False)
    catalog.update(template_catalog(), no_fuzzy_matching=True)
    _write(catalog, path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m registry_api.console.i18n")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="fail if a catalogue is out of step with the sources")
    commands.add_parser("update", help="rewrite messages.pot and merge it into every .po")
    add_parser = commands.add_parser("add", help="start a new language's catalogue")
    add_parser.add_argument("locale", help="a language code such as fr, ru, mn, kk or ko")
    args = parser.parse_args(argv)
    if args.command == "update":
        for path in update():
            print(f"wrote {path.relative_to(CONSOLE_DIR.parent.parent)}")
        return 0
    if args.command == "add":
        try:
            path = add(args.locale)
        except (FileExistsError, UnknownLocaleError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"wrote {path.relative_to(CONSOLE_DIR.parent.parent)}: translate each msgstr")
        return 0
    found = [problem for locale in available_locales() for problem in problems(locale)]
    for problem in found:
        print(problem, file=sys.stderr)
    if found:
        print("run: python -m registry_api.console.i18n update", file=sys.stderr)
        return 1
    print(f"every catalogue ({', '.join(available_locales())}) matches the sources")
    return 0


if __name__ == "__main__":
    sys.exit(main())
