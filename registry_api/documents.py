"""Certificate documents: the QR code (PNG, SVG) and the printable PDF certificate.

Pure rendering: every function here takes the signed QR text (``AEO1:...``) and the
certificate's data and returns bytes. Signing the payload, choosing the key and reading the
database is :mod:`registry_api.services.documents`' job.

The QR code is always made the same way, so the PNG, the SVG and the QR printed in the PDF
are the same symbol: alphanumeric mode (the base45 payload is made of the QR alphanumeric
alphabet, which is why base45 was chosen), error correction M exactly (never boosted, so the
version stays what docs/qr-format.md budgets), no Micro QR.
"""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Final
from urllib.parse import quote

import segno
from reportlab.lib import units
from reportlab.lib.colors import Color, HexColor, white
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph

from contracts.domain.enums import Tier

from .errors import RegistryError
from .records import Address, CertificateRecord, Site

logger = logging.getLogger("registry_api.documents")

QR_ERROR_CORRECTION: Final = "M"
#: the placeholder printed in the footer until an administration publishes its verifier page
DEFAULT_VERIFICATION_URL: Final = "https://verify.aeo-registry.example/"


def verification_url(public_lookup_url: str | None, number: str) -> str:
    """The PDF's verification line: this registry's public lookup page for ``number``
    (``AEO_PUBLIC_LOOKUP_URL``), or the placeholder while none is set."""
    if public_lookup_url is None:
        return DEFAULT_VERIFICATION_URL
    return f"{public_lookup_url.rstrip('/')}/public/lookup?q={quote(number, safe='')}"


PNG_MEDIA_TYPE: Final = "image/png"
SVG_MEDIA_TYPE: Final = "image/svg+xml"
PDF_MEDIA_TYPE: Final = "application/pdf"


class DocumentError(RegistryError):
    """A document cannot be rendered (a payload a QR code cannot carry, a broken font)."""


# ---------------------------------------------------------------- words for codes

#: The tier bits (contracts/src/Tiers.sol) as a certificate states them.
TIER_WORDS: Final[dict[Tier, str]] = {
    Tier.CUSTOMS_SIMPLIFICATIONS: "Customs simplifications (AEOC)",
    Tier.SECURITY_SAFETY: "Security and safety (AEOS)",
    Tier.GRADE_A: "Grade A",
    Tier.GRADE_AA: "Grade AA",
    Tier.GRADE_AAA: "Grade AAA",
}

#: Business roles of the supply chain (WCO SAFE Framework, the codes EU AEO data uses);
#: any other code a program defines is printed as given.
BUSINESS_ROLE_WORDS: Final[dict[str, str]] = {
    "MF": "Manufacturer",
    "IM": "Importer",
    "EX": "Exporter",
    "CB": "Customs broker",
    "CA": "Carrier",
    "FF": "Freight forwarder",
    "CS": "Consolidator",
    "TO": "Terminal operator",
    "WK": "Warehouse keeper",
    "PO": "Port operator",
    "AO": "Airport operator",
    "DI": "Distributor",
}


def tier_words(tiers: int) -> list[str]:
    """``3`` -> ``["Customs simplifications (AEOC)", "Security and safety (AEOS)"]``."""
    words = [text for bit, text in TIER_WORDS.items() if tiers & bit]
    words += [f"Reserved tier bit {bit}" for bit in range(5, 8) if tiers & (1 << bit)]
    return words


def program_title(tiers: int) -> str:
    """One line naming the program, the way EU certificates name AEOF."""
    both = Tier.CUSTOMS_SIMPLIFICATIONS | Tier.SECURITY_SAFETY
    if tiers & both == both:
        return "AEO Full: customs simplifications and security and safety (AEOF)"
    return " · ".join(tier_words(tiers))


def business_role_words(codes: Sequence[str]) -> list[str]:
    return [
        f"{BUSINESS_ROLE_WORDS[code]} ({code})" if code in BUSINESS_ROLE_WORDS else code
        for code in codes
    ]


