"""Every exception the chain layer raises, and the one place contract reverts are translated.

``ChainError`` is the package's single base. Like web3.py's exceptions, subclasses also inherit
the matching builtin where that reads naturally (``ChainUnavailableError`` is a
``ConnectionError``, a not-found revert is a ``LookupError``), so generic handlers still work.

A revert's custom-error selector is looked up in a table built from every committed artifact's
ABI, so ``ContractRevertError`` always names the Solidity error and carries its decoded values.
Each error name maps to one ``RevertCategory``; the registry API turns the category into an
HTTP status (403 / 404 / 409 / 422) in one handler.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar

from eth_abi.abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_utils.abi import (
    abi_to_signature,
    function_signature_to_4byte_selector,
    get_abi_input_names,
    get_abi_input_types,
)
from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from web3.exceptions import ContractLogicError

if TYPE_CHECKING:
    from eth_typing import ABIError
    from web3.types import TxReceipt


class ChainError(Exception):
    """Base of every error raised by the chain layer (the ``contracts`` package)."""


class ChainUnavailableError(ChainError, ConnectionError):
    """The chain node does not answer (down, unreachable, timing out). The API answers 503."""


class ChainConfigError(ChainError, ValueError):
    """Chain settings that cannot work (unknown kind, missing URL, wrong chain id...)."""


class NotADevChainError(ChainError, RuntimeError):
    """A development-only helper (funding, mining, time travel) was used on an ``rpc`` chain."""


class AnvilError(ChainError, RuntimeError):
    """The anvil binary is missing, or the process failed to start, answer or stop."""


class ArtifactError(ChainError, LookupError):
    """A contract artifact is missing or unreadable (build them with ``make contracts``)."""


class DeploymentError(ChainError):
    """Base for problems with the recorded deployment of the contracts."""


class DeploymentNotFoundError(DeploymentError, FileNotFoundError):
    """No deployment file is recorded for this chain (deploy first)."""


class DeploymentMismatchError(DeploymentError):
    """The recorded deployment does not match this chain: other code at its addresses, or
    another chain id. Never silently redeployed over: the operator decides."""


class EventDecodeError(ChainError, ValueError):
    """A log from the registry's addresses matches no event of their ABIs."""


class TransactionRejectedError(ChainError):
    """The node refused a signed transaction (underpriced, insufficient funds, malformed...)."""


class TransactionPoolFullError(TransactionRejectedError):
    """The node has no room for the transaction now: its pool is full, or this sender already
    has as many waiting as the node keeps per sender (Besu's ``tx-pool-max-future-by-sender``).
    Nothing is wrong with the transaction: the same bytes go again once blocks drain the pool."""


class NonceConflictError(TransactionRejectedError):
    """The nonce of a signed transaction is already used by a different transaction."""

    def __init__(self, message: str, *, sender: str, nonce: int | None) -> None:
        super().__init__(message)
        self.sender = sender
        self.nonce = nonce


class TransactionTimeoutError(ChainError, TimeoutError):
    """No receipt within the timeout; the transaction may still be mined later."""

    def __init__(self, message: str, *, tx_hash: HexBytes) -> None:
        super().__init__(message)
        self.tx_hash = tx_hash


class RevertCategory(StrEnum):
    """What a revert means to a caller; the API maps each to one HTTP status."""

    UNAUTHORIZED = "unauthorized"  # 403: the account may not do this
    NOT_FOUND = "not_found"  # 404: the thing acted on does not exist
    CONFLICT = "conflict"  # 409: it exists but its state forbids this
    INVALID = "invalid"  # 422: the arguments themselves are wrong


class ContractRevertError(ChainError):
    """A contract call or transaction reverted with a known error.

    ``name`` is the Solidity error name (``"CertificateNotIssuer"``), ``args`` its named values
    as decoded from the revert data (``bytes`` for ``bytesN``, checksummed ``str`` for
    addresses, ``int`` for integers). Catch a category subclass, or read ``category``.
    """

    category: ClassVar[RevertCategory] = RevertCategory.INVALID

    def __init__(
        self,
        name: str,
        args: Mapping[str, Any],
        *,
        selector: bytes = b"",
        data: bytes = b"",
        message: str | None = None,
    ) -> None:
        super().__init__(message or f"reverted with {_render(name, args)}")
        self.name = name
        self._values = dict(args)
        self.selector = bytes(selector)
        self.data = bytes(data)

    # ``args`` is the error's named values (what callers read); the builtin message tuple stays
    # intact underneath, where str(), tracebacks and pickling read it.
    @property
    def args(self) -> dict[str, Any]:  # type: ignore[override]
        return dict(self._values)

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild_revert,
            (type(self), self.name, self._values, self.selector, self.data, str(self)),
        )


def _rebuild_revert(
    cls: type[ContractRevertError],
    name: str,
    values: dict[str, Any],
    selector: bytes,
    data: bytes,
    message: str,
) -> ContractRevertError:
    return cls(name, values, selector=selector, data=data, message=message)


