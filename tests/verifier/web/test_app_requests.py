"""The web app's HTTP surface: bad input is refused with a clear problem JSON, never a 500.

These requests never reach the status source: the factory below fails the test if they do.
"""

from __future__ import annotations

import io
import json
import re
import struct
import zlib
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image

from verifier.web.app import (
    CONTENT_SECURITY_POLICY,
    MAX_JSON_BODY_BYTES,
    MAX_UPLOAD_BYTES,
    create_app,
)

from .server import serve


def _source_must_not_be_opened() -> object:
    raise AssertionError("a refused request opened the status source")


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    app = create_app(_source_must_not_be_opened, as_authority="KR")
    with serve(app) as base_url, httpx.Client(base_url=base_url, timeout=30) as http:
        yield http


def _png(width: int = 8, height: int = 8) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (width, height), 255).save(buffer, format="PNG")
    return buffer.getvalue()


def test_page_is_served_with_a_self_only_content_security_policy(client: httpx.Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "default-src 'self'" in CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["permissions-policy"].startswith("camera=(self)")
    assert 'src="static/app.bundle.js"' in response.text


def test_page_loads_nothing_from_another_origin(client: httpx.Client) -> None:
    page = client.get("/").text
    references = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert references, "the page references its script, styles and icon"
    # Relative references keep the page working when mounted under a prefix.
    assert all(reference.startswith("static/") for reference in references), references
    styles = client.get("/static/app.css").text
    assert "url(" not in styles
    assert "@import" not in styles


def test_static_bundle_and_catalog_are_served_locally(client: httpx.Client) -> None:
    bundle = client.get("/static/app.bundle.js")
    assert bundle.status_code == 200
    assert bundle.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    catalog = client.get("/static/i18n/en.json")
    assert catalog.status_code == 200
    assert catalog.json()["tone.recognized"] == "Recognized"


def test_config_names_the_verifying_administration(client: httpx.Client) -> None:
    response = client.get("/api/config")
    assert response.json() == {"as_authority": "KR", "max_upload_bytes": MAX_UPLOAD_BYTES}
    assert response.headers["cache-control"] == "no-store"


def test_create_app_refuses_a_malformed_authority() -> None:
    with pytest.raises(ValueError, match="as_authority"):
        create_app(_source_must_not_be_opened, as_authority="kr")


def test_empty_text_is_refused_naming_the_field(client: httpx.Client) -> None:
    response = client.post("/api/verify", json={"text": "   "})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "empty_text"
    assert body["field"] == "text"
    assert body["status"] == 422


def test_text_that_is_not_a_string_is_refused(client: httpx.Client) -> None:
    response = client.post("/api/verify", json={"text": 42})
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_text"


def test_json_without_text_is_refused(client: httpx.Client) -> None:
    response = client.post("/api/verify", json=["AEO1:ABC"])
    assert response.status_code == 422
    assert response.json() == {
        "type": "about:blank",
        "title": "Unprocessable content",
        "status": 422,
        "code": "missing_text",
        "detail": 'the JSON body must be an object with a "text" field',
        "field": "text",
    }


def test_invalid_json_is_refused(client: httpx.Client) -> None:
    response = client.post(
        "/api/verify", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_json"


def test_text_longer_than_any_qr_code_is_refused(client: httpx.Client) -> None:
    response = client.post("/api/verify", json={"text": "AEO1:" + "A" * 5000})
    assert response.status_code == 422
    assert response.json()["code"] == "text_too_long"


def test_a_file_that_is_not_an_image_is_refused(client: httpx.Client) -> None:
    response = client.post(
        "/api/verify", files={"image": ("cert.pdf", b"%PDF-1.7 not an image", "application/pdf")}
    )
    assert response.status_code == 415
    assert response.json()["code"] == "not_an_image"
    assert response.json()["field"] == "image"


def test_a_truncated_png_is_refused_as_not_an_image(client: httpx.Client) -> None:
    response = client.post("/api/verify", files={"image": ("qr.png", _png()[:40], "image/png")})
    assert response.status_code == 415
    assert response.json()["code"] == "not_an_image"


def test_an_upload_over_five_megabytes_is_refused(client: httpx.Client) -> None:
    big = _png() + b"\0" * (MAX_UPLOAD_BYTES + 1)
    response = client.post("/api/verify", files={"image": ("big.png", big, "image/png")})
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"


def test_a_json_body_over_64_kib_is_refused_unread(client: httpx.Client) -> None:
    body = json.dumps({"text": "A" * MAX_JSON_BODY_BYTES}).encode()
    response = client.post(
        "/api/verify", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert response.json()["detail"] == "the request body is larger than 64 KiB"


def test_a_json_body_sent_without_a_length_is_refused_once_past_64_kib(
    client: httpx.Client,
) -> None:
    sent = 0

    def endless() -> Iterator[bytes]:
        nonlocal sent
        yield b'{"text": "'
        while sent < 64 * MAX_JSON_BODY_BYTES:
            sent += 8192
            yield b"A" * 8192

    response = client.post(
        "/api/verify", content=endless(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"


def test_json_nested_deeper_than_64_levels_is_refused_before_it_is_parsed(
    client: httpx.Client,
) -> None:
    body = b'{"text": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"
    response = client.post(
        "/api/verify", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_json"
    assert "more than 64 levels deep" in response.json()["detail"]


def _png_declaring(width: int, height: int) -> bytes:
    """A small PNG whose header declares a huge canvas: a decompression bomb's shape."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\0" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def test_an_image_declaring_too_many_pixels_is_refused(client: httpx.Client) -> None:
    bomb = _png_declaring(30_000, 30_000)
    response = client.post("/api/verify", files={"image": ("bomb.png", bomb, "image/png")})
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"


def test_a_long_thin_image_bomb_is_refused_with_its_dimensions(client: httpx.Client) -> None:
    """208 bytes of PNG, 8 x 65,535 pixels: once 16 s and 4 GB to enlarge for the scanner."""
    bomb = io.BytesIO()
    Image.new("1", (8, 65535), 1).save(bomb, format="PNG", optimize=True)
    response = client.post(
        "/api/verify", files={"image": ("bomb.png", bomb.getvalue(), "image/png")}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert (problem["code"], problem["field"]) == ("too_large", "image")
    assert "8 × 65,535 pixels" in problem["detail"]


def test_a_form_without_an_image_file_is_refused(client: httpx.Client) -> None:
    response = client.post("/api/verify", files={"photo": ("qr.png", _png(), "image/png")})
    assert response.status_code == 422
    assert response.json()["code"] == "missing_image"


def test_an_unsupported_content_type_is_refused(client: httpx.Client) -> None:
    response = client.post(
        "/api/verify", content=b"AEO1:ABC", headers={"content-type": "text/plain"}
    )
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_get_on_the_verify_route_is_a_problem_json_not_a_crash(client: httpx.Client) -> None:
    response = client.get("/api/verify")
    assert response.status_code == 405
    assert response.json()["status"] == 405


@pytest.mark.slow
@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.binary(max_size=2048),
    content_type=st.sampled_from(
        [
            "application/json",
            "multipart/form-data",
            "multipart/form-data; boundary=x",
            "image/png",
            "",
        ]
    ),
)
def test_no_body_of_any_shape_produces_a_server_error(
    client: httpx.Client, body: bytes, content_type: str
) -> None:
    response = client.post("/api/verify", content=body, headers={"content-type": content_type})
    assert 400 <= response.status_code < 500
    assert response.json()["code"]
