"""This administration's part in running the consortium: its document-signing keys, its
accounts on the chain, and its votes on membership.

Every write is an outbox operation (``registry_api.outbox``) sent from this service's
account, which therefore needs the ADMIN role on-chain besides OPERATOR: the contracts
let only admin accounts register keys, manage accounts and vote. The checks here answer
the obvious refusals at once, from the index; the contract still decides, and an operation
it refuses ends ``failed`` with the decoded reason.

Reads come from the index (``registry_api.workers.indexer``), never from the chain.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from eth_utils.address import to_checksum_address
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contracts import calls
from contracts.calls import ContractCall
from contracts.domain.enums import KeyAlgorithm, MembershipAction

from ..auth import AuthenticatedKey
from ..db import Authority, AuthorityAccount, FeedEntry, IndexedSigningKey, Operation
from ..errors import ConflictError, FieldError, InvalidError, NotFoundError, RegistryError
from ..hsm import DocumentSigner, KeyBackend, document_signing_keys
from ..keystore import SigningKey, create_signing_key
from ..outbox import (
    Accepted,
    check_idempotency_key,
    enqueue,
    enqueue_once,
    find_operation,
    request_fingerprint,
)
from ..schemas.admin_chain import (
    AccountCreate,
    AccountPublic,
    AccountRoleName,
    MembershipActionName,
    MembershipProposalCreate,
    MembershipProposalPublic,
    ProposalStatusName,
    SigningKeyPublic,
    SigningKeyRegister,
    SigningKeyRevoke,
    SigningKeyRotate,
    SigningKeyStatus,
)
from ..settings import Settings
from .documents import (
    current_signing_key,
    load_key_file,
    rotated_key_path,
)

#: how far before its registration a key's validity may start (Authorities.sol)
KEY_BACKDATE = timedelta(hours=1)


def _timestamp(value: datetime | None, field: str) -> int:
    """Unix seconds for the contract (0: "now", the contract's default)."""
    if value is None:
        return 0
    if value.tzinfo is None:
        raise InvalidError(
            f"{field} must carry a time zone (for example 2025-04-01T00:00:00Z)",
            errors=[FieldError(f"body.{field}", "must carry a time zone")],
        )
    seconds = int(value.timestamp())
    if seconds <= 0:
        raise InvalidError(
            f"{field} must be after 1970-01-01",
            errors=[FieldError(f"body.{field}", "must be after 1970-01-01")],
        )
    return seconds


def _kid(text: str, field: str) -> bytes:
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != 8 or text != text.lower():
        raise InvalidError(
            f"{field} must be a key id: 16 lower-case hex digits",
            errors=[FieldError(field, "must be 16 lower-case hex digits")],
        )
    return raw


# ---------------------------------------------------------------- signing keys


def register_signing_key(
    session: Session,
    settings: Settings,
    caller: AuthenticatedKey,
    idempotency_key: str,
    body: SigningKeyRegister,
) -> Accepted:
    """Publish one of this registry's key files on-chain (the configured one by default).

    The key is trusted from ``valid_from``, by default this service's clock now rather than
    the block's time: the documents this service signs right after state that time as
    their ``issued_at``, and a chain whose clock runs ahead must not make them predate
    their key."""
    fingerprint = request_fingerprint(
        "register_signing_key", None, body.model_dump(mode="json", exclude_unset=True)
    )

    def prepare(session: Session) -> tuple[ContractCall, Mapping[str, Any] | None]:
        local = document_signing_keys(settings)
        if body.kid is not None:
            key = local.get(_kid(body.kid, "body.kid"))
            if key is None:
                raise NotFoundError(f"this registry holds no signing key with id {body.kid}")
        else:
            key = _configured_key(settings, local)
        _refuse_registered(session, key.kid)
        now = datetime.now(UTC)
        valid_from = body.valid_from
        if valid_from is not None and valid_from.tzinfo and valid_from < now - KEY_BACKDATE:
            # The contract would raise it to its block's time: a key must not vouch for what
            # was signed before it was published (docs/contracts.md, "Signing keys").
            raise InvalidError(
                "valid_from must not be more than an hour in the past: a key is trusted from "
                "its registration on (leave it out for now)",
                errors=[FieldError("body.valid_from", "must not be more than an hour in the past")],
            )
        call = calls.register_signing_key(
            key.public.public_key,
            key.algorithm,
            _timestamp(body.valid_from or now, "valid_from"),
        )
        return call, {"kid": key.kid.hex()}

    return enqueue_once(
        session,
        key=caller,
        idempotency_key=idempotency_key,
        kind="register_signing_key",
        subject=None,
        request_fingerprint=fingerprint,
        prepare=prepare,
    )


def _configured_key(settings: Settings, local: Mapping[bytes, DocumentSigner]) -> DocumentSigner:
    if settings.key_backend is KeyBackend.PKCS11:
        return next(iter(local.values()))  # the token's one key (AEO_HSM_SIGNING_KEY_LABEL)
    path = settings.signing_key_path
    if not path.is_file():
        raise ConflictError(
            f"the configured signing key file {path.name} does not exist: create it with "
            "python -m registry_api init-keys",
            extra={"reason": "no_signing_key"},
        )
    return load_key_file(settings, path)


def _refuse_registered(session: Session, kid: bytes) -> None:
    known = session.get(IndexedSigningKey, kid)
    if known is not None:
        state = "revoked" if known.revoked_at is not None else "registered"
        raise ConflictError(
            f"signing key {kid.hex()} is already {state} on-chain (for {known.authority})",
            extra={"kid": kid.hex(), "reason": f"already_{state}"},
        )


@dataclass(frozen=True, slots=True)
class Rotation:
    new_kid: str
    old_kid: str
    register: Operation
    revoke: Operation
    created: bool


def _derived_key(idempotency_key: str, purpose: str) -> str:
    """The idempotency key of a second operation one request makes (bounded length)."""
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:40]
    return f"{purpose}:{digest}"


