"""The registry service's exceptions and their HTTP form (RFC 9457 problem details).

Business code raises a :class:`RegistryError` subclass and never builds HTTP responses; the
handlers registered by :func:`install_error_handlers` turn each error into an
``application/problem+json`` body. Subclasses also inherit the matching builtin (as web3.py
does), so plain Python callers can catch ``LookupError`` or ``ValueError``.

Errors raised by the chain layer (``contracts.errors``) are mapped by their duck-typed
``category`` attribute (see :func:`from_chain_error`), so this module never imports it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger("registry_api.errors")

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:aeo-registry:problem:"


@dataclass(frozen=True, slots=True)
class FieldError:
    """One offending input: ``field`` is a dotted path such as ``body.holder.legal_name``."""

    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class RegistryError(Exception):
    """Base of every error the registry service raises on purpose."""

    status: ClassVar[int] = HTTPStatus.INTERNAL_SERVER_ERROR
    slug: ClassVar[str] = "internal"
    title: ClassVar[str] = "Internal error"

    def __init__(
        self,
        detail: str,
        *,
        errors: Sequence[FieldError] = (),
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = tuple(errors)
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    @property
    def type_uri(self) -> str:
        return PROBLEM_TYPE_PREFIX + self.slug


class InvalidError(RegistryError, ValueError):
    """The input is well-formed JSON but breaks a rule (a field's format, a date order...)."""

    status = HTTPStatus.UNPROCESSABLE_ENTITY
    slug = "invalid"
    title = "Invalid input"


class UnauthorizedError(RegistryError):
    """No credentials, or credentials that do not identify an active API key."""

    status = HTTPStatus.UNAUTHORIZED
    slug = "unauthorized"
    title = "Not authenticated"

    def __init__(self, detail: str) -> None:
        # RFC 6750 section 3: a 401 names the scheme the client should use.
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="aeo-registry"'})


class ForbiddenError(RegistryError, PermissionError):
    """The caller is known but its role (or its administration) may not do this."""

    status = HTTPStatus.FORBIDDEN
    slug = "forbidden"
    title = "Forbidden"


class NotFoundError(RegistryError, LookupError):
    status = HTTPStatus.NOT_FOUND
    slug = "not-found"
    title = "Not found"


class ConflictError(RegistryError):
    """The request contradicts the current state (a duplicate, a terminal status...)."""

    status = HTTPStatus.CONFLICT
    slug = "conflict"
    title = "Conflict"


class PayloadTooLargeError(RegistryError):
    """The request body is larger than its route accepts (``registry_api.limits``)."""

    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    slug = "too-large"
    title = "Content too large"


class RateLimitedError(RegistryError):
    status = HTTPStatus.TOO_MANY_REQUESTS
    slug = "rate-limited"
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(
            detail, headers={"Retry-After": str(retry_after)}, extra={"retry_after": retry_after}
        )
        self.retry_after = retry_after


class UnavailableError(RegistryError):
    """A dependency (database, chain, indexer) cannot serve the request right now."""

    status = HTTPStatus.SERVICE_UNAVAILABLE
    slug = "unavailable"
    title = "Service unavailable"


class ConfigurationError(RegistryError):
    """The service is configured wrongly (settings, key files); raised at start-up."""


class KeystoreError(ConfigurationError):
    """A key file is missing, unreadable, or its passphrase is wrong."""


# ---------------------------------------------------------------- chain errors

_CHAIN_CATEGORIES: dict[str, type[RegistryError]] = {
    "unauthorized": ForbiddenError,
    "forbidden": ForbiddenError,
    "notfound": NotFoundError,
    "conflict": ConflictError,
    "invalid": InvalidError,
    "unavailable": UnavailableError,
}


def _normalise_category(raw: object) -> str | None:
    if raw is None:
        return None
    # An enum member (``Category.NOT_FOUND``), its value ("not_found") or a class-like name
    # ("NotFound") all reduce to the same key.
    text = getattr(raw, "value", raw)
    if not isinstance(text, str):
        text = getattr(raw, "name", None)
    if not isinstance(text, str):
        return None
    return text.replace("_", "").replace("-", "").lower()


def chain_error_category(exc: BaseException) -> str | None:
    """The normalised ``category`` of a chain-layer error, or None if it carries none we know.

    Reverts carry a ``category``; an unreachable node (``ChainUnavailableError``, a
    ``ConnectionError``) has none and counts as ``unavailable``.
    """
    category = _normalise_category(getattr(exc, "category", None))
    if category in _CHAIN_CATEGORIES:
        return category
    if isinstance(exc, ConnectionError):
        return "unavailable"
    return None


def from_chain_error(exc: BaseException) -> RegistryError | None:
    """Translate a chain-layer error (anything with a known ``category``) to a RegistryError.

    An on-chain ``Unauthorized`` revert means this administration's operator may not do
    that (for example, change another authority's certificate): a 403 to the caller, who
    is authenticated. Returns None for anything that is not a categorised chain error.
    """
    category = chain_error_category(exc)
    if category is None:
        return None
    error_cls = _CHAIN_CATEGORIES[category]
    extra: dict[str, Any] = {}
    name = getattr(exc, "error_name", None) or getattr(exc, "name", None)
    if isinstance(name, str):
        extra["chain_error"] = name
    return error_cls(str(exc) or error_cls.title, extra=extra)


# ---------------------------------------------------------------- problem documents


def problem_body(
    *,
    status: int,
    title: str,
    detail: str,
    type_uri: str,
    instance: str,
    request_id: str | None,
    errors: Sequence[FieldError] = (),
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": type_uri,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    if request_id is not None:
        body["request_id"] = request_id
    if errors:
        body["errors"] = [e.as_dict() for e in errors]
    if extra:
        body.update({k: v for k, v in extra.items() if k not in body})
    return body


def problem_response(
    request: Request,
    *,
    status: int,
    title: str,
    detail: str,
    slug: str,
    errors: Sequence[FieldError] = (),
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JSONResponse:
    body = problem_body(
        status=status,
        title=title,
        detail=detail,
        type_uri=PROBLEM_TYPE_PREFIX + slug,
        instance=request.url.path,
        request_id=getattr(request.state, "request_id", None),
        errors=errors,
        extra=extra,
    )
    return JSONResponse(
        body, status_code=status, headers=dict(headers or {}), media_type=PROBLEM_MEDIA_TYPE
    )


def registry_error_response(request: Request, exc: RegistryError) -> JSONResponse:
    return problem_response(
        request,
        status=int(exc.status),
        title=exc.title,
        detail=exc.detail,
        slug=exc.slug,
        errors=exc.errors,
        headers=exc.headers,
        extra=exc.extra,
    )


def field_path(loc: Sequence[int | str]) -> str:
    """``("body", "holder", "sites", 0, "country")`` -> ``"body.holder.sites[0].country"``."""
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            if parts:
                parts[-1] += f"[{item}]"
            else:
                parts.append(f"[{item}]")
        else:
            parts.append(str(item))
    return ".".join(parts)


def validation_field_errors(raw_errors: Sequence[Mapping[str, Any]]) -> list[FieldError]:
    errors: list[FieldError] = []
    for err in raw_errors:
        loc = tuple(err.get("loc", ()))
        if err.get("type") == "json_invalid":
            # Pydantic reports the byte offset as the location; the field is the body itself.
            loc = ("body",)
        message = str(err.get("msg", "is invalid"))
        errors.append(FieldError(field_path(loc) or "request", message))
    return errors


def _validation_detail(errors: Sequence[FieldError]) -> str:
    if len(errors) == 1:
        return f"{errors[0].field}: {errors[0].message}"
    return f"{len(errors)} fields are invalid: " + ", ".join(e.field for e in errors)


async def _handle_registry_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RegistryError)
    return registry_error_response(request, exc)


async def _handle_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = validation_field_errors(exc.errors())
    return problem_response(
        request,
        status=HTTPStatus.UNPROCESSABLE_ENTITY,
        title="Invalid input",
        detail=_validation_detail(errors),
        slug="invalid",
        errors=errors,
    )


async def _handle_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    slug = {404: "not-found", 405: "method-not-allowed"}.get(status, "http-error")
    return problem_response(
        request,
        status=status,
        title=title,
        detail=str(exc.detail),
        slug=slug,
        headers=exc.headers,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn errors into problem+json responses.

    Unexpected exceptions are not handled here but in the request middleware
    (``registry_api.middleware``), which sits inside Starlette's ServerErrorMiddleware and
    can therefore still log the request id and add the X-Request-ID header.
    """
    app.add_exception_handler(RegistryError, _handle_registry_error)
    app.add_exception_handler(RequestValidationError, _handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, _handle_http_exception)
