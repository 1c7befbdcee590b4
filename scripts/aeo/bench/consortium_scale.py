"""``aeo bench consortium-scale``: the 100-administration consortium of issue 15, built on a
real anvil and measured (docs/scale.md reports the figures).

What it builds, in this order, on a fresh anvil in a temporary directory:

1. the contracts, two founding members admitted by the deployer during the bootstrap, and
   every other member admitted by a membership vote of the members already in (each vote
   carried by the contract's simple majority), each member with an OPERATOR account;
2. ``certificates`` certificates, spread evenly over the members, issued with ``issueBatch``
   in batches of ``batch`` (signed with explicit nonces and sent without waiting for each
   receipt, as the registry's outbox does; one block a transaction on anvil);
3. one sample of every later change (amend, renew, suspend, reinstate, revoke), whose
   receipts give each operation's gas, calldata and log bytes;
4. ``mras`` MRAs (proposed by one party, signed by the other, so in force). The first 50
   (or fewer) all involve the first member, the *probe*; the recognition view
   ``recognizes(probe, certificate)`` is measured when the probe has 1, 10 and 50 MRAs:
   ``eth_estimateGas`` of the view (what it would cost inside a transaction) and the
   latency of ``eth_call`` (median of 50 calls), for a certificate whose issuer is the
   probe's newest partner (the loop visits every MRA first: the worst case that recognizes)
   and one whose issuer shares no MRA with the probe (the whole loop, then NoMra).

Then it measures:

- the registry's real indexer (:class:`registry_api.workers.indexer.Indexer`, pages capped at
  1,000 blocks as Besu and public nodes cap ``eth_getLogs``) backfilling a fresh SQLite
  database from the deployment block to the head: events and blocks per second;
- chain growth: state (one storage slot per certificate, by the contract's design, 64 bytes
  of key and value before the trie's own overhead) and history (calldata and log bytes of the
  sample receipts) per 1,000 certificates, and per year at the stated rate of changes
  (:data:`YEARLY_CHANGES`);
- the signed status snapshot the registry would publish from that index
  (``services.snapshots.consortium_state``), its size, and its sync over a link paced to
  ``link_bits_per_s`` (:mod:`aeo.bench.snapshot`'s paced server and sync).

Times are wall clock on a shared machine: figures taken under load are upper bounds.
"""

from __future__ import annotations

import hashlib
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from eth_account import Account
from eth_account.signers.local import LocalAccount
from rich.console import Console
from web3.types import TxReceipt

from aeo.bench.common import BenchError, Report, rate, stepper
from aeo.bench.snapshot import ONE_MBIT, paced_server, sync_seconds
from contracts import calls
from contracts.anvil import start_anvil
from contracts.bootstrap import bootstrap_consortium, new_account
from contracts.calls import ContractCall, Issuance, contract_of, issue_batch
from contracts.chain import Chain, ChainSettings, connect, fund
from contracts.deploy import Deployment, deploy
from contracts.domain import days, ids
from contracts.domain.enums import (
    AccountRole,
    KeyAlgorithm,
    MembershipAction,
    ReasonCode,
    Tier,
)
from contracts.reader import RegistryReader
from contracts.transactions import TxClient, sign
from contracts.writer import RegistryWriter
from registry_api.db import make_engine, make_session_factory, upgrade_database
from registry_api.services.snapshots import consortium_state
from registry_api.workers.indexer import Indexer
from verifier import keys
from verifier.snapshot.document import TrustAnchor, make_snapshot
from verifier.snapshot.model import BlockRef

#: the MRAs-per-member points at which the recognition view is measured
RECOGNITION_POINTS: Final = (1, 10, 50)
#: certificates per ``issueBatch`` by default: the registry's own import chunk
DEFAULT_BATCH: Final = 250
#: A year of a 1,000,000-certificate consortium, as a share of the certificates (stated in
#: docs/scale.md): validity of 3 to 5 years, so a quarter renewed; a tenth newly issued;
#: 5 % amended (a name, an address, a site); 2 % suspended and most of them reinstated;
#: 0.5 % revoked.
YEARLY_CHANGES: Final = {
    "issue": 0.10,
    "renew": 0.25,
    "amend": 0.05,
    "suspend": 0.02,
    "reinstate": 0.015,
    "revoke": 0.005,
}
_CALLS: Final = 50
# Fixed gas limits of the pipelined writes, above what each takes (docs/contracts.md): anvil
# here charges nothing, and every receipt reports the gas really used.
_PROPOSAL_GAS: Final = 600_000
_VOTE_GAS: Final = 400_000
_ACCOUNT_GAS: Final = 200_000
_BATCH_BASE_GAS: Final = 100_000
_CERTIFICATE_GAS: Final = 40_000
_DAY: Final = 86_400