def address_line(address: Address) -> str:
    city = " ".join(part for part in (address.postal_code, address.city) if part)
    parts = [address.street, city, address.region, address.country]
    return ", ".join(part for part in parts if part)


def site_line(site: Site) -> str:
    where = address_line(site.address)
    return f"{site.name}: {where}" if site.name else where


# ---------------------------------------------------------------- QR code


@dataclass(frozen=True, slots=True)
class QrImage:
    """A rendered QR code and the facts a caller reports about it."""

    content: bytes
    media_type: str
    #: the QR version (1..40); docs/qr-format.md budgets AEO1 at 10 or lower
    version: int
    error_correction: str


def make_qr(text: str) -> segno.QRCode:
    """The QR symbol for an AEO1 text: alphanumeric mode, error correction M, full-size QR."""
    try:
        return segno.make(
            text, error=QR_ERROR_CORRECTION, mode="alphanumeric", micro=False, boost_error=False
        )
    except (ValueError, segno.DataOverflowError) as exc:
        raise DocumentError(
            f"the payload cannot be drawn as an alphanumeric QR code: {exc}"
        ) from exc


def qr_png(text: str, *, scale: int = 8, border: int = 4) -> QrImage:
    """A PNG of the QR code; ``scale`` pixels per module, ``border`` quiet-zone modules
    (4 is the minimum ISO/IEC 18004 asks for)."""
    code = make_qr(text)
    out = io.BytesIO()
    code.save(out, kind="png", scale=scale, border=border)
    return QrImage(out.getvalue(), PNG_MEDIA_TYPE, int(code.version), QR_ERROR_CORRECTION)


def qr_svg(text: str, *, scale: int = 4, border: int = 4, title: str | None = None) -> QrImage:
    """An SVG of the QR code (one path, so it prints crisply at any size)."""
    code = make_qr(text)
    out = io.BytesIO()
    code.save(out, kind="svg", scale=scale, border=border, title=title, xmldecl=True)
    return QrImage(out.getvalue(), SVG_MEDIA_TYPE, int(code.version), QR_ERROR_CORRECTION)


# ---------------------------------------------------------------- fonts

_DEJAVU_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/local/share/fonts/dejavu"),
)
#: font role -> DejaVu file (Debian's fonts-dejavu-core: Latin, Cyrillic and Greek, which
#: Mongolian, Kazakh and Russian names need) and the reportlab-bundled Vera fallback
_FONT_FILES: Final = {
    "body": ("DejaVuSans.ttf", "Vera.ttf"),
    "bold": ("DejaVuSans-Bold.ttf", "VeraBd.ttf"),
    "serif": ("DejaVuSerif.ttf", "Vera.ttf"),
    "serif-bold": ("DejaVuSerif-Bold.ttf", "VeraBd.ttf"),
    "mono": ("DejaVuSansMono.ttf", "Vera.ttf"),
}


@dataclass(frozen=True, slots=True)
class Fonts:
    body: str
    bold: str
    serif: str
    serif_bold: str
    mono: str


@lru_cache(maxsize=1)
def fonts() -> Fonts:
    """Register the TrueType fonts once per process and return their names."""
    names: dict[str, str] = {}
    missing: list[str] = []
    for role, (dejavu, vera) in _FONT_FILES.items():
        path = next((d / dejavu for d in _DEJAVU_DIRS if (d / dejavu).is_file()), None)
        name = f"AEO-{role}"
        if path is None:
            missing.append(dejavu)
            import reportlab

            path = Path(reportlab.__file__).parent / "fonts" / vera
        try:
            pdfmetrics.registerFont(TTFont(name, str(path)))
        except Exception as exc:  # reportlab raises its own TTFError and OSErrors alike
            raise DocumentError(f"font {path} cannot be loaded: {exc}") from exc
        names[role.replace("-", "_")] = name
    if missing:
        # Vera has no Cyrillic: names in Mongolian or Kazakh would print as boxes.
        logger.warning(
            "DejaVu fonts not found (%s); using Vera, which lacks Cyrillic. "
            "Install Debian's fonts-dejavu-core.",
            ", ".join(missing),
        )
    return Fonts(**names)


