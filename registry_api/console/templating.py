"""Pages: Jinja2 templates rendered in the request's language, with what every page shows
(the administration, the signed-in person and role, the navigation for that role, the CSRF
token, the request id).

One Jinja environment per language, each with its catalogue installed (``jinja2.ext.i18n``,
new-style gettext: ``_()`` escapes and formats with ``%(name)s``), so that requests in
different languages never share translation state.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from verifier.i18n import PSEUDO_LOCALE

from ..auth import RoleRequirement
from ..db import Role
from .csrf import FORM_FIELD, HEADER, expected_token
from .i18n import (
    LANGUAGE_COOKIE,
    N_,
    TEMPLATE_DIR,
    available_locales,
    chosen,
    language_name,
    negotiate,
    tag,
    translations,
)

#: the page's catalogue-independent parts: these are never shown as text
ROLE_LABELS: Mapping[Role, str] = {
    Role.ADMIN: N_("Administrator"),
    Role.ISSUING_OFFICER: N_("Issuing officer"),
    Role.MRA_OFFICER: N_("MRA officer"),
    Role.AUDITOR: N_("Auditor"),
    Role.PARTNER: N_("Partner administration"),
    Role.BORDER_OFFICER: N_("Border officer"),
}


@dataclass(frozen=True, slots=True)
class NavItem:
    label: str
    path: str
    #: the roles that see it: the same requirement its route declares
    requirement: RoleRequirement | None = None

    def visible_to(self, role: Role) -> bool:
        return self.requirement is None or role in self.requirement.roles


@dataclass(frozen=True, slots=True)
class Language:
    """One entry of the language menu: its tag and its name in itself."""

    tag: str
    name: str


class Templates:
    def __init__(self, nav: tuple[NavItem, ...] = ()) -> None:
        self.nav = nav
        #: tests turn this on to render pages in the pseudo-locale (never offered to people)
        self.pseudo_locale = False
        self._environments: dict[str, Environment] = {}
        self._lock = threading.Lock()

    def locales(self) -> tuple[str, ...]:
        """The languages a page may be rendered in."""
        found = available_locales()
        return (*found, PSEUDO_LOCALE) if self.pseudo_locale else found

    def locale(self, request: Request) -> str:
        """The request's language: the one chosen in the menu (its cookie), else the best
        for the browser's ``Accept-Language``."""
        cookie = chosen(request.cookies.get(LANGUAGE_COOKIE), self.locales())
        return cookie or negotiate(request.headers.get("accept-language"))

    def environment(self, locale: str) -> Environment:
        env = self._environments.get(locale)
        if env is None:
            with self._lock:
                env = self._environments.get(locale)
                if env is None:
                    env = Environment(
                        loader=FileSystemLoader(TEMPLATE_DIR),
                        autoescape=select_autoescape(default=True),
                        undefined=StrictUndefined,
                        extensions=["jinja2.ext.i18n"],
                        trim_blocks=True,
                        lstrip_blocks=True,
                    )
                    catalogue = translations(locale)
                    env.install_gettext_translations(  # type: ignore[attr-defined]
                        catalogue, newstyle=True
                    )
                    env.globals["tr_message"] = _message_translator(catalogue.gettext)
                    env.globals["ROLE_LABELS"] = ROLE_LABELS
                    self._environments[locale] = env
        return env

    def render(
        self,
        request: Request,
        name: str,
        context: Mapping[str, Any] | None = None,
        *,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        locale = self.locale(request)
        who = getattr(request.state, "console_who", None)
        root = request.scope.get("root_path", "")
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        values: dict[str, Any] = {
            "lang": tag(locale),
            "languages": LANGUAGES,
            "language_next": here,
            "root": root,
            "who": who,
            "nav": [item for item in self.nav if who is not None and item.visible_to(who.role)],
            "current_path": request.url.path,
            "csrf_field": FORM_FIELD,
            "csrf_header": HEADER,
            "csrf_token": expected_token(request),
            "request_id": getattr(request.state, "request_id", None),
            "administration": getattr(request.state, "console_administration", None),
            "notice": None,
            "errors": [],
        }
        values.update(context or {})
        html = self.environment(locale).get_template(name).render(values)
        response = HTMLResponse(html, status_code=status_code, headers=dict(headers or {}))
        response.headers["Content-Language"] = values["lang"]
        return response


#: the language menu: every catalogue, each named in its own language (the pseudo-locale
#: is never offered)
LANGUAGES: tuple[Language, ...] = tuple(
    Language(tag(locale), language_name(locale)) for locale in available_locales()
)


def _message_translator(gettext: Callable[[str], str]) -> Callable[[object], Markup]:
    """``tr_message(message)`` in templates: a message from a service, a validator or a
    problem (which may quote what was typed), translated when the catalogue has it and always
    escaped. Jinja's ``_()`` marks its result safe, as it should for catalogue text, so it
    must never be given such a message."""

    def tr_message(message: object) -> Markup:
        text = message.unescape() if isinstance(message, Markup) else str(message)
        return escape(gettext(text))

    return tr_message
