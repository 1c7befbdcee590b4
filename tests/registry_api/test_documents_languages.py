"""The PDF certificate in the issuer's language beside English, with holder names in Hangul,
Han and Cyrillic drawn from embedded fonts (Noto, Noto Sans CJK), rasterized by pdftoppm and
read back; and a name no embedded font covers refused at issuance."""

from __future__ import annotations

import re
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from contracts.domain.record import CertificateRecord
from registry_api.errors import InvalidError
from registry_api.rendering.pdf import certificate_pdf, cjk_font_path, unprintable
from registry_api.services.documents import check_printable
from verifier.i18n import LOCALES, PSEUDO_LOCALE, words

from .registry_support import record
from .test_documents_rendering import load, pdf_text, qr_texts, rasterize, signed_document

NAMES = {
    "ko": "한빛물류 주식회사",
    "zh_Hans": "中外运华东物流有限公司",
    "mn": "Өлзий Түмэн Үйлдвэр ХХК",
    "kk": "Әлем Қазақ Ғарыш Ңұр Өнім Ұлттық Үй Һ І ЖШС",
}
ADMINISTRATION = {
    "ko": "관세청",
    "zh_Hans": "中华人民共和国海关总署",
    "mn": "Гаалийн ерөнхий газар",
    "kk": "Мемлекеттік кірістер комитеті",
}


def _document(language: str, name: str) -> tuple[CertificateRecord, bytes]:
    holder = record("MN-AEO-2025-0001").holder
    certificate = record(
        "MN-AEO-2025-0001", holder=replace_holder(holder.model_dump(mode="json"), name)
    )
    document = replace(
        signed_document(certificate),
        language=language,
        administration_name=ADMINISTRATION.get(language, "Customs"),
    )
    return certificate, certificate_pdf(document)


def replace_holder(holder: dict[str, object], name: str) -> dict[str, object]:
    return {**holder, "legal_name": name}


def _word_boxes(pdf: bytes, tmp_path: Path) -> list[tuple[float, float, float, float, str]]:
    """Every word pdftotext finds, with its box in PDF points (top-left origin)."""
    source = tmp_path / "boxes.pdf"
    source.write_bytes(pdf)
    html = subprocess.run(
        ["pdftotext", "-bbox", str(source), "-"], check=True, capture_output=True, timeout=60
    ).stdout.decode("utf-8")
    pattern = re.compile(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>'
    )
    return [(float(a), float(b), float(c), float(d), w) for a, b, c, d, w in pattern.findall(html)]


def _ink_share(image: Image.Image, box: tuple[float, float, float, float], dpi: int) -> float:
    scale = dpi / 72
    left, top, right, bottom = (round(v * scale) for v in box)
    region = image.convert("L").crop((left, top, right, bottom))
    dark = sum(region.histogram()[:128])
    return dark / max(1, region.width * region.height)


def test_noto_cjk_is_installed_for_the_pdf() -> None:
    assert cjk_font_path() is not None, "fonts-noto-cjk is missing: run make system-deps"


@pytest.mark.parametrize("language", sorted(NAMES))
def test_a_holder_name_in_its_script_is_printed_with_real_glyphs(
    language: str, tmp_path: Path
) -> None:
    name = NAMES[language]
    _certificate, pdf = _document(language, name)
    # The text is extractable: each glyph maps back to its character (not a .notdef box).
    assert name in pdf_text(pdf, tmp_path)
    fonts = subprocess.run(
        ["pdffonts", "-"], input=pdf, check=True, capture_output=True, timeout=60
    ).stdout.decode()
    # Every font is embedded; Helvetica is only reportlab's initial font, never drawn with.
    drawn = [line for line in fonts.splitlines()[2:] if not line.startswith("Helvetica ")]
    assert all(line.split()[-5] == "yes" for line in drawn), fonts

    dpi = 100
    [page] = rasterize(pdf, tmp_path, dpi=dpi)
    image = load(page)
    words = {word for *_box, word in _word_boxes(pdf, tmp_path)}
    name_words = name.split()
    assert set(name_words) <= words
    for x0, y0, x1, y1, word in _word_boxes(pdf, tmp_path):
        if word in name_words:
            # The name is drawn in 17-point bold: a real glyph inks a good share of its box,
            # where a missing one would leave it blank or draw the same hollow box for all.
            assert _ink_share(image, (x0, y0, x1, y1), dpi) > 0.08, word
    # And the QR code on the same page still reads.
    assert len(qr_texts(image)) == 1


@pytest.mark.parametrize(
    ("language", "native", "english"),
    [
        ("ru", "Уполномоченный экономический оператор", "Authorized Economic Operator"),
        ("ko", "수출입 안전관리 우수업체(AEO)", "Authorized Economic Operator"),
        ("kk", "Уәкілетті экономикалық оператор", "Authorized Economic Operator"),
        ("mn", "Эрх бүхий эдийн засгийн оператор", "Authorized Economic Operator"),
        ("zh_Hans", "经认证的经营者（AEO）", "Authorized Economic Operator"),
    ],
)
def test_the_pdf_is_bilingual_in_the_issuers_language_and_english(
    language: str, native: str, english: str, tmp_path: Path
) -> None:
    _certificate, pdf = _document(language, "Tavan Bogd Trade LLC")
    text = pdf_text(pdf, tmp_path)
    assert native.replace(" ", "") in text.replace(" ", "")
    assert english in text
    assert "This is to certify that" in text