# ---------------------------------------------------------------- the PDF certificate


@dataclass(frozen=True, slots=True)
class CertificateDocument:
    """Everything the printed certificate shows."""

    record: CertificateRecord
    #: the validity the chain holds now (a renewal extends it past ``record.valid_until``)
    valid_until: date | None
    administration_name: str
    certificate_id: bytes
    commitment: bytes
    #: the on-chain version counter (1 at issue, +1 per amendment)
    version: int
    #: the signed QR text
    payload: str
    kid: bytes
    algorithm: str
    generated_at: datetime
    verification_url: str = DEFAULT_VERIFICATION_URL


NAVY: Final = HexColor("#1b2f5b")
GOLD: Final = HexColor("#a8842c")
INK: Final = HexColor("#1d1d1f")
MUTED: Final = HexColor("#5b6270")
WASH: Final = HexColor("#e8edf6")
PAGE_WIDTH, PAGE_HEIGHT = float(A4[0]), float(A4[1])
#: one millimetre in PDF points (reportlab is untyped: this keeps the geometry typed)
mm: Final = float(units.mm)
MARGIN: Final = 14 * mm
#: sites listed on the page at most; the rest are summed up (the registry record has them all)
MAX_SITES_PRINTED: Final = 3


def _long_date(value: date) -> str:
    return f"{value.day} {value.strftime('%B')} {value.year} ({value.isoformat()})"


