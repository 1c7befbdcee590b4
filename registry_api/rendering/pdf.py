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
import itertools
import logging
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Final
from urllib.parse import quote

import segno
from babel.dates import format_date
from reportlab.lib import fonts as rl_fonts, units
from reportlab.lib.colors import Color, HexColor, white
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.pdfmetrics import registerFontFamily
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph

from contracts.domain.enums import TIER_NAMES, Tier
from contracts.domain.record import Address, CertificateRecord, Site
from verifier.i18n import SOURCE_LOCALE, Words, words

from ..errors import RegistryError

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

#: Business roles of the supply chain (WCO SAFE Framework, the codes EU AEO data uses) that
#: the catalogues name (``pdf.role.<code>``); any other code a program defines is printed as
#: given.
BUSINESS_ROLE_CODES: Final = (
    "MF",
    "IM",
    "EX",
    "CB",
    "CA",
    "FF",
    "CS",
    "TO",
    "WK",
    "PO",
    "AO",
    "DI",
)


def tier_words(tiers: int, w: Words | None = None) -> list[str]:
    """``3`` -> ``["Customs simplifications (AEOC)", "Security and safety (AEOS)"]``."""
    w = w or words(SOURCE_LOCALE)
    found = [w(f"pdf.tier.{name}") for bit, name in enumerate(TIER_NAMES) if tiers & (1 << bit)]
    return found + [f"Reserved tier bit {bit}" for bit in range(5, 8) if tiers & (1 << bit)]


def program_title(tiers: int, w: Words | None = None) -> str:
    """One line naming the program, the way EU certificates name AEOF."""
    both = Tier.CUSTOMS_SIMPLIFICATIONS | Tier.SECURITY_SAFETY
    if tiers & both == both:
        return (w or words(SOURCE_LOCALE))("pdf.aeof")
    return " · ".join(tier_words(tiers, w))


