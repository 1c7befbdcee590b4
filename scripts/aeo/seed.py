"""The demo's example data, put in through the registry APIs as their users would.

An MRA between Mongolia and Korea (MN's certificates with tier S recognized by KR, KR's
grades AA and AAA recognized by MN), proposed by MN's MRA officer and signed by KR's; then a
handful of certificates per administration, issued by its issuing officer, with their QR
codes (PNG) and printable PDFs fetched into ``data/demo/out/``; then one certificate
suspended (MN) and one revoked (KZ); one (KR) was issued with dates already past, so it
reads as expired.

The companies, people and numbers are invented; the shapes are real: Mongolian 7-digit
company register numbers (TIN), Kazakh 12-digit business identification numbers (BIN),
Korean 10-digit business registration numbers (BRN), and the AEO criteria the WCO SAFE
Framework names.

Every write carries an ``Idempotency-Key`` derived from what it does, so an interrupted demo
run, started again, sends the same keys and gets the same operations back instead of issuing
anything twice.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from rich.progress import Progress
from rich.table import Table
from rich.text import Text

from aeo.api_client import ApiError, RegistryClient
from aeo.errors import ServiceError
from aeo.workspace import Workspace
from contracts.domain import days
from contracts.domain.enums import ReasonCode, Tier

CRITERIA = ["COMPLIANCE", "RECORD_KEEPING", "SOLVENCY", "COMPETENCE", "SECURITY"]

MRA_TEXT = (
    "Arrangement between the Customs General Administration of Mongolia and the Korea Customs "
    "Service on the mutual recognition of their Authorized Economic Operator programmes. "
    "Each party recognizes the AEO status granted by the other under the tiers listed in the "
    "registry, grants recognized operators the benefits of its own programme, and informs the "
    "other party without delay of every suspension or revocation."
)
# MN's certificates with tier S are recognized by KR; KR's grades AA and AAA by MN.
MRA_PARTIES = [
    {"authority": "MN", "recognized_tiers": int(Tier.SECURITY_SAFETY)},
    {"authority": "KR", "recognized_tiers": int(Tier.GRADE_AA | Tier.GRADE_AAA)},
]


@dataclass(frozen=True)
class Example:
    """One example certificate and what happens to it after issuance."""

    issuer: str
    number: str
    legal_name: str
    street: str
    city: str
    postal_code: str | None
    region: str | None
    scheme: str
    identification: str
    roles: tuple[str, ...]
    tiers: int
    office: str
    officer: str
    from_days: int  # valid_from, days relative to today
    until_days: int  # valid_until, days relative to today
    site: tuple[str, str] | None = None  # (name, street) in the same city
    then: str | None = None  # "suspend" or "revoke" after issuance
    reason: int | None = None
    note: str = ""
    criteria: tuple[str, ...] = field(default=tuple(CRITERIA))
    #: identifiers the holder is known under by partners: (scheme, value)
    aliases: tuple[tuple[str, str], ...] = ()
    #: the holder consented to publication this many days from today (None: no consent)
    consent_days: int | None = None

    @property
    def country(self) -> str:
        return self.issuer

    def record(self, today: date) -> dict[str, Any]:
        address: dict[str, Any] = {"street": self.street, "city": self.city}
        if self.postal_code:
            address["postal_code"] = self.postal_code
        if self.region:
            address["region"] = self.region
        address["country"] = self.country
        body: dict[str, Any] = {
            "number": self.number,
            "holder": {
                "legal_name": self.legal_name,
                "address": address,
                "identification": {"scheme": self.scheme, "number": self.identification},
            },
            "business_roles": list(self.roles),
            "tiers": self.tiers,
            "validated_criteria": list(self.criteria),
            "issuing_office": self.office,
            "officer": self.officer,
            "valid_from": (today + timedelta(days=self.from_days)).isoformat(),
            "valid_until": (today + timedelta(days=self.until_days)).isoformat(),
        }
        if self.aliases:
            body["aliases"] = [{"scheme": scheme, "value": value} for scheme, value in self.aliases]
        if self.consent_days is not None:
            consent = today + timedelta(days=self.consent_days)
            body["public_consent"] = {"date": consent.isoformat()}
        if self.site is not None:
            name, street = self.site
            body["sites"] = [
                {
                    "name": name,
                    "address": {"street": street, "city": self.city, "country": self.country},
                }
            ]
        return body


S = int(Tier.SECURITY_SAFETY)
C_S = int(Tier.CUSTOMS_SIMPLIFICATIONS | Tier.SECURITY_SAFETY)
C = int(Tier.CUSTOMS_SIMPLIFICATIONS)

EXAMPLES: tuple[Example, ...] = (
    # Mongolia: Customs General Administration, Ulaanbaatar and Zamyn-Uud.
    Example(
        "MN", "MN-AEO-2024-0147", "Khangai Cashmere Processing LLC",
        "Chinggis Avenue 24, 3rd khoroo, Khan-Uul district", "Ulaanbaatar", "17011", None,
        "TIN", "6123471", ("MF", "EX"), C_S,
        "Ulaanbaatar Customs House", "B. Bat-Erdene", -420, 3 * 365 - 420,
        site=("Dye and spinning plant", "Industrial Street 7, Khan-Uul district"),
        note="recognized by KR (tier S, MRA in force)",
        aliases=(("NAT:KR-BRN", "220-81-62517"), ("EORI", "DE 4471 0938 2210 556")),
        consent_days=-430,
    ),
    Example(
        "MN", "MN-AEO-2024-0152", "Zamyn-Uud Transit Logistics LLC",
        "Border Trade Zone, Building 3", "Zamyn-Uud", "44030", "Dornogovi",
        "TIN", "5894312", ("FF", "WH", "CA"), S,
        "Zamyn-Uud Customs House", "D. Oyunchimeg", -300, 3 * 365 - 300,
        site=("Bonded warehouse", "Railway Terminal Road 2"),
        then="suspend", reason=int(ReasonCode.FAILED_AUDIT),
        note="suspended after a failed audit",
        aliases=(("NAT:KR-BRN", "105-86-44120"),),
    ),
    Example(
        "MN", "MN-AEO-2025-0009", "Selenge Agro Export JSC",
        "Sukhbaatar Square 9, Sukhbaatar district", "Ulaanbaatar", "14200", None,
        "TIN", "2087654", ("EX",), C,
        "Ulaanbaatar Customs House", "B. Bat-Erdene", -60, 3 * 365 - 60,
        note="tier C only: not covered by the MRA with KR",
        aliases=(("EORI", "NL 8120 4411 7000"),),
        consent_days=-70,
    ),
    # Kazakhstan: State Revenue Committee, Almaty and Khorgos.
    Example(
        "KZ", "KZ-AEO-2023-000318", "Steppe Grain Export LLP",
        "Dostyk Avenue 210, office 14", "Almaty", "050051", None,
        "BIN", "180240012345", ("EX", "WH"), C_S,
        "Almaty Customs Post", "A. Nurlanovna", -700, 5 * 365 - 700,
        site=("Grain terminal", "Ryskulov Avenue 93"),
        note="no MRA with KR: valid, not recognized",
    ),
    Example(
        "KZ", "KZ-AEO-2024-000452", "Khorgos Gateway Logistics LLP",
        "Dry Port Special Economic Zone, Building 1", "Khorgos", "041315", "Zhetysu Region",
        "BIN", "150740021876", ("FF", "CA", "CB"), S,
        "Khorgos Customs Post", "Y. Sarsenbayev", -200, 5 * 365 - 200,
        then="revoke", reason=int(ReasonCode.FRAUD),
        note="revoked for fraud",
    ),
    Example(
        "KZ", "KZ-AEO-2025-000037", "Caspian Pipe Supply LLP",
        "Satpayev Street 19", "Atyrau", "060011", "Atyrau Region",
        "BIN", "201140009912", ("IM",), C,
        "Atyrau Customs Post", "A. Nurlanovna", -30, 5 * 365 - 30,
    ),
    # Korea: Korea Customs Service, Seoul and Busan.
    Example(
        "KR", "KR-AEO-AAA-2023-0042", "Hanbit Semiconductor Co., Ltd.",
        "Pangyo-ro 255, Bundang-gu", "Seongnam-si", "13486", "Gyeonggi-do",
        "BRN", "1248612345", ("MF", "EX", "IM"), int(Tier.GRADE_AAA),
        "Seoul Main Customs", "Kim Ji-won", -800, 5 * 365 - 800,
        site=("Fab 2", "Samsung-ro 1, Giheung-gu, Yongin-si"),
        note="grade AAA: recognized by MN",
        aliases=(("MID", "KRHANSEM255SEO"), ("NAT:MN-TIN", "9912345")),
        consent_days=-810,
    ),
    Example(
        "KR", "KR-AEO-AA-2024-0117", "Daehan Cold Chain Logistics Co., Ltd.",
        "Chungjang-daero 9, Jung-gu", "Busan", "48939", None,
        "BRN", "6038134567", ("WH", "FF"), int(Tier.GRADE_AA),
        "Busan Main Customs", "Park Min-jun", -250, 5 * 365 - 250,
    ),
    Example(
        "KR", "KR-AEO-A-2019-0388", "Seoul Precision Machinery Co., Ltd.",
        "Digital-ro 26-gil 5, Guro-gu", "Seoul", "08389", None,
        "BRN", "1138654321", ("MF", "EX"), int(Tier.GRADE_A),
        "Seoul Main Customs", "Lee Seo-yeon", -6 * 365, -40,
        note="expired 40 days ago",
    ),
)  # fmt: skip

# What the seeding needs of the registry API, by (method, OpenAPI path).
NEEDED_ROUTES: dict[tuple[str, str], str] = {
    ("post", "/v1/mras"): "propose an MRA",
    ("get", "/v1/mras"): "list MRAs",
    ("post", "/v1/mras/{mra_id}/sign"): "sign an MRA",
    ("post", "/v1/certificates"): "issue a certificate",
    ("post", "/v1/certificates/{number}/suspend"): "suspend a certificate",
    ("post", "/v1/certificates/{number}/revoke"): "revoke a certificate",
    ("get", "/v1/certificates/{number}/qr.png"): "the QR code (PNG)",
    ("get", "/v1/certificates/{number}/certificate.pdf"): "the printable PDF",
}


def missing_routes(client: RegistryClient) -> list[str]:
    """The routes the seeding needs that this API does not offer, as 'METHOD path (what)'."""
    document = client.get("/openapi.json")
    paths: dict[str, Any] = document.get("paths", {})
    missing = []
    for (method, path), what in NEEDED_ROUTES.items():
        if method not in _normalized(paths).get(_shape(path), {}):
            missing.append(f"{method.upper()} {path} ({what})")
    return missing


def _shape(path: str) -> str:
    """A path with its parameters' names erased ({number:path} and {number} are one)."""
    parts = []
    for part in path.split("/"):
        parts.append("{}" if part.startswith("{") else part)
    return "/".join(parts)


