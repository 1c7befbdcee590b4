"""MRAs: proposal, signatures, force, suspension, termination, end, and the recognition view."""

from __future__ import annotations

import pytest

from contracts.domain import ids

from .conftest import (
    Action,
    AuthorityStatus,
    Consortium,
    Member,
    MraState,
    MraStatus,
    Reason,
)

MN = ids.authority_code("MN")
KZ = ids.authority_code("KZ")
KR = ids.authority_code("KR")
TEXT = bytes.fromhex("5e" * 32)


def mra(chain: Consortium, mra_id: int) -> dict[str, object]:
    fields = (
        "id",
        "state",
        "status",
        "proposer",
        "suspendedBy",
        "effectiveFrom",
        "endsOn",
        "proposedAt",
        "textHash",
        "parties",
        "recognizedTiers",
        "signed",
    )
    return dict(zip(fields, chain.mras.functions.getMra(mra_id).call(), strict=True))


def status(chain: Consortium, mra_id: int) -> int:
    return int(chain.mras.functions.mraStatus(mra_id).call())


def recognizes(chain: Consortium, authority: str, certificate_id: bytes) -> tuple[bool, int, int]:
    recognized, reason, mra_id = chain.mras.functions.recognizes(
        ids.authority_code(authority), certificate_id
    ).call()
    return recognized, reason, mra_id


# ---------------------------------------------------------------- propose and sign


def test_propose_records_the_arrangement_with_the_proposers_signature(
    chain: Consortium, mn: Member
) -> None:
    today = chain.today()
    receipt = chain.transact(
        mn.operator, chain.mras.functions.propose([MN, KZ], [2, 3], today + 1, today + 400, TEXT)
    )
    proposed = chain.event(receipt, chain.mras, "MraProposed")["args"]
    mra_id = proposed["mraId"]
    assert mra_id == 1
    assert dict(proposed) == {
        "mraId": 1,
        "party": MN,
        "parties": [MN, KZ],
        "recognizedTiers": [2, 3],
        "effectiveFrom": today + 1,
        "endsOn": today + 400,
        "textHash": TEXT,
        "operator": mn.operator.address,
    }
    assert dict(chain.event(receipt, chain.mras, "MraSigned")["args"]) == {
        "mraId": 1,
        "party": MN,
        "operator": mn.operator.address,
    }
    view = mra(chain, mra_id)
    block_time = chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    assert view == {
        "id": 1,
        "state": MraState.PROPOSED,
        "status": MraStatus.PROPOSED,
        "proposer": MN,
        "suspendedBy": b"\x00" * 4,
        "effectiveFrom": today + 1,
        "endsOn": today + 400,
        "proposedAt": block_time,
        "textHash": TEXT,
        "parties": [MN, KZ],
        "recognizedTiers": [2, 3],
        "signed": [True, False],
    }
    assert chain.mras.functions.mrasOf(MN).call() == [1]
    assert chain.mras.functions.mrasOf(KZ).call() == [1]
    assert chain.mras.functions.mrasOf(KR).call() == []


def test_the_last_signature_puts_the_mra_in_force(chain: Consortium, kz: Member) -> None:
    mra_id = chain.propose_mra("MN", ["MN", "KZ"])
    receipt = chain.transact(kz.operator, chain.mras.functions.sign(mra_id))
    assert dict(chain.event(receipt, chain.mras, "MraSigned")["args"]) == {
        "mraId": mra_id,
        "party": KZ,
        "operator": kz.operator.address,
    }
    assert dict(chain.event(receipt, chain.mras, "MraInForce")["args"]) == {
        "mraId": mra_id,
        "party": KZ,
        "effectiveFrom": chain.today(),
        "operator": kz.operator.address,
    }
    assert mra(chain, mra_id)["state"] == MraState.SIGNED
    assert mra(chain, mra_id)["signed"] == [True, True]
    assert status(chain, mra_id) == MraStatus.IN_FORCE


