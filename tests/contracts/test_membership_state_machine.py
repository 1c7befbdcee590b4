"""A Hypothesis state machine over membership votes: no coalition of at most half the members
can admit, suspend, reinstate or remove anyone.

Each example picks a consortium of two to five founding members and a coalition of at most half
of them. Members propose and vote, admit new members (who then vote too), suspend, reinstate and
remove each other, and time passes; in half of the examples only the coalition acts. Every call
either succeeds as the Python model says or reverts with exactly the error it predicts, and after
every step:

- the chain's member statuses and counts equal the model's;
- every membership change the chain executed was approved, as its own `MembershipVoted` events
  show, by distinct members that were Active when it executed, more than half of every member not
  removed (suspended ones included), at least two, and never by the target of a suspension or
  removal: so no coalition of at most half the members could have made it;
- when only the coalition acts, nothing ever executes.

The model is docs/contracts.md ("Membership votes"): approvals needed = max(2, ceil(members x
threshold / 10000)), fixed when the proposal opens; a proposal goes stale once any membership
change executes; a vote nobody could carry is refused when proposed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, event, settings, strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)
from web3.types import TxReceipt

from contracts.domain import ids

from .conftest import (
    DAY,
    VOTE_THRESHOLD_BPS,
    ZERO_ADDRESS,
    Action,
    AuthorityStatus,
    Consortium,
    Deployed,
    assert_reverts,
    deploy_and_bootstrap,
    revert_to_snapshot,
    take_snapshot,
)

FOUNDERS = ("MN", "KZ", "KR", "UZ", "TJ")
CANDIDATES = ("KG", "AZ", "GE", "PK")
SIZES = (2, 3, 4, 5)
# Every step runs within the hour after noon (the chain fixture's time), so with a lifetime one
# hour short of a week a proposal opened on day d is expired exactly from day d + 7 on.
LIFETIME_DAYS = 7
PROPOSAL_LIFETIME = LIFETIME_DAYS * DAY - 3600

Error = tuple[str, list[Any]]


def raw(code: str) -> bytes:
    return ids.authority_code(code)


@dataclass
class ProposalModel:
    id: int
    action: Action
    code: str
    required: int
    changes: int
    created_day: int
    expires_at: int
    admin: LocalAccount | None
    approvals: list[str] = field(default_factory=list)
    executed: bool = False


@dataclass
class Model:
    today: int
    status: dict[str, AuthorityStatus]
    changes: int
    proposals: dict[int, ProposalModel] = field(default_factory=dict)

    @property
    def members(self) -> int:
        return sum(s != AuthorityStatus.REMOVED for s in self.status.values())

    @property
    def active(self) -> int:
        return sum(s == AuthorityStatus.ACTIVE for s in self.status.values())

    def required(self) -> int:
        return max(2, math.ceil(self.members * VOTE_THRESHOLD_BPS / 10_000))

    def applicable(self, action: Action, code: str) -> Error | None:
        if action == Action.ADMIT:
            if code in self.status:
                return "AuthorityAlreadyExists", [raw(code), self.status[code]]
            return None
        if code not in self.status:
            return "AuthorityUnknown", [raw(code)]
        status = self.status[code]
        applies = (
            (action == Action.SUSPEND and status == AuthorityStatus.ACTIVE)
            or (action == Action.REINSTATE and status == AuthorityStatus.SUSPENDED)
            or (action == Action.REMOVE and status != AuthorityStatus.REMOVED)
        )
        return None if applies else ("MembershipActionNotApplicable", [action, raw(code), status])

    def inactive(self, code: str) -> Error | None:
        status = self.status[code]
        return (
            None
            if status == AuthorityStatus.ACTIVE
            else ("AuthorityNotActive", [raw(code), status])
        )

    def propose_error(self, action: Action, code: str, proposer: str) -> Error | None:
        error = self.inactive(proposer)
        if error is None and action in (Action.SUSPEND, Action.REMOVE) and proposer == code:
            error = "MembershipTargetCannotVote", [raw(code)]
        error = error or self.applicable(action, code)
        if error is None:
            eligible = self.active
            if (
                action in (Action.SUSPEND, Action.REMOVE)
                and self.status[code] == AuthorityStatus.ACTIVE
            ):
                eligible -= 1
            if eligible < self.required():
                error = (
                    "MembershipQuorumUnreachable",
                    [action, raw(code), eligible, self.required()],
                )
        return error

    def vote_error(self, proposal: ProposalModel, voter: str) -> Error | None:
        error = self.inactive(voter)
        if error is None and proposal.executed:
            error = "MembershipProposalExecuted", [proposal.id]
        if error is None and proposal.changes != self.changes:
            error = "MembershipProposalStale", [proposal.id, proposal.changes, self.changes]
        if error is None and self.today >= proposal.created_day + LIFETIME_DAYS:
            error = "MembershipProposalExpired", [proposal.id, proposal.expires_at]
        targeted = proposal.action in (Action.SUSPEND, Action.REMOVE)
        if error is None and targeted and voter == proposal.code:
            error = "MembershipTargetCannotVote", [raw(proposal.code)]
        if error is None and voter in proposal.approvals:
            error = "MembershipAlreadyVoted", [proposal.id, raw(voter)]
        return error or self.applicable(proposal.action, proposal.code)


@dataclass
class Execution:
    """A membership change the chain executed, with what the chain's events say about it."""

    action: Action
    code: str
    approvers: list[str]
    active_before: set[str]
    members_before: int