class UnauthorizedRevertError(ContractRevertError):
    category = RevertCategory.UNAUTHORIZED


class NotFoundRevertError(ContractRevertError, LookupError):
    category = RevertCategory.NOT_FOUND


class ConflictRevertError(ContractRevertError):
    category = RevertCategory.CONFLICT


class InvalidRevertError(ContractRevertError, ValueError):
    category = RevertCategory.INVALID


_CATEGORY_CLASSES: dict[RevertCategory, type[ContractRevertError]] = {
    RevertCategory.UNAUTHORIZED: UnauthorizedRevertError,
    RevertCategory.NOT_FOUND: NotFoundRevertError,
    RevertCategory.CONFLICT: ConflictRevertError,
    RevertCategory.INVALID: InvalidRevertError,
}

_U, _N, _C, _I = (
    RevertCategory.UNAUTHORIZED,
    RevertCategory.NOT_FOUND,
    RevertCategory.CONFLICT,
    RevertCategory.INVALID,
)

# Every custom error of every artifact has an entry here; tests/chain fail when one is missing,
# so a new Solidity error cannot silently fall into the wrong HTTP status.
ERROR_CATEGORIES: dict[str, RevertCategory] = {
    # Solidity builtins: a require message or a panic is a bug or bad input, never a state.
    "Error": _I,
    "Panic": _I,
    # The caller's account may not do this (including: its authority is not Active).
    "AuthorityNotBootstrapper": _U,
    "AuthorityUnauthorizedAccount": _U,
    "AuthorityNotActive": _U,
    "CertificateNotIssuer": _U,
    "MembershipTargetCannotVote": _U,
    "SigningKeyNotOwned": _U,
    "MraNotParty": _U,
    "MraNotSuspender": _U,
    # The thing acted on does not exist.
    "AuthorityUnknown": _N,
    "AuthorityAccountNotFound": _N,
    "CertificateUnknown": _N,
    "MembershipProposalUnknown": _N,
    "SigningKeyUnknown": _N,
    "MraUnknown": _N,
    # It exists, but its current state forbids the operation.
    "AuthorityAlreadyExists": _C,
    "AuthorityAccountAlreadyRegistered": _C,
    "AuthorityBootstrapClosed": _C,
    "AuthorityTooFewMembers": _C,
    "AuthorityLastAdmin": _C,
    "AuthorityTooManyAccounts": _C,
    "CertificateAlreadyExists": _C,
    "CertificateAlreadyRevoked": _C,
    "CertificateStatusMismatch": _C,
    "CertificateRenewalNotLater": _C,
    "MembershipActionNotApplicable": _C,
    "MembershipAlreadyVoted": _C,
    "MembershipProposalExecuted": _C,
    "MembershipProposalExpired": _C,
    "MembershipProposalStale": _C,
    "MembershipQuorumUnreachable": _C,
    "SigningKeyAlreadyRegistered": _C,
    "SigningKeyAlreadyRevoked": _C,
    "MraAlreadySigned": _C,
    "MraStatusMismatch": _C,
    "MraPartyNotActive": _C,
    # The arguments themselves are wrong, whatever the state.
    "AuthorityInvalidAccount": _I,
    "AuthorityInvalidCode": _I,
    "AuthorityInvalidName": _I,
    "AuthorityInvalidProposalLifetime": _I,
    "AuthorityInvalidRoles": _I,
    "AuthorityInvalidVoteThreshold": _I,
    "CertificateBatchEmpty": _I,
    "CertificateInvalidNumber": _I,
    "CertificateNumberOfAnotherMember": _I,
    "CertificateInvalidTiers": _I,
    "CertificateInvalidValidity": _I,
    "CertificateReasonNotAllowed": _I,
    "SigningKeyIdMismatch": _I,
    "SigningKeyInvalidPublicKey": _I,
    "SigningKeyRevokedBeforeValidFrom": _I,
    "SigningKeyRevokedInFuture": _I,
    "SigningKeyUnsupportedAlgorithm": _I,
    "MraDuplicateParty": _I,
    "MraInvalidDates": _I,
    "MraInvalidPartyCount": _I,
    "MraInvalidRegistry": _I,
    "MraInvalidTextHash": _I,
    "MraInvalidTiers": _I,
    "MraTiersLengthMismatch": _I,
    # BaselineHashRegistry (the gas report's comparison contract)
    "BaselineUnauthorizedAccount": _U,
    "BaselineDocumentNotIssued": _N,
    "BaselineDocumentAlreadyIssued": _C,
    "BaselineDocumentAlreadyRevoked": _C,
}


class TransactionFailedError(ChainError):
    """A mined transaction has status 0. ``revert`` is the decoded reason when the node could
    replay it, else None."""

    def __init__(
        self,
        message: str,
        *,
        tx_hash: HexBytes,
        receipt: TxReceipt | None = None,
        revert: ContractRevertError | None = None,
    ) -> None:
        super().__init__(message)
        self.tx_hash = tx_hash
        self.receipt = receipt
        self.revert = revert


