"""Time-based one-time passwords (RFC 6238) as a second factor: 6 digits, 30-second steps,
SHA-1, which every authenticator app reads from the provisioning URI (``otpauth://``).

A code is accepted for the current step and the one before or after it (clocks drift), and
only once: the step it was accepted for is kept, and a code of that step or an earlier one
is refused afterwards (RFC 6238 section 5.2).
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from datetime import datetime

import pyotp
import segno
from pyotp.utils import strings_equal

#: 160 random bits, as RFC 4226 recommends for HMAC-SHA-1
SECRET_LENGTH = 32
STEP_SECONDS = 30
DIGITS = 6
#: steps on each side of the current one a code may come from
VALID_WINDOW = 1


def new_secret() -> str:
    return pyotp.random_base32(length=SECRET_LENGTH)


def provisioning_uri(secret: str, *, account: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def qr_data_uri(uri: str) -> str:
    """The provisioning URI as a QR code, a PNG ``data:`` URI for an ``<img>`` (nothing
    leaves the page: no request for the image, no secret in a URL)."""
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="png", scale=5, border=4)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def grouped(secret: str) -> str:
    """The secret in groups of four, for typing it into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def normalise_code(code: str) -> str | None:
    """The digits of a code as people type it (spaces allowed), or None if it is not one."""
    digits = "".join(code.split())
    if len(digits) != DIGITS or not digits.isascii() or not digits.isdigit():
        return None
    return digits


@dataclass(frozen=True, slots=True)
class CodeCheck:
    accepted: bool
    #: the step the code was accepted for (to store), when accepted
    step: int | None = None
    #: the code was right but already used
    replayed: bool = False


def check_code(secret: str, code: str, *, now: datetime, last_step: int | None) -> CodeCheck:
    digits = normalise_code(code)
    if digits is None:
        return CodeCheck(False)
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = totp.timecode(now)
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if strings_equal(totp.generate_otp(step), digits):
            if last_step is not None and step <= last_step:
                return CodeCheck(False, replayed=True)
            return CodeCheck(True, step=step)
    return CodeCheck(False)
