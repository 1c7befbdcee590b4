"""Membership votes: admit, suspend, reinstate, remove, decided by a strict majority of every
member not removed, with at least two approvals (docs/contracts.md, "Membership votes")."""

from __future__ import annotations

import pytest

from contracts.chain import Chain
from contracts.domain import days, ids

from .conftest import (
    PROPOSAL_LIFETIME,
    ROLE_ADMIN,
    ROLE_OPERATOR,
    ZERO_ADDRESS,
    Action,
    AuthorityStatus,
    Consortium,
    Member,
    ProposalStatus,
    deploy_and_bootstrap,
)

# Slow, so not in `make test-fast` (`make test` runs it): every membership vote rule on the
# contract.
pytestmark = pytest.mark.slow

UZ = ids.authority_code("UZ")


def proposal(chain: Consortium, proposal_id: int) -> dict[str, object]:
    fields = (
        "id",
        "status",
        "action",
        "code",
        "proposer",
        "approvals",
        "required",
        "createdAt",
        "expiresAt",
        "admin",
        "name",
    )
    raw = chain.registry.functions.getProposal(proposal_id).call()
    return dict(zip(fields, raw, strict=True))


def status_of(chain: Consortium, code: str) -> int:
    return int(chain.registry.functions.authorityStatus(ids.authority_code(code)).call())


def propose_admit(chain: Consortium, member: Member, admin: str) -> int:
    receipt = chain.transact(
        member.admin,
        chain.registry.functions.proposeMembership(Action.ADMIT, UZ, "Uzbekistan Customs", admin),
    )
    return int(chain.event(receipt, chain.registry, "MembershipProposed")["args"]["proposalId"])


# ---------------------------------------------------------------- admit


def test_admission_needs_two_of_three_at_a_simple_majority(
    chain: Consortium, mn: Member, kz: Member
) -> None:
    uz_admin = chain.new_account()
    receipt = chain.transact(
        mn.admin,
        chain.registry.functions.proposeMembership(
            Action.ADMIT, UZ, "Uzbekistan Customs", uz_admin.address
        ),
    )
    proposed = chain.event(receipt, chain.registry, "MembershipProposed")["args"]
    proposal_id = proposed["proposalId"]
    assert dict(proposed) == {
        "proposalId": proposal_id,
        "action": Action.ADMIT,
        "code": UZ,
        "proposer": mn.raw,
        "name": "Uzbekistan Customs",
        "admin": uz_admin.address,
        "expiresAt": proposed["expiresAt"],
    }
    voted = chain.event(receipt, chain.registry, "MembershipVoted")["args"]
    assert (voted["voter"], voted["approvals"], voted["required"]) == (mn.raw, 1, 2)
    assert chain.events(receipt, chain.registry, "MembershipExecuted") == []
    assert status_of(chain, "UZ") == AuthorityStatus.NONE
    assert proposal(chain, proposal_id)["status"] == ProposalStatus.OPEN

    receipt = chain.transact(kz.admin, chain.registry.functions.voteOnMembership(proposal_id))
    voted = chain.event(receipt, chain.registry, "MembershipVoted")["args"]
    assert (voted["voter"], voted["approvals"], voted["required"]) == (kz.raw, 2, 2)
    assert dict(chain.event(receipt, chain.registry, "AuthorityAdmitted")["args"]) == {
        "code": UZ,
        "name": "Uzbekistan Customs",
        "admin": uz_admin.address,
    }
    assert dict(chain.event(receipt, chain.registry, "MembershipExecuted")["args"]) == {
        "proposalId": proposal_id,
        "action": Action.ADMIT,
        "code": UZ,
    }
    assert status_of(chain, "UZ") == AuthorityStatus.ACTIVE
    assert chain.registry.functions.activeMemberCount().call() == 4
    assert chain.registry.functions.accountOf(uz_admin.address).call() == (UZ, ROLE_ADMIN, True)
    assert proposal(chain, proposal_id)["status"] == ProposalStatus.EXECUTED