def rotate_signing_key(
    session: Session,
    settings: Settings,
    caller: AuthenticatedKey,
    idempotency_key: str,
    body: SigningKeyRotate,
    now: datetime | None = None,
) -> Rotation:
    """Generate a new key file, register it, and revoke the key documents are signed with
    now. The registration is sent first; until the index sees it, documents keep using the
    old key, and once the old key's revocation is indexed they use the new one.

    A retry with the same ``Idempotency-Key`` returns the first rotation. A request that
    fails after writing the key file leaves an unregistered file, which is never used."""
    check_idempotency_key(idempotency_key)
    if settings.key_backend is KeyBackend.PKCS11:
        # The service never makes keys in the token: that is the security officers' act.
        raise ConflictError(
            "this registry keeps its signing key in a hardware security module "
            "(AEO_KEY_BACKEND=pkcs11): create the new key in the token "
            "(aeo keys new --pkcs11), point AEO_HSM_SIGNING_KEY_LABEL at it and restart, "
            "register it (POST /v1/admin/signing-keys), then revoke the old one "
            "(POST /v1/admin/signing-keys/{kid}/revoke)",
            extra={"reason": "keys_in_hsm"},
        )
    fingerprint = request_fingerprint(
        "rotate_signing_key", None, body.model_dump(mode="json", exclude_unset=True)
    )
    revoke_key = _derived_key(idempotency_key, "rotate-revoke")
    revoke_fingerprint = request_fingerprint("rotate_signing_key.revoke", None, idempotency_key)
    for attempt in range(2):
        existing = find_operation(
            session, key=caller, idempotency_key=idempotency_key, request_fingerprint=fingerprint
        )
        if existing is not None:
            revoke = find_operation(
                session,
                key=caller,
                idempotency_key=revoke_key,
                request_fingerprint=revoke_fingerprint,
            )
            session.commit()
            if revoke is None:  # pragma: no cover - both are committed together
                raise ConflictError("this rotation's revocation is missing")
            details = existing.payload.get("details") or {}
            return Rotation(
                new_kid=str(details.get("kid")),
                old_kid=str((revoke.payload.get("details") or {}).get("kid")),
                register=existing,
                revoke=revoke,
                created=False,
            )
        now = now or datetime.now(UTC)
        old = current_signing_key(session, settings, now).key
        algorithm = body.algorithm or old.algorithm
        new = _new_key_file(settings, algorithm)
        try:
            register = enqueue(
                session,
                key=caller,
                idempotency_key=idempotency_key,
                kind="register_signing_key",
                operation=calls.register_signing_key(
                    new.public.public_key, algorithm, _timestamp(now, "valid_from")
                ),
                subject=None,
                request_fingerprint=fingerprint,
                details={"kid": new.kid.hex(), "rotation": True},
            )
            revoke = enqueue(
                session,
                key=caller,
                idempotency_key=revoke_key,
                kind="revoke_signing_key",
                operation=calls.revoke_signing_key(old.kid),
                subject=None,
                request_fingerprint=revoke_fingerprint,
                details={"kid": old.kid.hex(), "rotation": True, "replaced_by": new.kid.hex()},
            )
            # The sender takes operations in created_at order: the new key must be on-chain
            # before the old one stops being trusted.
            revoke.created_at = register.created_at + timedelta(microseconds=1)
            session.commit()
        except IntegrityError:
            session.rollback()
            if attempt:
                raise
            continue
        return Rotation(new.kid.hex(), old.kid.hex(), register, revoke, created=True)
    raise AssertionError("unreachable")  # pragma: no cover


