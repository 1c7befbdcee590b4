"""A small client of one registry API, for the demo's seeding (httpx, bearer tokens).

Writes that reach the chain answer 202 with an operation; :meth:`RegistryClient.write` sends
one with an ``Idempotency-Key`` derived from what it does, so a demo run interrupted and
started again re-sends the same keys and the API returns the same operations instead of
doing anything twice. :meth:`RegistryClient.wait_operation` polls until it is final.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from aeo.errors import ServiceError

FINAL_STATES = frozenset({"confirmed", "failed"})


class ApiError(ServiceError):
    """The API refused a request; the message carries its problem document's detail."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _problem(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if not isinstance(body, dict):
        return str(body)[:300]
    detail = str(body.get("detail") or body.get("title") or "")
    errors = body.get("errors") or []
    fields = "; ".join(
        f"{e.get('field')}: {e.get('message')}" for e in errors if isinstance(e, dict)
    )
    return f"{detail} ({fields})" if fields else detail


class RegistryClient:
    """Calls to one administration's registry API with one token."""

    def __init__(self, base_url: str, token: str | None = None, *, timeout: float = 30.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.base_url = base_url
        self._http = httpx.Client(base_url=base_url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def with_token(self, token: str) -> RegistryClient:
        return RegistryClient(self.base_url, token)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        expect: tuple[int, ...] = (200, 201, 202),
    ) -> httpx.Response:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        try:
            response = self._http.request(method, path, json=json, params=params, headers=headers)
        except httpx.HTTPError as exc:
            raise ServiceError(f"{method} {self.base_url}{path} failed: {exc}") from None
        if response.status_code not in expect:
            raise ApiError(
                f"{method} {path} answered {response.status_code}: {_problem(response)}",
                response.status_code,
            )
        return response

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None).json()

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, json=body).json()

    def write(self, path: str, body: Any, key: str) -> dict[str, Any]:
        """A chain write: POST with ``Idempotency-Key: key``; returns the operation."""
        operation: dict[str, Any] = self.request(
            "POST", path, json=body, idempotency_key=key
        ).json()
        return operation

    def wait_operation(self, operation: dict[str, Any], timeout: float = 120.0) -> dict[str, Any]:
        """Poll the operation until it is confirmed; raise if it failed or took too long."""
        deadline = time.monotonic() + timeout
        current = operation
        while str(current.get("state")) not in FINAL_STATES:
            if time.monotonic() > deadline:
                raise ServiceError(
                    f"operation {current.get('id')} still {current.get('state')} after "
                    f"{timeout:g} s"
                )
            time.sleep(0.25)
            current = self.get(f"/v1/operations/{current['id']}")
        if current["state"] != "confirmed":
            raise ServiceError(
                f"operation {current.get('id')} ({current.get('kind')}) failed: "
                f"{current.get('error') or current.get('failure_reason') or current}"
            )
        return current