def _normalized(paths: dict[str, Any]) -> dict[str, Any]:
    return {_shape(path): item for path, item in paths.items()}


def _key(*parts: str) -> str:
    return "demo-" + "-".join(parts)


@dataclass
class _Seeder:
    workspace: Workspace
    urls: dict[str, str]
    tokens: dict[str, dict[str, str]]
    progress: Progress
    stack: ExitStack = field(default_factory=ExitStack)

    def client(self, code: str, role: str) -> RegistryClient:
        return self.stack.enter_context(RegistryClient(self.urls[code], self.tokens[code][role]))

    def run(self) -> dict[str, Any]:
        with self.stack:
            missing = missing_routes(self.client("MN", "admin"))
            summary: dict[str, Any] = {"missing_routes": missing, "certificates": [], "mra": None}
            if missing:
                return summary
            summary["mra"] = self.mra()
            summary["certificates"] = list(self.certificates())
            return summary

    def mra(self) -> dict[str, Any]:
        """MN proposes, KR signs; returns the MRA once MN's registry indexed it in force."""
        mn = self.client("MN", "mra_officer")
        kr = self.client("KR", "mra_officer")
        today = days.from_day(days.today())
        proposal = {"parties": MRA_PARTIES, "effective_from": today.isoformat(), "text": MRA_TEXT}
        mn.wait_operation(mn.write("/v1/mras", proposal, _key("mra", "MN", "KR")))
        mra = _wait_for(
            lambda: _find_mra(kr.get("/v1/mras")), "KR's registry to index the proposed MRA"
        )
        if mra["state"] == "proposed":
            kr.wait_operation(
                kr.write(f"/v1/mras/{mra['id']}/sign", {}, _key("mra", str(mra["id"]), "KR"))
            )
        in_force = _wait_for(
            lambda: _in_force(_get_or_none(mn, f"/v1/mras/{mra['id']}")),
            "the MRA to be in force at MN",
        )
        return {
            "id": in_force["id"],
            "parties": [p["authority"] for p in in_force["parties"]],
            "status": in_force["status"],
        }

    def certificates(self) -> Iterator[dict[str, Any]]:
        today = days.from_day(days.today())
        task = self.progress.add_task("issuing certificates", total=len(EXAMPLES))
        out = self.workspace.demo_out
        out.mkdir(parents=True, exist_ok=True)
        pending: list[tuple[Example, RegistryClient, dict[str, Any]]] = []
        for example in EXAMPLES:
            officer = self.client(example.issuer, "issuing_officer")
            operation = officer.write(
                "/v1/certificates", example.record(today), _key("issue", example.number)
            )
            pending.append((example, officer, operation))
        for example, officer, operation in pending:
            officer.wait_operation(operation)
            png = out / f"{example.number}.png"
            pdf = out / f"{example.number}.pdf"
            base = f"/v1/certificates/{example.number}"
            # Documents first (a revoked certificate gets no new paper), and only once: a
            # resumed run finds them from the interrupted one.
            if not (png.exists() and pdf.exists()):
                _wait_for(
                    functools.partial(_download, officer, f"{base}/qr.png", png),
                    f"the QR code of {example.number}",
                )
                _download(officer, f"{base}/certificate.pdf", pdf)
            status = "expired" if example.until_days < 0 else "active"
            if example.then is not None:
                change: dict[str, Any] = {"reason_code": example.reason}
                if example.then == "suspend":
                    change["remedy_deadline"] = (today + timedelta(days=60)).isoformat()
                officer.wait_operation(
                    officer.write(
                        f"{base}/{example.then}", change, _key(example.then, example.number)
                    )
                )
                status = {"suspend": "suspended", "revoke": "revoked"}[example.then]
            self.progress.advance(task)
            yield {
                "issuer": example.issuer,
                "number": example.number,
                "holder": example.legal_name,
                "tiers": example.tiers,
                "status": status,
                "note": example.note,
                "aliases": [list(alias) for alias in example.aliases],
                "public": example.consent_days is not None,
                "png": str(png),
                "pdf": str(pdf),
            }
        self.progress.remove_task(task)


