// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title AEO certificates: issue, amend, renew, suspend, reinstate, revoke
/// @notice A certificate's id is keccak256(abi.encodePacked(bytes4 issuer, bytes32 number)), so an
/// authority cannot issue the same number twice. Dates are whole UTC days since 1970-01-01
/// (`validUntil` inclusive). The chain stores one slot per certificate; what only the off-chain
/// index needs (number, holder reference, commitment, operator) travels in the events.
/// Only OPERATOR accounts of the issuing authority, while it is Active, change its certificates.
interface ICertificates {
    // ---------------------------------------------------------------- types

    /// @dev The stored status. `None` = never issued: an unknown certificate never reads as "not revoked".
    enum CertificateStatus {
        None,
        Active,
        Suspended,
        Revoked
    }

    /// @dev The status at the current block's day, precedence Revoked > Expired > Suspended >
    /// NotYetValid > Active (see docs/contracts.md).
    enum EffectiveStatus {
        Unknown,
        Active,
        Suspended,
        Revoked,
        Expired,
        NotYetValid
    }

    /// @notice One certificate of `issueBatch`; the fields mean what `issue`'s arguments mean.
    struct Issuance {
        bytes32 number;
        uint8 tiers;
        uint16 validFrom;
        uint16 validUntil;
        bytes32 holderRef;
        bytes32 commitment;
    }

    /// @param digest first 20 bytes of keccak256(abi.encodePacked(holderRef, commitment))
    /// @param effectiveStatus `statusOf(id)` at the current block
    struct CertificateView {
        bytes32 id;
        bytes4 issuer;
        uint8 tiers;
        CertificateStatus status;
        EffectiveStatus effectiveStatus;
        uint16 validFrom;
        uint16 validUntil;
        uint16 version;
        bytes20 digest;
    }

    // ---------------------------------------------------------------- events

    /// @notice A certificate was issued (status Active, version 1).
    /// @param number the certificate number (bytes32, ASCII left-aligned)
    /// @param holderRef pseudonymous reference to the holder's identification number
    /// @param commitment hash of the full off-chain record
    /// @param operator the account that sent the transaction
    event CertificateIssued(
        bytes32 indexed id,
        bytes4 indexed issuer,
        bytes32 number,
        uint8 tiers,
        uint16 validFrom,
        uint16 validUntil,
        bytes32 holderRef,
        bytes32 commitment,
        address operator
    );

    /// @notice A certificate's record was amended; `version` is the new version.
    event CertificateAmended(
        bytes32 indexed id,
        bytes4 indexed issuer,
        uint16 version,
        uint8 tiers,
        bytes32 holderRef,
        bytes32 commitment,
        uint8 reason,
        address operator
    );

    /// @notice A certificate's validity was extended to `validUntil`.
    event CertificateRenewed(bytes32 indexed id, bytes4 indexed issuer, uint16 validUntil, uint8 reason, address operator);

    /// @notice A certificate was suspended, reinstated or revoked; `status` is the new stored status.
    event CertificateStatusChanged(
        bytes32 indexed id, bytes4 indexed issuer, CertificateStatus status, uint8 reason, address operator
    );

    // ---------------------------------------------------------------- errors

    error CertificateAlreadyExists(bytes32 id);
    error CertificateUnknown(bytes32 id);
    /// @dev The caller's authority `caller` is not the certificate's `issuer`.
    error CertificateNotIssuer(bytes32 id, bytes4 issuer, bytes4 caller);
    /// @dev Revocation is terminal: nothing changes a revoked certificate.
    error CertificateAlreadyRevoked(bytes32 id);
    /// @dev The operation needs the stored status `expected`; the certificate is `current`.
    error CertificateStatusMismatch(bytes32 id, CertificateStatus current, CertificateStatus expected);
    error CertificateInvalidNumber(bytes32 number);
    /// @dev `number` starts with the code of `member`, another member (Active, Suspended or Removed)
    /// than the issuer: its leading letters, 2 to 4 of them, followed by a character that is not a
    /// letter or by the end. Such a number reads as `member`'s at a border.
    error CertificateNumberOfAnotherMember(bytes32 number, bytes4 member, bytes4 issuer);
    /// @dev Tiers must be non-zero and use no reserved bit (5..7).
    error CertificateInvalidTiers(uint8 tiers);
    error CertificateInvalidValidity(uint16 validFrom, uint16 validUntil);
    /// @dev A renewal must move `validUntil` later.
    error CertificateRenewalNotLater(bytes32 id, uint16 validUntil, uint16 newValidUntil);
    /// @dev `allowed` has bit n set for every reason code n the operation accepts (ReasonCodes).
    error CertificateReasonNotAllowed(uint8 reason, uint64 allowed);
    error CertificateBatchEmpty();

