"""The QR code and the PDF certificate as rendered from a signed payload (no chain, no HTTP).

The PDF is rasterized with poppler's pdftoppm (Debian poppler-utils, in the Makefile's
DEBIAN_PACKAGES) and read back with zxing-cpp, as a phone would read the printed page.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from contracts.domain import claims as claims_model
from contracts.domain.record import CertificateRecord
from registry_api.rendering.pdf import (
    MAX_SITES_PRINTED,
    CertificateDocument,
    business_role_words,
    certificate_pdf,
    make_qr,
    program_title,
    qr_png,
    qr_svg,
    tier_words,
)
from verifier import keys, payload as aeo1

from .registry_support import record

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"


def rasterize(pdf: bytes, tmp_path: Path, dpi: int = 150) -> list[Path]:
    """Every page of ``pdf`` as a PNG, by pdftoppm."""
    assert shutil.which("pdftoppm"), "pdftoppm is missing: run make system-deps"
    source = tmp_path / "document.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-png", str(source), str(tmp_path / "page")],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return sorted(tmp_path.glob("page*.png"))


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    source = tmp_path / "text.pdf"
    source.write_bytes(pdf)
    done = subprocess.run(
        ["pdftotext", "-layout", str(source), "-"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return " ".join(done.stdout.decode("utf-8").split())


def load(path: Path | bytes) -> Image.Image:
    """An image read fully into memory (its file closed)."""
    with Image.open(io.BytesIO(path) if isinstance(path, bytes) else path) as image:
        image.load()
        return image.copy()


def qr_texts(image: Image.Image) -> list[str]:
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    return [barcode.text for barcode in found if barcode.valid]


def signed_document(
    certificate: CertificateRecord, key: keys.PrivateKey | None = None
) -> CertificateDocument:
    key = key or keys.generate_private_key()
    hashes = certificate.hashes()
    claims = claims_model.Claims.from_record(
        issuer=certificate.issuer,
        number=certificate.number,
        holder_name=certificate.holder.legal_name,
        holder_id_scheme=certificate.holder.identification.scheme,
        holder_id=certificate.holder.identification.number,
        tiers=certificate.tiers,
        valid_from=certificate.valid_from,
        valid_until=certificate.valid_until or date(2149, 6, 6),
        issued_at=datetime(2025, 3, 1, 9, 30, tzinfo=UTC),
        version=1,
        commitment=hashes.commitment,
    )
    return CertificateDocument(
        record=certificate,
        valid_until=certificate.valid_until,
        administration_name="Mongolia Customs General Administration",
        certificate_id=hashes.certificate_id,
        commitment=hashes.commitment,
        version=1,
        payload=aeo1.encode(claims, key),
        kid=keys.key_id_of(key),
        algorithm="ES256",
        generated_at=datetime(2025, 3, 1, 9, 30, tzinfo=UTC),
    )


def test_qr_png_decodes_to_the_exact_payload_at_version_10_or_lower() -> None:
    document = signed_document(record("MN-AEO-2025-0001"))
    image = qr_png(document.payload)
    assert image.media_type == "image/png"
    assert image.error_correction == "M"
    assert image.version <= 10
    assert qr_texts(load(image.content)) == [document.payload]


def test_qr_is_made_in_alphanumeric_mode_at_error_correction_m_exactly() -> None:
    document = signed_document(record("MN-AEO-2025-0001"))
    code = make_qr(document.payload)
    assert code.mode == "alphanumeric"
    assert code.error == "M"  # never boosted to Q or H, which would grow the symbol
    assert code.designator == f"{code.version}-M"


def test_qr_svg_is_one_scalable_path_with_a_title() -> None:
    document = signed_document(record("MN-AEO-2025-0001"))
    image = qr_svg(document.payload, title="AEO certificate MN-AEO-2025-0001")
    text = image.content.decode("utf-8")
    assert image.media_type == "image/svg+xml"
    assert text.startswith("<?xml")
    assert "<title>AEO certificate MN-AEO-2025-0001</title>" in text
    assert text.count("<path") == 1
    assert image.version == make_qr(document.payload).version


def test_tiers_and_roles_are_stated_in_words() -> None:
    assert tier_words(3) == ["Customs simplifications (AEOC)", "Security and safety (AEOS)"]
    assert tier_words(2 | 8) == ["Security and safety (AEOS)", "Grade AA"]
    assert program_title(3).endswith("(AEOF)")
    assert program_title(16) == "Grade AAA"
    assert business_role_words(["EX", "IM", "ZZ"]) == ["Exporter (EX)", "Importer (IM)", "ZZ"]


def test_pdf_states_issuer_holder_tiers_roles_validity_and_the_chain_binding(
    tmp_path: Path,
) -> None:
    certificate = record(
        "MN-AEO-2025-0001",
        sites=[
            {
                "name": "Zamyn-Üüd bonded warehouse",
                "address": {"street": "Railway Street 3", "city": "Zamyn-Üüd", "country": "MN"},
            }
        ],
    )
    document = signed_document(certificate)
    pdf = certificate_pdf(document)
    assert pdf.startswith(b"%PDF-")
    text = pdf_text(pdf, tmp_path)
    for expected in (
        "Mongolia Customs General Administration",
        "Authorized Economic Operator",
        "Certificate",
        "MN-AEO-2025-0001",
        "Tavan Bogd Trade LLC",
        "Peace Avenue 17, 14200 Ulaanbaatar, MN",
        "TIN 5012345",
        "Customs simplifications (AEOC)",
        "Security and safety (AEOS)",
        "Exporter (EX), Importer (IM)",
        "Zamyn-Üüd bonded warehouse",
        "15 January 2025 (2025-01-15)",
        "14 January 2030 (2030-01-14)",
        "Ulaanbaatar Customs House",
        "B. Bat-Erdene",
        "SCAN TO VERIFY",
        "0x" + document.certificate_id.hex(),
        "0x" + document.commitment.hex(),
        document.kid.hex(),
        "https://verify.aeo-registry.example/",
    ):
        assert expected in text, expected


def test_qr_printed_in_the_pdf_decodes_to_the_exact_payload(tmp_path: Path) -> None:
    document = signed_document(record("MN-AEO-2025-0001"))
    pages = rasterize(certificate_pdf(document), tmp_path)
    assert len(pages) == 1
    page = load(pages[0])
    # A4 (210 x 297 mm) at 150 dpi: the whole page, not a cropped QR code.
    assert abs(page.width - 1240) <= 1
    assert abs(page.height - 1754) <= 1
    assert qr_texts(page) == [document.payload]


def test_a_crowded_record_still_fits_one_page_with_a_readable_qr(tmp_path: Path) -> None:
    site = {
        "name": "Bonded warehouse of the eastern logistics park",
        "address": {
            "street": "Industrial Zone Road 7, Building 12, Block C",
            "city": "Zamyn-Üüd",
            "region": "Dornogovi aimag",
            "country": "MN",
        },
    }
    certificate = record(
        "MN-AEO-2025-000000000001",
        holder={
            "legal_name": "Монгол Улсын Тээвэр Логистикийн Нэгдсэн Корпорац Хязгаарлагдмал "
            "хариуцлагатай компани (Mongolian National Transport and Logistics Corporation)",
            "address": {
                "street": "Chinggis Khaan Avenue 15, Sukhbaatar district, Blue Sky Tower 21",
                "city": "Ulaanbaatar",
                "country": "MN",
            },
            "identification": {"scheme": "TIN", "number": "5012345"},
        },
        business_roles=["IM", "EX", "WK", "CA", "FF", "CB", "MF", "TO"],
        sites=[{**site, "name": f"{site['name']} {i}"} for i in range(6)],
        validated_criteria=[f"C{i}.{j}" for i in range(1, 8) for j in range(1, 4)],
        valid_until=None,
    )
    document = signed_document(certificate)
    pdf = certificate_pdf(document)
    text = pdf_text(pdf, tmp_path)
    # The full legal name is printed (Cyrillic included); what does not fit is summed up.
    assert "Монгол Улсын Тээвэр" in text
    assert "Open-ended, subject to monitoring" in text
    assert "listed in the registry record" in text
    pages = rasterize(pdf, tmp_path)
    assert len(pages) == 1
    assert qr_texts(load(pages[0])) == [document.payload]
    assert len(certificate.sites) > MAX_SITES_PRINTED


@pytest.mark.parametrize("scale", [0.5, 0.35])
def test_printed_qr_survives_a_low_resolution_scan(tmp_path: Path, scale: float) -> None:
    """A 150 dpi page scaled to 75 and ~50 dpi: what a poor phone photo resolves."""
    document = signed_document(record("MN-AEO-2025-0002"))
    page = load(rasterize(certificate_pdf(document), tmp_path)[0]).convert("L")
    small = page.resize(
        (int(page.width * scale), int(page.height * scale)), Image.Resampling.LANCZOS
    )
    assert qr_texts(small) == [document.payload]


def test_sample_certificate_image_in_the_docs_is_current(tmp_path: Path) -> None:
    """docs/img/certificate-sample.png is this renderer's output (regenerate it when the
    layout changes: UPDATE_DOC_IMAGES=1). Compared by size and QR content, not pixels:
    the key, and so the QR code, differ on each run."""
    document = signed_document(record("MN-AEO-2025-0001"))
    page = rasterize(certificate_pdf(document), tmp_path, dpi=100)[0]
    sample = DOCS_IMG / "certificate-sample.png"
    if os.environ.get("UPDATE_DOC_IMAGES") == "1":
        shutil.copyfile(page, sample)
    assert sample.is_file(), "UPDATE_DOC_IMAGES=1 creates docs/img/certificate-sample.png"
    stored = load(sample)
    assert stored.size == load(page).size
    [text] = qr_texts(stored)
    assert aeo1.decode(text).claims.number == "MN-AEO-2025-0001"