def test_proposal_view_records_the_vote(chain: Consortium, mn: Member) -> None:
    uz_admin = chain.new_account(funded=False).address
    proposal_id = propose_admit(chain, mn, uz_admin)
    view = proposal(chain, proposal_id)
    assert view["expiresAt"] == view["createdAt"] + PROPOSAL_LIFETIME  # type: ignore[operator]
    assert {k: v for k, v in view.items() if k not in ("createdAt", "expiresAt")} == {
        "id": proposal_id,
        "status": ProposalStatus.OPEN,
        "action": Action.ADMIT,
        "code": UZ,
        "proposer": mn.raw,
        "approvals": 1,
        "required": 2,
        "admin": uz_admin,
        "name": "Uzbekistan Customs",
    }
    assert chain.registry.functions.hasVoted(proposal_id, mn.raw).call() is True
    assert chain.registry.functions.hasVoted(proposal_id, ids.authority_code("KZ")).call() is False
    assert proposal(chain, 999)["status"] == ProposalStatus.NONE


def test_a_lone_member_cannot_admit_by_itself(backend: Chain, chain: Consortium) -> None:
    """Never fewer than two approvals: one administration alone decides nothing, so a vote it
    could never carry is refused when proposed."""
    alone = deploy_and_bootstrap(backend, codes=("MN",), close_bootstrap=False)
    alone.reverts(
        alone.members["MN"].admin,
        alone.registry.functions.proposeMembership(
            Action.ADMIT, UZ, "Uzbekistan", alone.new_account(False).address
        ),
        "MembershipQuorumUnreachable",
        [Action.ADMIT, UZ, 1, 2],
    )


def test_two_thirds_plus_of_three_needs_all_three(backend: Chain, chain: Consortium) -> None:
    strict = deploy_and_bootstrap(backend, vote_threshold_bps=6667)
    proposal_id = propose_admit(strict, strict.members["MN"], strict.new_account(False).address)
    strict.transact(
        strict.members["KZ"].admin, strict.registry.functions.voteOnMembership(proposal_id)
    )
    assert strict.registry.functions.authorityStatus(UZ).call() == AuthorityStatus.NONE
    strict.transact(
        strict.members["KR"].admin, strict.registry.functions.voteOnMembership(proposal_id)
    )
    assert strict.registry.functions.authorityStatus(UZ).call() == AuthorityStatus.ACTIVE


def test_admission_of_a_malformed_or_existing_code_or_used_admin_is_refused(
    chain: Consortium, mn: Member, kz: Member
) -> None:
    functions = chain.registry.functions
    new = chain.new_account(False).address
    chain.reverts(
        mn.admin,
        functions.proposeMembership(Action.ADMIT, b"uz\x00\x00", "x", new),
        "AuthorityInvalidCode",
        [b"uz\x00\x00"],
    )
    chain.reverts(
        mn.admin,
        functions.proposeMembership(Action.ADMIT, kz.raw, "x", new),
        "AuthorityAlreadyExists",
        [kz.raw, AuthorityStatus.ACTIVE],
    )
    chain.reverts(
        mn.admin,
        functions.proposeMembership(Action.ADMIT, UZ, "x", kz.operator.address),
        "AuthorityAccountAlreadyRegistered",
        [kz.operator.address, kz.raw],
    )
    chain.reverts(
        mn.admin,
        functions.proposeMembership(Action.ADMIT, UZ, "", new),
        "AuthorityInvalidName",
        [UZ, 0],
    )


def test_a_stale_admission_cannot_execute(chain: Consortium, mn: Member, kz: Member) -> None:
    admin = chain.new_account(False).address
    first = propose_admit(chain, mn, admin)
    second = propose_admit(chain, kz, chain.new_account(False).address)
    chain.transact(kz.admin, chain.registry.functions.voteOnMembership(first))
    chain.reverts(
        mn.admin,
        chain.registry.functions.voteOnMembership(second),
        "MembershipProposalStale",
        [second, 3, 4],
    )
    assert proposal(chain, second)["status"] == ProposalStatus.STALE


