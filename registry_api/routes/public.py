"""The public lookup, unauthenticated: anyone (a trader checking a business partner) asks
for up to 10 certificate numbers or identifiers of this administration's certificates.

- ``GET /public/lookup.json?q=...&q=...``: JSON; ``GET /public/lookup?q=...``: the same as a
  page with a form (one number or ``SCHEME:VALUE`` per line), which works without JavaScript.
  Outside ``/v1``, beside ``/healthz``: every ``/v1`` route takes an API key, these none.
- The answer is ``valid`` / ``not_valid`` with the holder's name, tiers and validity dates
  only where the holder consented to publication (``public_consent`` in the record), and
  ``unknown`` otherwise: a holder without consent answers exactly as a number that does not
  exist, so the lookup cannot be used to list who holds a certificate. Never the address, the
  certificate's other identifiers or anything else of the record.
- Limited per client address (``AEO_PUBLIC_LOOKUP_PER_MINUTE``, ``..._BURST``): beyond, 429
  problem+json with ``Retry-After``. Answers may be cached for a minute by anyone
  (``Cache-Control: public, max-age=60``): the status behind them is the index's anyway.
"""

from __future__ import annotations

import html
import re
import threading
from typing import Annotated, Final

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from contracts.domain import days
from contracts.domain.enums import tier_names

from ..deps import SessionDep, SettingsDep
from ..errors import FieldError, InvalidError, RateLimitedError
from ..ratelimit import TokenBucketLimiter
from ..schemas.problems import problem_responses
from ..schemas.public import PublicAnswerPublic, PublicLookupPublic
from ..schemas.recognition import RecognitionItem
from ..services import recognition as service
from ..settings import Settings

api = APIRouter(tags=["public"])
page = APIRouter(tags=["public"], include_in_schema=False)

CACHE_CONTROL: Final = "public, max-age=60"
#: client addresses whose buckets are kept (ratelimit.TokenBucketLimiter.max_keys)
MAX_TRACKED_CLIENTS: Final = 100_000
#: a query as typed: a number, or SCHEME:VALUE (split at the last colon: NAT:KR-BRN:123)
MAX_QUERY_CHARS: Final = 96
_SPLIT: Final = re.compile(r"[\r\n,]+")
_lock = threading.Lock()

Queries = Annotated[
    list[str] | None,
    Query(
        alias="q",
        description="Up to 10 certificate numbers (MN-AEO-2024-0147) or identifiers written "
        "SCHEME:VALUE (EORI:DE447109382210556, NAT:KR-BRN:2208162517).",
    ),
]


def _limit(request: Request, settings: Settings) -> None:
    with _lock:
        limiter: TokenBucketLimiter | None = getattr(request.app.state, "public_limiter", None)
        if limiter is None:
            limiter = TokenBucketLimiter(
                rate_per_second=settings.public_lookup_per_minute / 60,
                burst=settings.public_lookup_burst,
                max_keys=MAX_TRACKED_CLIENTS,
            )
            request.app.state.public_limiter = limiter
    client = request.client.host if request.client is not None else "unknown"
    wait = limiter.acquire(client)
    if wait is not None:
        raise RateLimitedError(
            f"too many lookups from this address; try again in {wait} s", retry_after=wait
        )


def parse_queries(raw: list[str] | None) -> list[tuple[str, service.Item]]:
    """The queries as typed (a field may hold several, one per line or comma-separated), each
    with its item; InvalidError naming ``query.q`` and the offending entry."""
    texts = [part.strip() for value in raw or () for part in _SPLIT.split(value) if part.strip()]
    if not texts:
        raise InvalidError(
            "give at least one certificate number or identifier",
            errors=[FieldError("query.q", "is required")],
        )
    if len(texts) > service.MAX_PUBLIC_QUERIES:
        message = f"at most {service.MAX_PUBLIC_QUERIES} numbers or identifiers per lookup"
        raise InvalidError(message, errors=[FieldError("query.q", message)])
    parsed: list[tuple[str, service.Item]] = []
    for position, text in enumerate(texts):
        field = f"query.q[{position}]"
        if len(text) > MAX_QUERY_CHARS:
            message = f"must be at most {MAX_QUERY_CHARS} characters"
            raise InvalidError(f"{text[:20]}...: {message}", errors=[FieldError(field, message)])
        scheme, colon, value = text.rpartition(":")
        raw_item = {"scheme": scheme, "value": value} if colon else {"number": text.upper()}
        try:
            item = RecognitionItem.model_validate(raw_item)
        except ValidationError as exc:
            message = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
            raise InvalidError(
                f"{text!r} is neither a certificate number nor SCHEME:VALUE: {message}",
                errors=[FieldError(field, message)],
            ) from None
        if item.number is not None:
            parsed.append((text, service.ByNumber(item.number)))
        else:
            assert item.scheme is not None
            assert item.value is not None
            parsed.append((text, service.ByIdentifier(item.scheme, item.value)))
    return parsed


