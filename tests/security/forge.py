"""What a forger does to an AEO1 text, layer by layer: change the signed claims while
keeping the signature, or wrap hand-made COSE and compressed bytes in valid outer layers.

The forgery tests and the payload fuzzer share these, so a forged text always reaches the
stage it is meant to attack instead of failing an outer layer by accident.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import base45
import cbor2

from contracts.domain.claims import Claims
from verifier.payload import PREFIX, decode


def wrap_compressed(compressed: bytes) -> str:
    """``AEO1:`` + base45 of ``compressed``: valid prefix and base45 layers around it."""
    return PREFIX + bytes(base45.b45encode(compressed)).decode("ascii")


def wrap_cose(cose: bytes) -> str:
    """Valid zlib, base45 and prefix layers around ``cose`` (reaches the COSE stage)."""
    return wrap_compressed(zlib.compress(cose, 9))


def cose_array(protected: bytes, payload: bytes, signature: bytes) -> bytes:
    """A deterministically encoded, untagged COSE_Sign1 array, as AEO1 writes it."""
    return bytes(cbor2.dumps([protected, {}, payload, signature], canonical=True))


def claims_payload(claims: Claims) -> bytes:
    """The signed CBOR payload of ``claims``, encoded as the issuer encodes it."""
    return bytes(cbor2.dumps(claims.to_cbor_map(), canonical=True))


def with_claims_changed(text: str, **changes: Any) -> str:
    """``text`` with some claims changed and the original protected header and signature
    kept: what someone without the issuer's key can make of a genuine QR."""
    decoded = decode(text)
    claims = replace(decoded.claims, **changes)
    cose = cose_array(decoded.cose.protected, claims_payload(claims), decoded.cose.signature)
    return wrap_cose(cose)


# ---------------------------------------------------------------- other encodings of the same
# signed claims (issue #10): every text below carries the genuine signature over the genuine
# claims, so only the rule "one encoding per claims" can refuse it.


def with_compressed(text: str, change: Callable[[bytes], bytes]) -> str:
    """``text`` with its zlib layer changed (the base45 and prefix layers rebuilt)."""
    return wrap_compressed(change(decode(text).compressed))


def recompressed(
    text: str, level: int = 9, wbits: int = 15, strategy: int = zlib.Z_DEFAULT_STRATEGY
) -> str:
    """The same COSE bytes compressed by another zlib configuration (a negative ``wbits``
    writes raw deflate, without the zlib header and checksum)."""
    deflater = zlib.compressobj(level, zlib.DEFLATED, wbits, 8, strategy)
    cose = decode(text).cose_bytes
    return wrap_compressed(deflater.compress(cose) + deflater.flush())


def with_cose(text: str, change: Callable[[bytes], bytes]) -> str:
    """``text`` with its COSE bytes changed, compressed as the issuer compresses."""
    return wrap_cose(change(decode(text).cose_bytes))


def with_signature(text: str, signature: bytes) -> str:
    """``text`` with another signature over the same protected header and claims."""
    cose = decode(text).cose
    return wrap_cose(cose_array(cose.protected, cose.payload, signature))