def business_role_words(codes: Sequence[str], w: Words | None = None) -> list[str]:
    w = w or words(SOURCE_LOCALE)
    return [
        f"{w(f'pdf.role.{code}')} ({code})" if code in BUSINESS_ROLE_CODES else code
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

_FONT_DIRS = (
    Path("/usr/share/fonts/truetype/noto"),
    Path("/usr/share/fonts/noto"),
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/local/share/fonts/dejavu"),
)
#: font role -> the files to try, best first: Noto (Debian's fonts-noto-core: Latin, Greek
#: and the whole Cyrillic that Mongolian and Kazakh use), DejaVu (fonts-dejavu-core), and the
#: reportlab-bundled Vera (Latin only) last. The monospaced role prints hex digits only.
_FONT_FILES: Final = {
    "body": ("NotoSans-Regular.ttf", "DejaVuSans.ttf", "Vera.ttf"),
    "bold": ("NotoSans-Bold.ttf", "DejaVuSans-Bold.ttf", "VeraBd.ttf"),
    "serif": ("NotoSerif-Regular.ttf", "DejaVuSerif.ttf", "Vera.ttf"),
    "serif-bold": ("NotoSerif-Bold.ttf", "DejaVuSerif-Bold.ttf", "VeraBd.ttf"),
    "mono": ("DejaVuSansMono.ttf", "Vera.ttf"),
}
#: Hangul and Han come from Noto Sans CJK (Debian's fonts-noto-cjk), one collection whose
#: faces share the glyphs but not the preferred forms of Han characters: KR for Korean, SC
#: (simplified Chinese) otherwise.
_CJK_DIRS = (Path("/usr/share/fonts/opentype/noto"), Path("/usr/share/fonts/noto-cjk"))
_CJK_FILE: Final = "NotoSansCJK-Regular.ttc"
_CJK_FACE_KR: Final = 1
_CJK_FACE_SC: Final = 2


@dataclass(frozen=True, slots=True)
class Fonts:
    body: str
    bold: str
    serif: str
    serif_bold: str
    mono: str
    #: the code points every text role (body, bold, serif, serif bold) can draw
    covered: frozenset[int] = frozenset()


def _find_font(candidates: Sequence[str]) -> Path | None:
    for name in candidates:
        for folder in _FONT_DIRS:
            if (folder / name).is_file():
                return folder / name
    return None


def _cmap(path: Path, face: int = 0) -> frozenset[int]:
    from fontTools.ttLib import TTFont as ToolsFont

    try:
        with ToolsFont(str(path), fontNumber=face, lazy=True) as font:
            return frozenset(font.getBestCmap() or {})
    except Exception as exc:  # fontTools raises TTLibError, OSErrors and struct errors alike
        raise DocumentError(f"font {path} cannot be read: {exc}") from exc


@lru_cache(maxsize=1)
def fonts() -> Fonts:
    """Register the TrueType fonts once per process and return their names."""
    import reportlab

    names: dict[str, str] = {}
    missing: list[str] = []
    covered: frozenset[int] | None = None
    for role, candidates in _FONT_FILES.items():
        path = _find_font(candidates[:-1])
        if path is None:
            missing.append(candidates[0])
            path = Path(reportlab.__file__).parent / "fonts" / candidates[-1]
        name = f"AEO-{role}"
        try:
            pdfmetrics.registerFont(TTFont(name, str(path)))
        except Exception as exc:  # reportlab raises its own TTFError and OSErrors alike
            raise DocumentError(f"font {path} cannot be loaded: {exc}") from exc
        names[role.replace("-", "_")] = name
        if role != "mono":
            cmap = _cmap(path)
            covered = cmap if covered is None else covered & cmap
    if missing:
        # Vera has no Cyrillic: names in Mongolian or Kazakh would be refused at issuance.
        logger.warning(
            "fonts not found (%s); using reportlab's Vera, which lacks Cyrillic. "
            "Install Debian's fonts-noto-core (or fonts-dejavu-core).",
            ", ".join(missing),
        )
    return Fonts(**names, covered=covered or frozenset())


@lru_cache(maxsize=1)
def cjk_font_path() -> Path | None:
    found = next((d / _CJK_FILE for d in _CJK_DIRS if (d / _CJK_FILE).is_file()), None)
    if found is None:
        logger.warning(
            "%s not found: Hangul and Han names are refused. Install Debian's fonts-noto-cjk.",
            _CJK_FILE,
        )
    return found


@lru_cache(maxsize=1)
def _cjk_covered() -> frozenset[int]:
    path = cjk_font_path()
    return _cmap(path, _CJK_FACE_SC) if path is not None else frozenset()


def printable_code_points() -> frozenset[int]:
    """Every character the embedded fonts can draw (the text fonts and Noto Sans CJK)."""
    return fonts().covered | _cjk_covered()


def unprintable(text: str) -> list[str]:
    """The characters of ``text`` no embedded font has a glyph for (in order, once each);
    spaces and line breaks are layout, not glyphs."""
    covered = printable_code_points()
    found: list[str] = []
    for char in text:
        if not char.isspace() and ord(char) not in covered and char not in found:
            found.append(char)
    return found


@lru_cache(maxsize=64)
def _cjk_truetype(chars: str, face: int) -> bytes:
    """Noto Sans CJK cut down to ``chars``, its PostScript (CFF) outlines turned into
    TrueType ones: reportlab embeds TrueType outlines only, and the whole collection (tens of
    thousands of glyphs) would take minutes to convert where a name's few glyphs take a
    moment."""
    from fontTools import subset
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import TTFont as ToolsFont, newTable

    path = cjk_font_path()
    if path is None:
        raise DocumentError(f"{_CJK_FILE} is not installed (Debian's fonts-noto-cjk)")
    options = subset.Options()
    options.layout_features = []
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.hinting = False
    options.desubroutinize = True
    font = ToolsFont(str(path), fontNumber=face)
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=chars)
    subsetter.subset(font)
    order = font.getGlyphOrder()
    outlines = font.getGlyphSet()
    glyphs = {}
    for glyph_name in order:
        pen = TTGlyphPen(outlines)
        # 1 font unit of error in a 1000-unit em: invisible at any printed size.
        outlines[glyph_name].draw(Cu2QuPen(pen, 1.0, reverse_direction=True))
        glyphs[glyph_name] = pen.glyph()
    font["loca"] = newTable("loca")
    glyf = font["glyf"] = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = glyphs
    for tag in ("CFF ", "VORG", "BASE", "GDEF", "GSUB", "GPOS", "vhea", "vmtx"):
        if tag in font:
            del font[tag]
    maxp = font["maxp"] = newTable("maxp")
    maxp.tableVersion = 0x00010000
    for field in (
        "maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs",
        "maxStackElements", "maxSizeOfInstructions", "maxComponentElements",
    ):  # fmt: skip
        setattr(maxp, field, 0)
    maxp.maxZones = 1
    post = font["post"]
    post.formatType = 2.0
    post.extraNames = []
    post.mapping = {}
    post.glyphOrder = order
    font.sfntVersion = "\x00\x01\x00\x00"
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