def test_a_plurilateral_mra_is_in_force_only_when_every_party_signed(
    chain: Consortium, kz: Member, kr: Member
) -> None:
    mra_id = chain.propose_mra("MN", ["MN", "KZ", "KR"])
    receipt = chain.transact(kz.operator, chain.mras.functions.sign(mra_id))
    assert chain.events(receipt, chain.mras, "MraInForce") == []
    assert status(chain, mra_id) == MraStatus.PROPOSED
    chain.transact(kr.operator, chain.mras.functions.sign(mra_id))
    assert status(chain, mra_id) == MraStatus.IN_FORCE


def test_signing_twice_or_as_a_non_party_or_an_unknown_mra_is_refused(
    chain: Consortium, mn: Member, kr: Member
) -> None:
    mra_id = chain.propose_mra("MN", ["MN", "KZ"])
    functions = chain.mras.functions
    chain.reverts(mn.operator, functions.sign(mra_id), "MraAlreadySigned", [mra_id, MN])
    chain.reverts(kr.operator, functions.sign(mra_id), "MraNotParty", [mra_id, KR])
    chain.reverts(mn.operator, functions.sign(77), "MraUnknown", [77])
    for write in (functions.suspend, functions.resume, functions.terminate):
        chain.reverts(mn.operator, write(77), "MraUnknown", [77])


def test_an_unknown_mra_reads_as_unknown(chain: Consortium) -> None:
    assert status(chain, 5) == MraStatus.UNKNOWN
    view = mra(chain, 5)
    assert (view["state"], view["status"], view["parties"]) == (
        MraState.NONE,
        MraStatus.UNKNOWN,
        [],
    )


def test_signing_an_in_force_mra_is_refused(chain: Consortium, kz: Member) -> None:
    mra_id = chain.mra_in_force(["MN", "KZ"])
    chain.reverts(
        kz.operator,
        chain.mras.functions.sign(mra_id),
        "MraStatusMismatch",
        [mra_id, MraStatus.IN_FORCE],
    )


# ---------------------------------------------------------------- proposal validation


def test_propose_with_a_wrong_number_of_parties_is_refused(chain: Consortium, mn: Member) -> None:
    functions = chain.mras.functions
    chain.reverts(
        mn.operator, functions.propose([MN], [2], 0, 0, TEXT), "MraInvalidPartyCount", [1]
    )
    nine = [MN, KZ, KR] + [ids.authority_code(c) for c in ("AA", "BB", "CC", "DD", "EE", "FF")]
    chain.reverts(
        mn.operator, functions.propose(nine, [2] * 9, 0, 0, TEXT), "MraInvalidPartyCount", [9]
    )


def test_propose_refuses_malformed_arrangements(chain: Consortium, mn: Member) -> None:
    functions = chain.mras.functions
    today = chain.today()
    uz = ids.authority_code("UZ")
    cases = [
        (functions.propose([MN, KZ], [2], 0, 0, TEXT), "MraTiersLengthMismatch", [2, 1]),
        (functions.propose([KZ, KR], [2, 2], 0, 0, TEXT), "MraNotParty", [0, MN]),
        (functions.propose([MN, KZ, MN], [2, 2, 2], 0, 0, TEXT), "MraDuplicateParty", [MN]),
        (
            functions.propose([MN, uz], [2, 2], 0, 0, TEXT),
            "MraPartyNotActive",
            [uz, AuthorityStatus.NONE],
        ),
        (functions.propose([MN, KZ], [2, 0x40], 0, 0, TEXT), "MraInvalidTiers", [KZ, 0x40]),
        (
            functions.propose([MN, KZ], [2, 2], today + 10, today + 9, TEXT),
            "MraInvalidDates",
            [today + 10, today + 9],
        ),
        (
            functions.propose([MN, KZ], [2, 2], today - 30, today - 1, TEXT),
            "MraInvalidDates",
            [today - 30, today - 1],
        ),
        (functions.propose([MN, KZ], [2, 2], 0, 0, b"\x00" * 32), "MraInvalidTextHash", []),
    ]
    for fn, error, args in cases:
        chain.reverts(mn.operator, fn, error, args)