@dataclass
class _Member:
    code: str
    admin: LocalAccount
    operator: LocalAccount


def member_codes(count: int) -> list[str]:
    """``count`` distinct two-letter authority codes, MN and KR first."""
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    others = (a + b for a in letters for b in letters if a + b not in ("MN", "KR"))
    codes = ["MN", "KR"]
    while len(codes) < count:
        codes.append(next(others))
    return codes[:count]


def run(
    *,
    members: int = 100,
    mras: int = 500,
    certificates: int = 1_000_000,
    batch: int = DEFAULT_BATCH,
    link_bits_per_s: int = ONE_MBIT,
    console: Console | None = None,
) -> Report:
    if members < 2:
        raise BenchError("a consortium needs 2 members at least (--members)")
    if members > 676:
        raise BenchError("at most 676 members (two-letter codes) (--members)")
    if not 1 <= mras <= members * (members - 1) // 2:
        raise BenchError(f"--mras must be 1..{members * (members - 1) // 2} for {members} members")
    if certificates < members:
        raise BenchError("--certificates must be at least --members (one per member)")
    if not 1 <= batch <= 500:
        raise BenchError("--batch must be 1..500 (a batch of 500 is half a block's gas)")
    started_all = time.perf_counter()
    report: Report = {
        "members": members,
        "mras": mras,
        "certificates": certificates,
        "batch": batch,
    }
    with tempfile.TemporaryDirectory(prefix="aeo-bench-consortium-scale-") as tmp:
        folder = Path(tmp)
        # The state file is written once at the stop, not every few seconds: a dump of a
        # million slots would otherwise eat the machine the benchmark measures.
        anvil = start_anvil(folder / "data", state_interval=86_400)
        try:
            with connect(ChainSettings(kind="anvil", data_dir=folder / "data")) as chain:
                report.update(_measure(chain, folder, members, mras, certificates, batch,
                                       link_bits_per_s, console))  # fmt: skip
        finally:
            anvil.kill()  # its state is thrown away with the directory
    report["run_s"] = round(time.perf_counter() - started_all, 1)
    return report