_font_counter = itertools.count(1)


@contextmanager
def _fallback_font(chars: str, face: int) -> Iterator[str | None]:
    """A font name for ``chars`` (Hangul, Han) that the text fonts lack, registered for one
    PDF and forgotten after it: reportlab's registry is process-wide, and a font per
    certificate kept for ever would grow without bound."""
    if not chars:
        yield None
        return
    name = f"AEO-cjk-{next(_font_counter)}"
    try:
        font = TTFont(name, io.BytesIO(_cjk_truetype(chars, face)))
    except DocumentError:
        raise
    except Exception as exc:  # reportlab and fontTools raise their own errors alike
        raise DocumentError(f"the CJK font cannot be prepared: {exc}") from exc
    pdfmetrics.registerFont(font)
    registerFontFamily(name, normal=name, bold=name, italic=name, boldItalic=name)
    try:
        yield name
    finally:
        # reportlab offers no unregister; these are the two maps registerFont and
        # registerFontFamily fill.
        pdfmetrics._fonts.pop(name, None)
        for key in [k for k in rl_fonts._tt2ps_map if k[0] == name.lower()]:
            rl_fonts._tt2ps_map.pop(key, None)
        for key in [k for k in rl_fonts._ps2tt_map if k == name.lower()]:
            rl_fonts._ps2tt_map.pop(key, None)


class _Ink:
    """The words and fonts of one PDF: each label in the issuer's language and English, and
    text marked so that characters the text fonts lack are drawn with the CJK font."""

    def __init__(self, f: Fonts, native: Words, english: Words, cjk: str | None) -> None:
        self.f = f
        self.native = native
        self.english = english
        self.cjk = cjk
        self.bilingual = native.locale != english.locale

    def _runs(self, text: str) -> list[tuple[bool, str]]:
        runs: list[tuple[bool, str]] = []
        for char in text:
            fallback = (
                self.cjk is not None and not char.isspace() and ord(char) not in self.f.covered
            )
            if runs and (runs[-1][0] == fallback or char.isspace()):
                runs[-1] = (runs[-1][0], runs[-1][1] + char)
            else:
                runs.append((fallback, char))
        return runs

    def mark(self, text: str) -> str:
        """``text`` escaped for a Paragraph, with CJK runs in the CJK font."""
        return "".join(
            f'<font name="{self.cjk}">{_escape(run)}</font>' if fallback else _escape(run)
            for fallback, run in self._runs(text)
        )

    def both(self, key: str, separator: str = " / ", **params: object) -> str:
        """A label as plain text: the issuer's words, then English's (once when the same)."""
        native = self.native(key, **params)
        english = self.english(key, **params)
        return native if not self.bilingual or native == english else native + separator + english

    def both_plural(self, key: str, count: int, separator: str = " / ") -> str:
        native = self.native.plural(key, count)
        english = self.english.plural(key, count)
        return native if not self.bilingual or native == english else native + separator + english

    def draw_centred(
        self, canvas: Canvas, text: str, font: str, size: float, x: float, y: float
    ) -> None:
        runs = [
            (self.cjk if fallback and self.cjk else font, run) for fallback, run in self._runs(text)
        ]
        width = sum(pdfmetrics.stringWidth(run, name, size) for name, run in runs)
        left = x - width / 2
        for name, run in runs:
            canvas.setFont(name, size)
            canvas.drawString(left, y, run)
            left += pdfmetrics.stringWidth(run, name, size)


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
    #: the issuer's language (``AEO_DOCUMENT_LANGUAGE``): the PDF states each label in it and
    #: in English, or in English alone when it is English
    language: str = SOURCE_LOCALE


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


def _long_date(value: date, w: Words | None = None) -> str:
    """The date as the language writes it, and ISO 8601 (which every reader can compare)."""
    return f"{_date_words(value, w or words(SOURCE_LOCALE))} ({value.isoformat()})"


def _date_words(value: date, w: Words) -> str:
    # English as certificates write it across customs (day month year), not CLDR's US order.
    if w.locale == SOURCE_LOCALE:
        return f"{value.day} {value.strftime('%B')} {value.year}"
    return str(format_date(value, "long", locale=w.babel_locale))


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