def test_propose_with_a_suspended_party_is_refused(chain: Consortium, mn: Member) -> None:
    chain.vote_through(Action.SUSPEND, "KR", ["MN", "KZ"])
    chain.reverts(
        mn.operator,
        chain.mras.functions.propose([MN, KR], [2, 2], 0, 0, TEXT),
        "MraPartyNotActive",
        [KR, AuthorityStatus.SUSPENDED],
    )


def test_a_party_may_recognize_nothing_of_another(chain: Consortium) -> None:
    mra_id = chain.mra_in_force(["MN", "KZ"], [0, 2])
    assert mra(chain, mra_id)["recognizedTiers"] == [0, 2]


# ---------------------------------------------------------------- dates


def test_an_mra_applies_from_its_effective_day_until_its_end_day(chain: Consortium) -> None:
    today = chain.today()
    mra_id = chain.mra_in_force(["MN", "KZ"], effective_from=today + 5, ends_on=today + 10)
    assert status(chain, mra_id) == MraStatus.NOT_YET_IN_FORCE
    chain.travel_to_day(today + 5, second=0)
    assert status(chain, mra_id) == MraStatus.IN_FORCE
    chain.travel_to_day(today + 10, second=86_399)
    assert status(chain, mra_id) == MraStatus.IN_FORCE
    chain.travel_to_day(today + 11, second=0)
    assert status(chain, mra_id) == MraStatus.ENDED
    assert mra(chain, mra_id)["state"] == MraState.SIGNED


def test_an_unsigned_proposal_past_its_end_day_ends_and_cannot_be_signed(
    chain: Consortium, kz: Member
) -> None:
    today = chain.today()
    mra_id = chain.propose_mra("MN", ["MN", "KZ"], ends_on=today + 1)
    chain.travel_to_day(today + 2)
    assert status(chain, mra_id) == MraStatus.ENDED
    chain.reverts(
        kz.operator,
        chain.mras.functions.sign(mra_id),
        "MraStatusMismatch",
        [mra_id, MraStatus.ENDED],
    )
    chain.reverts(
        kz.operator,
        chain.mras.functions.terminate(mra_id),
        "MraStatusMismatch",
        [mra_id, MraStatus.ENDED],
    )


# ---------------------------------------------------------------- suspend, resume, terminate


def test_any_party_suspends_and_only_the_suspender_resumes(
    chain: Consortium, mn: Member, kz: Member
) -> None:
    mra_id = chain.mra_in_force(["MN", "KZ"])
    receipt = chain.transact(kz.operator, chain.mras.functions.suspend(mra_id))
    assert dict(chain.event(receipt, chain.mras, "MraSuspended")["args"]) == {
        "mraId": mra_id,
        "party": KZ,
        "operator": kz.operator.address,
    }
    assert (mra(chain, mra_id)["state"], mra(chain, mra_id)["suspendedBy"]) == (
        MraState.SUSPENDED,
        KZ,
    )
    assert status(chain, mra_id) == MraStatus.SUSPENDED
    chain.reverts(
        mn.operator, chain.mras.functions.resume(mra_id), "MraNotSuspender", [mra_id, KZ, MN]
    )
    chain.reverts(
        mn.operator,
        chain.mras.functions.suspend(mra_id),
        "MraStatusMismatch",
        [mra_id, MraStatus.SUSPENDED],
    )
    receipt = chain.transact(kz.operator, chain.mras.functions.resume(mra_id))
    assert dict(chain.event(receipt, chain.mras, "MraResumed")["args"]) == {
        "mraId": mra_id,
        "party": KZ,
        "operator": kz.operator.address,
    }
    assert (mra(chain, mra_id)["state"], mra(chain, mra_id)["suspendedBy"]) == (
        MraState.SIGNED,
        b"\x00" * 4,
    )
    assert status(chain, mra_id) == MraStatus.IN_FORCE


