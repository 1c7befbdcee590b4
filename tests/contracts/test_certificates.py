"""Certificates: issue, batch, amend, renew, suspend, reinstate, revoke, and the views."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from contracts.domain import ids

from .conftest import (
    AMEND_MASK,
    AMEND_REASONS,
    REINSTATE_MASK,
    REINSTATE_REASONS,
    RENEW_MASK,
    RENEW_REASONS,
    REVOKE_MASK,
    REVOKE_REASONS,
    SUSPEND_MASK,
    SUSPEND_REASONS,
    Action,
    Consortium,
    Effective,
    Member,
    Stored,
    assert_reverts,
)

HOLDER = ids.holder_ref("EORI", "MN1234567")
COMMITMENT = bytes.fromhex("ab" * 32)


def view(chain: Consortium, certificate_id: bytes) -> dict[str, object]:
    fields = (
        "id",
        "issuer",
        "tiers",
        "status",
        "effectiveStatus",
        "validFrom",
        "validUntil",
        "version",
        "digest",
    )
    return dict(zip(fields, chain.certificate(certificate_id), strict=True))


# ---------------------------------------------------------------- ids and digests


def test_certificate_id_on_chain_equals_ids_certificate_id(chain: Consortium) -> None:
    for issuer, number in [
        ("MN", "MN-AEO-2024-00001"),
        ("KR", "1"),
        ("EAEU", "A/B.C-9" * 4 + "XYZ9"),
    ]:
        on_chain = chain.registry.functions.certificateId(
            ids.authority_code(issuer), ids.certificate_number(number)
        ).call()
        assert on_chain == ids.certificate_id(issuer, number)


def test_record_digest_on_chain_equals_ids_record_digest(chain: Consortium) -> None:
    holder, commitment = os.urandom(32), os.urandom(32)
    assert chain.registry.functions.recordDigest(holder, commitment).call() == ids.record_digest(
        holder, commitment
    )


# ---------------------------------------------------------------- issue


def test_issue_stores_one_active_certificate_and_emits_its_record(
    chain: Consortium, mn: Member
) -> None:
    number = ids.certificate_number("MN-AEO-2024-00001")
    today = chain.today()
    fn = chain.registry.functions.issue(number, 3, today - 10, today + 1000, HOLDER, COMMITMENT)
    returned = fn.call({"from": mn.operator.address})
    receipt = chain.transact(mn.operator, fn)

    certificate_id = ids.certificate_id("MN", "MN-AEO-2024-00001")
    assert returned == certificate_id
    assert view(chain, certificate_id) == {
        "id": certificate_id,
        "issuer": mn.raw,
        "tiers": 3,
        "status": Stored.ACTIVE,
        "effectiveStatus": Effective.ACTIVE,
        "validFrom": today - 10,
        "validUntil": today + 1000,
        "version": 1,
        "digest": ids.record_digest(HOLDER, COMMITMENT),
    }
    event = chain.event(receipt, chain.registry, "CertificateIssued")["args"]
    assert dict(event) == {
        "id": certificate_id,
        "issuer": mn.raw,
        "number": number,
        "tiers": 3,
        "validFrom": today - 10,
        "validUntil": today + 1000,
        "holderRef": HOLDER,
        "commitment": COMMITMENT,
        "operator": mn.operator.address,
    }


def test_issue_of_a_number_already_issued_is_refused(chain: Consortium, mn: Member) -> None:
    number = chain.number()
    certificate_id = chain.issue(mn, number=number)
    chain.reverts(
        mn.operator,
        chain.registry.functions.issue(number, 1, 0, 1, HOLDER, COMMITMENT),
        "CertificateAlreadyExists",
        [certificate_id],
    )


def test_the_same_number_from_two_issuers_is_two_certificates(
    chain: Consortium, mn: Member, kz: Member
) -> None:
    number = ids.certificate_number("0001")
    first = chain.issue(mn, number=number)
    second = chain.issue(kz, number=number)
    assert first != second
    assert view(chain, first)["issuer"] == mn.raw
    assert view(chain, second)["issuer"] == kz.raw


def test_issue_with_number_zero_is_refused(chain: Consortium, mn: Member) -> None:
    chain.reverts(
        mn.operator,
        chain.registry.functions.issue(b"\x00" * 32, 1, 0, 1, HOLDER, COMMITMENT),
        "CertificateInvalidNumber",
        [b"\x00" * 32],
    )


@pytest.mark.parametrize("tiers", [0, 0x20, 0x40, 0x80, 0xFF])
def test_issue_with_no_tier_or_a_reserved_tier_bit_is_refused(
    chain: Consortium, mn: Member, tiers: int
) -> None:
    chain.reverts(
        mn.operator,
        chain.registry.functions.issue(chain.number(), tiers, 0, 1, HOLDER, COMMITMENT),
        "CertificateInvalidTiers",
        [tiers],
    )


def test_issue_ending_before_it_starts_is_refused(chain: Consortium, mn: Member) -> None:
    chain.reverts(
        mn.operator,
        chain.registry.functions.issue(chain.number(), 1, 20_001, 20_000, HOLDER, COMMITMENT),
        "CertificateInvalidValidity",
        [20_001, 20_000],
    )


def test_issue_valid_for_a_single_day_is_accepted(chain: Consortium, mn: Member) -> None:
    today = chain.today()
    certificate_id = chain.issue(mn, valid_from=today, valid_until=today)
    assert chain.status(certificate_id) == Effective.ACTIVE


# ---------------------------------------------------------------- numbers of other members


@pytest.mark.parametrize("number", ["MN-AEO-0001", "MN/2024/7", "MN.1", "MN0001", "MN"])
def test_a_number_starting_with_another_members_code_is_refused(
    chain: Consortium, mn: Member, kz: Member, number: str
) -> None:
    """KZ once issued MN-AEO-0001, and a border read it as MN's certificate."""
    raw = ids.certificate_number(number)
    chain.reverts(
        kz.operator,
        chain.registry.functions.issue(raw, 2, 0, 1, HOLDER, COMMITMENT),
        "CertificateNumberOfAnotherMember",
        [raw, mn.raw, kz.raw],
    )