def document_text(document: CertificateDocument) -> str:
    """Every character the record contributes to the page (for the fallback font)."""
    record = document.record
    return " ".join(
        [document.administration_name, *_record_strings(record.model_dump(mode="json"))]
    )


def _record_strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _record_strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _record_strings(item)


def certificate_pdf(document: CertificateDocument) -> bytes:
    """The printable A4 certificate as PDF bytes (one page)."""
    f = fonts()
    native, english = words(document.language), words(SOURCE_LOCALE)
    dates = [document.record.valid_from, document.valid_until or document.record.valid_from]
    text = " ".join(
        [document_text(document), _catalogue_text(native.locale)]
        + [_long_date(day, native) for day in dates]
    )
    fallback = "".join(sorted({c for c in text if not c.isspace() and ord(c) not in f.covered}))
    fallback = "".join(c for c in fallback if ord(c) in _cjk_covered())
    face = _CJK_FACE_KR if native.locale == "ko" or _has_hangul(text) else _CJK_FACE_SC
    if fallback:
        # Spaces between CJK words are drawn in the CJK font too.
        fallback = " \u00a0" + fallback
    with _fallback_font(fallback, face) as cjk:
        return _render(document, _Ink(f, native, english, cjk))


def _has_hangul(text: str) -> bool:
    return any("\uac00" <= c <= "\ud7a3" or "\u1100" <= c <= "\u11ff" for c in text)


@lru_cache(maxsize=16)
def _catalogue_text(locale: str) -> str:
    """Every character the language's printed labels use."""
    w = words(locale)
    return " ".join(
        w(key, url="", code="", administration="") if not w.is_plural(key) else w.plural(key, 2)
        for key in w.keys("pdf.")
    )


def _render(document: CertificateDocument, ink: _Ink) -> bytes:
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
    y = _header(canvas, ink, page, document)
    y = _title(canvas, ink, page, record, y)
    y = _holder(canvas, ink, page, record, y)
    # The bottom of the page is fixed (footer, small print, signature); the details
    # between are fitted into what remains.
    details_floor, qr_floor = _bottom(canvas, ink, page, document, _qr_version(document.payload))
    details_top = y - 6 * mm
    # The QR code takes the largest size (50 mm down to 38 mm, still read at 150 dpi) with
    # which both it and the details table beside it (wider as the code shrinks) fit.
    for size in _QR_SIZES:
        page = replace(page, qr_size=size * mm)
        qr = _qr_parts(ink, page)
        rows = _fit_details(ink, page, document, details_top, details_floor)
        if rows.fits and details_top - qr.height >= qr_floor:
            break
    qr_bottom = _draw_qr_block(canvas, page, qr, document.payload, details_top)
    details_bottom = _draw_details(canvas, page, rows, details_top)
    overflow = max(details_floor - details_bottom, qr_floor - qr_bottom)
    if overflow > 0.5:
        # Still printed (the registry record has it all), but someone should see the page.
        logger.warning(
            "certificate %s (%s): the details run %.1f mm into the signature block",
            record.number,
            ink.native.locale,
            overflow / mm,
        )

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


def _header(canvas: Canvas, ink: _Ink, page: _Page, document: CertificateDocument) -> float:
    """The band with the seal and the administration's name; returns the y below it."""
    f = ink.f
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
        canvas, ink.mark(document.administration_name), name_style, x, band_top - 7 * mm, width
    )
    _paragraph(
        canvas,
        ink.mark(ink.both("pdf.band", "<br/>", code=issuer)).replace("&lt;br/&gt;", "<br/>"),
        caption,
        x,
        y - 1.5 * mm,
        width,
    )
    return band_top - band_height