def _escape(text: str) -> str:
    """Text for a reportlab Paragraph, which reads a small XML markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _paragraph(
    canvas: Canvas,
    markup: str,
    style: ParagraphStyle,
    x: float,
    top: float,
    width: float,
) -> float:
    """Draw ``markup`` with its top at ``top``; return the y below it."""
    para = Paragraph(markup, style)
    _w, height = para.wrap(width, PAGE_HEIGHT)
    para.drawOn(canvas, x, top - height)
    return float(top - height)


def _guilloche(canvas: Canvas, x: float, y: float, width: float, height: float) -> None:
    """The fine interlaced waves of security printing, as a light background band."""
    canvas.saveState()
    path = canvas.beginPath()
    path.rect(x, y, width, height)
    canvas.clipPath(path, stroke=0, fill=0)
    canvas.setLineWidth(0.35)
    steps = 160
    for i in range(14):
        phase = i * math.pi / 7
        amplitude = height * (0.18 + 0.02 * (i % 3))
        canvas.setStrokeColor(Color(0.11, 0.18, 0.36, alpha=0.10 + 0.02 * (i % 2)))
        wave = canvas.beginPath()
        for step in range(steps + 1):
            px = x + width * step / steps
            py = (
                y
                + height / 2
                + amplitude * math.sin(step / steps * 6 * math.pi + phase)
                + amplitude * 0.45 * math.sin(step / steps * 17 * math.pi - phase)
            )
            if step == 0:
                wave.moveTo(px, py)
            else:
                wave.lineTo(px, py)
        canvas.drawPath(wave, stroke=1, fill=0)
    canvas.restoreState()


def _seal(canvas: Canvas, f: Fonts, cx: float, cy: float, radius: float, code: str) -> None:
    """A round seal with the authority code (an emblem placeholder)."""
    canvas.saveState()
    canvas.setStrokeColor(GOLD)
    canvas.setFillColor(white)
    canvas.setLineWidth(1.6)
    canvas.circle(cx, cy, radius, stroke=1, fill=1)
    canvas.setLineWidth(0.5)
    canvas.circle(cx, cy, radius - 2.4, stroke=1, fill=0)
    canvas.circle(cx, cy, radius * 0.62, stroke=1, fill=0)
    for i in range(36):
        angle = i * math.pi / 18
        inner, outer = radius * 0.66, radius - 3.6
        canvas.line(
            cx + inner * math.cos(angle),
            cy + inner * math.sin(angle),
            cx + outer * math.cos(angle),
            cy + outer * math.sin(angle),
        )
    canvas.setFillColor(NAVY)
    canvas.setFont(f.serif_bold, radius * 0.55)
    canvas.drawCentredString(cx, cy - radius * 0.19, code)
    canvas.restoreState()


def _draw_qr(canvas: Canvas, text: str, x: float, y: float, size: float) -> int:
    """Draw the QR symbol as vector modules in a ``size`` square at (x, y); return its version."""
    code = make_qr(text)
    matrix = code.matrix
    modules = len(matrix)
    quiet = 4
    module = size / (modules + 2 * quiet)
    canvas.saveState()
    canvas.setFillColor(white)
    canvas.rect(x, y, size, size, stroke=0, fill=1)
    canvas.setFillColor(Color(0, 0, 0))
    for row_index, row in enumerate(matrix):
        top = y + size - (quiet + row_index + 1) * module
        col = 0
        # One rectangle per horizontal run of dark modules keeps the PDF small.
        while col < modules:
            if row[col]:
                start = col
                while col < modules and row[col]:
                    col += 1
                canvas.rect(
                    x + (quiet + start) * module,
                    top,
                    (col - start) * module,
                    module,
                    stroke=0,
                    fill=1,
                )
            else:
                col += 1
    canvas.restoreState()
    return int(code.version)


@dataclass(frozen=True, slots=True)
class _Page:
    """The geometry every part of the page is placed in."""

    left: float = MARGIN
    right: float = PAGE_WIDTH - MARGIN
    bottom: float = MARGIN
    top: float = PAGE_HEIGHT - MARGIN
    #: the text column, inside the frame
    inner_left: float = MARGIN + 12 * mm
    inner_right: float = PAGE_WIDTH - MARGIN - 12 * mm
    qr_size: float = 50 * mm

    @property
    def inner_width(self) -> float:
        return self.inner_right - self.inner_left


def certificate_pdf(document: CertificateDocument) -> bytes:
    """The printable A4 certificate as PDF bytes (one page)."""
    f = fonts()
    record = document.record
    page = _Page()
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4, pageCompression=1, invariant=True)
    canvas.setTitle(f"AEO certificate {record.number}")
    canvas.setAuthor(document.administration_name)
    canvas.setSubject(
        f"Authorized Economic Operator certificate {record.number} of {record.holder.legal_name}"
    )
    canvas.setCreator("aeo-registry")

    _frame(canvas, page)
    y = _header(canvas, f, page, document)
    y = _title(canvas, f, page, record, y)
    y = _holder(canvas, f, page, record, y)
    # The bottom of the page is fixed (footer, small print, signature); the details
    # between are fitted into what remains.
    details_floor = _bottom(canvas, f, page, document, _qr_version(document.payload))
    details_top = y - 6 * mm
    _details(canvas, f, page, document, details_top, details_floor)
    _qr_block(canvas, f, page, document.payload, details_top)

    canvas.showPage()
    canvas.save()
    return out.getvalue()


def _qr_version(text: str) -> int:
    return int(make_qr(text).version)


def _frame(canvas: Canvas, page: _Page) -> None:
    """A heavy outer rule and a fine inner one, as on printed credentials."""
    canvas.setStrokeColor(NAVY)
    canvas.setLineWidth(2.2)
    canvas.rect(page.left, page.bottom, page.right - page.left, page.top - page.bottom)
    canvas.setLineWidth(0.6)
    canvas.setStrokeColor(GOLD)
    inset = 2.6 * mm
    canvas.rect(
        page.left + inset,
        page.bottom + inset,
        page.right - page.left - 2 * inset,
        page.top - page.bottom - 2 * inset,
    )


def _header(canvas: Canvas, f: Fonts, page: _Page, document: CertificateDocument) -> float:
    """The band with the seal and the administration's name; returns the y below it."""
    band_top = page.top - 5 * mm
    band_height = 30 * mm
    band_x, band_width = page.left + 5 * mm, page.right - page.left - 10 * mm
    canvas.setFillColor(WASH)
    canvas.rect(band_x, band_top - band_height, band_width, band_height, stroke=0, fill=1)
    _guilloche(canvas, band_x, band_top - band_height, band_width, band_height)
    issuer = document.record.issuer
    _seal(canvas, f, page.inner_left + 11 * mm, band_top - band_height / 2, 12 * mm, issuer)

    x = page.inner_left + 27 * mm
    width = page.inner_right - x
    name_style = ParagraphStyle(
        "administration", fontName=f.serif_bold, fontSize=15, leading=18, textColor=NAVY
    )
    caption = ParagraphStyle("caption", fontName=f.body, fontSize=7.5, leading=10, textColor=MUTED)
    y = _paragraph(
        canvas, _escape(document.administration_name), name_style, x, band_top - 7 * mm, width
    )
    _paragraph(
        canvas,
        f"CUSTOMS ADMINISTRATION · AUTHORITY {_escape(issuer)} · "
        "MEMBER OF THE AEO CONSORTIUM REGISTRY",
        caption,
        x,
        y - 1.5 * mm,
        width,
    )
    return band_top - band_height