def _new_key_file(settings: Settings, algorithm: KeyAlgorithm) -> SigningKey:
    """A new encrypted key file beside the configured one, named by its key id."""
    passphrase = settings.key_passphrase()
    base = settings.signing_key_path
    scratch = base.with_name(f".{base.stem}.new-{uuid.uuid4().hex}{base.suffix}")
    key = create_signing_key(scratch, passphrase, algorithm)
    # The name depends on the key id, known only once the key exists: write, then rename
    # (atomic within the directory, and the id-named file never exists half-written).
    os.replace(scratch, rotated_key_path(settings, key.kid))
    return key


def revoke_signing_key(
    session: Session,
    settings: Settings,
    caller: AuthenticatedKey,
    idempotency_key: str,
    kid_text: str,
    body: SigningKeyRevoke,
) -> Accepted:
    kid = _kid(kid_text, "path.kid")
    fingerprint = request_fingerprint(
        "revoke_signing_key", kid_text, body.model_dump(mode="json", exclude_unset=True)
    )

    def prepare(session: Session) -> tuple[ContractCall, Mapping[str, Any] | None]:
        known = session.get(IndexedSigningKey, kid)
        if known is None or known.authority != settings.authority:
            raise NotFoundError(
                f"no signing key {kid_text} of {settings.authority} is registered on-chain "
                "(as indexed)"
            )
        if known.revoked_at is not None:
            raise ConflictError(
                f"signing key {kid_text} is already revoked (since {known.revoked_at.isoformat()})",
                extra={"kid": kid_text, "reason": "already_revoked"},
            )
        call = calls.revoke_signing_key(kid, _timestamp(body.revoked_at, "revoked_at"))
        return call, {"kid": kid_text}

    return enqueue_once(
        session,
        key=caller,
        idempotency_key=idempotency_key,
        kind="revoke_signing_key",
        subject=None,
        request_fingerprint=fingerprint,
        prepare=prepare,
    )


def list_signing_keys(
    session: Session, settings: Settings, authority: str | None, now: datetime | None = None
) -> list[SigningKeyPublic]:
    """Keys as indexed (one authority's, or every member's), and this registry's key files
    not registered yet."""
    now = now or datetime.now(UTC)
    code = authority or settings.authority
    query = sa.select(IndexedSigningKey).order_by(
        IndexedSigningKey.authority, IndexedSigningKey.valid_from
    )
    if code != "*":
        query = query.where(IndexedSigningKey.authority == code)
    indexed = session.scalars(query).all()
    local: Mapping[bytes, DocumentSigner]
    try:
        local = document_signing_keys(settings)
    except RegistryError:
        local = {}  # no passphrase here, or the token is away: the index still answers
    in_use: bytes | None
    try:
        in_use = current_signing_key(session, settings, now).key.kid
    except RegistryError:
        in_use = None

    keys = []
    for row in indexed:
        if row.revoked_at is not None:
            status = SigningKeyStatus.REVOKED
        elif row.valid_from > now:
            status = SigningKeyStatus.NOT_YET_VALID
        else:
            status = SigningKeyStatus.ACTIVE
        keys.append(
            SigningKeyPublic(
                kid=row.kid.hex(),
                authority=row.authority,
                algorithm=KeyAlgorithm(row.algorithm).label,
                public_key=row.public_key.hex(),
                valid_from=row.valid_from,
                revoked_at=row.revoked_at,
                status=status,
                held_here=row.kid in local,
                signs_documents=row.kid == in_use,
            )
        )
    if code in {"*", settings.authority}:
        known = {row.kid for row in indexed}
        for kid, key in sorted(local.items()):
            if kid not in known and session.get(IndexedSigningKey, kid) is None:
                keys.append(
                    SigningKeyPublic(
                        kid=kid.hex(),
                        authority=settings.authority,
                        algorithm=key.algorithm.label,
                        public_key=key.public.public_key.hex(),
                        valid_from=None,
                        revoked_at=None,
                        status=SigningKeyStatus.UNREGISTERED,
                        held_here=True,
                        signs_documents=False,
                    )
                )
    return keys