def test_an_mra_whose_suspender_is_suspended_waits_for_its_reinstatement(
    chain: Consortium, mn: Member, kr: Member
) -> None:
    """Resuming stays the suspender's decision (docs/contracts.md, "MRAs"): the beneficiary
    cannot restore recognition at the border of a party that cannot act."""
    mra_id = chain.mra_in_force(["MN", "KR"])
    chain.transact(kr.operator, chain.mras.functions.suspend(mra_id))
    chain.vote_through(Action.SUSPEND, "KR", ["MN", "KZ"])
    chain.reverts(
        mn.operator, chain.mras.functions.resume(mra_id), "MraNotSuspender", [mra_id, KR, MN]
    )
    chain.reverts(
        kr.operator,
        chain.mras.functions.resume(mra_id),
        "AuthorityNotActive",
        [KR, AuthorityStatus.SUSPENDED],
    )
    assert status(chain, mra_id) == MraStatus.SUSPENDED

    chain.vote_through(Action.REINSTATE, "KR", ["MN", "KZ"])
    chain.transact(kr.operator, chain.mras.functions.resume(mra_id))
    assert status(chain, mra_id) == MraStatus.IN_FORCE


def test_an_mra_whose_suspender_is_removed_is_terminated_and_signed_again_without_it(
    chain: Consortium, mn: Member, kz: Member, kr: Member
) -> None:
    mra_id = chain.mra_in_force(["MN", "KZ", "KR"])
    chain.transact(kr.operator, chain.mras.functions.suspend(mra_id))
    chain.vote_through(Action.REMOVE, "KR", ["MN", "KZ"])
    chain.reverts(
        kz.operator, chain.mras.functions.resume(mra_id), "MraNotSuspender", [mra_id, KR, KZ]
    )
    chain.transact(mn.operator, chain.mras.functions.terminate(mra_id))
    assert status(chain, mra_id) == MraStatus.TERMINATED

    replacement = chain.mra_in_force(["MN", "KZ"])
    certificate = chain.issue(mn, tiers=2)
    assert recognizes(chain, "KZ", certificate) == (True, Reason.RECOGNIZED, replacement)


def test_an_mra_signed_but_not_yet_in_force_may_be_suspended(chain: Consortium, mn: Member) -> None:
    mra_id = chain.mra_in_force(["MN", "KZ"], effective_from=chain.today() + 30)
    chain.transact(mn.operator, chain.mras.functions.suspend(mra_id))
    assert status(chain, mra_id) == MraStatus.SUSPENDED


def test_suspending_an_unsigned_mra_or_resuming_an_unsuspended_one_is_refused(
    chain: Consortium, mn: Member
) -> None:
    proposed = chain.propose_mra("MN", ["MN", "KZ"])
    chain.reverts(
        mn.operator,
        chain.mras.functions.suspend(proposed),
        "MraStatusMismatch",
        [proposed, MraStatus.PROPOSED],
    )
    in_force = chain.mra_in_force(["MN", "KZ"])
    chain.reverts(
        mn.operator,
        chain.mras.functions.resume(in_force),
        "MraStatusMismatch",
        [in_force, MraStatus.IN_FORCE],
    )