def _title(canvas: Canvas, ink: _Ink, page: _Page, record: CertificateRecord, y: float) -> float:
    """Title, program and the certificate number box; returns the y below them."""
    f = ink.f
    y -= 11 * mm
    canvas.setFillColor(NAVY)
    ink.draw_centred(canvas, ink.native("pdf.title"), f.serif_bold, 22, PAGE_WIDTH / 2, y)
    y -= 7 * mm
    if ink.bilingual:
        # The English title under the issuer's, smaller: one certificate, two readers.
        ink.draw_centred(canvas, ink.english("pdf.title"), f.serif_bold, 13, PAGE_WIDTH / 2, y)
        y -= 6 * mm
    ink.draw_centred(canvas, ink.both("pdf.subtitle"), f.serif, 14, PAGE_WIDTH / 2, y)
    y -= 6 * mm
    program = ParagraphStyle(
        "program", fontName=f.body, fontSize=10.5, leading=13, textColor=GOLD, alignment=TA_CENTER
    )
    titles = [program_title(record.tiers, ink.native)]
    if ink.bilingual:
        titles.append(program_title(record.tiers, ink.english))
    y = _paragraph(
        canvas,
        "<br/>".join(ink.mark(t) for t in titles),
        program,
        page.inner_left,
        y,
        page.inner_width,
    )
    y -= 4 * mm
    box_width, box_height = 110 * mm, 10 * mm
    canvas.setStrokeColor(NAVY)
    canvas.setLineWidth(0.8)
    canvas.rect(PAGE_WIDTH / 2 - box_width / 2, y - box_height, box_width, box_height)
    canvas.setFillColor(INK)
    ink.draw_centred(canvas, ink.both("pdf.number"), f.body, 8, PAGE_WIDTH / 2, y - 3.6 * mm)
    canvas.setFont(f.bold, 12)
    canvas.drawCentredString(PAGE_WIDTH / 2, y - 8.2 * mm, record.number)
    return y - box_height


def _holder(canvas: Canvas, ink: _Ink, page: _Page, record: CertificateRecord, y: float) -> float:
    """Who is certified, in full (a legal name is never shortened on the paper)."""
    f = ink.f
    centred = ParagraphStyle(
        "centred", fontName=f.serif, fontSize=10.5, leading=14, textColor=INK, alignment=TA_CENTER
    )
    name_style = ParagraphStyle(
        "holder", fontName=f.serif_bold, fontSize=17, leading=20, textColor=INK, alignment=TA_CENTER
    )
    holder = record.holder
    x, width = page.inner_left, page.inner_width
    y = _paragraph(canvas, ink.mark(ink.both("pdf.certify")), centred, x, y - 6 * mm, width)
    y = _paragraph(canvas, ink.mark(holder.legal_name), name_style, x, y - 2 * mm, width)
    y = _paragraph(canvas, ink.mark(address_line(holder.address)), centred, x, y - 1 * mm, width)
    ident = holder.identification
    y = _paragraph(
        canvas,
        f"{ink.mark(ink.both('pdf.trader_id'))}: "
        f"<b>{ink.mark(ident.scheme)} {ink.mark(ident.number)}</b>",
        centred,
        x,
        y,
        width,
    )
    granted = [ink.mark(ink.native("pdf.granted"))]
    if ink.bilingual:
        granted.append(ink.mark(ink.english("pdf.granted")))
    small = ParagraphStyle(
        "granted", parent=centred, fontSize=8.5 if ink.bilingual else 10.5,
        leading=10.5 if ink.bilingual else 14,
    )  # fmt: skip
    return _paragraph(canvas, "<br/>".join(granted), small, x + 8 * mm, y - 3 * mm, width - 16 * mm)


def _detail_rows(
    ink: _Ink,
    record: CertificateRecord,
    valid_until: date | None,
    sites_shown: int,
    criteria_listed: bool,
) -> list[tuple[str, str]]:
    """(caption, value markup) rows; values in the issuer's words (and English's where they
    are words, not names or numbers)."""
    native, english = ink.native, ink.english

    def dated(value: date) -> str:
        text = _long_date(value, native)
        if ink.bilingual:
            text += " / " + _date_words(value, english)
        return ink.mark(text)

    validity_end = (
        dated(valid_until) if valid_until is not None else ink.mark(ink.both("pdf.open_ended"))
    )
    tiers = [
        ink.mark(ink.both(f"pdf.tier.{name}"))
        for bit, name in enumerate(TIER_NAMES)
        if record.tiers & (1 << bit)
    ] + [f"Reserved tier bit {bit}" for bit in range(5, 8) if record.tiers & (1 << bit)]
    roles = [
        ink.mark(ink.both(f"pdf.role.{code}") + f" ({code})")
        if code in BUSINESS_ROLE_CODES
        else ink.mark(code)
        for code in record.business_roles
    ]
    listed = ink.both("pdf.listed_in_record")
    rows: list[tuple[str, str]] = [
        (ink.both("pdf.tiers"), "<br/>".join(tiers)),
        (ink.both("pdf.roles"), ", ".join(roles)),
    ]
    if record.sites:
        lines = [ink.mark(site_line(site)) for site in record.sites[:sites_shown]]
        hidden = len(record.sites) - len(lines)
        if hidden:
            lines.append(ink.mark(f"{ink.both_plural('pdf.more_sites', hidden)}, {listed}"))
        rows.append((ink.both("pdf.sites"), "<br/>".join(lines)))
    if record.validated_criteria:
        criteria = record.validated_criteria
        rows.append(
            (
                ink.both("pdf.criteria"),
                ink.mark(", ".join(criteria))
                if criteria_listed
                else ink.mark(f"{ink.both_plural('pdf.criteria_count', len(criteria))}, {listed}"),
            )
        )
    rows += [
        (ink.both("pdf.valid_from"), dated(record.valid_from)),
        (ink.both("pdf.valid_until"), validity_end),
        (ink.both("pdf.office"), ink.mark(record.issuing_office)),
        (ink.both("pdf.officer"), ink.mark(record.officer)),
    ]
    return rows