# ---------------------------------------------------------------- accounts


def add_account(
    session: Session,
    settings: Settings,
    caller: AuthenticatedKey,
    idempotency_key: str,
    body: AccountCreate,
) -> Accepted:
    fingerprint = request_fingerprint("add_account", body.address, body.model_dump(mode="json"))

    def prepare(session: Session) -> tuple[ContractCall, Mapping[str, Any] | None]:
        known = session.get(AuthorityAccount, body.address)
        if known is not None:
            raise ConflictError(
                f"account {body.address} already acts for {known.authority}; an account "
                "belongs to one authority once",
                extra={"reason": "account_exists", "authority": known.authority},
            )
        call = calls.add_account(body.address, body.role_bits)
        return call, {"address": body.address, "roles": [r.value for r in body.roles]}

    return enqueue_once(
        session,
        key=caller,
        idempotency_key=idempotency_key,
        kind="add_account",
        subject=None,
        request_fingerprint=fingerprint,
        prepare=prepare,
    )


def remove_account(
    session: Session,
    settings: Settings,
    caller: AuthenticatedKey,
    idempotency_key: str,
    address: str,
    own_address: str | None,
) -> Accepted:
    fingerprint = request_fingerprint("remove_account", address, None)

    def prepare(session: Session) -> tuple[ContractCall, Mapping[str, Any] | None]:
        known = session.get(AuthorityAccount, address)
        if known is None or known.authority != settings.authority:
            raise NotFoundError(
                f"account {address} does not act for {settings.authority} (as indexed)"
            )
        if own_address is not None and address == own_address:
            raise ConflictError(
                f"account {address} is the one this registry sends its transactions from; "
                "removing it would stop every write (configure another operator key first)",
                extra={"reason": "own_account"},
            )
        return calls.remove_account(address), {"address": address}

    return enqueue_once(
        session,
        key=caller,
        idempotency_key=idempotency_key,
        kind="remove_account",
        subject=None,
        request_fingerprint=fingerprint,
        prepare=prepare,
    )


def _role_names(bits: int) -> list[AccountRoleName]:
    return [role for role in AccountRoleName if bits & role.bit]


def list_accounts(
    session: Session, settings: Settings, authority: str | None, own_address: str | None
) -> list[AccountPublic]:
    code = authority or settings.authority
    query = sa.select(AuthorityAccount).order_by(
        AuthorityAccount.authority, AuthorityAccount.address
    )
    if code != "*":
        query = query.where(AuthorityAccount.authority == code)
    return [
        AccountPublic(
            address=row.address,
            authority=row.authority,
            roles=_role_names(row.roles),
            signs_for_this_registry=row.address == own_address,
        )
        for row in session.scalars(query).all()
    ]


# ---------------------------------------------------------------- membership


def propose_membership(
    session: Session,
    settings: Settings,
    caller: AuthenticatedKey,
    idempotency_key: str,
    body: MembershipProposalCreate,
) -> Accepted:
    fingerprint = request_fingerprint(
        "propose_membership", body.authority, body.model_dump(mode="json")
    )
    action = MembershipAction[body.action.name]

    def prepare(session: Session) -> tuple[ContractCall, Mapping[str, Any] | None]:
        _check_proposal(session, settings, body)
        if action is MembershipAction.ADMIT:
            assert body.name is not None
            assert body.admin is not None
            call = calls.propose_membership(action, body.authority, body.name, body.admin)
        else:
            call = calls.propose_membership(action, body.authority)
        return call, {"action": body.action.value, "authority": body.authority}

    return enqueue_once(
        session,
        key=caller,
        idempotency_key=idempotency_key,
        kind="propose_membership",
        subject=body.authority,
        request_fingerprint=fingerprint,
        prepare=prepare,
    )


