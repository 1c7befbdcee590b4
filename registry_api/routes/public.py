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
from collections.abc import Mapping
from typing import Annotated, Final

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from contracts.domain import days
from contracts.domain.enums import tier_names
from verifier import payload as qr_payload
from verifier.errors import VerificationError
from verifier.web.app import MAX_TEXT_CHARS, MAX_UPLOAD_BYTES, RequestRejected, qr_text_from_upload

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
#: the page's fields, in the order the error summary lists them
_FIELDS: Final = ("q", "payload", "photo")
#: the longest QR text read (what a QR code of the largest version holds)
MAX_PAYLOAD_CHARS: Final = MAX_TEXT_CHARS


def _field_error(errors: Mapping[str, str], name: str) -> str:
    if name not in errors:
        return ""
    return (
        f'<p class="error-message" id="{name}-error">'
        f'<span class="visually-hidden">Error:</span> {html.escape(errors[name])}</p>'
    )


def _described(errors: Mapping[str, str], name: str) -> str:
    return f' aria-describedby="{name}-error" aria-invalid="true"' if name in errors else ""


def _page(
    authority: str,
    *,
    typed: str = "",
    payload: str = "",
    table: str = "",
    errors: Mapping[str, str] | None = None,
    notice: str | None = None,
) -> str:
    errors = errors or {}
    summary = ""
    if errors:
        items = "".join(
            f'<li><a href="#{name}">{html.escape(errors[name])}</a></li>'
            for name in _FIELDS
            if name in errors
        )
        summary = (
            '<div class="error-summary" role="alert" tabindex="-1"><h2>There is a problem</h2>'
            f"<ul>{items}</ul></div>"
        )
    if notice is not None:
        summary = f'<div class="error-summary" role="alert"><h2>{html.escape(notice)}</h2></div>'
    prefix = "Error: " if errors or notice else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{prefix}AEO certificate lookup ({html.escape(authority)})</title>