def _title(canvas: Canvas, f: Fonts, page: _Page, record: CertificateRecord, y: float) -> float:
    """Title, program and the certificate number box; returns the y below them."""
    y -= 11 * mm
    canvas.setFillColor(NAVY)
    canvas.setFont(f.serif_bold, 22)
    canvas.drawCentredString(PAGE_WIDTH / 2, y, "Authorized Economic Operator")
    y -= 7 * mm
    canvas.setFont(f.serif, 14)
    canvas.drawCentredString(PAGE_WIDTH / 2, y, "Certificate")
    y -= 6 * mm
    program = ParagraphStyle(
        "program", fontName=f.body, fontSize=10.5, leading=13, textColor=GOLD, alignment=TA_CENTER
    )
    y = _paragraph(
        canvas, _escape(program_title(record.tiers)), program, page.inner_left, y, page.inner_width
    )
    y -= 4 * mm
    box_width, box_height = 110 * mm, 10 * mm
    canvas.setStrokeColor(NAVY)
    canvas.setLineWidth(0.8)
    canvas.rect(PAGE_WIDTH / 2 - box_width / 2, y - box_height, box_width, box_height)
    canvas.setFillColor(INK)
    canvas.setFont(f.body, 8)
    canvas.drawCentredString(PAGE_WIDTH / 2, y - 3.6 * mm, "CERTIFICATE NUMBER")
    canvas.setFont(f.bold, 12)
    canvas.drawCentredString(PAGE_WIDTH / 2, y - 8.2 * mm, record.number)
    return y - box_height


def _holder(canvas: Canvas, f: Fonts, page: _Page, record: CertificateRecord, y: float) -> float:
    """Who is certified, in full (a legal name is never shortened on the paper)."""
    centred = ParagraphStyle(
        "centred", fontName=f.serif, fontSize=10.5, leading=14, textColor=INK, alignment=TA_CENTER
    )
    name_style = ParagraphStyle(
        "holder", fontName=f.serif_bold, fontSize=17, leading=20, textColor=INK, alignment=TA_CENTER
    )
    holder = record.holder
    x, width = page.inner_left, page.inner_width
    y = _paragraph(canvas, "This is to certify that", centred, x, y - 6 * mm, width)
    y = _paragraph(canvas, _escape(holder.legal_name), name_style, x, y - 2 * mm, width)
    y = _paragraph(canvas, _escape(address_line(holder.address)), centred, x, y - 1 * mm, width)
    ident = holder.identification
    y = _paragraph(
        canvas,
        f"Trader identification: <b>{_escape(ident.scheme)} {_escape(ident.number)}</b>",
        centred,
        x,
        y,
        width,
    )
    return _paragraph(
        canvas,
        "has been audited and is granted the status of Authorized Economic Operator "
        "under the WCO SAFE Framework of Standards, for the program tiers and business "
        "roles stated below.",
        centred,
        x + 8 * mm,
        y - 3 * mm,
        width - 16 * mm,
    )


