"""Messages from services and validators reach the page as text, never as markup."""

from __future__ import annotations

from markupsafe import Markup

from registry_api.console.templating import Templates
from registry_api.errors import FieldError

TYPED = '<img src=x onerror="alert(1)">'


def _field_error_html(message: str) -> str:
    env = Templates().environment("en")
    macro = env.get_template("macros.html").module.field_error  # type: ignore[attr-defined]
    return str(macro([FieldError("number", message)], "number"))


def test_a_field_error_quoting_what_was_typed_is_escaped() -> None:
    html = _field_error_html(f"number {TYPED} is not valid")
    assert "<img" not in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html


def test_a_message_escaped_by_its_page_is_not_escaped_twice() -> None:
    html = _field_error_html(Markup.escape(f"number {TYPED} is not valid"))
    assert "&lt;img" in html
    assert "&amp;lt;" not in html


def test_a_catalogue_message_is_still_translated() -> None:
    env = Templates().environment("ru")
    translated = env.globals["tr_message"]("You have signed out.")
    assert translated != "You have signed out."
    assert "<" not in translated