<style>body{{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}}
.error-summary{{border:4px solid #d4351c;padding:0 1rem}} textarea{{width:100%}}
.error-message{{color:#d4351c;font-weight:bold;margin:.2rem 0}}
.field{{margin:1rem 0}} .field-error{{border-left:4px solid #d4351c;padding-left:.8rem}}
label{{display:block;font-weight:bold}} .hint{{color:#505a5f;margin:.2rem 0}}
.visually-hidden{{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}}
table{{border-collapse:collapse;width:100%}} td,th{{border-bottom:1px solid #ccc;padding:.4rem;
text-align:left}} .valid{{color:#00703c}} .not_valid{{color:#d4351c}}</style></head>
<body><main>
<h1>Check an AEO certificate</h1>
<p>Certificates issued by {html.escape(authority)}. The holder's name, tiers and validity are
shown only where the holder agreed to publication.</p>
{summary}
{table}
<form method="get" action="/public/lookup" novalidate>
<div class="field{" field-error" if "q" in errors else ""}">
<label for="q">Certificate numbers or identifiers</label>
<p class="hint" id="q-hint">One per line, at most {service.MAX_PUBLIC_QUERIES}: a certificate
number (MN-AEO-2024-0147) or an identifier written SCHEME:VALUE (EORI:DE447109382210556).</p>
{_field_error(errors, "q")}
<textarea id="q" name="q" rows="4"{_described(errors, "q")}>{html.escape(typed)}</textarea>
</div>
<button type="submit">Check certificates</button></form>
<h2>Or use the certificate's QR code</h2>
<form method="post" action="/public/lookup" enctype="multipart/form-data" novalidate>
<div class="field{" field-error" if "payload" in errors else ""}">
<label for="payload">The QR code's text</label>
<p class="hint">As a scanner app shows it, starting with AEO1:</p>
{_field_error(errors, "payload")}
<textarea id="payload" name="payload" rows="3"{_described(errors, "payload")}>
{html.escape(payload)}</textarea>
</div>
<div class="field{" field-error" if "photo" in errors else ""}">
<label for="photo">Or a photo of the QR code</label>
{_field_error(errors, "photo")}
<input type="file" id="photo" name="photo" accept="image/*"{_described(errors, "photo")}>
</div>
<button type="submit">Check the QR code</button></form>
</main></body></html>"""


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
        '<table id="answers"><caption class="visually-hidden">Answers</caption>'
        "<thead><tr><th>Asked</th><th>Result</th><th>Holder</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def _too_many(authority: str, exc: RateLimitedError) -> HTMLResponse:
    return HTMLResponse(
        _page(authority, notice=f"Too many lookups from your address: {exc.detail}"),
        status_code=exc.status,
        headers={"Retry-After": str(exc.retry_after)},
    )


def _page_field(field: str) -> str:
    """``query.q[1]`` (the API's name) -> ``q`` (the page's field)."""
    return "q" if field.startswith("query.q") else field


@page.get("/public/lookup", response_class=HTMLResponse)
def public_lookup_page(
    request: Request, session: SessionDep, settings: SettingsDep, q: Queries = None
) -> HTMLResponse:
    typed = "\n".join(q or ())
    if not typed.strip():
        return HTMLResponse(_page(settings.authority))
    try:
        _limit(request, settings)
    except RateLimitedError as exc:
        return _too_many(settings.authority, exc)
    try:
        result = _answers(session, settings, q)
    except InvalidError as exc:
        errors = {_page_field(error.field): exc.detail for error in exc.errors[:1]}
        return HTMLResponse(_page(settings.authority, typed=typed, errors=errors), status_code=422)
    return HTMLResponse(
        _page(settings.authority, typed=typed, table=_table(result)),
        headers={"Cache-Control": CACHE_CONTROL},
    )


class _Unreadable(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _number_in(text: str, field: str) -> str:
    """The certificate number a QR text carries (read, not verified: the answer comes from
    this registry's record of that number, exactly as if the number had been typed)."""
    try:
        return qr_payload.decode(text).claims.number
    except VerificationError as exc:
        raise _Unreadable(field, f"is not an AEO certificate's QR code: {exc.message}") from None


def _qr_number(text: str | None, photo: UploadFile | None) -> str:
    if text is not None and text.strip():
        if len(text) > MAX_PAYLOAD_CHARS:
            message = f"is longer than any QR code holds ({MAX_PAYLOAD_CHARS} characters)"
            raise _Unreadable("payload", message)
        return _number_in(text.strip(), "payload")
    data = photo.file.read(MAX_UPLOAD_BYTES + 1) if photo is not None else b""
    if not data:
        raise _Unreadable("payload", "Paste the QR code's text or choose a photo of it")
    try:
        # Decoded in a sandboxed child process, as the border page's server does.
        scanned = qr_text_from_upload(data)
    except RequestRejected as exc:
        raise _Unreadable("photo", exc.message) from None
    return _number_in(scanned, "photo")


@page.post("/public/lookup", response_class=HTMLResponse)
def public_lookup_qr(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    text: Annotated[str | None, Form(alias="payload")] = None,
    photo: Annotated[UploadFile | None, File()] = None,
) -> HTMLResponse:
    """The same lookup for the number in a QR code: its text pasted, or a photo of it."""
    try:
        _limit(request, settings)
    except RateLimitedError as exc:
        return _too_many(settings.authority, exc)
    pasted = text or ""
    try:
        number = _qr_number(text, photo)
    except _Unreadable as exc:
        message = exc.message
        label = {"payload": "The QR code's text", "photo": "The photo"}[exc.field]
        if not message[:1].isupper():
            message = f"{label} {message}"
        return HTMLResponse(
            _page(settings.authority, payload=pasted, errors={exc.field: message}),
            status_code=422,
        )
    result = _answers(session, settings, [number])
    return HTMLResponse(
        _page(settings.authority, typed=number, payload=pasted, table=_table(result))
    )