WORLD: dict[str, Any] = {}


class MembershipVotes(RuleBasedStateMachine):
    proposals = Bundle("proposals")

    def __init__(self) -> None:
        super().__init__()
        revert_to_snapshot(WORLD["backend"], WORLD["snapshot"])
        WORLD["snapshot"] = take_snapshot(WORLD["backend"])
        self.executions: list[Execution] = []
        self.votes: dict[int, list[str]] = {}

    @initialize(size=st.sampled_from(SIZES), data=st.data())
    def pick_consortium(self, size: int, data: st.DataObject) -> None:
        self.chain: Consortium = WORLD["consortia"][size]
        self.chain.travel_to_day(self.chain.today() + 1)
        codes = FOUNDERS[:size]
        self.admins: dict[str, LocalAccount] = {c: self.chain.members[c].admin for c in codes}
        self.model = Model(self.chain.today(), dict.fromkeys(codes, AuthorityStatus.ACTIVE), size)
        self.coalition = data.draw(
            st.sets(st.sampled_from(codes), min_size=1, max_size=size // 2), label="coalition"
        )
        self.only_coalition = data.draw(st.booleans(), label="only the coalition acts")
        event(f"{size} members, coalition of {len(self.coalition)}")

    # -- helpers

    def _pool(self) -> list[str]:
        return sorted(self.coalition if self.only_coalition else self.admins)

    def _actor(self, data: st.DataObject, label: str, preferred: list[str] | None = None) -> str:
        """A member of the acting pool; mostly one of ``preferred`` when given (those whose call
        the model expects to go through), so that examples reach executions."""
        choices = [p for p in preferred or [] if p in self._pool()] * 3 + self._pool()
        return data.draw(st.sampled_from(choices), label=label)

    def _can_vote(self, proposal: ProposalModel) -> list[str]:
        return [c for c in self._pool() if self.model.vote_error(proposal, c) is None]

    def _send(self, actor: str, fn: Any, error: Error | None) -> TxReceipt | None:
        account = self.admins[actor]
        if error is None:
            event(f"{fn.fn_name}: sent")
            return self.chain.transact(account, fn)
        name, args = error
        event(f"{fn.fn_name}: {name}")
        assert_reverts(lambda: fn.call({"from": account.address}), name, args)
        return None

    def _record(self, receipt: TxReceipt, proposal: ProposalModel) -> None:
        """Check the receipt against the model, and apply an execution to the model."""
        registry = self.chain.registry
        voted = self.chain.event(receipt, registry, "MembershipVoted")["args"]
        self.votes.setdefault(proposal.id, []).append(ids.authority_code_str(voted["voter"]))
        assert (voted["approvals"], voted["required"]) == (
            len(proposal.approvals),
            proposal.required,
        )
        executed = self.chain.events(receipt, registry, "MembershipExecuted")
        assert bool(executed) == (len(proposal.approvals) >= proposal.required)
        if not executed:
            return
        self.executions.append(
            Execution(
                proposal.action,
                proposal.code,
                list(self.votes[proposal.id]),
                {c for c, s in self.model.status.items() if s == AuthorityStatus.ACTIVE},
                self.model.members,
            )
        )
        proposal.executed = True
        self.model.changes += 1
        self.model.status[proposal.code] = {
            Action.ADMIT: AuthorityStatus.ACTIVE,
            Action.SUSPEND: AuthorityStatus.SUSPENDED,
            Action.REINSTATE: AuthorityStatus.ACTIVE,
            Action.REMOVE: AuthorityStatus.REMOVED,
        }[proposal.action]
        if proposal.action == Action.ADMIT:
            assert proposal.admin is not None
            self.admins[proposal.code] = proposal.admin
        self._check_statuses()

    # -- rules

    @rule(
        target=proposals,
        action=st.sampled_from(list(Action)),
        data=st.data(),
    )
    def propose(self, action: Action, data: st.DataObject) -> Any:
        everyone = sorted({*CANDIDATES, *self.model.status})
        fitting = [c for c in everyone if self.model.applicable(action, c) is None]
        # Mostly a code the action fits; now and then any (an admitted code to admit...).
        code = data.draw(st.sampled_from(fitting * 6 + everyone), label="target")
        proposer = self._actor(
            data,
            "proposer",
            [c for c in self._pool() if self.model.propose_error(action, code, c) is None],
        )
        admin = self.chain.new_account() if action == Action.ADMIT else None
        fn = self.chain.registry.functions.proposeMembership(
            action,
            raw(code),
            "Candidate" if admin else "",
            admin.address if admin else ZERO_ADDRESS,
        )
        receipt = self._send(proposer, fn, self.model.propose_error(action, code, proposer))
        if receipt is None:
            return multiple()
        proposed = self.chain.event(receipt, self.chain.registry, "MembershipProposed")["args"]
        proposal = ProposalModel(
            id=int(proposed["proposalId"]),
            action=action,
            code=code,
            required=self.model.required(),
            changes=self.model.changes,
            created_day=self.model.today,
            expires_at=int(proposed["expiresAt"]),
            admin=admin,
            approvals=[proposer],
        )
        self.model.proposals[proposal.id] = proposal
        self._record(receipt, proposal)
        if data.draw(st.booleans(), label="rally at once"):
            self.rally(proposal.id)
        return proposal.id

    @rule(proposal_id=proposals, data=st.data())
    def vote(self, proposal_id: int, data: st.DataObject) -> None:
        proposal = self.model.proposals[proposal_id]
        voter = self._actor(data, "voter", self._can_vote(proposal))
        self._vote(proposal, voter)

    @rule(proposal_id=proposals)
    def rally(self, proposal_id: int) -> None:
        """Every member of the acting pool that may still approve the proposal does."""
        proposal = self.model.proposals[proposal_id]
        for voter in self._can_vote(proposal):
            if self.model.vote_error(proposal, voter) is None:  # an execution ends the rally
                self._vote(proposal, voter)

    def _vote(self, proposal: ProposalModel, voter: str) -> None:
        fn = self.chain.registry.functions.voteOnMembership(proposal.id)
        receipt = self._send(voter, fn, self.model.vote_error(proposal, voter))
        if receipt is not None:
            proposal.approvals.append(voter)
            self._record(receipt, proposal)

    @rule(days=st.integers(1, 4))
    def advance(self, days: int) -> None:
        self.model.today += days
        self.chain.travel_to_day(self.model.today)

    # -- invariants

    def _check_statuses(self) -> None:
        functions = self.chain.registry.functions
        for code, status in self.model.status.items():
            assert functions.authorityStatus(raw(code)).call() == status, code

    @invariant()
    def counts_equal_the_model(self) -> None:
        # Each status is compared after every execution (the only thing that changes them) and
        # at the end; the counts, every step.
        functions = self.chain.registry.functions
        assert functions.activeMemberCount().call() == self.model.active
        assert functions.memberCount().call() == self.model.members

    @invariant()
    def every_change_had_a_strict_majority_of_the_members(self) -> None:
        for done in self.executions:
            approvers = set(done.approvers)
            assert len(approvers) == len(done.approvers), done
            assert approvers <= done.active_before, done
            assert len(approvers) >= 2, done
            assert 2 * len(approvers) > done.members_before, done
            if done.action in (Action.SUSPEND, Action.REMOVE):
                assert done.code not in approvers, done

    @invariant()
    def a_coalition_of_at_most_half_changes_nothing(self) -> None:
        if self.only_coalition:
            assert self.executions == []

    def teardown(self) -> None:
        if hasattr(self, "model"):
            self._check_statuses()


# Memory only, like the lifecycle machine: the rules are the contract's logic, the same bytecode
# on anvil, where every step would be an HTTP round trip.
@pytest.mark.slow
@pytest.mark.parametrize("backend", ["memory"], indirect=True)
def test_no_coalition_of_at_most_half_the_members_changes_the_membership(
    deployed: Deployed,
) -> None:
    backend = deployed.consortium.backend
    WORLD["backend"] = backend
    WORLD["consortia"] = {
        size: deploy_and_bootstrap(
            backend, codes=FOUNDERS[:size], proposal_lifetime=PROPOSAL_LIFETIME
        )
        for size in SIZES
    }
    WORLD["snapshot"] = take_snapshot(backend)
    try:
        run_state_machine_as_test(
            MembershipVotes,
            settings=settings(
                max_examples=40,
                stateful_step_count=20,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
    finally:
        WORLD.clear()
        revert_to_snapshot(backend, deployed.snapshot)
        deployed.snapshot = take_snapshot(backend)
