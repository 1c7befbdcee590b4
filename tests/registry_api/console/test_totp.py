"""TOTP: the provisioning URI and QR image, codes within one step of now, used once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pyotp
import zxingcpp
from PIL import Image

from registry_api.console import totp

NOW = datetime(2026, 3, 2, 9, 0, 10, tzinfo=UTC)


def test_the_provisioning_uri_names_the_account_and_the_registry() -> None:
    secret = totp.new_secret()
    uri = totp.provisioning_uri(secret, account="bolor", issuer="AEO registry MN")
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    assert parts.path == "/AEO%20registry%20MN:bolor"
    query = parse_qs(parts.query)
    assert query["secret"] == [secret]
    assert query["issuer"] == ["AEO registry MN"]
    assert len(secret) == 32


def test_the_qr_image_carries_the_provisioning_uri() -> None:
    import base64
    import io

    uri = totp.provisioning_uri(totp.new_secret(), account="bolor", issuer="AEO registry MN")
    data = totp.qr_data_uri(uri)
    assert data.startswith("data:image/png;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(data.split(",", 1)[1])))
    assert [result.text for result in zxingcpp.read_barcodes(image)] == [uri]


def test_a_code_of_this_step_or_a_neighbour_is_accepted_and_others_are_not() -> None:
    secret = totp.new_secret()
    generator = pyotp.TOTP(secret)
    for offset in (-30, 0, 30):
        check = totp.check_code(
            secret, generator.at(NOW + timedelta(seconds=offset)), now=NOW, last_step=None
        )
        assert check.accepted
        assert check.step == generator.timecode(NOW + timedelta(seconds=offset))
    for offset in (-90, 90):
        far = generator.at(NOW + timedelta(seconds=offset))
        assert not totp.check_code(secret, far, now=NOW, last_step=None).accepted


def test_a_code_of_a_step_already_used_is_refused_as_replayed() -> None:
    secret = totp.new_secret()
    code = pyotp.TOTP(secret).at(NOW)
    first = totp.check_code(secret, code, now=NOW, last_step=None)
    again = totp.check_code(secret, code, now=NOW, last_step=first.step)
    assert (again.accepted, again.replayed) == (False, True)


def test_codes_are_read_as_people_type_them() -> None:
    secret = totp.new_secret()
    code = pyotp.TOTP(secret).at(NOW)
    assert totp.check_code(secret, f" {code[:3]} {code[3:]} ", now=NOW, last_step=None).accepted
    for junk in ("", "12345", "1234567", "abcdef", "١٢٣٤٥٦"):
        assert totp.normalise_code(junk) is None


def test_the_secret_is_shown_in_groups_of_four() -> None:
    assert totp.grouped("ABCDEFGHIJ") == "ABCD EFGH IJ"