def _find_mra(listing: dict[str, Any]) -> dict[str, Any] | None:
    for mra in listing.get("data", []):
        if sorted(p["authority"] for p in mra["parties"]) == ["KR", "MN"]:
            return dict(mra)
    return None


def _in_force(mra: dict[str, Any] | None) -> dict[str, Any] | None:
    return mra if mra is not None and mra.get("state") == "in_force" else None


def _get_or_none(client: RegistryClient, path: str) -> Any:
    """GET ``path``, or None while this registry's indexer has not seen it yet (404)."""
    try:
        return client.get(path)
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise


def _download(client: RegistryClient, path: str, target: Path) -> bool:
    try:
        response = client.request("GET", path, expect=(200,))
    except ApiError as exc:
        if exc.status == 409:  # not indexed yet: the caller waits
            return False
        raise
    target.write_bytes(response.content)
    return True


def _wait_for(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    """Poll ``check`` until it returns something truthy (the indexers run every ~2 s)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise ServiceError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.3)


def seed_demo(
    workspace: Workspace,
    urls: dict[str, str],
    tokens: dict[str, dict[str, str]],
    progress: Progress,
) -> dict[str, Any]:
    """Put the example data in through the APIs; returns what the summary table shows."""
    return _Seeder(workspace, urls, tokens, progress).run()


# ---------------------------------------------------------------- the demo's table


STATUS_STYLE = {"active": "green", "suspended": "yellow", "revoked": "red", "expired": "red"}


def summary_renderables(
    summary: dict[str, Any],
    workspace: Workspace,
    commands: dict[str, str],
    display: Callable[[Path], str],
) -> list[Any]:
    """The example-files table and the commands to try, for the demo's summary."""
    parts: list[Any] = []
    certificates = summary.get("certificates") or []
    if certificates:
        files = Table(
            "certificate",
            "holder",
            "status",
            "QR code and PDF",
            title=f"Example certificates (in {display(workspace.demo_out)})",
            title_justify="left",
        )
        for cert in certificates:
            status = Text(cert["status"], style=STATUS_STYLE.get(cert["status"], ""))
            files.add_row(
                cert["number"],
                cert["holder"] + (f"\n[dim]{cert['note']}[/dim]" if cert["note"] else ""),
                status,
                f"{Path(cert['png']).name}\n{Path(cert['pdf']).name}",
            )
        parts.append(files)
    if summary.get("mra"):
        mra = summary["mra"]
        parts.append(
            Text(f"MRA {mra['id']} between {' and '.join(mra['parties'])}: {mra['status']}")
        )
    missing = summary.get("missing_routes") or []
    if missing:
        parts.append(
            Text(
                "No example data: the registry API lacks " + "; ".join(missing),
                style="yellow",
            )
        )
    parts.append(_try_panel(certificates, workspace, commands, display))
    return parts


def _command(text: str) -> Text:
    """A command to copy (the demo's console soft-wraps: each stays one line to paste)."""
    return Text(f"   {text}", style="cyan")


def _try_panel(
    certificates: list[dict[str, Any]],
    workspace: Workspace,
    commands: dict[str, str],
    display: Callable[[Path], str],
) -> Any:
    from rich.console import Group

    lines: list[Any] = [Text("Try (from the repository root):", style="bold")]
    aeo, flag = commands["aeo"], commands["data_flag"]
    mn_api = commands["mn_api"]
    chosen = next(
        (c for c in certificates if c["issuer"] == "MN" and c["status"] == "active"), None
    )
    if chosen is None:
        lines += [
            Text("1. Verify a certificate's QR code as Korea Customs:"),
            _command(f"{aeo} verify <QR image or AEO1: text> --as KR{flag}"),
            Text("2. (needs example certificates: see above)"),
        ]
    else:
        number = chosen["number"]
        png = display(Path(chosen["png"]))
        verify = f"{aeo} verify {png} --as KR{flag}"
        lines += [
            Text(f"1. Verify {chosen['holder']}'s QR code as Korea Customs:"),
            _command(verify),
        ]
        # Korea's risk engine asks MN by the identifiers it holds, with MN's key for KR.
        items = [{"number": number}]
        items += [{"scheme": scheme, "value": value} for scheme, value in chosen.get("aliases", [])]
        items.append({"number": "MN-AEO-2024-9999"})  # unknown: answers as not covered would
        batch = (
            f"curl -s -w '\\n' -X POST {mn_api}/v1/recognition/batch "
            f"-H 'Authorization: Bearer {commands['mn_partner_token']}' "
            "-H 'Content-Type: application/json' "
            f"-d '{json.dumps({'items': items}, separators=(',', ':'))}'"
        )
        lines += [
            Text(
                "2. Korea's risk engine asks MN in one batch, by number and by the identifiers "
                "it holds:"
            ),
            _command(batch),
        ]
        public = next((c for c in certificates if c["issuer"] == "MN" and c.get("public")), None)
        if public is not None:
            lookup = f"{mn_api}/public/lookup?q={quote(public['number'], safe='')}"
            lines += [
                Text(
                    f"3. Anyone checks {public['holder']} on MN's public lookup page (the holder "
                    "consented to publication; a photo of its QR code works too):"
                ),
                _command(lookup),
                Text("   or as JSON:"),
                _command(f"curl -s -w '\\n' '{lookup.replace('/lookup?', '/lookup.json?')}'"),
            ]
        suspend = (
            f"curl -s -w '\\n' -X POST "
            f"{mn_api}/v1/certificates/{number}/suspend "
            f"-H 'Authorization: Bearer {commands['mn_issuing_token']}' "
            f"-H 'Idempotency-Key: try-suspend-{number}' "
            "-H 'Content-Type: application/json' -d '{\"reason_code\": 1}'"
            f" && sleep 3 && {verify}"
        )
        lines += [
            Text(
                f"4. Suspend it in MN's console: open {mn_api}/console/certificates/{number}, "
                f"sign in as {commands['mn_issuing_sign_in']} (password above), press "
                '"Suspend certificate", give a reason and confirm; then verify again:'
            ),
            _command(verify),
            Text("   Or suspend it through the API and verify again:"),
            _command(suspend),
        ]
    lines += [
        Text("5. Open the border officer's scan page:"),
        _command(f"python3 -m webbrowser {commands['page']}"),
    ]
    return Group(*lines)