    // ---------------------------------------------------------------- writes

    /// @notice Issues certificate `number` of the caller's authority (status Active, version 1).
    /// @param number certificate number, ASCII left-aligned in bytes32
    /// @param tiers program tier bit set (see Tiers)
    /// @param validFrom first valid day (days since 1970-01-01)
    /// @param validUntil last valid day, inclusive (65535 for an open-ended certificate)
    /// @param holderRef keccak256 of "SCHEME:IDENTIFIER" of the holder (see contracts/ids.py)
    /// @param commitment hash of the canonical off-chain record
    /// @return id keccak256(abi.encodePacked(issuer, number))
    /// Requirements:
    /// - the caller is an OPERATOR of an Active authority;
    /// - `number` is not zero and was never issued by that authority;
    /// - `number` does not start with another member's code (`CertificateNumberOfAnotherMember`);
    /// - `tiers` is non-zero with no reserved bit; `validFrom` <= `validUntil`.
    function issue(
        bytes32 number,
        uint8 tiers,
        uint16 validFrom,
        uint16 validUntil,
        bytes32 holderRef,
        bytes32 commitment
    ) external returns (bytes32 id);

    /// @notice Issues every certificate of `batch`, or none of them.
    /// Requirements:
    /// - `batch` is not empty; every item meets `issue`'s requirements, duplicates within the batch included.
    function issueBatch(Issuance[] calldata batch) external;

    /// @notice Replaces a certificate's tiers and record (holder reference, commitment); version + 1.
    /// Requirements:
    /// - the caller is an OPERATOR of the Active issuing authority;
    /// - the certificate is Active or Suspended; `tiers` is valid; `reason` is an amendment reason.
    function amend(bytes32 id, uint8 tiers, bytes32 holderRef, bytes32 commitment, uint8 reason) external;

    /// @notice Extends a certificate's validity to `validUntil`.
    /// Requirements:
    /// - the caller is an OPERATOR of the Active issuing authority;
    /// - the certificate is Active; `validUntil` is later than the current one; `reason` is a renewal reason.
    function renew(bytes32 id, uint16 validUntil, uint8 reason) external;

    /// @notice Suspends an Active certificate.
    /// Requirements:
    /// - the caller is an OPERATOR of the Active issuing authority;
    /// - the certificate is Active; `reason` is a suspension reason.
    function suspend(bytes32 id, uint8 reason) external;

    /// @notice Reinstates a Suspended certificate.
    /// Requirements:
    /// - the caller is an OPERATOR of the Active issuing authority;
    /// - the certificate is Suspended; `reason` is a reinstatement reason.
    function reinstate(bytes32 id, uint8 reason) external;

    /// @notice Revokes a certificate for good.
    /// Requirements:
    /// - the caller is an OPERATOR of the Active issuing authority;
    /// - the certificate is Active or Suspended; `reason` is a revocation reason.
    function revoke(bytes32 id, uint8 reason) external;

    // ---------------------------------------------------------------- views

    /// @notice The stored certificate; status None (all fields zero but `id`) when unknown.
    function getCertificate(bytes32 id) external view returns (CertificateView memory);

    /// @notice The effective status at block.timestamp / 86400; Unknown when never issued.
    function statusOf(bytes32 id) external view returns (EffectiveStatus);

    /// @notice keccak256(abi.encodePacked(issuer, number)).
    function certificateId(bytes4 issuer, bytes32 number) external pure returns (bytes32);

    /// @notice bytes20(keccak256(abi.encodePacked(holderRef, commitment))), what a slot stores.
    function recordDigest(bytes32 holderRef, bytes32 commitment) external pure returns (bytes20);
}