def test_an_english_pdf_has_no_second_language(tmp_path: Path) -> None:
    _certificate, pdf = _document("en", "Tavan Bogd Trade LLC")
    text = pdf_text(pdf, tmp_path)
    assert "VALID UNTIL" in text
    assert " / " not in text.replace("Valid from / ", "")


def test_every_label_of_every_language_and_the_pseudo_locale_is_printable() -> None:
    for language in [*LOCALES, PSEUDO_LOCALE]:
        w = words(language)
        texts = [w.plural(k, 2) if w.is_plural(k) else w(k) for k in w.keys("pdf.")]
        assert unprintable(" ".join(texts)) == [], language


def test_a_name_in_a_script_no_embedded_font_covers_is_found() -> None:
    # Traditional Mongolian script (U+1820..) is in neither Noto Sans nor Noto Sans CJK.
    assert unprintable("ᠮᠣᠩᠭᠣᠯ Trade") == ["ᠮ", "ᠣ", "ᠩ", "ᠭ", "ᠯ"]
    assert unprintable("한빛 中外 Әлем Ұлт Trade") == []


def test_check_printable_names_each_field_it_refuses() -> None:
    certificate = record("MN-AEO-2025-0001")
    broken = certificate.model_copy(
        update={
            "officer": "ᠪᠠᠲᠤ",
            "holder": certificate.holder.model_copy(update={"legal_name": "ሰላም Trade"}),
        }
    )
    with pytest.raises(InvalidError) as caught:
        check_printable(broken)
    fields = [error.field for error in caught.value.errors]
    assert fields == ["body.holder.legal_name", "body.officer"]
    assert "'ሰ' (U+1230)" in caught.value.errors[0].message


def _long_record(name: str) -> CertificateRecord:
    site = {
        "name": "Zamyn-Üüd bonded warehouse and container yard",
        "address": {
            "street": "Railway station district, block 4",
            "city": "Zamyn-Üüd",
            "postal_code": "44000",
            "country": "MN",
        },
    }
    return record(
        "MN-AEO-2025-0002",
        holder=replace_holder(record("MN-AEO-2025-0002").holder.model_dump(mode="json"), name),
        sites=[site, site, site, site],
        business_roles=["IM", "EX", "CB", "CA", "FF", "WK"],
        validated_criteria=[f"C{i}.{j}" for i in range(1, 8) for j in range(1, 4)],
        issuing_office="Ulaanbaatar Customs House, Authorized Economic Operator Division",
    )


@pytest.mark.parametrize("language", ["en", "mn", "ru", "kk", "ko", "zh_Hans", "en_XA"])
def test_a_long_record_fits_the_page_in_every_language_and_the_pseudo_locale(
    language: str, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    # en_XA: every label accented and 40 % longer (verifier.i18n.pseudo), beside English.
    certificate = _long_record(NAMES.get(language, "Tavan Bogd Trade LLC"))
    document = replace(signed_document(certificate), language=language)
    with caplog.at_level("WARNING", logger="registry_api.documents"):
        pdf = certificate_pdf(document)
    assert [r.getMessage() for r in caplog.records] == []  # no block ran into another
    text = pdf_text(pdf, tmp_path)
    assert certificate.holder.legal_name in text
    if language == "en_XA":
        assert "[ÅûţĥöŕîžéđÉçöñöɱîçÖþéŕåţöŕ" in text.replace(" ", "")
    [page] = rasterize(pdf, tmp_path, dpi=150)
    assert len(qr_texts(load(page))) == 1  # the QR, however small the fit made it, reads


def test_the_overflow_check_reports_a_page_that_does_not_fit(
    caplog: pytest.LogCaptureFixture,
) -> None:
    certificate = _long_record("Tavan Bogd Trade LLC").model_copy(
        update={"officer": "B. Bat-Erdene " * 60}
    )
    document = replace(signed_document(certificate), language="en_XA")
    with caplog.at_level("WARNING", logger="registry_api.documents"):
        certificate_pdf(document)
    assert any("run" in r.getMessage() for r in caplog.records)


def test_the_per_pdf_cjk_font_is_forgotten_once_the_pdf_is_made() -> None:
    from reportlab.pdfbase import pdfmetrics

    _document("ko", NAMES["ko"])
    _document("zh_Hans", NAMES["zh_Hans"])
    # reportlab's registry is process-wide: a font per certificate kept would grow for ever.
    assert [n for n in pdfmetrics.getRegisteredFontNames() if n.startswith("AEO-cjk")] == []