@dataclass(frozen=True)
class ErrorSpec:
    """One custom error of some ABI: how to decode it."""

    name: str
    signature: str
    selector: bytes
    types: tuple[str, ...]
    names: tuple[str, ...]


_BUILTIN_ERRORS = (
    ErrorSpec("Error", "Error(string)", bytes.fromhex("08c379a0"), ("string",), ("message",)),
    ErrorSpec("Panic", "Panic(uint256)", bytes.fromhex("4e487b71"), ("uint256",), ("code",)),
)


def error_spec(abi_error: ABIError) -> ErrorSpec:
    signature = abi_to_signature(abi_error)
    names = tuple(n or f"arg{i}" for i, n in enumerate(get_abi_input_names(abi_error)))
    return ErrorSpec(
        name=abi_error["name"],
        signature=signature,
        selector=function_signature_to_4byte_selector(signature),
        types=tuple(get_abi_input_types(abi_error)),
        names=names,
    )


@cache
def error_table() -> dict[bytes, ErrorSpec]:
    """Selector -> error, over every committed artifact (and Solidity's Error/Panic)."""
    from contracts.artifacts import all_artifacts  # artifacts imports this module

    table = {spec.selector: spec for spec in _BUILTIN_ERRORS}
    for artifact in all_artifacts():
        for element in artifact.abi:
            if element["type"] != "error":
                continue
            spec = error_spec(element)
            known = table.get(spec.selector)
            if known is not None and known.signature != spec.signature:
                raise ArtifactError(
                    f"selector clash: {known.signature} and {spec.signature} "
                    f"both map to 0x{spec.selector.hex()}"
                )
            table[spec.selector] = spec
    return table


def category_of(name: str) -> RevertCategory:
    return ERROR_CATEGORIES.get(name, RevertCategory.INVALID)


def _normalize(value: Any, abi_type: str) -> Any:
    if abi_type == "address":
        return to_checksum_address(value)
    if isinstance(value, tuple):
        return tuple(_normalize(v, abi_type.removesuffix("[]")) for v in value)
    return value


def revert_from_data(
    data: bytes | str | None, *, message: str | None = None
) -> ContractRevertError:
    """The typed exception for raw revert data (``0x`` + selector + ABI-encoded values)."""
    raw = HexBytes(data) if data else HexBytes(b"")
    if len(raw) < 4:
        # A bare revert() or a node that hides the data: nothing to decode.
        return InvalidRevertError(
            "UnknownRevert", {}, data=raw, message=message or "execution reverted without data"
        )
    selector = bytes(raw[:4])
    spec = error_table().get(selector)
    if spec is None:
        return InvalidRevertError(
            "UnknownRevert",
            {"selector": selector},
            selector=selector,
            data=raw,
            message=f"reverted with unknown error selector 0x{selector.hex()}",
        )
    try:
        values = abi_decode(list(spec.types), bytes(raw[4:]))
    except DecodingError as exc:
        return InvalidRevertError(
            spec.name,
            {},
            selector=selector,
            data=raw,
            message=f"reverted with {spec.name} but its values do not decode: {exc}",
        )
    args = {
        name: _normalize(value, abi_type)
        for name, value, abi_type in zip(spec.names, values, spec.types, strict=True)
    }
    cls = _CATEGORY_CLASSES[category_of(spec.name)]
    return cls(spec.name, args, selector=selector, data=raw)


def revert_from_web3(exc: ContractLogicError) -> ContractRevertError:
    """Translate web3's revert exception (from eth_call / eth_estimateGas) into ours."""
    data: Any = exc.data
    if isinstance(data, dict):  # some nodes nest the revert data one level down
        data = data.get("data") or data.get("result")
    if isinstance(data, str | bytes):
        return revert_from_data(data, message=None if data else exc.message)
    return revert_from_data(None, message=str(exc.message or exc))


@contextmanager
def translate_errors(what: str = "chain request") -> Iterator[None]:
    """Turn web3 reverts into ``ContractRevertError`` and network failures into
    ``ChainUnavailableError`` for the code inside the block."""
    try:
        yield
    except ChainError:
        raise
    except ContractLogicError as exc:
        raise revert_from_web3(exc) from exc
    # requests' exceptions are OSErrors; within a chain request they always mean the node.
    except OSError as exc:
        raise ChainUnavailableError(
            f"{what} failed: the chain node did not answer ({exc})"
        ) from exc


def _render(name: str, args: Mapping[str, Any]) -> str:
    parts = []
    for key, value in args.items():
        shown = "0x" + value.hex() if isinstance(value, bytes | bytearray) else repr(value)
        parts.append(f"{key}={shown}")
    return f"{name}({', '.join(parts)})"