@pytest.mark.parametrize(
    "number",
    ["KZ-AEO-0001", "KZ", "MNX-0001", "AEO-0001", "AEOF-12", "2024-MN-1", "M-1", "DEAEOF12345678"],
)
def test_a_number_whose_leading_letters_are_no_other_members_code_is_issued(
    chain: Consortium, kz: Member, number: str
) -> None:
    chain.issue(kz, number=ids.certificate_number(number))
    assert chain.status(ids.certificate_id("KZ", number)) == Effective.ACTIVE


def test_the_code_of_a_suspended_or_removed_member_stays_reserved(
    chain: Consortium, kz: Member, kr: Member
) -> None:
    """Its certificates still circulate: a number of another issuer must not pass for one."""
    chain.vote_through(Action.SUSPEND, "KR", ["MN", "KZ"])
    raw = ids.certificate_number("KR-AEO-0001")
    issue = chain.registry.functions.issue(raw, 2, 0, 1, HOLDER, COMMITMENT)
    chain.reverts(kz.operator, issue, "CertificateNumberOfAnotherMember", [raw, kr.raw, kz.raw])
    chain.vote_through(Action.REMOVE, "KR", ["MN", "KZ"])
    chain.reverts(kz.operator, issue, "CertificateNumberOfAnotherMember", [raw, kr.raw, kz.raw])