_QR_SIZES: Final = (50, 46, 42, 38)


@dataclass(frozen=True, slots=True)
class _Rows:
    rows: list[tuple[Paragraph, Paragraph]]
    label_width: float
    width: float
    fits: bool
    #: the space under each row: tighter with smaller type
    gap: float


def _fit_details(
    ink: _Ink, page: _Page, document: CertificateDocument, top: float, floor: float
) -> _Rows:
    """The label/value table left of the QR code, fitted between ``top`` and ``floor``:
    long records list fewer sites, then count the criteria, then use smaller type."""
    f = ink.f
    record = document.record
    width = page.inner_width - page.qr_size - 10 * mm
    label_width = 37 * mm
    attempts = [
        (sites, listed, size)
        for size in (9.5, 8.5, 7.5, 6.5, 6.0)
        for listed in (True, False)
        for sites in range(min(MAX_SITES_PRINTED, len(record.sites)), -1, -1)
    ]
    chosen: list[tuple[Paragraph, Paragraph]] = []
    fits = False
    gap = 2 * mm
    for sites, listed, size in attempts:
        gap = size * 0.2 * mm
        value = ParagraphStyle(
            "value", fontName=f.body, fontSize=size, leading=size * 1.3, textColor=INK
        )
        label_size = min(7.5, size - 1)
        label = ParagraphStyle(
            "label", fontName=f.bold, fontSize=label_size, leading=label_size * 1.4,
            textColor=MUTED,
        )  # fmt: skip
        chosen = [
            (Paragraph(ink.mark(caption.upper()), label), Paragraph(text, value))
            for caption, text in _detail_rows(ink, record, document.valid_until, sites, listed)
        ]
        height = sum(
            max(
                cap.wrap(label_width, PAGE_HEIGHT)[1], val.wrap(width - label_width, PAGE_HEIGHT)[1]
            )
            + gap
            for cap, val in chosen
        )
        if top - height >= floor:
            fits = True
            break
    return _Rows(chosen, label_width, width, fits, gap)


def _draw_details(canvas: Canvas, page: _Page, rows: _Rows, top: float) -> float:
    """Draw the fitted table; returns the y below it."""
    y = top
    canvas.setStrokeColor(WASH)
    canvas.setLineWidth(0.6)
    for cap, val in rows.rows:
        cap_height = cap.wrap(rows.label_width, PAGE_HEIGHT)[1]
        val_height = val.wrap(rows.width - rows.label_width, PAGE_HEIGHT)[1]
        cap.drawOn(canvas, page.inner_left, y - cap_height)
        val.drawOn(canvas, page.inner_left + rows.label_width, y - val_height)
        y -= max(cap_height, val_height) + rows.gap
        canvas.line(
            page.inner_left, y + rows.gap / 2, page.inner_left + rows.width, y + rows.gap / 2
        )
    return float(y + rows.gap / 2)


@dataclass(frozen=True, slots=True)
class _QrParts:
    size: float
    heading: Paragraph
    heading_height: float
    note: Paragraph
    note_height: float

    @property
    def height(self) -> float:
        """From the top of the heading to the bottom of the note (as drawn)."""
        return 3 * mm + self.heading_height + self.size + 3 * mm + self.note_height