def test_an_admission_whose_admin_account_was_taken_meanwhile_cannot_execute(
    chain: Consortium, mn: Member, kz: Member
) -> None:
    """Accounts change without a membership change, so the admission is checked again."""
    admin = chain.new_account(False).address
    proposal_id = propose_admit(chain, mn, admin)
    chain.transact(kz.admin, chain.registry.functions.addAccount(admin, ROLE_OPERATOR))
    chain.reverts(
        kz.admin,
        chain.registry.functions.voteOnMembership(proposal_id),
        "AuthorityAccountAlreadyRegistered",
        [admin, kz.raw],
    )


# ---------------------------------------------------------------- suspend and reinstate


def test_suspension_of_one_of_three_needs_both_others(
    chain: Consortium, mn: Member, kz: Member, kr: Member
) -> None:
    receipt = chain.transact(
        mn.admin,
        chain.registry.functions.proposeMembership(Action.SUSPEND, kr.raw, "", ZERO_ADDRESS),
    )
    voted = chain.event(receipt, chain.registry, "MembershipVoted")["args"]
    # A majority of all three, KR included; KR may not approve, so both others must.
    assert (voted["approvals"], voted["required"]) == (1, 2)
    proposal_id = voted["proposalId"]
    receipt = chain.transact(kz.admin, chain.registry.functions.voteOnMembership(proposal_id))
    assert chain.event(receipt, chain.registry, "AuthoritySuspended")["args"]["code"] == kr.raw
    assert status_of(chain, "KR") == AuthorityStatus.SUSPENDED
    assert chain.registry.functions.activeMemberCount().call() == 2
    for account in (kr.admin, kr.operator):
        assert chain.registry.functions.accountOf(account.address).call()[2] is False


def test_the_target_can_neither_propose_nor_vote_on_its_own_suspension(
    chain: Consortium, mn: Member, kr: Member
) -> None:
    functions = chain.registry.functions
    for action in (Action.SUSPEND, Action.REMOVE):
        chain.reverts(
            kr.admin,
            functions.proposeMembership(action, kr.raw, "", ZERO_ADDRESS),
            "MembershipTargetCannotVote",
            [kr.raw],
        )
        receipt = chain.transact(
            mn.admin, functions.proposeMembership(action, kr.raw, "", ZERO_ADDRESS)
        )
        proposal_id = chain.event(receipt, chain.registry, "MembershipProposed")["args"][
            "proposalId"
        ]
        chain.reverts(
            kr.admin,
            functions.voteOnMembership(proposal_id),
            "MembershipTargetCannotVote",
            [kr.raw],
        )


def test_a_suspended_members_operators_cannot_write_and_reinstatement_restores_them(
    chain: Consortium, mn: Member, kz: Member, kr: Member
) -> None:
    chain.vote_through(Action.SUSPEND, "KR", ["MN", "KZ"])
    chain.reverts(
        kr.operator,
        chain.registry.functions.issue(chain.number(), 1, 0, 1, b"\x01" * 32, b"\x02" * 32),
        "AuthorityNotActive",
        [kr.raw, AuthorityStatus.SUSPENDED],
    )
    chain.reverts(
        kr.admin,
        chain.registry.functions.proposeMembership(Action.REINSTATE, kr.raw, "", ZERO_ADDRESS),
        "AuthorityNotActive",
        [kr.raw, AuthorityStatus.SUSPENDED],
    )

    proposal_id = chain.vote_through(Action.REINSTATE, "KR", ["KZ", "MN"])
    assert proposal(chain, proposal_id)["status"] == ProposalStatus.EXECUTED
    assert status_of(chain, "KR") == AuthorityStatus.ACTIVE
    assert chain.registry.functions.activeMemberCount().call() == 3
    assert chain.registry.functions.accountOf(kr.operator.address).call() == (
        kr.raw,
        ROLE_OPERATOR,
        True,
    )
    chain.issue(kr)