def test_a_code_is_reserved_from_its_admission_on(
    chain: Consortium, mn: Member, kz: Member
) -> None:
    """A number issued before the code was a member's stays valid: its id binds its issuer, and
    the verdict names the issuer (docs/contracts.md, "Certificate numbers")."""
    chain.issue(kz, number=ids.certificate_number("UZ-0001"))
    receipt = chain.transact(
        mn.admin,
        chain.registry.functions.proposeMembership(
            Action.ADMIT, ids.authority_code("UZ"), "Uzbekistan", chain.new_account(False).address
        ),
    )
    proposal_id = chain.event(receipt, chain.registry, "MembershipProposed")["args"]["proposalId"]
    chain.transact(kz.admin, chain.registry.functions.voteOnMembership(proposal_id))
    raw = ids.certificate_number("UZ-0002")
    chain.reverts(
        kz.operator,
        chain.registry.functions.issue(raw, 2, 0, 1, HOLDER, COMMITMENT),
        "CertificateNumberOfAnotherMember",
        [raw, ids.authority_code("UZ"), kz.raw],
    )
    assert chain.status(ids.certificate_id("KZ", "UZ-0001")) == Effective.ACTIVE


def test_a_batch_with_a_number_of_another_member_issues_nothing(
    chain: Consortium, mn: Member, kz: Member
) -> None:
    good = batch_item(chain)
    raw = ids.certificate_number("MN-AEO-0001")
    bad = (raw, 2, 0, 1, HOLDER, COMMITMENT)
    chain.reverts(
        kz.operator,
        chain.registry.functions.issueBatch([good, bad]),
        "CertificateNumberOfAnotherMember",
        [raw, mn.raw, kz.raw],
    )


def _reference_prefix(number: bytes) -> bytes | None:
    """The rule of docs/contracts.md, byte by byte: 2 to 4 leading A-Z, then anything else."""
    letters = 0
    while letters < len(number) and ord("A") <= number[letters] <= ord("Z"):
        letters += 1
    return number[:letters].ljust(4, b"\x00") if 2 <= letters <= 4 else None


NUMBERS = st.one_of(
    # Shaped like real numbers: a few letters (often a member's), then separators, digits and
    # more letters.
    st.builds(
        lambda head, rest: (head + rest)[:32],
        st.text(st.sampled_from("MNKZRXABEO"), max_size=6),
        st.text(st.sampled_from("0123456789-/.MNKZRABC"), max_size=8),
    ),
    # Any 32 bytes, for the bit tricks: non-ASCII bytes next to letters, the top bit set...
    st.binary(min_size=32, max_size=32),
)