@pytest.mark.parametrize("stage", ["proposed", "in_force", "suspended"])
def test_terminate_is_terminal_from_every_live_stage(
    chain: Consortium, mn: Member, kz: Member, stage: str
) -> None:
    if stage == "proposed":
        mra_id = chain.propose_mra("MN", ["MN", "KZ"])
    else:
        mra_id = chain.mra_in_force(["MN", "KZ"])
        if stage == "suspended":
            chain.transact(mn.operator, chain.mras.functions.suspend(mra_id))
    receipt = chain.transact(kz.operator, chain.mras.functions.terminate(mra_id))
    assert dict(chain.event(receipt, chain.mras, "MraTerminated")["args"]) == {
        "mraId": mra_id,
        "party": KZ,
        "operator": kz.operator.address,
    }
    assert (mra(chain, mra_id)["state"], status(chain, mra_id)) == (
        MraState.TERMINATED,
        MraStatus.TERMINATED,
    )
    functions = chain.mras.functions
    for write in (functions.sign, functions.suspend, functions.resume, functions.terminate):
        for member in (mn, kz):
            chain.reverts(
                member.operator, write(mra_id), "MraStatusMismatch", [mra_id, MraStatus.TERMINATED]
            )


# ---------------------------------------------------------------- recognition


def test_recognition_needs_an_mra_in_force_covering_the_tier(chain: Consortium, mn: Member) -> None:
    certificate = chain.issue(mn, tiers=3)  # AEOF
    mra_id = chain.mra_in_force(["MN", "KZ"], [2, 2])  # each recognizes the other's AEOS
    assert recognizes(chain, "KZ", certificate) == (True, Reason.RECOGNIZED, mra_id)


def test_recognition_of_a_tier_outside_the_mra_is_refused(chain: Consortium, mn: Member) -> None:
    customs_only = chain.issue(mn, tiers=1)  # AEOC
    mra_id = chain.mra_in_force(["MN", "KZ"], [2, 2])
    assert recognizes(chain, "KZ", customs_only) == (False, Reason.TIER_NOT_COVERED, mra_id)


def test_recognition_is_directional_per_party(chain: Consortium, mn: Member, kz: Member) -> None:
    mra_id = chain.mra_in_force(
        ["MN", "KZ"], [2, 0]
    )  # KZ recognizes MN; MN recognizes nothing of KZ
    assert recognizes(chain, "KZ", chain.issue(mn, tiers=2)) == (True, Reason.RECOGNIZED, mra_id)
    assert recognizes(chain, "MN", chain.issue(kz, tiers=2)) == (
        False,
        Reason.TIER_NOT_COVERED,
        mra_id,
    )


def test_recognition_of_unknown_and_own_certificates(chain: Consortium, mn: Member) -> None:
    unknown = ids.certificate_id("MN", "NOPE")
    assert recognizes(chain, "KZ", unknown) == (False, Reason.UNKNOWN_CERTIFICATE, 0)
    assert recognizes(chain, "MN", chain.issue(mn)) == (True, Reason.OWN_CERTIFICATE, 0)


def test_an_mra_between_others_does_not_help(chain: Consortium, mn: Member) -> None:
    certificate = chain.issue(mn)
    chain.mra_in_force(["MN", "KZ"])
    assert recognizes(chain, "KR", certificate) == (False, Reason.NO_MRA, 0)
    assert recognizes(chain, "UZ", certificate) == (False, Reason.NO_MRA, 0)


@pytest.mark.parametrize("state", ["suspended", "revoked", "expired", "not_yet_valid"])
def test_a_certificate_that_is_not_active_is_not_recognized(
    chain: Consortium, mn: Member, state: str
) -> None:
    today = chain.today()
    if state == "expired":
        certificate = chain.issue(mn, valid_from=today - 10, valid_until=today - 1)
    elif state == "not_yet_valid":
        certificate = chain.issue(mn, valid_from=today + 1)
    else:
        certificate = chain.issue(mn)
        fn = (
            chain.registry.functions.suspend
            if state == "suspended"
            else chain.registry.functions.revoke
        )
        chain.transact(mn.operator, fn(certificate, 1))
    chain.mra_in_force(["MN", "KZ"])
    assert recognizes(chain, "KZ", certificate) == (False, Reason.CERTIFICATE_NOT_ACTIVE, 0)
    assert recognizes(chain, "MN", certificate) == (False, Reason.CERTIFICATE_NOT_ACTIVE, 0)