def _check_proposal(session: Session, settings: Settings, body: MembershipProposalCreate) -> None:
    member = session.get(Authority, body.authority)
    if body.action is MembershipActionName.ADMIT:
        if member is not None:
            raise ConflictError(
                f"{body.authority} is already a member ({member.status})",
                extra={"reason": "already_member"},
            )
        assert body.admin is not None
        account = session.get(AuthorityAccount, body.admin)
        if account is not None:
            raise ConflictError(
                f"account {body.admin} already acts for {account.authority}; the new "
                "member needs an account of its own",
                extra={"reason": "account_exists"},
            )
        if body.request is not None:
            _check_request(session, body)
        return
    if member is None:
        raise NotFoundError(f"{body.authority} is not a member of the consortium (as indexed)")
    if body.authority == settings.authority and body.action in {
        MembershipActionName.SUSPEND,
        MembershipActionName.REMOVE,
    }:
        raise ConflictError(
            f"the target of a {body.action.value} neither proposes nor votes on it",
            extra={"reason": "target_cannot_vote"},
        )
    applicable = {
        MembershipActionName.SUSPEND: member.status == "active",
        MembershipActionName.REINSTATE: member.status == "suspended",
        MembershipActionName.REMOVE: member.status != "removed",
    }[body.action]
    if not applicable:
        raise ConflictError(
            f"cannot {body.action.value} {body.authority}: it is {member.status}",
            extra={"reason": "not_applicable", "member_status": member.status},
        )
    _check_quorum(session, body.action, member)


def _check_request(session: Session, body: MembershipProposalCreate) -> None:
    """What the newcomer will do once admitted must be possible: its operator account and
    signing key are not another's already (the chain would refuse them then)."""
    assert body.request is not None
    operator = session.get(AuthorityAccount, body.request.operator)
    if operator is not None:
        raise ConflictError(
            f"the request's operator account {body.request.operator} already acts for "
            f"{operator.authority}; the new member needs an account of its own",
            extra={"reason": "account_exists", "field": "body.request.operator"},
        )
    kid = bytes.fromhex(body.request.signing_key.kid)
    if session.get(IndexedSigningKey, kid) is not None:
        raise ConflictError(
            f"the request's signing key {body.request.signing_key.kid} is registered "
            "already; the new member needs a key of its own",
            extra={"reason": "key_exists", "field": "body.request.signing_key"},
        )


def _check_quorum(session: Session, action: MembershipActionName, target: Authority) -> None:
    """The contract's MembershipQuorumUnreachable, from the index: a vote the Active members
    (the target of a suspension or removal excluded) could never carry."""
    statuses = list(session.scalars(sa.select(Authority.status)))
    members = sum(status != "removed" for status in statuses)
    eligible = sum(status == "active" for status in statuses)
    if action in {MembershipActionName.SUSPEND, MembershipActionName.REMOVE}:
        eligible -= target.status == "active"
    required = required_approvals(members)
    if eligible < required:
        raise ConflictError(
            f"cannot {action.value} {target.code}: it needs {required} approvals of the "
            f"{members} members, and only {eligible} may approve it",
            extra={"reason": "quorum_unreachable", "required": required, "eligible": eligible},
        )