def _answers(session: SessionDep, settings: Settings, raw: list[str] | None) -> PublicLookupPublic:
    queries = parse_queries(raw)
    answers = service.public_lookup(
        session, [item for _text, item in queries], own=settings.authority, day=days.today()
    )
    return PublicLookupPublic(
        issuer=settings.authority,
        data=[
            PublicAnswerPublic(
                query=text,
                result=answer.result,
                holder_name=answer.holder_name,
                tiers=list(tier_names(answer.tiers)) if answer.tiers is not None else None,
                valid_from=days.from_day(answer.valid_from)
                if answer.valid_from is not None
                else None,
                valid_until=days.date_or_none(answer.valid_until),
            )
            for (text, _item), answer in zip(queries, answers, strict=True)
        ],
    )


@api.get(
    "/public/lookup.json",
    summary="Public: is a certificate valid (name, tiers and dates where the holder consented)",
    response_model=PublicLookupPublic,
    responses=problem_responses(422, 429),
)
def public_lookup(
    request: Request, session: SessionDep, settings: SettingsDep, q: Queries = None
) -> Response:
    _limit(request, settings)
    body = _answers(session, settings, q)
    return Response(
        body.model_dump_json(),
        media_type="application/json",
        headers={"Cache-Control": CACHE_CONTROL},
    )


# ---------------------------------------------------------------- the page

_RESULT_TEXT: Final = {
    "valid": "Valid AEO certificate",
    "not_valid": "Not valid (suspended, revoked or expired)",
    "unknown": "No certificate can be shown: unknown, or the holder has not agreed to publication",
}


def _page(authority: str, typed: str, table: str, error: str | None) -> str:
    summary = (
        f'<div class="error-summary" role="alert"><h2>There is a problem</h2>'
        f'<p><a href="#q">{html.escape(error)}</a></p></div>'
        if error
        else ""
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>AEO certificate lookup ({html.escape(authority)})</title>
<style>body{{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}}
.error-summary{{border:4px solid #d4351c;padding:1rem}} textarea{{width:100%}}
table{{border-collapse:collapse;width:100%}} td,th{{border-bottom:1px solid #ccc;padding:.4rem;
text-align:left}} .valid{{color:#00703c}} .not_valid{{color:#d4351c}}</style></head>
<body><h1>Check an AEO certificate</h1>
<p>Certificates issued by {html.escape(authority)}. The holder's name, tiers and validity are
shown only where the holder agreed to publication.</p>
{summary}
<form method="get" action="/public/lookup">
<label for="q">Certificate numbers or identifiers (SCHEME:VALUE), one per line, at most
{service.MAX_PUBLIC_QUERIES}</label>
<textarea id="q" name="q" rows="4">{html.escape(typed)}</textarea>
<button type="submit">Check certificates</button></form>
{table}</body></html>"""


def _table(result: PublicLookupPublic) -> str:
    rows = []
    for answer in result.data:
        details = ""
        if answer.holder_name is not None:
            until = answer.valid_until.isoformat() if answer.valid_until else "open-ended"
            details = (
                f"{html.escape(answer.holder_name)}<br>tiers {', '.join(answer.tiers or [])}; "
                f"valid from {answer.valid_from} until {until}"
            )
        rows.append(
            f'<tr><td>{html.escape(answer.query)}</td><td class="{answer.result}" '
            f'data-result="{answer.result}">{html.escape(_RESULT_TEXT[answer.result])}</td>'
            f"<td>{details}</td></tr>"
        )
    return (
        "<table><thead><tr><th>Asked</th><th>Result</th><th>Holder</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


@page.get("/public/lookup", response_class=HTMLResponse)
def public_lookup_page(
    request: Request, session: SessionDep, settings: SettingsDep, q: Queries = None
) -> HTMLResponse:
    typed = "\n".join(q or ())
    if not typed.strip():
        return HTMLResponse(_page(settings.authority, "", "", None))
    _limit(request, settings)
    try:
        result = _answers(session, settings, q)
    except InvalidError as exc:
        return HTMLResponse(_page(settings.authority, typed, "", exc.detail), status_code=422)
    return HTMLResponse(
        _page(settings.authority, typed, _table(result), None),
        headers={"Cache-Control": CACHE_CONTROL},
    )
