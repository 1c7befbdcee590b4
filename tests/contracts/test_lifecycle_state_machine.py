"""A Hypothesis state machine over the certificate and MRA lifecycles, against a Python model.

Each step either performs a write the model says must succeed, or calls it and checks it reverts
with exactly the error the model predicts. After every step the invariants compare the chain with
the model: revoked certificates stay revoked, a certificate only changes through its issuer's
operators (the chain equals the model, which only moves on those), an MRA reads in force only when
every party signed, and `recognizes` answers what the model answers. To keep each step cheap the
per-step checks cover what the step touched (everything after time moves or membership changes);
the teardown of each example checks every certificate, MRA and recognition pair.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import pytest
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

from contracts.domain import ids

from .conftest import (
    AMEND_MASK,
    AMEND_REASONS,
    CODES,
    REINSTATE_MASK,
    REINSTATE_REASONS,
    RENEW_MASK,
    RENEW_REASONS,
    REVOKE_MASK,
    REVOKE_REASONS,
    SUSPEND_MASK,
    SUSPEND_REASONS,
    Action,
    AuthorityStatus,
    Consortium,
    Deployed,
    Effective,
    MraState,
    MraStatus,
    Reason,
    Stored,
    assert_reverts,
    revert_to_snapshot,
    take_snapshot,
)

ALLOWED = {
    "suspend": (SUSPEND_REASONS, SUSPEND_MASK),
    "reinstate": (REINSTATE_REASONS, REINSTATE_MASK),
    "revoke": (REVOKE_REASONS, REVOKE_MASK),
    "amend": (AMEND_REASONS, AMEND_MASK),
    "renew": (RENEW_REASONS, RENEW_MASK),
}
UNKNOWN_CERTIFICATE = ids.certificate_id("MN", "NEVER-ISSUED")
CLOSENESS = {
    Reason.NO_MRA: 0,
    Reason.MRA_TERMINATED: 1,
    Reason.MRA_ENDED: 2,
    Reason.MRA_NOT_SIGNED: 3,
    Reason.MRA_SUSPENDED: 4,
    Reason.MRA_NOT_YET_IN_FORCE: 5,
    Reason.TIER_NOT_COVERED: 6,
}


# ---------------------------------------------------------------- the model


@dataclass
class CertificateModel:
    issuer: str
    tiers: int
    valid_from: int
    valid_until: int
    status: Stored = Stored.ACTIVE
    version: int = 1

    def effective(self, today: int) -> Effective:
        """Revoked > Expired > Suspended > NotYetValid > Active."""
        if self.status == Stored.REVOKED:
            return Effective.REVOKED
        if today > self.valid_until:
            return Effective.EXPIRED
        if self.status == Stored.SUSPENDED:
            return Effective.SUSPENDED
        if today < self.valid_from:
            return Effective.NOT_YET_VALID
        return Effective.ACTIVE


@dataclass
class MraModel:
    parties: list[str]
    tiers: list[int]
    effective_from: int
    ends_on: int
    signed: set[str] = field(default_factory=set)
    state: MraState = MraState.PROPOSED
    suspended_by: str | None = None

    def status(self, today: int) -> MraStatus:
        """Terminated > Ended > Suspended > Proposed > NotYetInForce > InForce."""
        if self.state == MraState.TERMINATED:
            return MraStatus.TERMINATED
        if self.ends_on and today > self.ends_on:
            return MraStatus.ENDED
        if self.state == MraState.SUSPENDED:
            return MraStatus.SUSPENDED
        if self.state == MraState.PROPOSED:
            return MraStatus.PROPOSED
        if today < self.effective_from:
            return MraStatus.NOT_YET_IN_FORCE
        return MraStatus.IN_FORCE


@dataclass
class Model:
    today: int
    authorities: dict[str, AuthorityStatus]
    certificates: dict[bytes, CertificateModel] = field(default_factory=dict)
    mras: dict[int, MraModel] = field(default_factory=dict)
    revoked: set[bytes] = field(default_factory=set)

    def recognizes(self, authority: str, certificate_id: bytes) -> tuple[bool, Reason, int]:
        certificate = self.certificates.get(certificate_id)
        if certificate is None:
            return False, Reason.UNKNOWN_CERTIFICATE, 0
        if certificate.effective(self.today) != Effective.ACTIVE:
            return False, Reason.CERTIFICATE_NOT_ACTIVE, 0
        if certificate.issuer == authority:
            return True, Reason.OWN_CERTIFICATE, 0
        if self.authorities[certificate.issuer] != AuthorityStatus.ACTIVE:
            return False, Reason.ISSUER_NOT_ACTIVE, 0
        best, best_id = Reason.NO_MRA, 0
        for mra_id, mra in sorted(self.mras.items()):
            if authority not in mra.parties or certificate.issuer not in mra.parties:
                continue
            reason = {
                MraStatus.TERMINATED: Reason.MRA_TERMINATED,
                MraStatus.ENDED: Reason.MRA_ENDED,
                MraStatus.SUSPENDED: Reason.MRA_SUSPENDED,
                MraStatus.PROPOSED: Reason.MRA_NOT_SIGNED,
                MraStatus.NOT_YET_IN_FORCE: Reason.MRA_NOT_YET_IN_FORCE,
            }.get(mra.status(self.today))
            if reason is None:
                covered = certificate.tiers & mra.tiers[mra.parties.index(certificate.issuer)]
                if covered:
                    return True, Reason.RECOGNIZED, mra_id
                reason = Reason.TIER_NOT_COVERED
            if CLOSENESS[reason] >= CLOSENESS[best]:
                best, best_id = reason, mra_id
        return False, best, best_id


# ---------------------------------------------------------------- the machine

DEPLOYED: dict[str, Deployed] = {}


class Lifecycles(RuleBasedStateMachine):
    certificates = Bundle("certificates")
    mras = Bundle("mras")

    def __init__(self) -> None:
        super().__init__()
        deployed = DEPLOYED["current"]
        self.chain: Consortium = deployed.consortium
        revert_to_snapshot(self.chain.backend, deployed.snapshot)
        deployed.snapshot = take_snapshot(self.chain.backend)
        # Noon, so that the blocks of an example never cross midnight.
        self.chain.travel_to_day(self.chain.today() + 1)
        self.model = Model(self.chain.today(), dict.fromkeys(CODES, AuthorityStatus.ACTIVE))
        self.touched_certificates: set[bytes] = set()
        self.touched_mras: set[int] = set()
        self.everything_touched = False
        self.recognition_round = 0

    # -- helpers

    def _operator(self, code: str) -> Any:
        return self.chain.members[code].operator

    def _inactive(self, code: str) -> tuple[str, list[Any]] | None:
        status = self.model.authorities[code]
        if status != AuthorityStatus.ACTIVE:
            return "AuthorityNotActive", [ids.authority_code(code), status]
        return None

    def _expect(self, actor: str, fn: Any, error: tuple[str, list[Any]] | None) -> bool:
        """Send `fn` as `actor`'s operator if no error is expected, else check the exact revert.
        True when it was sent."""
        account = self._operator(actor)
        if error is None:
            event(f"{fn.fn_name}: sent")
            self.chain.transact(account, fn)
            return True
        name, args = error
        event(f"{fn.fn_name}: {name}")
        assert_reverts(lambda: fn.call({"from": account.address}), name, args)
        return False

    # -- certificates

    @initialize(target=certificates)
    def first_certificate(self) -> bytes:
        return self._issue("MN", 3, 0, 365)

    def _issue(self, issuer: str, tiers: int, start: int, length: int) -> bytes:
        number = self.chain.number(issuer)
        valid_from = self.model.today + start
        fn = self.chain.registry.functions.issue(
            number, tiers, valid_from, valid_from + length, os.urandom(32), os.urandom(32)
        )
        certificate_id = ids.certificate_id(issuer, ids.certificate_number_str(number))
        if self._expect(issuer, fn, self._inactive(issuer)):
            self.model.certificates[certificate_id] = CertificateModel(
                issuer, tiers, valid_from, valid_from + length
            )
            self.touched_certificates.add(certificate_id)
        return certificate_id

    @rule(
        target=certificates,
        issuer=st.sampled_from(CODES),
        tiers=st.sampled_from([1, 2, 3, 4, 8, 16, 2 | 8]),
        start=st.integers(-5, 5),
        length=st.integers(0, 20),
    )
    def issue(self, issuer: str, tiers: int, start: int, length: int) -> Any:
        certificate_id = self._issue(issuer, tiers, start, length)
        return certificate_id if certificate_id in self.model.certificates else multiple()

    def _transition(
        self, operation: str, certificate_id: bytes, actor: str, data: st.DataObject
    ) -> None:
        accepted, mask = ALLOWED[operation]
        if data.draw(st.integers(0, 9), label="unknown certificate?") == 0:
            certificate_id = UNKNOWN_CERTIFICATE
        if data.draw(st.integers(0, 3), label="valid reason?") > 0:
            reason = data.draw(st.sampled_from(accepted), label="reason")
        else:
            reason = data.draw(st.sampled_from([0, 4, 5, 16, 33, 48, 99]), label="reason")
        certificate = self.model.certificates.get(certificate_id)
        if actor == "issuer":
            actor = certificate.issuer if certificate else "MN"
        functions = self.chain.registry.functions
        new_tiers = data.draw(st.sampled_from([1, 2, 3, 0])) if operation == "amend" else 0
        extension = data.draw(st.integers(-2, 30)) if operation == "renew" else 0
        if operation == "amend":
            fn = functions.amend(certificate_id, new_tiers, os.urandom(32), os.urandom(32), reason)
        elif operation == "renew":
            until = (certificate.valid_until if certificate else 0) + extension
            fn = functions.renew(certificate_id, max(until, 0), reason)
        else:
            fn = getattr(functions, operation)(certificate_id, reason)

        error = self._inactive(actor)
        if error is None and reason not in accepted:
            error = ("CertificateReasonNotAllowed", [reason, mask])
        if error is None and certificate is None:
            error = ("CertificateUnknown", [certificate_id])
        if error is None and certificate is not None:
            error = self._transition_error(
                certificate_id, certificate, operation, actor, new_tiers, extension
            )
        if self._expect(actor, fn, error):
            assert certificate is not None
            if operation == "suspend":
                certificate.status = Stored.SUSPENDED
            elif operation == "reinstate":
                certificate.status = Stored.ACTIVE
            elif operation == "revoke":
                certificate.status = Stored.REVOKED
                self.model.revoked.add(certificate_id)
            elif operation == "amend":
                certificate.tiers = new_tiers
                certificate.version += 1
            else:
                certificate.valid_until += extension
        if certificate is not None:
            self.touched_certificates.add(certificate_id)

    # The issuer acts half of the time; otherwise any member's operator.
    ACTORS = st.sampled_from(["issuer", "issuer", "issuer", *CODES])

    @rule(certificate_id=certificates, actor=ACTORS, data=st.data())
    def suspend(self, certificate_id: bytes, actor: str, data: st.DataObject) -> None:
        self._transition("suspend", certificate_id, actor, data)

    @rule(certificate_id=certificates, actor=ACTORS, data=st.data())
    def reinstate(self, certificate_id: bytes, actor: str, data: st.DataObject) -> None:
        self._transition("reinstate", certificate_id, actor, data)

    @rule(certificate_id=certificates, actor=ACTORS, data=st.data())
    def revoke(self, certificate_id: bytes, actor: str, data: st.DataObject) -> None:
        self._transition("revoke", certificate_id, actor, data)

    @rule(certificate_id=certificates, actor=ACTORS, data=st.data())
    def amend(self, certificate_id: bytes, actor: str, data: st.DataObject) -> None:
        self._transition("amend", certificate_id, actor, data)

    @rule(certificate_id=certificates, actor=ACTORS, data=st.data())
    def renew(self, certificate_id: bytes, actor: str, data: st.DataObject) -> None:
        self._transition("renew", certificate_id, actor, data)

    def _transition_error(
        self,
        certificate_id: bytes,
        certificate: CertificateModel,
        operation: str,
        actor: str,
        new_tiers: int,
        extension: int,
    ) -> tuple[str, list[Any]] | None:
        if certificate.issuer != actor:
            issuer, caller = ids.authority_code(certificate.issuer), ids.authority_code(actor)
            return "CertificateNotIssuer", [certificate_id, issuer, caller]
        if certificate.status == Stored.REVOKED:
            return "CertificateAlreadyRevoked", [certificate_id]
        needed = {"suspend": Stored.ACTIVE, "reinstate": Stored.SUSPENDED, "renew": Stored.ACTIVE}
        if operation in needed and certificate.status != needed[operation]:
            return "CertificateStatusMismatch", [
                certificate_id,
                certificate.status,
                needed[operation],
            ]
        if operation == "amend" and new_tiers == 0:
            return "CertificateInvalidTiers", [0]
        if operation == "renew" and extension <= 0:
            until = certificate.valid_until
            return "CertificateRenewalNotLater", [certificate_id, until, until + extension]
        return None

    # -- time and membership

    @rule(days=st.integers(1, 30))
    def advance(self, days: int) -> None:
        self.model.today += days
        self.chain.travel_to_day(self.model.today)
        self.everything_touched = True

    @rule()
    def toggle_kr_membership(self) -> None:
        """Suspend KR if active, reinstate it if suspended, by the votes of MN and KZ (the other
        two stay active, so the consortium can always decide)."""
        suspend = self.model.authorities["KR"] == AuthorityStatus.ACTIVE
        self.chain.vote_through(Action.SUSPEND if suspend else Action.REINSTATE, "KR", ["MN", "KZ"])
        status = AuthorityStatus.SUSPENDED if suspend else AuthorityStatus.ACTIVE
        self.model.authorities["KR"] = status
        self.everything_touched = True

    # -- MRAs

    @rule(
        target=mras,
        proposer=st.sampled_from(CODES),
        others=st.sets(st.sampled_from(CODES), min_size=1, max_size=2),
        tiers=st.lists(st.sampled_from([0, 1, 2, 3, 4 | 8 | 16]), min_size=3, max_size=3),
        start=st.integers(-2, 4),
        end=st.one_of(st.just(None), st.integers(-3, 12)),
    )
    def propose_mra(
        self, proposer: str, others: set[str], tiers: list[int], start: int, end: int | None
    ) -> Any:
        parties = sorted(others | {proposer})
        if len(parties) < 2:
            return multiple()
        party_tiers = tiers[: len(parties)]
        effective_from = self.model.today + start
        ends_on = 0 if end is None else effective_from + end
        fn = self.chain.mras.functions.propose(
            [ids.authority_code(p) for p in parties],
            party_tiers,
            effective_from,
            ends_on,
            b"\x42" * 32,
        )
        error = self._inactive(proposer)
        if error is None and ends_on and (ends_on < effective_from or ends_on < self.model.today):
            error = ("MraInvalidDates", [effective_from, ends_on])
        inactive = [p for p in parties if self.model.authorities[p] != AuthorityStatus.ACTIVE]
        if error is None and inactive:
            first = inactive[0]
            error = (
                "MraPartyNotActive",
                [ids.authority_code(first), self.model.authorities[first]],
            )
        if not self._expect(proposer, fn, error):
            return multiple()
        mra_id = len(self.model.mras) + 1
        self.model.mras[mra_id] = MraModel(
            parties, party_tiers, effective_from, ends_on, {proposer}
        )
        self.touched_mras.add(mra_id)
        return mra_id

    @initialize(target=mras)
    def first_mra(self) -> int:
        """An MRA in force between MN and KZ recognizing each other's security tier."""
        fn = self.chain.mras.functions.propose(
            [ids.authority_code("MN"), ids.authority_code("KZ")],
            [2, 2],
            self.model.today,
            0,
            b"\x42" * 32,
        )
        self._expect("MN", fn, None)
        self._expect("KZ", self.chain.mras.functions.sign(1), None)
        self.model.mras[1] = MraModel(
            ["MN", "KZ"], [2, 2], self.model.today, 0, {"MN", "KZ"}, MraState.SIGNED
        )
        return 1

    # Mostly a party acts; sometimes any member.
    MRA_ACTORS = st.sampled_from(["party", "party", *CODES])

    @rule(mra_id=mras, actor=MRA_ACTORS, data=st.data())
    def sign(self, mra_id: int, actor: str, data: st.DataObject) -> None:
        self._act_on_mra("sign", mra_id, actor, data)

    @rule(mra_id=mras, actor=MRA_ACTORS, data=st.data())
    def suspend_mra(self, mra_id: int, actor: str, data: st.DataObject) -> None:
        self._act_on_mra("suspend", mra_id, actor, data)

    @rule(mra_id=mras, actor=MRA_ACTORS, data=st.data())
    def resume_mra(self, mra_id: int, actor: str, data: st.DataObject) -> None:
        self._act_on_mra("resume", mra_id, actor, data)

    @rule(mra_id=mras, actor=MRA_ACTORS, data=st.data())
    def terminate_mra(self, mra_id: int, actor: str, data: st.DataObject) -> None:
        self._act_on_mra("terminate", mra_id, actor, data)

    def _act_on_mra(self, operation: str, mra_id: int, actor: str, data: st.DataObject) -> None:
        mra = self.model.mras[mra_id]
        if actor == "party":
            # Resuming is the suspender's: let it try most of the time.
            suspender = [mra.suspended_by] if operation == "resume" and mra.suspended_by else []
            actor = data.draw(st.sampled_from(suspender * 3 + mra.parties), label="party")
        status = mra.status(self.model.today)
        error = self._inactive(actor)
        if error is None and actor not in mra.parties:
            error = ("MraNotParty", [mra_id, ids.authority_code(actor)])
        allowed = {
            "sign": {MraStatus.PROPOSED},
            "suspend": {MraStatus.NOT_YET_IN_FORCE, MraStatus.IN_FORCE},
            "resume": {MraStatus.SUSPENDED},
            "terminate": set(MraStatus) - {MraStatus.TERMINATED, MraStatus.ENDED},
        }[operation]
        if error is None and status not in allowed:
            error = ("MraStatusMismatch", [mra_id, status])
        if error is None and operation == "sign" and actor in mra.signed:
            error = ("MraAlreadySigned", [mra_id, ids.authority_code(actor)])
        if error is None and operation == "resume" and mra.suspended_by != actor:
            assert mra.suspended_by is not None
            error = (
                "MraNotSuspender",
                [mra_id, ids.authority_code(mra.suspended_by), ids.authority_code(actor)],
            )
        fn = getattr(self.chain.mras.functions, operation)(mra_id)
        if self._expect(actor, fn, error):
            if operation == "sign":
                mra.signed.add(actor)
                if mra.signed == set(mra.parties):
                    mra.state = MraState.SIGNED
            elif operation == "suspend":
                mra.state, mra.suspended_by = MraState.SUSPENDED, actor
            elif operation == "resume":
                mra.state, mra.suspended_by = MraState.SIGNED, None
            else:
                mra.state, mra.suspended_by = MraState.TERMINATED, None
        self.touched_mras.add(mra_id)

    # -- invariants

    def _check_certificate(self, certificate_id: bytes) -> None:
        expected = self.model.certificates[certificate_id]
        view = self.chain.registry.functions.getCertificate(certificate_id).call()
        _, issuer, tiers, status, effective, valid_from, valid_until, version, _ = view
        assert (issuer, tiers, status, valid_from, valid_until, version) == (
            ids.authority_code(expected.issuer),
            expected.tiers,
            expected.status,
            expected.valid_from,
            expected.valid_until,
            expected.version,
        )
        assert effective == expected.effective(self.model.today)

    def _check_mra(self, mra_id: int) -> None:
        expected = self.model.mras[mra_id]
        view = self.chain.mras.functions.getMra(mra_id).call()
        state, status, suspended_by, signed = view[1], view[2], view[4], view[11]
        assert status == expected.status(self.model.today)
        assert state == expected.state
        assert dict(zip(expected.parties, signed, strict=True)) == {
            p: p in expected.signed for p in expected.parties
        }
        assert suspended_by == (
            ids.authority_code(expected.suspended_by) if expected.suspended_by else b"\x00" * 4
        )
        if status in (MraStatus.NOT_YET_IN_FORCE, MraStatus.IN_FORCE):
            assert all(signed), "an MRA reads in force although a party has not signed"

    def _check_recognition(self, authority: str, certificate_id: bytes) -> None:
        on_chain = tuple(
            self.chain.mras.functions.recognizes(
                ids.authority_code(authority), certificate_id
            ).call()
        )
        assert on_chain == self.model.recognizes(authority, certificate_id), (
            authority,
            certificate_id,
        )

    @invariant()
    def revoked_is_terminal(self) -> None:
        for certificate_id in self.model.revoked:
            assert self.model.certificates[certificate_id].status == Stored.REVOKED
            assert (
                self.chain.registry.functions.statusOf(certificate_id).call() == Effective.REVOKED
            )

    @invariant()
    def chain_equals_model(self) -> None:
        certificates = (
            set(self.model.certificates) if self.everything_touched else self.touched_certificates
        )
        for certificate_id in certificates:
            self._check_certificate(certificate_id)
        for mra_id in set(self.model.mras) if self.everything_touched else self.touched_mras:
            self._check_mra(mra_id)
        # One authority per step, in turn, against the latest touched certificate (or an unknown).
        authority = CODES[self.recognition_round % len(CODES)]
        self.recognition_round += 1
        latest = max(
            certificates, key=list(self.model.certificates).index, default=UNKNOWN_CERTIFICATE
        )
        self._check_recognition(authority, latest)
        self.touched_certificates.clear()
        self.touched_mras.clear()
        self.everything_touched = False

    def teardown(self) -> None:
        for certificate_id, certificate in self.model.certificates.items():
            self._check_certificate(certificate_id)
            for authority in CODES:
                if authority != certificate.issuer:  # own certificates were checked per step
                    self._check_recognition(authority, certificate_id)
        for mra_id in self.model.mras:
            self._check_mra(mra_id)


# Memory only: the machine checks the contracts' logic, and that is the same bytecode on both
# backends (the behaviour suite runs on anvil too, so the backends are shown to agree). On anvil
# every step and every invariant read is an HTTP round trip and every write a mined block: the
# ~360 steps with their per-step checks would take minutes of CI for no new coverage.
@pytest.mark.slow
@pytest.mark.parametrize("backend", ["memory"], indirect=True)
def test_certificate_and_mra_lifecycles_follow_the_model(deployed: Deployed) -> None:
    DEPLOYED["current"] = deployed
    try:
        run_state_machine_as_test(
            Lifecycles,
            settings=settings(
                max_examples=12,
                stateful_step_count=30,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
    finally:
        revert_to_snapshot(deployed.consortium.backend, deployed.snapshot)
        deployed.snapshot = take_snapshot(deployed.consortium.backend)