def _measure(
    chain: Chain,
    folder: Path,
    members: int,
    mras: int,
    certificates: int,
    batch: int,
    link_bits_per_s: int,
    console: Console | None,
) -> Report:
    report: Report = {}
    codes = member_codes(members)
    deployer: LocalAccount = Account.create()
    fund(chain, deployer.address, 10**20)

    # ------------------------------------------------------------ founding
    with stepper(console, f"founding {members} members", members) as step:
        started = time.perf_counter()
        first_block = chain.w3.eth.block_number + 1
        deployment = deploy(chain, deployer)
        deploy_gas = _gas_of_blocks(chain, first_block, chain.w3.eth.block_number)
        founded = bootstrap_consortium(chain, deployment, deployer, [(c, c) for c in codes[:2]])
        crew = [_Member(c, founded.member(c).admin, founded.member(c).operator) for c in codes[:2]]
        reader = RegistryReader(chain, deployment)
        pipeline = _Pipeline(chain, deployment)
        votes = 0
        proposals = 0
        for code in codes[2:]:
            votes += _admit(pipeline, reader, crew, code, proposals + 1)
            proposals += 1
            step(f"founding {members} members", len(crew))
        pipeline.drain()
        founding_s = time.perf_counter() - started
        founding_gas = _gas_of_blocks(chain, first_block, chain.w3.eth.block_number)
    if reader.active_member_count() != members:
        raise BenchError(f"{reader.active_member_count()} members active, not {members}")
    report.update(
        {
            "found_s": round(founding_s, 1),
            "found_gas": founding_gas,
            "deploy_gas": deploy_gas,
            "membership_votes": votes,
            "membership_proposals": proposals,
        }
    )

    # ------------------------------------------------------------ certificates
    today = days.day_of(int(time.time()))
    per_member = _spread(certificates, members)
    first_block = chain.w3.eth.block_number + 1
    with stepper(console, f"issuing {certificates:,} certificates", certificates) as step:
        started = time.perf_counter()
        issued = _issue_all(chain, deployment, crew, per_member, batch, today, step)
        issue_s = time.perf_counter() - started
    last_block = chain.w3.eth.block_number
    issue_gas = _gas_of_blocks(chain, first_block, last_block)
    report.update(
        {
            "issue_s": round(issue_s, 1),
            "issue_certificates_per_s": rate(issued, issue_s),
            "issue_gas": issue_gas,
            "issue_gas_per_certificate": round(issue_gas / issued),
            "issue_blocks": last_block - first_block + 1,
        }
    )

    # ------------------------------------------------------------ one of every later change
    probe = crew[0]
    samples = _sample_changes(chain, deployment, probe, today)
    # the first batch of the probe's issuance: calldata and log bytes of an issuance
    samples["issue"] = _issue_sample(chain, first_block, per_member[0], batch)
    report.update(_growth(samples))

    # ------------------------------------------------------------ MRAs and recognition
    with stepper(console, f"{mras} MRAs", mras) as step:
        started = time.perf_counter()
        first_block = chain.w3.eth.block_number + 1
        recognition = _mras_and_recognition(
            chain, deployment, reader, crew, mras, today, lambda n: step(f"{mras} MRAs", n)
        )
        report["mras_s"] = round(time.perf_counter() - started, 1)
        report["mras_gas"] = _gas_of_blocks(chain, first_block, chain.w3.eth.block_number)
    report.update(recognition)

    # The probe publishes a document-signing key: the snapshot's issuer must be in it.
    signer = keys.generate_private_key(KeyAlgorithm.ES256)
    RegistryWriter(chain, deployment, probe.admin).register_signing_key(
        keys.public_key_bytes(signer), int(KeyAlgorithm.ES256), int(time.time()) - _DAY
    )

    # ------------------------------------------------------------ indexer backfill
    head = chain.w3.eth.block_number
    db_url = f"sqlite:///{folder / 'registry.db'}"
    engine = make_engine(db_url)
    upgrade_database(engine)
    factory = make_session_factory(engine)
    indexer = Indexer(factory, chain, deployment, probe.code)
    blocks = head - deployment.start_block + 1
    with stepper(console, "indexer backfill", None):
        started = time.perf_counter()
        events = indexer.run_once()
        backfill_s = time.perf_counter() - started
    if indexer.cursor() < head:
        raise BenchError(f"the indexer stopped at block {indexer.cursor()} of {head}")
    report.update(
        {
            "backfill_s": round(backfill_s, 1),
            "backfill_events": events,
            "backfill_events_per_s": rate(events, backfill_s),
            "backfill_blocks": blocks,
            "backfill_blocks_per_s": rate(blocks, backfill_s),
            "backfill_pages": -(-blocks // indexer.page_size),
            "backfill_page_blocks": indexer.page_size,
            # A page of the issuance: every block in it holds one batch.
            "issuance_logs_per_page": min(
                certificates, min(indexer.page_size, report["issue_blocks"]) * batch
            ),
            "registry_database_mb": round((folder / "registry.db").stat().st_size / 2**20, 1),
        }
    )

    # ------------------------------------------------------------ the snapshot
    with stepper(console, "snapshot from the index", None):
        started = time.perf_counter()
        with factory() as session:
            state = consortium_state(session)
        report["snapshot_build_s"] = round(time.perf_counter() - started, 1)
    engine.dispose()
    if len(state.remainders) != certificates:
        raise BenchError(f"the index holds {len(state.remainders)} of {certificates} certificates")
    header = chain.w3.eth.get_block(head)
    block = BlockRef(head, bytes(header["hash"]), int(header["timestamp"]))
    now = int(datetime.now(UTC).timestamp())
    snapshot = make_snapshot(state, private_key=signer, issuer=probe.code, block=block, made_at=now)
    report["snapshot_bytes"] = len(snapshot)
    report["snapshot_bytes_per_1000_certificates"] = round(len(snapshot) * 1000 / certificates)
    with (
        paced_server({"/snapshot": snapshot}, link_bits_per_s) as url,
        stepper(console, f"sync at {link_bits_per_s:,} bit/s", None),
    ):
        report["sync_s"] = sync_seconds(
            url + "/snapshot", folder / "post.cache", [TrustAnchor.of(probe.code, signer)], now
        )
    report["link_bits_per_s"] = link_bits_per_s
    report["cache_bytes"] = (folder / "post.cache").stat().st_size
    return report


# ---------------------------------------------------------------- pipelined writes


class _Pipeline:
    """Writes signed with nonces counted here and a fixed gas limit, broadcast without
    waiting (anvil mines them one a block, in the order sent); ``drain`` waits for every
    receipt and refuses a failed one. A round trip or six per write fewer than
    ``RegistryWriter``: what lets a hundred members' thousands of votes fit a run."""

    def __init__(self, chain: Chain, deployment: Deployment) -> None:
        self.client = TxClient(chain, deployment)
        self.fees = self.client.fees()
        self.nonces: dict[str, int] = {}
        self.pending: list[bytes] = []

    def send(self, account: LocalAccount, op: ContractCall, gas: int) -> None:
        address = account.address
        if address not in self.nonces:
            self.nonces[address] = self.client.nonce(address)
        signed = sign(self.client.prepare(op), account, nonce=self.nonces[address], gas=gas,
                      fees=self.fees, chain_id=self.client.chain_id)  # fmt: skip
        self.client.broadcast(signed.raw)
        self.nonces[address] += 1
        self.pending.append(bytes(signed.hash))

    def drain(self) -> None:
        for tx_hash in self.pending:
            self.client.check(self.client.wait_receipt(tx_hash, 120.0))
        self.pending.clear()


# ---------------------------------------------------------------- founding


def _admit(
    pipeline: _Pipeline,
    reader: RegistryReader,
    crew: list[_Member],
    code: str,
    proposal_id: int,
) -> int:
    """Admit ``code`` by a vote of the members in ``crew``; returns the votes cast (the
    proposer's approval included)."""
    chain = pipeline.client.chain
    admin = new_account(chain)
    operator = new_account(chain)
    pipeline.send(
        crew[0].admin,
        calls.propose_membership(MembershipAction.ADMIT, code, code, admin.address),
        _PROPOSAL_GAS,
    )
    pipeline.drain()
    proposal = reader.get_proposal(proposal_id)
    if proposal.code != code:
        raise BenchError(f"proposal {proposal_id} is for {proposal.code}, not {code}")
    votes = 1
    for voter in crew[1 : proposal.required]:
        pipeline.send(voter.admin, calls.vote(proposal_id), _VOTE_GAS)
        votes += 1
    pipeline.send(admin, calls.add_account(operator.address, AccountRole.OPERATOR), _ACCOUNT_GAS)
    crew.append(_Member(code, admin, operator))
    return votes


# ---------------------------------------------------------------- certificates


def _spread(total: int, members: int) -> list[int]:
    base, extra = divmod(total, members)
    return [base + (1 if i < extra else 0) for i in range(members)]


def _number(code: str, index: int) -> str:
    return f"{code}-AEO-{index:09d}"


def _issuance(code: str, index: int, today: int) -> Issuance:
    seed = f"{code} {index}".encode()
    return Issuance(
        number=_number(code, index),
        tiers=int(Tier.CUSTOMS_SIMPLIFICATIONS | Tier.SECURITY_SAFETY),
        valid_from=today - 30,
        valid_until=today + 3 * 365,
        holder_ref=hashlib.sha256(b"holder " + seed).digest(),
        commitment=hashlib.sha256(b"record " + seed).digest(),
    )


def _issue_all(
    chain: Chain,
    deployment: Deployment,
    crew: Sequence[_Member],
    per_member: Sequence[int],
    batch: int,
    today: int,
    step: Callable[[str, int], None],
) -> int:
    """Issue ``per_member[i]`` certificates for each member; every receipt is checked."""
    pipeline = _Pipeline(chain, deployment)
    gas_limit = int(chain.w3.eth.get_block("latest")["gasLimit"])
    # A fixed limit above a batch's need (a fresh slot and the event: under 30,000 gas a
    # certificate): estimating a 250-certificate batch runs it a dozen times.
    gas = min(_BATCH_BASE_GAS + _CERTIFICATE_GAS * batch, gas_limit)
    issued = 0
    for member, count in zip(crew, per_member, strict=True):
        for start in range(0, count, batch):
            items = [
                _issuance(member.code, i, today) for i in range(start, min(start + batch, count))
            ]
            pipeline.send(member.operator, issue_batch(items), gas)
            issued += len(items)
            step(f"issuing certificates ({member.code})", issued)
        pipeline.drain()
    return issued


def _gas_of_blocks(chain: Chain, first: int, last: int) -> int:
    return sum(int(chain.w3.eth.get_block(n)["gasUsed"]) for n in range(first, last + 1))


# ---------------------------------------------------------------- growth


@dataclass(frozen=True)
class _Sample:
    """One transaction's cost per certificate it changed."""

    gas: float
    calldata_bytes: float
    log_bytes: float


def _log_bytes(receipt: TxReceipt) -> int:
    """What a node keeps per log: the address, the topics and the data."""
    return sum(20 + 32 * len(log["topics"]) + len(bytes(log["data"])) for log in receipt["logs"])


def _sample(chain: Chain, receipt: TxReceipt, per: int = 1) -> _Sample:
    transaction = chain.w3.eth.get_transaction(receipt["transactionHash"])
    return _Sample(
        gas=int(receipt["gasUsed"]) / per,
        calldata_bytes=len(bytes(transaction["input"])) / per,
        log_bytes=_log_bytes(receipt) / per,
    )


def _issue_sample(chain: Chain, block: int, count: int, batch: int) -> _Sample:
    # One transaction a block on anvil: the block's first is the batch.
    tx_hash = chain.w3.eth.get_transaction_by_block(block, 0)["hash"]
    receipt = chain.w3.eth.get_transaction_receipt(tx_hash)
    return _sample(chain, receipt, min(batch, count))


def _sample_changes(
    chain: Chain, deployment: Deployment, member: _Member, today: int
) -> dict[str, _Sample]:
    writer = RegistryWriter(chain, deployment, member.operator)
    certificate_id = ids.certificate_id(member.code, _number(member.code, 0))
    seed = hashlib.sha256(b"amended").digest()
    return {
        "amend": _sample(
            chain,
            writer.amend(
                certificate_id,
                int(Tier.SECURITY_SAFETY),
                seed,
                hashlib.sha256(seed).digest(),
                int(ReasonCode.DATA_CHANGE),
            ),
        ),
        "renew": _sample(chain, writer.renew(certificate_id, today + 5 * 365)),
        "suspend": _sample(chain, writer.suspend(certificate_id, int(ReasonCode.FAILED_AUDIT))),
        "reinstate": _sample(chain, writer.reinstate(certificate_id, int(ReasonCode.REMEDIED))),
        "revoke": _sample(chain, writer.revoke(certificate_id, int(ReasonCode.FAILED_AUDIT))),
    }


def _growth(samples: dict[str, _Sample]) -> Report:
    """Chain growth per 1,000 certificates and per year of :data:`YEARLY_CHANGES` on a
    million certificates."""
    issue = samples["issue"]
    # One slot (32-byte key, 32-byte value) per certificate; later changes rewrite it.
    state_per_1000 = 1000 * 64
    history_per_1000 = round(1000 * (issue.calldata_bytes + issue.log_bytes))
    year_changes = {kind: round(share * 1_000_000) for kind, share in YEARLY_CHANGES.items()}
    year_history = sum(
        count * (samples[kind].calldata_bytes + samples[kind].log_bytes)
        for kind, count in year_changes.items()
    )
    year_gas = sum(count * samples[kind].gas for kind, count in year_changes.items())
    return {
        "state_bytes_per_1000_certificates": state_per_1000,
        "history_bytes_per_1000_certificates": history_per_1000,
        "log_bytes_per_1000_certificates": round(1000 * issue.log_bytes),
        "calldata_bytes_per_1000_certificates": round(1000 * issue.calldata_bytes),
        "gas_per_change": {kind: round(s.gas) for kind, s in sorted(samples.items())},
        "history_bytes_per_change": {
            kind: round(s.calldata_bytes + s.log_bytes) for kind, s in sorted(samples.items())
        },
        "year_changes_per_million": year_changes,
        "year_history_mb_per_million": round(year_history / 2**20, 1),
        "year_state_mb_per_million": round(year_changes["issue"] * 64 / 2**20, 1),
        "year_gas_per_million": round(year_gas),
    }


# ---------------------------------------------------------------- MRAs and recognition


def _mras_and_recognition(
    chain: Chain,
    deployment: Deployment,
    reader: RegistryReader,
    crew: Sequence[_Member],
    count: int,
    today: int,
    step: Callable[[int], None],
) -> Report:
    codes = [m.code for m in crew]
    by_code = {m.code: m for m in crew}
    pairs: list[tuple[str, str]] = []
    probe = codes[0]
    # The probe's MRAs first, with members 1.. in order: the recognition points.
    for partner in codes[1:]:
        if len(pairs) >= min(count, max(RECOGNITION_POINTS)):
            break
        pairs.append((probe, partner))
    # The rest among the other members, round robin over distinct pairs.
    others = [(a, b) for i, a in enumerate(codes[1:], 1) for b in codes[i + 1 :]]
    stride = max(1, len(others) // max(1, count - len(pairs)))
    for pair in others[::stride]:
        if len(pairs) >= count:
            break
        pairs.append(pair)
    for pair in others:
        if len(pairs) >= count:
            break
        if pair not in pairs:
            pairs.append(pair)
    tiers = int(Tier.CUSTOMS_SIMPLIFICATIONS | Tier.SECURITY_SAFETY)
    # An issuer sharing no MRA with the probe (none when the probe signed with everyone).
    stranger = next((c for c in reversed(codes[1:]) if (probe, c) not in pairs), None)
    report: Report = {}
    pipeline = _Pipeline(chain, deployment)
    for done, (a, b) in enumerate(pairs, 1):
        text = hashlib.sha256(f"MRA {a}-{b}".encode()).digest()
        pipeline.send(
            by_code[a].operator,
            calls.propose_mra([a, b], [tiers, tiers], today - 1, 0, text),
            _PROPOSAL_GAS,
        )
        # MRAs are numbered from 1 in a fresh registry, in the order proposed.
        pipeline.send(by_code[b].operator, calls.sign_mra(done), _VOTE_GAS)
        step(done)
        if a == probe and done in RECOGNITION_POINTS:
            pipeline.drain()
            report.update(_recognition(chain, deployment, reader, probe, b, stranger, done))
    pipeline.drain()
    report["mras_of_probe"] = sum(1 for a, _ in pairs if a == probe)
    return report


def _recognition(
    chain: Chain,
    deployment: Deployment,
    reader: RegistryReader,
    probe: str,
    partner: str,
    stranger: str | None,
    point: int,
) -> Report:
    """Gas and latency of ``recognizes(probe, ...)`` with ``point`` MRAs."""
    mras = contract_of(chain, deployment, "mras")
    out: Report = {}
    cases = [("recognized", partner, True)]
    if stranger is not None:
        cases.append(("no_mra", stranger, False))
    for label, issuer, expected in cases:
        certificate_id = ids.certificate_id(issuer, _number(issuer, 0))
        if label == "recognized" and partner == probe:
            continue
        answer = reader.recognizes(probe, certificate_id)
        if answer.recognized is not expected:
            raise BenchError(f"recognizes({probe}, {issuer}'s certificate) said {answer}")
        call = mras.functions.recognizes(ids.authority_code(probe), certificate_id)
        gas = int(call.estimate_gas())
        latencies = []
        for _ in range(_CALLS):
            started = time.perf_counter()
            call.call()
            latencies.append(time.perf_counter() - started)
        out[f"recognition_{label}_gas_{point}_mras"] = gas
        out[f"recognition_{label}_ms_{point}_mras"] = round(statistics.median(latencies) * 1000, 2)
    return out