def _detail_rows(
    record: CertificateRecord, valid_until: date | None, sites_shown: int, criteria_listed: bool
) -> list[tuple[str, str]]:
    validity_end = (
        _long_date(valid_until) if valid_until is not None else "Open-ended, subject to monitoring"
    )
    rows: list[tuple[str, str]] = [
        ("Program tier(s)", "<br/>".join(_escape(w) for w in tier_words(record.tiers))),
        ("Business roles", _escape(", ".join(business_role_words(record.business_roles)))),
    ]
    if record.sites:
        lines = [_escape(site_line(site)) for site in record.sites[:sites_shown]]
        hidden = len(record.sites) - len(lines)
        if hidden:
            more = "more" if lines else "sites"
            lines.append(f"{'and ' if lines else ''}{hidden} {more}, listed in the registry record")
        rows.append(("Sites covered", "<br/>".join(lines)))
    if record.validated_criteria:
        criteria = record.validated_criteria
        rows.append(
            (
                "Validated criteria",
                _escape(", ".join(criteria))
                if criteria_listed
                else f"{len(criteria)} criteria, listed in the registry record",
            )
        )
    rows += [
        ("Valid from", _escape(_long_date(record.valid_from))),
        ("Valid until", _escape(validity_end)),
        ("Issuing office", _escape(record.issuing_office)),
        ("Authorized officer", _escape(record.officer)),
    ]
    return rows


def _details(
    canvas: Canvas,
    f: Fonts,
    page: _Page,
    document: CertificateDocument,
    top: float,
    floor: float,
) -> None:
    """The label/value table left of the QR code, fitted between ``top`` and ``floor``:
    long records list fewer sites, then count the criteria, then use smaller type."""
    record = document.record
    width = page.inner_width - page.qr_size - 10 * mm
    label_width = 37 * mm
    label = ParagraphStyle("label", fontName=f.bold, fontSize=7.5, leading=11, textColor=MUTED)
    attempts = [
        (sites, listed, size)
        for size in (9.5, 8.5, 7.5)
        for listed in (True, False)
        for sites in range(min(MAX_SITES_PRINTED, len(record.sites)), -1, -1)
    ]
    chosen: list[tuple[Paragraph, Paragraph]] = []
    for sites, listed, size in attempts:
        value = ParagraphStyle(
            "value", fontName=f.body, fontSize=size, leading=size * 1.3, textColor=INK
        )
        chosen = [
            (Paragraph(caption.upper(), label), Paragraph(text, value))
            for caption, text in _detail_rows(record, document.valid_until, sites, listed)
        ]
        height = sum(
            max(
                cap.wrap(label_width, PAGE_HEIGHT)[1], val.wrap(width - label_width, PAGE_HEIGHT)[1]
            )
            + 2 * mm
            for cap, val in chosen
        )
        if top - height >= floor:
            break
    y = top
    canvas.setStrokeColor(WASH)
    canvas.setLineWidth(0.6)
    for cap, val in chosen:
        cap_height = cap.wrap(label_width, PAGE_HEIGHT)[1]
        val_height = val.wrap(width - label_width, PAGE_HEIGHT)[1]
        cap.drawOn(canvas, page.inner_left, y - cap_height)
        val.drawOn(canvas, page.inner_left + label_width, y - val_height)
        y -= max(cap_height, val_height) + 2 * mm
        canvas.line(page.inner_left, y + 1 * mm, page.inner_left + width, y + 1 * mm)