def test_a_suspended_member_cannot_vote(chain: Consortium, mn: Member, kr: Member) -> None:
    chain.vote_through(Action.SUSPEND, "KR", ["MN", "KZ"])
    proposal_id = propose_admit(chain, mn, chain.new_account(False).address)
    chain.reverts(
        kr.admin,
        chain.registry.functions.voteOnMembership(proposal_id),
        "AuthorityNotActive",
        [kr.raw, AuthorityStatus.SUSPENDED],
    )


@pytest.mark.parametrize(
    ("action", "status"),
    [(Action.REINSTATE, AuthorityStatus.ACTIVE), (Action.SUSPEND, AuthorityStatus.SUSPENDED)],
)
def test_an_action_that_does_not_fit_the_targets_status_is_refused(
    chain: Consortium, mn: Member, action: Action, status: AuthorityStatus
) -> None:
    if status == AuthorityStatus.SUSPENDED:
        chain.vote_through(Action.SUSPEND, "KR", ["MN", "KZ"])
    kr = ids.authority_code("KR")
    chain.reverts(
        mn.admin,
        chain.registry.functions.proposeMembership(action, kr, "", ZERO_ADDRESS),
        "MembershipActionNotApplicable",
        [action, kr, status],
    )


def test_an_action_on_an_unknown_code_is_refused(chain: Consortium, mn: Member) -> None:
    for action in (Action.SUSPEND, Action.REINSTATE, Action.REMOVE):
        chain.reverts(
            mn.admin,
            chain.registry.functions.proposeMembership(action, UZ, "", ZERO_ADDRESS),
            "AuthorityUnknown",
            [UZ],
        )


def test_a_second_suspension_proposal_goes_stale_once_the_first_executes(
    chain: Consortium, mn: Member, kz: Member, kr: Member
) -> None:
    functions = chain.registry.functions
    first = chain.vote_through(Action.SUSPEND, "KR", ["MN"])
    second = chain.vote_through(Action.SUSPEND, "KR", ["KZ"])
    chain.transact(kz.admin, functions.voteOnMembership(first))
    chain.reverts(
        mn.admin, functions.voteOnMembership(second), "MembershipProposalStale", [second, 3, 4]
    )


# ---------------------------------------------------------------- remove


def test_removal_is_terminal(chain: Consortium, mn: Member, kz: Member, kr: Member) -> None:
    chain.vote_through(Action.REMOVE, "KR", ["MN", "KZ"])
    assert status_of(chain, "KR") == AuthorityStatus.REMOVED
    assert chain.registry.functions.activeMemberCount().call() == 2
    functions = chain.registry.functions
    for action in (Action.SUSPEND, Action.REINSTATE, Action.REMOVE):
        chain.reverts(
            mn.admin,
            functions.proposeMembership(action, kr.raw, "", ZERO_ADDRESS),
            "MembershipActionNotApplicable",
            [action, kr.raw, AuthorityStatus.REMOVED],
        )
    chain.reverts(
        mn.admin,
        functions.proposeMembership(
            Action.ADMIT, kr.raw, "Korea again", chain.new_account(False).address
        ),
        "AuthorityAlreadyExists",
        [kr.raw, AuthorityStatus.REMOVED],
    )
    chain.reverts(
        kr.operator,
        functions.issue(chain.number(), 1, 0, 1, b"\x01" * 32, b"\x02" * 32),
        "AuthorityNotActive",
        [kr.raw, AuthorityStatus.REMOVED],
    )
    assert kr.raw in functions.memberCodes().call()


def test_a_suspended_member_can_be_removed_by_the_two_others(
    chain: Consortium, mn: Member, kz: Member
) -> None:
    chain.vote_through(Action.SUSPEND, "KR", ["MN", "KZ"])
    assert chain.registry.functions.memberCount().call() == 3  # a suspended member still counts
    receipt_id = chain.vote_through(Action.REMOVE, "KR", ["MN", "KZ"])
    assert proposal(chain, receipt_id)["status"] == ProposalStatus.EXECUTED
    assert status_of(chain, "KR") == AuthorityStatus.REMOVED
    assert chain.registry.functions.activeMemberCount().call() == 2
    assert chain.registry.functions.memberCount().call() == 2


