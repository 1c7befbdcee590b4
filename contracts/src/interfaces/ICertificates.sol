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
    /// @param id the certificate's id, keccak256(abi.encodePacked(issuer, number))
    /// @param issuer code of the issuing authority
    /// @param number the certificate number (bytes32, ASCII left-aligned)
    /// @param tiers program tier bit set (see Tiers)
    /// @param validFrom first valid day (days since 1970-01-01)
    /// @param validUntil last valid day, inclusive (65535 for an open-ended certificate)
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

    /// @notice A certificate's record was amended.
    /// @param id the certificate's id
    /// @param issuer code of the issuing authority
    /// @param version the new version (the one before + 1; issuance is version 1)
    /// @param tiers the tier bit set from now on
    /// @param holderRef the holder reference from now on
    /// @param commitment hash of the amended off-chain record
    /// @param reason the amendment's reason code (one of ReasonCodes.AMEND)
    /// @param operator the account that sent the transaction
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

    /// @notice A certificate's validity was extended.
    /// @param id the certificate's id
    /// @param issuer code of the issuing authority
    /// @param validUntil the new last valid day, inclusive (days since 1970-01-01)
    /// @param reason the renewal's reason code (one of ReasonCodes.RENEW)
    /// @param operator the account that sent the transaction
    event CertificateRenewed(bytes32 indexed id, bytes4 indexed issuer, uint16 validUntil, uint8 reason, address operator);

    /// @notice A certificate was suspended, reinstated or revoked.
    /// @param id the certificate's id
    /// @param issuer code of the issuing authority
    /// @param status the new stored status: Suspended (suspend), Active (reinstate) or Revoked (revoke)
    /// @param reason the transition's reason code (one of ReasonCodes.SUSPEND, REINSTATE or REVOKE)
    /// @param operator the account that sent the transaction
    event CertificateStatusChanged(
        bytes32 indexed id, bytes4 indexed issuer, CertificateStatus status, uint8 reason, address operator
    );

    // ---------------------------------------------------------------- errors

    /// @dev The caller's authority already issued this number.
    /// @param id the id of that certificate
    error CertificateAlreadyExists(bytes32 id);
    /// @dev No certificate has this id: it was never issued.
    /// @param id the id asked for
    error CertificateUnknown(bytes32 id);
    /// @dev The caller's authority is not the certificate's issuer.
    /// @param id the certificate's id
    /// @param issuer code of the authority that issued it
    /// @param caller code of the caller's authority
    error CertificateNotIssuer(bytes32 id, bytes4 issuer, bytes4 caller);
    /// @dev Revocation is terminal: nothing changes a revoked certificate.
    /// @param id the revoked certificate's id
    error CertificateAlreadyRevoked(bytes32 id);
    /// @dev The operation needs another stored status.
    /// @param id the certificate's id
    /// @param current its stored status
    /// @param expected the stored status the operation needs
    error CertificateStatusMismatch(bytes32 id, CertificateStatus current, CertificateStatus expected);
    /// @dev A certificate number must not be zero (empty).
    /// @param number the number given
    error CertificateInvalidNumber(bytes32 number);
    /// @dev The number starts with the code of another member (Active, Suspended or Removed) than
    /// the issuer: its leading letters, 2 to 4 of them, followed by a character that is not a
    /// letter or by the end. Such a number reads as that member's at a border.
    /// @param number the number given
    /// @param member the other member whose code the number starts with
    /// @param issuer code of the caller's authority
    error CertificateNumberOfAnotherMember(bytes32 number, bytes4 member, bytes4 issuer);
    /// @dev Tiers must be non-zero and use no reserved bit (5..7).
    /// @param tiers the tier bit set given
    error CertificateInvalidTiers(uint8 tiers);
    /// @dev The last valid day is before the first.
    /// @param validFrom the first valid day given
    /// @param validUntil the last valid day given
    error CertificateInvalidValidity(uint16 validFrom, uint16 validUntil);
    /// @dev A renewal must move the last valid day later.
    /// @param id the certificate's id
    /// @param validUntil its current last valid day
    /// @param newValidUntil the last valid day asked for
    error CertificateRenewalNotLater(bytes32 id, uint16 validUntil, uint16 newValidUntil);
    /// @dev The operation does not accept this reason code.
    /// @param reason the reason code given
    /// @param allowed bit n set for every reason code n the operation accepts (ReasonCodes)
    error CertificateReasonNotAllowed(uint8 reason, uint64 allowed);
    /// @dev `issueBatch` was given no certificate.
    error CertificateBatchEmpty();

    // ---------------------------------------------------------------- writes

    /// @notice Issues certificate `number` of the caller's authority (status Active, version 1).
    /// @dev Emits a {CertificateIssued} event.
    ///
    /// Requirements:
    ///
    /// - the caller is an OPERATOR of an Active authority;
    /// - `number` is not zero and was never issued by that authority;
    /// - `number` does not start with another member's code (`CertificateNumberOfAnotherMember`);
    /// - `tiers` is non-zero with no reserved bit; `validFrom` <= `validUntil`.
    /// @param number certificate number, ASCII left-aligned in bytes32
    /// @param tiers program tier bit set (see Tiers)
    /// @param validFrom first valid day (days since 1970-01-01)
    /// @param validUntil last valid day, inclusive (65535 for an open-ended certificate)
    /// @param holderRef keccak256 of "SCHEME:IDENTIFIER" of the holder (see contracts/ids.py)
    /// @param commitment hash of the canonical off-chain record
    /// @return id keccak256(abi.encodePacked(issuer, number))
    function issue(
        bytes32 number,
        uint8 tiers,
        uint16 validFrom,
        uint16 validUntil,
        bytes32 holderRef,
        bytes32 commitment
    ) external returns (bytes32 id);

    /// @notice Issues every certificate of `batch`, or none of them.
    /// @dev Emits a {CertificateIssued} event per certificate, in the batch's order.
    ///
    /// Requirements:
    ///
    /// - the caller is an OPERATOR of an Active authority;
    /// - `batch` is not empty; every item meets `issue`'s requirements, duplicates within the batch included.
    /// @param batch the certificates to issue; each field means what `issue`'s argument of that name means
    function issueBatch(Issuance[] calldata batch) external;

    /// @notice Replaces a certificate's tiers and record (holder reference, commitment); version + 1.
    /// @dev Emits a {CertificateAmended} event.
    ///
    /// Requirements:
    ///
    /// - the caller is an OPERATOR of the Active issuing authority;
    /// - the certificate is Active or Suspended; `tiers` is valid; `reason` is an amendment reason.
    /// @param id the certificate's id
    /// @param tiers the new program tier bit set
    /// @param holderRef the new holder reference
    /// @param commitment hash of the amended off-chain record
    /// @param reason an amendment reason code (ReasonCodes.AMEND)
    function amend(bytes32 id, uint8 tiers, bytes32 holderRef, bytes32 commitment, uint8 reason) external;

    /// @notice Extends a certificate's validity to `validUntil`.
    /// @dev Emits a {CertificateRenewed} event.
    ///
    /// Requirements:
    ///
    /// - the caller is an OPERATOR of the Active issuing authority;
    /// - the certificate is Active; `validUntil` is later than the current one; `reason` is a renewal reason.
    /// @param id the certificate's id
    /// @param validUntil the new last valid day, inclusive (days since 1970-01-01)
    /// @param reason a renewal reason code (ReasonCodes.RENEW)
    function renew(bytes32 id, uint16 validUntil, uint8 reason) external;

    /// @notice Suspends an Active certificate.
    /// @dev Emits a {CertificateStatusChanged} event with status Suspended.
    ///
    /// Requirements:
    ///
    /// - the caller is an OPERATOR of the Active issuing authority;
    /// - the certificate is Active; `reason` is a suspension reason.
    /// @param id the certificate's id
    /// @param reason a suspension reason code (ReasonCodes.SUSPEND)
    function suspend(bytes32 id, uint8 reason) external;

    /// @notice Reinstates a Suspended certificate.
    /// @dev Emits a {CertificateStatusChanged} event with status Active.
    ///
    /// Requirements:
    ///
    /// - the caller is an OPERATOR of the Active issuing authority;
    /// - the certificate is Suspended; `reason` is a reinstatement reason.
    /// @param id the certificate's id
    /// @param reason a reinstatement reason code (ReasonCodes.REINSTATE)
    function reinstate(bytes32 id, uint8 reason) external;

    /// @notice Revokes a certificate for good.
    /// @dev Emits a {CertificateStatusChanged} event with status Revoked.
    ///
    /// Requirements:
    ///
    /// - the caller is an OPERATOR of the Active issuing authority;
    /// - the certificate is Active or Suspended; `reason` is a revocation reason.
    /// @param id the certificate's id
    /// @param reason a revocation reason code (ReasonCodes.REVOKE)
    function revoke(bytes32 id, uint8 reason) external;

    // ---------------------------------------------------------------- views

    /// @notice The stored certificate; status None (all fields zero but `id`) when unknown.
    /// @param id the certificate's id
    /// @return the certificate's slot, its effective status and its id
    function getCertificate(bytes32 id) external view returns (CertificateView memory);

    /// @notice The effective status at block.timestamp / 86400; Unknown when never issued.
    /// @param id the certificate's id
    /// @return the effective status (see EffectiveStatus for the precedence)
    function statusOf(bytes32 id) external view returns (EffectiveStatus);

    /// @notice keccak256(abi.encodePacked(issuer, number)).
    /// @param issuer code of the issuing authority
    /// @param number the certificate number, ASCII left-aligned in bytes32
    /// @return the certificate's id
    function certificateId(bytes4 issuer, bytes32 number) external pure returns (bytes32);

    /// @notice bytes20(keccak256(abi.encodePacked(holderRef, commitment))), what a slot stores.
    /// @param holderRef the holder reference
    /// @param commitment hash of the off-chain record
    /// @return the record digest
    function recordDigest(bytes32 holderRef, bytes32 commitment) external pure returns (bytes20);
}
