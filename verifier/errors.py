"""The verifier's exceptions: one base, one type per pipeline stage.

Every error carries a stable ``code`` (the reason code a verdict reports, listed in
docs/qr-format.md) and a message written for the person reading the verdict. The pipeline
never lets these escape :func:`verifier.verify`: it records them in the stage results.
The decoding errors also inherit ``ValueError`` so library callers of the layer helpers
(``payload.decode`` and friends) can treat them as bad input, like web3.py's errors do.
"""

from __future__ import annotations

from typing import ClassVar


class VerificationError(Exception):
    """Base of every error the verifier raises."""

    stage: ClassVar[str] = "verification"
    default_code: ClassVar[str] = "verification_failed"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code


class InputError(VerificationError, ValueError):
    """The input could not be read: no such file, not an image, no QR code in it."""

    stage = "input"
    default_code = "unreadable_input"


class PrefixError(VerificationError, ValueError):
    """The text does not start with the ``AEO1:`` prefix."""

    stage = "prefix"
    default_code = "bad_prefix"


class Base45Error(VerificationError, ValueError):
    stage = "base45"
    default_code = "bad_base45"


class DecompressionError(VerificationError, ValueError):
    stage = "decompress"
    default_code = "bad_compression"


class CoseError(VerificationError, ValueError):
    """Not a COSE_Sign1 structure of the shape AEO1 uses."""

    stage = "cose"
    default_code = "bad_cose"


class CborError(VerificationError, ValueError):
    """The signed payload is not one well-formed CBOR map."""

    stage = "cbor"
    default_code = "bad_cbor"


class ClaimsError(VerificationError, ValueError):
    """A claim is missing, of the wrong type or out of range; ``field`` names it."""

    stage = "claims"
    default_code = "bad_claims"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"claim {field!r}: {message}")
        self.field = field


class SignatureError(VerificationError):
    """The signature does not verify, or no trusted key is known for it."""

    stage = "signature"
    default_code = "bad_signature"


class KeyValidityError(VerificationError):
    """The signing key was not valid for this issuer at the signing time."""

    stage = "key_validity"
    default_code = "key_not_valid"


class BindingError(VerificationError):
    """The claims do not match the certificate's on-chain record (or there is none)."""

    stage = "binding"
    default_code = "commitment_mismatch"


class StatusError(VerificationError):
    """The certificate is suspended or revoked."""

    stage = "status"
    default_code = "not_active"


class ValidityDatesError(VerificationError):
    """The certificate is expired or not yet valid."""

    stage = "validity_dates"
    default_code = "outside_validity"


class RecognitionError(VerificationError):
    """The verifying administration does not recognize the certificate."""

    stage = "recognition"
    default_code = "not_recognized"


class SourceUnavailable(VerificationError):
    """A status source could not answer (no network, cache never synced, node error).

    Raised by :class:`verifier.source.StatusSource` implementations; the pipeline turns it
    into an ``unavailable`` stage and a ``check_unavailable`` verdict, never into a pass.
    """

    default_code = "source_unavailable"


class EncodingError(VerificationError, ValueError):
    """A payload could not be built (issuer side: bad key, key id mismatch, too large)."""

    stage = "encode"
    default_code = "cannot_encode"


class CacheError(VerificationError):
    """The offline cache refused a write (an event out of order, an unknown event type)."""

    stage = "offline_cache"
    default_code = "cache_error"