# ---------------------------------------------------------------- who is a majority (issue #10)


def statuses(chain: Consortium) -> list[int]:
    return [status_of(chain, code) for code in chain.members]


def test_in_a_two_member_consortium_one_member_alone_decides_nothing(
    backend: Chain, chain: Consortium
) -> None:
    """One member once suspended the other, removed it, and admitted a member it controlled."""
    pair = deploy_and_bootstrap(backend, codes=("MN", "KZ"))
    mn, kz = pair.members["MN"], pair.members["KZ"]
    functions = pair.registry.functions
    for action in (Action.SUSPEND, Action.REMOVE):
        pair.reverts(
            mn.admin,
            functions.proposeMembership(action, kz.raw, "", ZERO_ADDRESS),
            "MembershipQuorumUnreachable",
            [action, kz.raw, 1, 2],
        )
    receipt = pair.transact(
        mn.admin,
        functions.proposeMembership(Action.ADMIT, UZ, "Puppet", pair.new_account(False).address),
    )
    voted = pair.event(receipt, pair.registry, "MembershipVoted")["args"]
    assert (voted["approvals"], voted["required"]) == (1, 2)
    assert pair.events(receipt, pair.registry, "MembershipExecuted") == []
    assert functions.authorityStatus(UZ).call() == AuthorityStatus.NONE
    assert statuses(pair) == [AuthorityStatus.ACTIVE] * 2


def test_in_a_four_member_consortium_two_cannot_suspend_or_remove_the_other_two(
    backend: Chain, chain: Consortium
) -> None:
    """Two of four (exactly half) once suspended, then removed, the other two."""
    four = deploy_and_bootstrap(backend, codes=("MN", "KZ", "KR", "UZ"))
    for action in (Action.SUSPEND, Action.REMOVE):
        for target in ("KR", "UZ"):
            proposal_id = four.vote_through(action, target, ["MN", "KZ"])
            view = proposal(four, proposal_id)
            assert (view["approvals"], view["required"], view["status"]) == (
                2,
                3,
                ProposalStatus.OPEN,
            )
    assert statuses(four) == [AuthorityStatus.ACTIVE] * 4


def test_suspending_a_member_first_does_not_lower_the_bar_for_the_next(
    backend: Chain, chain: Consortium
) -> None:
    """The quorum once counted active members only: after one suspension, two of five could
    remove a third member."""
    five = deploy_and_bootstrap(backend, codes=("MN", "KZ", "KR", "UZ", "TJ"))
    five.vote_through(Action.SUSPEND, "TJ", ["MN", "KZ", "KR"])
    assert five.registry.functions.activeMemberCount().call() == 4
    assert five.registry.functions.memberCount().call() == 5
    for action, target in ((Action.REMOVE, "UZ"), (Action.SUSPEND, "UZ"), (Action.REMOVE, "TJ")):
        proposal_id = five.vote_through(action, target, ["MN", "KZ"])
        view = proposal(five, proposal_id)
        assert (view["approvals"], view["required"], view["status"]) == (
            2,
            3,
            ProposalStatus.OPEN,
        )
    assert status_of(five, "UZ") == AuthorityStatus.ACTIVE
    assert status_of(five, "TJ") == AuthorityStatus.SUSPENDED


def test_a_vote_the_active_members_could_never_carry_is_refused_when_proposed(
    chain: Consortium, mn: Member, kz: Member
) -> None:
    """With KR suspended, suspending KZ would need two approvals and only MN may give one (KZ is
    the target). The consortium can therefore never suspend its way into a deadlock."""
    chain.vote_through(Action.SUSPEND, "KR", ["MN", "KZ"])
    chain.reverts(
        mn.admin,
        chain.registry.functions.proposeMembership(Action.SUSPEND, kz.raw, "", ZERO_ADDRESS),
        "MembershipQuorumUnreachable",
        [Action.SUSPEND, kz.raw, 1, 2],
    )
    # Reinstating KR stays possible: both active members may approve it.
    chain.vote_through(Action.REINSTATE, "KR", ["MN", "KZ"])
    assert status_of(chain, "KR") == AuthorityStatus.ACTIVE


