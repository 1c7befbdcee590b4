"""POST /api/verify against a real offline cache: the verdict JSON the page renders."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from PIL import Image
from starlette.applications import Starlette
from starlette.routing import Mount

from verifier.offline import OfflineCache
from verifier.source import StatusSource
from verifier.web.app import create_app

from .media import qr_png
from .server import serve
from .world import NOW, VERIFIER, World


@pytest.fixture(scope="module")
def http(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=60) as client:
        yield client


def test_scanned_text_of_a_recognized_certificate_answers_recognized(
    http: httpx.Client, world: World
) -> None:
    response = http.post("/api/verify", json={"text": world.texts["recognized"]})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    verdict = response.json()
    assert verdict["outcome"] == "recognized"
    assert verdict["as_of"] == "2025-06-02T07:30:00Z"
    assert verdict["stale"] is False
    assert verdict["claims"]["holder_name"] == "Altan Trans Logistics LLC"
    assert [stage["state"] for stage in verdict["stages"]] == ["ok"] * 13


def test_an_uploaded_qr_photo_is_decoded_and_verified(http: httpx.Client, world: World) -> None:
    png = qr_png(world.texts["not_recognized"])
    response = http.post("/api/verify", files={"image": ("qr.png", png, "image/png")})
    assert response.status_code == 200
    verdict = response.json()
    assert verdict["outcome"] == "not_recognized"
    assert [reason["code"] for reason in verdict["reasons"]] == ["tier_not_covered"]


def test_a_photo_without_a_qr_code_is_a_request_error_not_a_verdict(http: httpx.Client) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (240, 240, 240)).save(buffer, format="JPEG")
    response = http.post(
        "/api/verify", files={"image": ("desk.jpg", buffer.getvalue(), "image/jpeg")}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "no_qr_code"


def test_pasted_text_that_is_not_a_payload_is_a_malformed_verdict(http: httpx.Client) -> None:
    response = http.post("/api/verify", json={"text": "HELLO WORLD"})
    assert response.status_code == 200
    verdict = response.json()
    assert verdict["outcome"] == "malformed"
    assert verdict["reasons"][0]["code"] == "bad_prefix"


def test_text_naming_a_server_file_is_never_read_as_a_path(
    http: httpx.Client, tmp_path: Path
) -> None:
    secret = tmp_path / "server-file.txt"
    secret.write_text("SERVERSECRETCONTENT", encoding="utf-8")
    response = http.post("/api/verify", json={"text": str(secret)})
    assert response.status_code == 200
    assert "SERVERSECRET" not in response.text
    assert response.json()["outcome"] == "malformed"


def test_an_old_cache_is_flagged_stale(cache: OfflineCache, world: World) -> None:
    later = NOW + timedelta(days=3)
    with (
        serve(create_app(lambda: cache, as_authority=VERIFIER, clock=later)) as url,
        httpx.Client(base_url=url, timeout=60) as client,
    ):
        verdict = client.post("/api/verify", json={"text": world.texts["recognized"]}).json()
    assert verdict["stale"] is True
    assert "status_stale" in [reason["code"] for reason in verdict["reasons"]]


def test_max_age_sets_when_the_cache_counts_as_stale(cache: OfflineCache, world: World) -> None:
    # The cache was synced two hours before NOW.
    with (
        serve(
            create_app(lambda: cache, as_authority=VERIFIER, clock=NOW, max_age=timedelta(hours=1))
        ) as url,
        httpx.Client(base_url=url, timeout=60) as client,
    ):
        verdict = client.post("/api/verify", json={"text": world.texts["recognized"]}).json()
    assert verdict["stale"] is True
    assert verdict["outcome"] == "recognized"


def test_a_failing_source_factory_is_a_503_problem_not_a_crash(world: World) -> None:
    def no_cache() -> StatusSource:
        raise FileNotFoundError("offline cache file is missing")

    with (
        serve(create_app(no_cache, as_authority=VERIFIER, clock=NOW)) as url,
        httpx.Client(base_url=url, timeout=60) as client,
    ):
        response = client.post("/api/verify", json={"text": world.texts["recognized"]})
    assert response.status_code == 503
    assert response.json()["code"] == "server"
    assert "FileNotFoundError" not in response.text


def test_the_app_works_mounted_under_a_prefix(cache: OfflineCache, world: World) -> None:
    outer = Starlette(
        routes=[Mount("/verifier", app=create_app(lambda: cache, as_authority=VERIFIER, clock=NOW))]
    )
    with serve(outer) as url, httpx.Client(base_url=f"{url}/verifier/", timeout=60) as client:
        page = client.get("")
        assert page.status_code == 200
        for reference in re.findall(r'(?:src|href)="([^"]*)"', page.text):
            assert client.get(reference).status_code == 200, reference
        assert client.get("static/i18n/en.json").status_code == 200
        response = client.post("api/verify", json={"text": world.texts["recognized"]})
    assert response.json()["outcome"] == "recognized"
    assert response.headers["cache-control"] == "no-store"