def _qr_parts(ink: _Ink, page: _Page) -> _QrParts:
    """The QR code's heading and note, set for the code's size (smaller type for a smaller
    code)."""
    f = ink.f
    size = page.qr_size
    note_size = {50: 7.0, 46: 6.5}.get(round(size / mm), 6.0)
    scan = ParagraphStyle(
        "scan", fontName=f.bold, fontSize=8, leading=9.5, textColor=NAVY, alignment=TA_CENTER
    )
    heading = Paragraph(
        ink.mark(ink.both("pdf.scan", "<br/>")).replace("&lt;br/&gt;", "<br/>"), scan
    )
    _w, heading_height = heading.wrap(size + 4 * mm, PAGE_HEIGHT)
    notes = [ink.mark(ink.native("pdf.scan_note"))]
    if ink.bilingual:
        notes.append(ink.mark(ink.english("pdf.scan_note")))
    style = ParagraphStyle(
        "qr-note", fontName=f.body, fontSize=note_size, leading=note_size * 1.28,
        textColor=MUTED, alignment=TA_CENTER,
    )  # fmt: skip
    note = Paragraph("<br/>".join(notes), style)
    _w, note_height = note.wrap(size + 4 * mm, PAGE_HEIGHT)
    return _QrParts(size, heading, float(heading_height), note, float(note_height))


def _draw_qr_block(canvas: Canvas, page: _Page, parts: _QrParts, text: str, top: float) -> float:
    """The QR code with its heading and note; returns the y below the block."""
    size = page.qr_size
    x = page.inner_right - size
    parts.heading.drawOn(canvas, x - 2 * mm, top - 1 * mm - parts.heading_height)
    y = top - 3 * mm - parts.heading_height - size
    canvas.setStrokeColor(NAVY)
    canvas.setLineWidth(0.8)
    canvas.rect(x - 1.5 * mm, y - 1.5 * mm, size + 3 * mm, size + 3 * mm)
    _draw_qr(canvas, text, x, y, size)
    parts.note.drawOn(canvas, x - 2 * mm, y - 3 * mm - parts.note_height)
    return float(y - 3 * mm - parts.note_height)


def _bottom(
    canvas: Canvas, ink: _Ink, page: _Page, document: CertificateDocument, qr_version: int
) -> tuple[float, float]:
    """Footer, the small print that binds the paper to the chain, and the signature line;
    returns the y above which the details must end, and the one above which the QR block
    (right of the signature, which takes the left of the page) must end."""
    f = ink.f
    record = document.record
    footer = ParagraphStyle(
        "footer", fontName=f.body, fontSize=7.5, leading=10, textColor=INK, alignment=TA_CENTER
    )
    url = document.verification_url
    texts = [ink.native("pdf.footer", url=url)]
    if ink.bilingual:
        texts.append(ink.english("pdf.footer", url=url))
    # The URL in bold, whichever language's sentence it stands in.
    marked = "<br/>".join(
        ink.mark(text).replace(_escape(url), f"<b>{_escape(url)}</b>") for text in texts
    )
    footer_paragraph = Paragraph(marked, footer)
    _w, footer_height = footer_paragraph.wrap(page.inner_width, PAGE_HEIGHT)
    footer_top = page.bottom + max(17 * mm, footer_height + 6 * mm)
    canvas.setStrokeColor(GOLD)
    canvas.setLineWidth(0.6)
    canvas.line(page.inner_left, footer_top, page.inner_right, footer_top)
    footer_paragraph.drawOn(canvas, page.inner_left, footer_top - 2 * mm - footer_height)

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
    administration = document.administration_name
    signature = Paragraph(
        f"{ink.mark(record.officer)}, {ink.mark(record.issuing_office)}<br/>"
        + ink.mark(ink.both("pdf.signed_for", administration=administration)),
        sign_style,
    )
    sign_width = page.inner_width * 0.6
    _w, sign_height = signature.wrap(sign_width, PAGE_HEIGHT)
    sign_y = fine_top + 3 * mm + sign_height
    signature.drawOn(canvas, page.inner_left, sign_y - 1.5 * mm - sign_height)
    canvas.setStrokeColor(INK)
    canvas.setLineWidth(0.5)
    canvas.line(page.inner_left, sign_y, page.inner_left + 75 * mm, sign_y)
    return float(sign_y + 10 * mm), float(fine_top + 1 * mm)