def test_approvals_given_before_a_membership_change_never_count_after_it(
    backend: Chain, chain: Consortium
) -> None:
    """KR proposes to admit UZ, then KR is removed: its approval must not help carry the
    proposal among the members that remain (MN alone would then make two of three)."""
    four = deploy_and_bootstrap(backend, codes=("MN", "KZ", "KR", "TJ"))
    functions = four.registry.functions
    receipt = four.transact(
        four.members["KR"].admin,
        functions.proposeMembership(
            Action.ADMIT, UZ, "Uzbekistan", four.new_account(False).address
        ),
    )
    admit = int(four.event(receipt, four.registry, "MembershipProposed")["args"]["proposalId"])
    four.vote_through(Action.REMOVE, "KR", ["MN", "KZ", "TJ"])
    assert proposal(four, admit)["status"] == ProposalStatus.STALE
    four.reverts(
        four.members["MN"].admin,
        functions.voteOnMembership(admit),
        "MembershipProposalStale",
        [admit, 4, 5],
    )
    assert functions.authorityStatus(UZ).call() == AuthorityStatus.NONE


def test_the_required_approvals_are_fixed_when_the_proposal_opens(
    chain: Consortium, mn: Member, kz: Member
) -> None:
    proposal_id = propose_admit(chain, mn, chain.new_account(False).address)
    assert proposal(chain, proposal_id)["required"] == 2
    receipt = chain.transact(kz.admin, chain.registry.functions.voteOnMembership(proposal_id))
    assert chain.event(receipt, chain.registry, "MembershipVoted")["args"]["required"] == 2
    assert proposal(chain, proposal_id)["status"] == ProposalStatus.EXECUTED


# ---------------------------------------------------------------- proposal lifecycle


def test_votes_after_expiry_are_refused(chain: Consortium, mn: Member, kz: Member) -> None:
    proposal_id = propose_admit(chain, mn, chain.new_account(False).address)
    expires_at = int(proposal(chain, proposal_id)["expiresAt"])  # type: ignore[call-overload]
    chain.travel_to_day(days.day_of(expires_at) + 1)
    assert proposal(chain, proposal_id)["status"] == ProposalStatus.EXPIRED
    chain.reverts(
        kz.admin,
        chain.registry.functions.voteOnMembership(proposal_id),
        "MembershipProposalExpired",
        [proposal_id, expires_at],
    )


def test_double_votes_and_votes_on_executed_or_unknown_proposals_are_refused(
    chain: Consortium, mn: Member, kz: Member, kr: Member
) -> None:
    functions = chain.registry.functions
    proposal_id = propose_admit(chain, mn, chain.new_account(False).address)
    chain.reverts(
        mn.admin,
        functions.voteOnMembership(proposal_id),
        "MembershipAlreadyVoted",
        [
            proposal_id,
            mn.raw,
        ],
    )
    chain.transact(kz.admin, functions.voteOnMembership(proposal_id))
    chain.reverts(
        kr.admin,
        functions.voteOnMembership(proposal_id),
        "MembershipProposalExecuted",
        [proposal_id],
    )
    chain.reverts(kr.admin, functions.voteOnMembership(999), "MembershipProposalUnknown", [999])


def test_operators_and_strangers_cannot_propose_or_vote(chain: Consortium, mn: Member) -> None:
    functions = chain.registry.functions
    proposal_id = propose_admit(chain, mn, chain.new_account(False).address)
    stranger = chain.new_account()
    for account in (mn.operator, stranger, chain.deployer):
        chain.reverts(
            account,
            functions.proposeMembership(Action.SUSPEND, ids.authority_code("KR"), "", ZERO_ADDRESS),
            "AuthorityUnauthorizedAccount",
            [account.address, ROLE_ADMIN],
        )
        chain.reverts(
            account,
            functions.voteOnMembership(proposal_id),
            "AuthorityUnauthorizedAccount",
            [account.address, ROLE_ADMIN],
        )
