"""The problem+json body (RFC 9457) and the ``responses=`` entries that document it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..errors import PROBLEM_MEDIA_TYPE, PROBLEM_TYPE_PREFIX


class FieldProblem(BaseModel):
    field: str = Field(examples=["body.holder.legal_name"])
    message: str = Field(examples=["Field required"])


class Problem(BaseModel):
    """Every error answer. ``errors`` lists each offending field of an invalid request."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="A URN naming the kind of problem (see docs/api.md).")
    title: str
    status: int
    detail: str
    instance: str = Field(description="The request path.")
    request_id: str | None = Field(default=None, description="Echoes X-Request-ID.")
    errors: list[FieldProblem] | None = None


def _example(status: int, slug: str, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": PROBLEM_TYPE_PREFIX + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": "/v1/admin/api-keys",
        "request_id": "5f0c6b1e9a2d4c3b8e7f6a5b4c3d2e1f",
        **extra,
    }


PROBLEM_EXAMPLES: dict[int, tuple[str, dict[str, Any]]] = {
    400: (
        "The body cannot be read (bytes that are not UTF-8 JSON)",
        _example(400, "http-error", "Bad Request", "There was an error parsing the body"),
    ),
    401: (
        "No valid API key",
        _example(401, "unauthorized", "Not authenticated", "the API key is not valid"),
    ),
    403: (
        "The key's role may not do this",
        _example(
            403,
            "forbidden",
            "Forbidden",
            "role 'auditor' may not do this; it needs one of: admin",
        ),
    ),
    404: ("Not found", _example(404, "not-found", "Not found", "no API key with id 42")),
    409: (
        "Conflicts with the current state",
        _example(
            409,
            "conflict",
            "Conflict",
            "this is the last active admin key; create another admin key before revoking it",
        ),
    ),
    413: (
        "The body is larger than the route accepts (docs/api.md, Limits)",
        _example(
            413,
            "too-large",
            "Content too large",
            "body: is larger than 1 MiB, the most this route accepts",
            errors=[{"field": "body", "message": "is larger than 1 MiB"}],
            max_bytes=1048576,
        ),
    ),
    422: (
        "Invalid input, naming each field",
        _example(
            422,
            "invalid",
            "Invalid input",
            "body.role: Input should be 'admin', 'issuing_officer', 'mra_officer', 'auditor', "
            "'partner' or 'border_officer'",
            errors=[
                {
                    "field": "body.role",
                    "message": "Input should be 'admin', 'issuing_officer', 'mra_officer', "
                    "'auditor', 'partner' or 'border_officer'",
                }
            ],
        ),
    ),
    429: (
        "The key exceeded its rate (see Retry-After)",
        _example(
            429,
            "rate-limited",
            "Too many requests",
            "this API key exceeded 600 requests per minute; retry in 1 s",
            retry_after=1,
        ),
    ),
    503: (
        "A dependency is unavailable",
        _example(503, "unavailable", "Service unavailable", "the chain node does not answer"),
    ),
}

#: what every authenticated route can answer besides its own errors
AUTH_PROBLEMS = (401, 403, 429)
#: what a route that reads a JSON body answers for one it cannot read (400: FastAPI refuses
#: bytes that are not UTF-8 before any field is looked at), one over its size limit (413), or
#: one whose fields are wrong or that nests too deep (422)
BODY_PROBLEMS = (400, 413, 422)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries documenting problem+json answers with an example each."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        description, example = PROBLEM_EXAMPLES[status]
        responses[status] = {
            "model": Problem,
            "description": description,
            "content": {PROBLEM_MEDIA_TYPE: {"example": example}},
        }
    return responses