@pytest.mark.slow
@settings(
    max_examples=150,
    deadline=None,
    # Only calls, no transaction: the chain the fixture rewinds is never changed.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(number=NUMBERS)
def test_the_contract_refuses_exactly_the_numbers_whose_prefix_is_another_members_code(
    chain: Consortium, kz: Member, number: str | bytes
) -> None:
    if isinstance(number, str):
        try:
            raw = ids.certificate_number(number)
        except ValueError:
            assume(False)
        # The Python twin (registry API, imports) decides exactly as the contract.
        prefix = ids.number_prefix(number)
        assert (ids.authority_code(prefix) if prefix else None) == _reference_prefix(raw)
    else:
        raw = number
    assume(raw != b"\x00" * 32)
    prefix_code = _reference_prefix(raw)
    issue = chain.registry.functions.issue(raw, 2, 0, 1, HOLDER, COMMITMENT)
    if prefix_code in (ids.authority_code("MN"), ids.authority_code("KR")):
        chain.reverts(
            kz.operator, issue, "CertificateNumberOfAnotherMember", [raw, prefix_code, kz.raw]
        )
    else:
        assert issue.call({"from": kz.operator.address}) == ids.keccak(kz.raw + raw)


# ---------------------------------------------------------------- batch


def batch_item(chain: Consortium, tiers: int = 2) -> tuple[bytes, int, int, int, bytes, bytes]:
    today = chain.today()
    return (chain.number("B"), tiers, today, today + 365, os.urandom(32), os.urandom(32))


def test_issue_batch_issues_every_certificate_with_one_event_each(
    chain: Consortium, mn: Member
) -> None:
    items = [batch_item(chain) for _ in range(5)]
    receipt = chain.transact(mn.operator, chain.registry.functions.issueBatch(items))
    events = chain.events(receipt, chain.registry, "CertificateIssued")
    assert [e["args"]["number"] for e in events] == [item[0] for item in items]
    for number, tiers, valid_from, valid_until, holder, commitment in items:
        certificate_id = ids.certificate_id("MN", ids.certificate_number_str(number))
        stored = view(chain, certificate_id)
        assert stored["status"] == Stored.ACTIVE
        assert (stored["tiers"], stored["validFrom"], stored["validUntil"]) == (
            tiers,
            valid_from,
            valid_until,
        )
        assert stored["digest"] == ids.record_digest(holder, commitment)


def test_issue_batch_with_one_invalid_item_issues_nothing(chain: Consortium, mn: Member) -> None:
    good = batch_item(chain)
    bad = batch_item(chain, tiers=0)
    chain.reverts(
        mn.operator,
        chain.registry.functions.issueBatch([good, bad]),
        "CertificateInvalidTiers",
        [0],
    )
    chain.send_failing(mn.operator, chain.registry.functions.issueBatch([good, bad]))
    good_id = ids.certificate_id("MN", ids.certificate_number_str(good[0]))
    assert chain.status(good_id) == Effective.UNKNOWN


def test_issue_batch_repeating_a_number_is_refused_as_a_duplicate(
    chain: Consortium, mn: Member
) -> None:
    item = batch_item(chain)
    duplicate_id = ids.certificate_id("MN", ids.certificate_number_str(item[0]))
    chain.reverts(
        mn.operator,
        chain.registry.functions.issueBatch([item, item]),
        "CertificateAlreadyExists",
        [duplicate_id],
    )


def test_issue_batch_containing_an_issued_number_is_refused(chain: Consortium, mn: Member) -> None:
    number = chain.number()
    existing = chain.issue(mn, number=number)
    item = (number, 1, 0, 1, HOLDER, COMMITMENT)
    chain.reverts(
        mn.operator,
        chain.registry.functions.issueBatch([batch_item(chain), item]),
        "CertificateAlreadyExists",
        [existing],
    )


def test_issue_batch_empty_is_refused(chain: Consortium, mn: Member) -> None:
    chain.reverts(mn.operator, chain.registry.functions.issueBatch([]), "CertificateBatchEmpty")


# ---------------------------------------------------------------- amend and renew


def test_amend_bumps_the_version_and_replaces_tiers_and_digest(
    chain: Consortium, mn: Member
) -> None:
    certificate_id = chain.issue(mn, tiers=1)
    holder, commitment = os.urandom(32), os.urandom(32)
    receipt = chain.transact(
        mn.operator, chain.registry.functions.amend(certificate_id, 3, holder, commitment, 33)
    )
    stored = view(chain, certificate_id)
    assert (stored["version"], stored["tiers"], stored["digest"]) == (
        2,
        3,
        ids.record_digest(holder, commitment),
    )
    assert dict(chain.event(receipt, chain.registry, "CertificateAmended")["args"]) == {
        "id": certificate_id,
        "issuer": mn.raw,
        "version": 2,
        "tiers": 3,
        "holderRef": holder,
        "commitment": commitment,
        "reason": 33,
        "operator": mn.operator.address,
    }
    chain.transact(
        mn.operator, chain.registry.functions.amend(certificate_id, 3, holder, os.urandom(32), 35)
    )
    assert view(chain, certificate_id)["version"] == 3


def test_amend_of_a_suspended_certificate_keeps_it_suspended(chain: Consortium, mn: Member) -> None:
    certificate_id = chain.issue(mn)
    chain.transact(mn.operator, chain.registry.functions.suspend(certificate_id, 1))
    chain.transact(
        mn.operator, chain.registry.functions.amend(certificate_id, 2, HOLDER, COMMITMENT, 32)
    )
    stored = view(chain, certificate_id)
    assert (stored["status"], stored["version"]) == (Stored.SUSPENDED, 2)


@pytest.mark.parametrize("tiers", [0, 0x21])
def test_amend_to_invalid_tiers_is_refused(chain: Consortium, mn: Member, tiers: int) -> None:
    certificate_id = chain.issue(mn)
    chain.reverts(
        mn.operator,
        chain.registry.functions.amend(certificate_id, tiers, HOLDER, COMMITMENT, 33),
        "CertificateInvalidTiers",
        [tiers],
    )


def test_renew_moves_valid_until_later(chain: Consortium, mn: Member) -> None:
    certificate_id = chain.issue(mn, valid_until=chain.today() + 10)
    new_until = chain.today() + 1000
    receipt = chain.transact(
        mn.operator, chain.registry.functions.renew(certificate_id, new_until, 48)
    )
    assert view(chain, certificate_id)["validUntil"] == new_until
    assert view(chain, certificate_id)["version"] == 1
    assert dict(chain.event(receipt, chain.registry, "CertificateRenewed")["args"]) == {
        "id": certificate_id,
        "issuer": mn.raw,
        "validUntil": new_until,
        "reason": 48,
        "operator": mn.operator.address,
    }


@pytest.mark.parametrize("delta", [0, -1])
def test_renew_to_a_day_not_later_is_refused(chain: Consortium, mn: Member, delta: int) -> None:
    until = chain.today() + 100
    certificate_id = chain.issue(mn, valid_until=until)
    chain.reverts(
        mn.operator,
        chain.registry.functions.renew(certificate_id, until + delta, 48),
        "CertificateRenewalNotLater",
        [certificate_id, until, until + delta],
    )


def test_renew_of_a_suspended_certificate_is_refused(chain: Consortium, mn: Member) -> None:
    certificate_id = chain.issue(mn)
    chain.transact(mn.operator, chain.registry.functions.suspend(certificate_id, 2))
    chain.reverts(
        mn.operator,
        chain.registry.functions.renew(certificate_id, 60_000, 48),
        "CertificateStatusMismatch",
        [certificate_id, Stored.SUSPENDED, Stored.ACTIVE],
    )


def test_renew_of_an_expired_certificate_makes_it_active_again(
    chain: Consortium, mn: Member
) -> None:
    today = chain.today()
    certificate_id = chain.issue(mn, valid_from=today - 30, valid_until=today - 1)
    assert chain.status(certificate_id) == Effective.EXPIRED
    chain.transact(mn.operator, chain.registry.functions.renew(certificate_id, today + 365, 48))
    assert chain.status(certificate_id) == Effective.ACTIVE


# ---------------------------------------------------------------- suspend, reinstate, revoke


def test_suspend_then_reinstate_round_trips_with_events(chain: Consortium, mn: Member) -> None:
    certificate_id = chain.issue(mn)
    receipt = chain.transact(mn.operator, chain.registry.functions.suspend(certificate_id, 1))
    assert dict(chain.event(receipt, chain.registry, "CertificateStatusChanged")["args"]) == {
        "id": certificate_id,
        "issuer": mn.raw,
        "status": Stored.SUSPENDED,
        "reason": 1,
        "operator": mn.operator.address,
    }
    assert chain.status(certificate_id) == Effective.SUSPENDED

    receipt = chain.transact(mn.operator, chain.registry.functions.reinstate(certificate_id, 16))
    assert dict(chain.event(receipt, chain.registry, "CertificateStatusChanged")["args"]) == {
        "id": certificate_id,
        "issuer": mn.raw,
        "status": Stored.ACTIVE,
        "reason": 16,
        "operator": mn.operator.address,
    }
    assert chain.status(certificate_id) == Effective.ACTIVE


def test_suspend_of_a_suspended_certificate_is_refused(chain: Consortium, mn: Member) -> None:
    certificate_id = chain.issue(mn)
    chain.transact(mn.operator, chain.registry.functions.suspend(certificate_id, 1))
    chain.reverts(
        mn.operator,
        chain.registry.functions.suspend(certificate_id, 1),
        "CertificateStatusMismatch",
        [certificate_id, Stored.SUSPENDED, Stored.ACTIVE],
    )


def test_reinstate_of_an_active_certificate_is_refused(chain: Consortium, mn: Member) -> None:
    certificate_id = chain.issue(mn)
    chain.reverts(
        mn.operator,
        chain.registry.functions.reinstate(certificate_id, 16),
        "CertificateStatusMismatch",
        [certificate_id, Stored.ACTIVE, Stored.SUSPENDED],
    )


@pytest.mark.parametrize("suspended_first", [False, True])
def test_revoke_from_active_or_suspended_is_final(
    chain: Consortium, mn: Member, suspended_first: bool
) -> None:
    certificate_id = chain.issue(mn)
    if suspended_first:
        chain.transact(mn.operator, chain.registry.functions.suspend(certificate_id, 2))
    receipt = chain.transact(mn.operator, chain.registry.functions.revoke(certificate_id, 5))
    assert (
        chain.event(receipt, chain.registry, "CertificateStatusChanged")["args"]["status"]
        == Stored.REVOKED
    )
    assert view(chain, certificate_id)["status"] == Stored.REVOKED
    assert chain.status(certificate_id) == Effective.REVOKED


def test_every_write_on_a_revoked_certificate_is_refused(chain: Consortium, mn: Member) -> None:
    certificate_id = chain.issue(mn)
    chain.transact(mn.operator, chain.registry.functions.revoke(certificate_id, 3))
    functions = chain.registry.functions
    for fn in (
        functions.suspend(certificate_id, 1),
        functions.reinstate(certificate_id, 16),
        functions.revoke(certificate_id, 1),
        functions.amend(certificate_id, 1, HOLDER, COMMITMENT, 32),
        functions.renew(certificate_id, 60_000, 48),
    ):
        chain.reverts(mn.operator, fn, "CertificateAlreadyRevoked", [certificate_id])
    assert view(chain, certificate_id)["status"] == Stored.REVOKED


def test_issuing_a_revoked_number_again_is_refused(chain: Consortium, mn: Member) -> None:
    number = chain.number()
    certificate_id = chain.issue(mn, number=number)
    chain.transact(mn.operator, chain.registry.functions.revoke(certificate_id, 5))
    chain.reverts(
        mn.operator,
        chain.registry.functions.issue(number, 1, 0, 1, HOLDER, COMMITMENT),
        "CertificateAlreadyExists",
        [certificate_id],
    )


# ---------------------------------------------------------------- reason codes

OPERATIONS = {
    "suspend": (SUSPEND_REASONS, SUSPEND_MASK, Stored.ACTIVE),
    "revoke": (REVOKE_REASONS, REVOKE_MASK, Stored.ACTIVE),
    "reinstate": (REINSTATE_REASONS, REINSTATE_MASK, Stored.SUSPENDED),
    "amend": (AMEND_REASONS, AMEND_MASK, Stored.ACTIVE),
    "renew": (RENEW_REASONS, RENEW_MASK, Stored.ACTIVE),
}


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_each_operation_accepts_exactly_its_reason_codes(
    chain: Consortium, mn: Member, operation: str
) -> None:
    accepted, mask, needed_status = OPERATIONS[operation]
    certificate_id = chain.issue(mn)
    if needed_status == Stored.SUSPENDED:
        chain.transact(mn.operator, chain.registry.functions.suspend(certificate_id, 1))
    functions = chain.registry.functions

    def call(reason: int) -> object:
        if operation == "amend":
            fn = functions.amend(certificate_id, 1, HOLDER, COMMITMENT, reason)
        elif operation == "renew":
            fn = functions.renew(certificate_id, 60_000, reason)
        else:
            fn = getattr(functions, operation)(certificate_id, reason)
        return fn.call({"from": mn.operator.address})

    for reason in [*range(70), 127, 128, 255]:
        if reason in accepted:
            call(reason)  # does not revert
        else:
            assert_reverts(lambda r=reason: call(r), "CertificateReasonNotAllowed", [reason, mask])


# ---------------------------------------------------------------- unknown certificates


def test_an_unknown_certificate_reads_as_unknown_never_as_valid(chain: Consortium) -> None:
    unknown = ids.certificate_id("MN", "NEVER-ISSUED")
    assert chain.status(unknown) == Effective.UNKNOWN
    assert view(chain, unknown) == {
        "id": unknown,
        "issuer": b"\x00" * 4,
        "tiers": 0,
        "status": Stored.NONE,
        "effectiveStatus": Effective.UNKNOWN,
        "validFrom": 0,
        "validUntil": 0,
        "version": 0,
        "digest": b"\x00" * 20,
    }


def test_every_write_on_an_unknown_certificate_is_refused(chain: Consortium, mn: Member) -> None:
    unknown = ids.certificate_id("MN", "NEVER-ISSUED")
    functions = chain.registry.functions
    for fn in (
        functions.suspend(unknown, 1),
        functions.reinstate(unknown, 16),
        functions.revoke(unknown, 1),
        functions.amend(unknown, 1, HOLDER, COMMITMENT, 32),
        functions.renew(unknown, 60_000, 48),
    ):
        chain.reverts(mn.operator, fn, "CertificateUnknown", [unknown])


# ---------------------------------------------------------------- effective status over time


def test_effective_status_follows_the_validity_window_day_by_day(
    chain: Consortium, mn: Member
) -> None:
    start = chain.today() + 10
    certificate_id = chain.issue(mn, valid_from=start, valid_until=start + 5)
    assert chain.status(certificate_id) == Effective.NOT_YET_VALID
    chain.travel_to_day(start - 1, second=86_399)
    assert chain.status(certificate_id) == Effective.NOT_YET_VALID
    chain.travel_to_day(start, second=0)
    assert chain.status(certificate_id) == Effective.ACTIVE
    chain.travel_to_day(start + 5, second=86_399)  # valid until is inclusive
    assert chain.status(certificate_id) == Effective.ACTIVE
    chain.travel_to_day(start + 6, second=0)
    assert chain.status(certificate_id) == Effective.EXPIRED
    assert view(chain, certificate_id)["status"] == Stored.ACTIVE  # expiry is computed, not stored


def test_expired_outranks_suspended(chain: Consortium, mn: Member) -> None:
    today = chain.today()
    certificate_id = chain.issue(mn, valid_until=today + 2)
    chain.transact(mn.operator, chain.registry.functions.suspend(certificate_id, 1))
    assert chain.status(certificate_id) == Effective.SUSPENDED
    chain.travel_to_day(today + 3)
    assert chain.status(certificate_id) == Effective.EXPIRED


def test_revoked_outranks_expired(chain: Consortium, mn: Member) -> None:
    today = chain.today()
    certificate_id = chain.issue(mn, valid_until=today + 2)
    chain.transact(mn.operator, chain.registry.functions.revoke(certificate_id, 1))
    chain.travel_to_day(today + 30)
    assert chain.status(certificate_id) == Effective.REVOKED


def test_suspended_outranks_not_yet_valid(chain: Consortium, mn: Member) -> None:
    today = chain.today()
    certificate_id = chain.issue(mn, valid_from=today + 5, valid_until=today + 50)
    chain.transact(mn.operator, chain.registry.functions.suspend(certificate_id, 3))
    assert chain.status(certificate_id) == Effective.SUSPENDED