def _qr_block(canvas: Canvas, f: Fonts, page: _Page, text: str, top: float) -> None:
    size = page.qr_size
    x = page.inner_right - size
    canvas.setFillColor(NAVY)
    canvas.setFont(f.bold, 9)
    canvas.drawCentredString(x + size / 2, top - 3 * mm, "SCAN TO VERIFY")
    y = top - 5 * mm - size
    canvas.setStrokeColor(NAVY)
    canvas.setLineWidth(0.8)
    canvas.rect(x - 1.5 * mm, y - 1.5 * mm, size + 3 * mm, size + 3 * mm)
    _draw_qr(canvas, text, x, y, size)
    note = ParagraphStyle(
        "qr-note", fontName=f.body, fontSize=7, leading=9, textColor=MUTED, alignment=TA_CENTER
    )
    _paragraph(
        canvas,
        "Scan with an AEO verifier: it checks the issuer's signature and the certificate's "
        "status on the consortium registry, online or from a synced offline copy.",
        note,
        x - 2 * mm,
        y - 3 * mm,
        size + 4 * mm,
    )


def _bottom(
    canvas: Canvas, f: Fonts, page: _Page, document: CertificateDocument, qr_version: int
) -> float:
    """Footer, the small print that binds the paper to the chain, and the signature line;
    returns the y above which the details must end."""
    record = document.record
    footer_top = page.bottom + 17 * mm
    canvas.setStrokeColor(GOLD)
    canvas.setLineWidth(0.6)
    canvas.line(page.inner_left, footer_top, page.inner_right, footer_top)
    footer = ParagraphStyle(
        "footer", fontName=f.body, fontSize=7.5, leading=10, textColor=INK, alignment=TA_CENTER
    )
    _paragraph(
        canvas,
        f"Verify this certificate at <b>{_escape(document.verification_url)}</b> or with any "
        "AEO verifier. The status recorded on the consortium chain prevails over this paper: "
        "a suspended or revoked certificate is reported as such when scanned.",
        footer,
        page.inner_left,
        footer_top - 2 * mm,
        page.inner_width,
    )

    # Drawn line by line so that the monospaced columns stay aligned.
    fine_top = footer_top + 12 * mm
    fine_lines = [
        f"Certificate ID     0x{document.certificate_id.hex()}",
        f"Record commitment  0x{document.commitment.hex()}",
        f"Record version {document.version} · signing key {document.kid.hex()} "
        f"({document.algorithm}) · QR {qr_version}-{QR_ERROR_CORRECTION} · "
        f"generated {document.generated_at.strftime('%Y-%m-%d %H:%M UTC')}",
    ]
    canvas.setFillColor(MUTED)
    canvas.setFont(f.mono, 6.4)
    for index, line in enumerate(fine_lines):
        canvas.drawString(page.inner_left, fine_top - 2.4 * mm - index * 3.1 * mm, line)

    sign_style = ParagraphStyle("sign", fontName=f.body, fontSize=8, leading=10, textColor=MUTED)
    signature = Paragraph(
        f"{_escape(record.officer)}, {_escape(record.issuing_office)}<br/>"
        f"for {_escape(document.administration_name)}",
        sign_style,
    )
    sign_width = page.inner_width * 0.6
    _w, sign_height = signature.wrap(sign_width, PAGE_HEIGHT)
    sign_y = fine_top + 3 * mm + sign_height
    signature.drawOn(canvas, page.inner_left, sign_y - 1.5 * mm - sign_height)
    canvas.setStrokeColor(INK)
    canvas.setLineWidth(0.5)
    canvas.line(page.inner_left, sign_y, page.inner_left + 75 * mm, sign_y)
    return float(sign_y + 10 * mm)
