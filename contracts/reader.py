"""Reads of the registry contracts: :class:`RegistryReader` answers their views with frozen
dataclasses typed by the domain's enums and days (tests keep them in step with the sources).
Nothing here sends a transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from eth_typing import ChecksumAddress
from eth_utils.address import to_checksum_address

from contracts.calls import ZERO_ADDRESS, checked_address, contract_of, fixed_bytes
from contracts.domain import days, ids
from contracts.domain.days import Day
from contracts.domain.enums import (
    AccountRole,
    AuthorityStatus,
    CertificateStatus,
    EffectiveStatus,
    KeyAlgorithm,
    MembershipAction,
    MraState,
    MraStatus,
    ProposalStatus,
    RecognitionReason,
    Tier,
)
from contracts.errors import translate_errors

if TYPE_CHECKING:
    from web3.contract import Contract

    from contracts.chain import Chain
    from contracts.deploy import Deployment


def _code_or_none(raw: bytes) -> str | None:
    return ids.authority_code_str(raw) if any(raw) else None


@dataclass(frozen=True)
class Authority:
    code: str
    name: str
    status: AuthorityStatus
    admitted_at: int
    status_changed_at: int
    accounts: tuple[ChecksumAddress, ...]
    signing_keys: tuple[bytes, ...]

    @property
    def known(self) -> bool:
        return self.status is not AuthorityStatus.NONE


@dataclass(frozen=True)
class AccountInfo:
    address: ChecksumAddress
    authority: str | None
    roles: AccountRole
    authority_active: bool

    def has(self, role: AccountRole) -> bool:
        return bool(self.roles & role)


@dataclass(frozen=True)
class SigningKey:
    kid: bytes
    authority: str | None
    algorithm: KeyAlgorithm
    valid_from: int
    revoked_at: int  # 0 = not revoked
    public_key: bytes

    @property
    def known(self) -> bool:
        return self.algorithm is not KeyAlgorithm.NONE


@dataclass(frozen=True)
class MembershipProposal:
    id: int
    status: ProposalStatus
    action: MembershipAction
    code: str | None
    proposer: str | None
    approvals: int
    required: int  # approvals that execute it, fixed when it opened
    created_at: int
    expires_at: int
    admin: ChecksumAddress
    name: str


@dataclass(frozen=True)
class Certificate:
    """A certificate as the chain stores it. ``status`` NONE means unknown (never issued)."""

    id: bytes
    issuer: str | None
    tiers: Tier
    status: CertificateStatus
    effective_status: EffectiveStatus
    valid_from: Day
    valid_until: Day  # inclusive; OPEN_ENDED for no end date
    version: int
    digest: bytes  # ids.record_digest(holder_ref, commitment)

    @property
    def known(self) -> bool:
        return self.status is not CertificateStatus.NONE

    @property
    def valid_from_date(self) -> date:
        return days.from_day(self.valid_from)

    @property
    def valid_until_date(self) -> date:
        return days.from_day(self.valid_until)


@dataclass(frozen=True)
class Mra:
    id: int
    state: MraState
    status: MraStatus
    proposer: str | None
    suspended_by: str | None
    effective_from: Day
    ends_on: Day  # inclusive; 0 = open-ended
    proposed_at: int  # unix time
    text_hash: bytes
    parties: tuple[str, ...]
    recognized_tiers: tuple[Tier, ...]
    signed: tuple[bool, ...]

    @property
    def known(self) -> bool:
        return self.state is not MraState.NONE

    def tiers_of(self, party: str) -> Tier:
        return self.recognized_tiers[self.parties.index(party)]


@dataclass(frozen=True)
class Recognition:
    recognized: bool
    reason: RecognitionReason
    mra_id: int  # 0 when the reason concerns no MRA


class RegistryReader:
    """Views of the deployed contracts, as dataclasses. Network failures raise
    ``ChainUnavailableError``; nothing here sends a transaction."""

    def __init__(self, chain: Chain, deployment: Deployment) -> None:
        self.chain = chain
        self.deployment = deployment
        self.registry = contract_of(chain, deployment, "registry")
        self.mras = contract_of(chain, deployment, "mras")

    def _call(self, contract: Contract, function: str, *args: Any) -> Any:
        with translate_errors(f"{function}()"):
            return contract.functions[function](*args).call()

    # authorities
    def get_authority(self, code: str) -> Authority:
        raw = self._call(self.registry, "getAuthority", ids.authority_code(code))
        return Authority(
            code=code,
            name=raw.name,
            status=AuthorityStatus(raw.status),
            admitted_at=int(raw.admittedAt),
            status_changed_at=int(raw.statusChangedAt),
            accounts=tuple(to_checksum_address(a) for a in raw.accounts),
            signing_keys=tuple(bytes(k) for k in raw.signingKeys),
        )

    def account_of(self, address: str) -> AccountInfo:
        checked = checked_address(address, "address")
        raw = self._call(self.registry, "accountOf", checked)
        return AccountInfo(
            address=checked,
            authority=_code_or_none(raw.authority),
            roles=AccountRole(raw.roles),
            authority_active=bool(raw.authorityActive),
        )

    def get_signing_key(self, kid: bytes) -> SigningKey:
        raw = self._call(self.registry, "getSigningKey", fixed_bytes(kid, 8, "kid"))
        return SigningKey(
            kid=bytes(kid),
            authority=_code_or_none(raw.authority),
            algorithm=KeyAlgorithm(raw.algorithm),
            valid_from=int(raw.validFrom),
            revoked_at=int(raw.revokedAt),
            public_key=bytes(raw.publicKey),
        )

    def member_codes(self) -> list[str]:
        return [ids.authority_code_str(c) for c in self._call(self.registry, "memberCodes")]

    def active_member_count(self) -> int:
        return int(self._call(self.registry, "activeMemberCount"))

    def member_count(self) -> int:
        """Members not removed: what a membership vote's majority is counted over."""
        return int(self._call(self.registry, "memberCount"))

    def get_proposal(self, proposal_id: int) -> MembershipProposal:
        raw = self._call(self.registry, "getProposal", proposal_id)
        return MembershipProposal(
            id=proposal_id,
            status=ProposalStatus(raw.status),
            action=MembershipAction(raw.action),
            code=_code_or_none(raw.code),
            proposer=_code_or_none(raw.proposer),
            approvals=int(raw.approvals),
            required=int(raw.required),
            created_at=int(raw.createdAt),
            expires_at=int(raw.expiresAt),
            admin=to_checksum_address(raw.admin),
            name=raw.name,
        )

    def has_voted(self, proposal_id: int, code: str) -> bool:
        return bool(self._call(self.registry, "hasVoted", proposal_id, ids.authority_code(code)))

    def bootstrapper(self) -> ChecksumAddress | None:
        address = to_checksum_address(self._call(self.registry, "bootstrapper"))
        return None if address == ZERO_ADDRESS else address

    # certificates
    def get_certificate(self, certificate_id: bytes) -> Certificate:
        raw = self._call(
            self.registry, "getCertificate", fixed_bytes(certificate_id, 32, "certificate_id")
        )
        return Certificate(
            id=bytes(certificate_id),
            issuer=_code_or_none(raw.issuer),
            tiers=Tier(raw.tiers),
            status=CertificateStatus(raw.status),
            effective_status=EffectiveStatus(raw.effectiveStatus),
            valid_from=Day(int(raw.validFrom)),
            valid_until=Day(int(raw.validUntil)),
            version=int(raw.version),
            digest=bytes(raw.digest),
        )

    def status_of(self, certificate_id: bytes) -> EffectiveStatus:
        raw = self._call(
            self.registry, "statusOf", fixed_bytes(certificate_id, 32, "certificate_id")
        )
        return EffectiveStatus(raw)

    def certificate_id(self, issuer: str, number: str) -> bytes:
        """The contract's own derivation (tests check it equals ``ids.certificate_id``)."""
        raw = self._call(
            self.registry,
            "certificateId",
            ids.authority_code(issuer),
            ids.certificate_number(number),
        )
        return bytes(raw)

    def record_digest(self, holder_ref: bytes, commitment: bytes) -> bytes:
        raw = self._call(
            self.registry,
            "recordDigest",
            fixed_bytes(holder_ref, 32, "holder_ref"),
            fixed_bytes(commitment, 32, "commitment"),
        )
        return bytes(raw)

    # MRAs
    def get_mra(self, mra_id: int) -> Mra:
        raw = self._call(self.mras, "getMra", mra_id)
        return Mra(
            id=mra_id,
            state=MraState(raw.state),
            status=MraStatus(raw.status),
            proposer=_code_or_none(raw.proposer),
            suspended_by=_code_or_none(raw.suspendedBy),
            effective_from=Day(int(raw.effectiveFrom)),
            ends_on=Day(int(raw.endsOn)),
            proposed_at=int(raw.proposedAt),
            text_hash=bytes(raw.textHash),
            parties=tuple(ids.authority_code_str(p) for p in raw.parties),
            recognized_tiers=tuple(Tier(t) for t in raw.recognizedTiers),
            signed=tuple(bool(s) for s in raw.signed),
        )

    def mras_of(self, party: str) -> list[int]:
        return [int(i) for i in self._call(self.mras, "mrasOf", ids.authority_code(party))]

    def mra_status(self, mra_id: int) -> MraStatus:
        return MraStatus(self._call(self.mras, "mraStatus", mra_id))

    def recognizes(self, authority: str, certificate_id: bytes) -> Recognition:
        recognized, reason, mra_id = self._call(
            self.mras,
            "recognizes",
            ids.authority_code(authority),
            fixed_bytes(certificate_id, 32, "certificate_id"),
        )
        return Recognition(bool(recognized), RecognitionReason(reason), int(mra_id))