def test_a_certificate_of_a_suspended_issuer_is_not_recognized(
    chain: Consortium, kr: Member
) -> None:
    certificate = chain.issue(kr)
    chain.mra_in_force(["KR", "KZ"])
    chain.vote_through(Action.SUSPEND, "KR", ["MN", "KZ"])
    assert recognizes(chain, "KZ", certificate) == (False, Reason.ISSUER_NOT_ACTIVE, 0)
    assert recognizes(chain, "KR", certificate) == (True, Reason.OWN_CERTIFICATE, 0)


def test_recognition_reports_why_the_mra_does_not_apply(
    chain: Consortium, mn: Member, kz: Member
) -> None:
    certificate = chain.issue(mn)
    today = chain.today()

    proposed = chain.propose_mra("MN", ["MN", "KZ"])
    assert recognizes(chain, "KZ", certificate) == (False, Reason.MRA_NOT_SIGNED, proposed)
    chain.transact(mn.operator, chain.mras.functions.terminate(proposed))
    assert recognizes(chain, "KZ", certificate) == (False, Reason.MRA_TERMINATED, proposed)

    later = chain.mra_in_force(["MN", "KZ"], effective_from=today + 3, ends_on=today + 6)
    assert recognizes(chain, "KZ", certificate) == (False, Reason.MRA_NOT_YET_IN_FORCE, later)
    chain.transact(kz.operator, chain.mras.functions.suspend(later))
    assert recognizes(chain, "KZ", certificate) == (False, Reason.MRA_SUSPENDED, later)
    chain.transact(kz.operator, chain.mras.functions.resume(later))
    chain.travel_to_day(today + 4)
    assert recognizes(chain, "KZ", certificate) == (True, Reason.RECOGNIZED, later)
    chain.travel_to_day(today + 7)
    assert recognizes(chain, "KZ", certificate) == (False, Reason.MRA_ENDED, later)


def test_with_several_mras_any_in_force_recognizes(chain: Consortium, mn: Member) -> None:
    certificate = chain.issue(mn, tiers=1)
    terminated = chain.mra_in_force(["MN", "KZ"])
    chain.transact(mn.operator, chain.mras.functions.terminate(terminated))
    narrow = chain.mra_in_force(["MN", "KZ"], [2, 2])
    assert recognizes(chain, "KZ", certificate) == (False, Reason.TIER_NOT_COVERED, narrow)
    plurilateral = chain.mra_in_force(["KR", "MN", "KZ"], [2, 1, 2])
    assert recognizes(chain, "KZ", certificate) == (True, Reason.RECOGNIZED, plurilateral)


def test_with_several_mras_the_closest_reason_is_reported(chain: Consortium, mn: Member) -> None:
    certificate = chain.issue(mn)
    ended = chain.mra_in_force(["MN", "KZ"], ends_on=chain.today())
    suspended = chain.mra_in_force(["MN", "KZ"])
    chain.transact(mn.operator, chain.mras.functions.suspend(suspended))
    unsigned = chain.propose_mra("KZ", ["KZ", "MN"])
    chain.travel_to_day(chain.today() + 1)
    assert status(chain, ended) == MraStatus.ENDED
    # suspended (closer) beats unsigned and ended, whatever the order of the MRAs
    assert recognizes(chain, "KZ", certificate) == (False, Reason.MRA_SUSPENDED, suspended)
    assert unsigned > suspended


def test_on_a_tie_the_newest_mra_is_reported(chain: Consortium, mn: Member) -> None:
    certificate = chain.issue(mn)
    chain.propose_mra("MN", ["MN", "KZ"])
    newest = chain.propose_mra("KZ", ["KZ", "MN"])
    assert recognizes(chain, "KZ", certificate) == (False, Reason.MRA_NOT_SIGNED, newest)