def required_approvals(members: int, threshold_bps: int = 5001) -> int:
    """max(2, ceil(members x threshold / 10000)): what a proposal needs (docs/contracts.md,
    "Membership votes"). The default is the least threshold the contract accepts, so with it
    this check never refuses what the chain would take."""
    return max(2, -(-members * threshold_bps // 10_000))


def vote_on_proposal(
    session: Session,
    settings: Settings,
    caller: AuthenticatedKey,
    idempotency_key: str,
    proposal_id: int,
    now: datetime | None = None,
) -> Accepted:
    fingerprint = request_fingerprint("vote_membership", str(proposal_id), None)

    def prepare(session: Session) -> tuple[ContractCall, Mapping[str, Any] | None]:
        proposal = _proposals(session, settings, now).get(proposal_id)
        if proposal is None:
            raise NotFoundError(f"no membership proposal {proposal_id} (as indexed)")
        if proposal.status is ProposalStatusName.EXECUTED:
            raise ConflictError(
                f"proposal {proposal_id} is already executed", extra={"reason": "executed"}
            )
        if proposal.status is ProposalStatusName.STALE:
            raise ConflictError(
                f"proposal {proposal_id} is stale: the membership changed after it was "
                "proposed, so it can no longer execute; propose it again",
                extra={"reason": "stale"},
            )
        if proposal.status is ProposalStatusName.EXPIRED:
            raise ConflictError(
                f"proposal {proposal_id} expired at {proposal.expires_at.isoformat()}",
                extra={"reason": "expired"},
            )
        if proposal.voted_by_us:
            raise ConflictError(
                f"{settings.authority} has already voted on proposal {proposal_id}",
                extra={"reason": "already_voted"},
            )
        if proposal.authority == settings.authority and proposal.action in {
            MembershipActionName.SUSPEND,
            MembershipActionName.REMOVE,
        }:
            raise ConflictError(
                f"the target of a {proposal.action.value} neither proposes nor votes on it",
                extra={"reason": "target_cannot_vote"},
            )
        return calls.vote(proposal_id), {"proposal_id": proposal_id}

    return enqueue_once(
        session,
        key=caller,
        idempotency_key=idempotency_key,
        kind="vote_membership",
        subject=f"proposal {proposal_id}",
        request_fingerprint=fingerprint,
        prepare=prepare,
    )


_PROPOSAL_KINDS = ("membership.proposed", "membership.voted", "membership.executed")
#: what moves the contract's membership-change counter, which makes open proposals stale
_MEMBERSHIP_CHANGES = (
    "authority.admitted",
    "authority.suspended",
    "authority.reinstated",
    "authority.removed",
)


def _chain_time(entry: FeedEntry) -> datetime:
    raw = (entry.payload.get("chain") or {}).get("block_time")
    if isinstance(raw, str):
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return entry.created_at


def _proposals(
    session: Session, settings: Settings, now: datetime | None = None
) -> dict[int, MembershipProposalPublic]:
    """Every membership proposal, assembled from the indexed membership events."""
    now = now or datetime.now(UTC)
    entries = session.scalars(
        sa.select(FeedEntry)
        .where(FeedEntry.kind.in_((*_PROPOSAL_KINDS, *_MEMBERSHIP_CHANGES)))
        .order_by(FeedEntry.sequence)
    ).all()
    raw: dict[int, dict[str, Any]] = {}
    stale: set[int] = set()
    for entry in entries:
        if "retracted_by" in entry.payload:
            continue  # undone by a chain rewind
        if entry.kind in _MEMBERSHIP_CHANGES:
            # Every proposal open now belongs to another membership (the contract counts
            # changes the same way); the one that executed reads executed.
            stale.update(raw)
            continue
        data = entry.payload.get("data") or {}
        proposal_id = int(data.get("proposal_id", 0))
        if entry.kind == "membership.proposed":
            raw[proposal_id] = {
                "id": proposal_id,
                "action": MembershipActionName[MembershipAction(int(data["action"])).name],
                "authority": data["code"],
                "name": data.get("name") or None,
                "admin": data.get("admin")
                if int(data["action"]) == MembershipAction.ADMIT
                else None,
                "proposer": data["proposer"],
                "approvals": 0,
                "required": None,
                "votes": [],
                "proposed_at": _chain_time(entry),
                "expires_at": datetime.fromtimestamp(int(data["expires_at"]), UTC),
                "executed_at": None,
            }
        elif proposal_id in raw:
            proposal = raw[proposal_id]
            if entry.kind == "membership.voted":
                proposal["approvals"] = int(data["approvals"])
                proposal["required"] = int(data["required"])
                proposal["votes"].append(data["voter"])
            else:
                proposal["executed_at"] = _chain_time(entry)
    result: dict[int, MembershipProposalPublic] = {}
    for proposal_id, values in raw.items():
        if values["executed_at"] is not None:
            status = ProposalStatusName.EXECUTED
        elif proposal_id in stale:
            status = ProposalStatusName.STALE
        elif values["expires_at"] <= now:
            status = ProposalStatusName.EXPIRED
        else:
            status = ProposalStatusName.OPEN
        result[proposal_id] = MembershipProposalPublic(
            **values, status=status, voted_by_us=settings.authority in values["votes"]
        )
    return result


def list_proposals(
    session: Session, settings: Settings, status: ProposalStatusName | None = None
) -> list[MembershipProposalPublic]:
    proposals = sorted(_proposals(session, settings).values(), key=lambda p: p.id, reverse=True)
    return [p for p in proposals if status is None or p.status is status]


def checksum_address(address: str) -> str:
    """``address`` as the index stores it (EIP-55 checksummed)."""
    return str(to_checksum_address(address))
