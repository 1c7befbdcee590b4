"""A record the printed certificate could not show is refused at issuance (422 naming the
field), and one in Hangul, Han or Kazakh Cyrillic is accepted."""

from __future__ import annotations

import pytest

from registry_api.db import Role

from .certificate_data import post, record_body
from .conftest import ChainApp, ChainAppFactory
from .support import assert_problem


@pytest.fixture
def mn(chain_app: ChainAppFactory) -> ChainApp:
    return chain_app("MN")


def _holder(name: str) -> dict[str, object]:
    holder = record_body()["holder"]
    assert isinstance(holder, dict)
    return {**holder, "legal_name": name}


def test_a_holder_name_in_a_script_no_embedded_font_covers_is_refused_naming_the_field(
    mn: ChainApp,
) -> None:
    body = record_body(holder=_holder("ᠮᠣᠩᠭᠣᠯ Trade LLC"), officer="B. ᠪᠠᠲᠤ")
    response = post(mn.client, "/v1/certificates", body, mn.headers(Role.ISSUING_OFFICER))
    problem = assert_problem(response, 422, "invalid")
    assert [error["field"] for error in problem["errors"]] == [
        "body.holder.legal_name",
        "body.officer",
    ]
    assert "'ᠮ' (U+182E)" in problem["errors"][0]["message"]


@pytest.mark.parametrize(
    "name", ["한빛물류 주식회사", "中外运物流有限公司", "Әлем Қазақ Ұлттық ЖШС"]
)
def test_a_holder_name_in_hangul_han_or_kazakh_cyrillic_is_accepted(
    mn: ChainApp, name: str
) -> None:
    body = record_body(holder=_holder(name))
    response = post(mn.client, "/v1/certificates", body, mn.headers(Role.ISSUING_OFFICER))
    assert response.status_code == 202, response.text
