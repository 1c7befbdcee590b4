// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IAuthorities} from "./IAuthorities.sol";

/// @title Mutual Recognition Arrangements between member authorities
/// @notice An MRA has 2 to 8 parties and, for each party, the tiers of its certificates that the
/// other parties recognize. Proposed by a party (whose signature counts), signed by every
/// party, in force from its effective day until its end day (inclusive; 0 = open-ended),
/// suspended by any party and resumed by the party that suspended it, terminated by any party.
/// Every write is made by an OPERATOR account of an Active party.
interface IMras {
    // ---------------------------------------------------------------- types

    /// @dev The stored state. `Signed` means every party signed.
    enum MraState {
        None,
        Proposed,
        Signed,
        Suspended,
        Terminated
    }

    /// @dev The state at the current block's day, precedence Terminated > Ended > Suspended >
    /// Proposed > NotYetInForce > InForce. `Unknown` = no such MRA.
    enum MraStatus {
        Unknown,
        Proposed,
        NotYetInForce,
        InForce,
        Suspended,
        Terminated,
        Ended
    }

    /// @dev Why `recognizes` answered as it did. The certificate checks come first, then the
    /// issuer, then the MRAs between the two authorities (see docs/contracts.md).
    enum RecognitionReason {
        Recognized,
        UnknownCertificate,
        CertificateNotActive,
        IssuerNotActive,
        OwnCertificate,
        NoMra,
        MraNotSigned,
        MraNotYetInForce,
        MraSuspended,
        MraTerminated,
        MraEnded,
        TierNotCovered
    }

    /// @param recognizedTiers recognizedTiers[i] = the tiers of parties[i] the other parties recognize
    /// @param signed signed[i] = parties[i] has signed
    /// @param suspendedBy the party that suspended it (zero unless Suspended)
    struct MraView {
        uint256 id;
        MraState state;
        MraStatus status;
        bytes4 proposer;
        bytes4 suspendedBy;
        uint16 effectiveFrom;
        uint16 endsOn;
        uint64 proposedAt;
        bytes32 textHash;
        bytes4[] parties;
        uint8[] recognizedTiers;
        bool[] signed;
    }

    // ---------------------------------------------------------------- events

    /// @param party the proposing authority; `operator` the account that sent the transaction
    event MraProposed(
        uint256 indexed mraId,
        bytes4 indexed party,
        bytes4[] parties,
        uint8[] recognizedTiers,
        uint16 effectiveFrom,
        uint16 endsOn,
        bytes32 textHash,
        address operator
    );
    event MraSigned(uint256 indexed mraId, bytes4 indexed party, address operator);
    /// @notice The last party signed: the MRA applies from `effectiveFrom`.
    event MraInForce(uint256 indexed mraId, bytes4 indexed party, uint16 effectiveFrom, address operator);
    event MraSuspended(uint256 indexed mraId, bytes4 indexed party, address operator);
    event MraResumed(uint256 indexed mraId, bytes4 indexed party, address operator);
    event MraTerminated(uint256 indexed mraId, bytes4 indexed party, address operator);

    // ---------------------------------------------------------------- errors

    error MraInvalidRegistry(address registry);
    error MraInvalidPartyCount(uint256 count);
    error MraTiersLengthMismatch(uint256 parties, uint256 tiers);
    error MraDuplicateParty(bytes4 party);
    error MraPartyNotActive(bytes4 party, IAuthorities.AuthorityStatus status);
    /// @dev Reserved tier bits (5..7) set.
    error MraInvalidTiers(bytes4 party, uint8 tiers);
    /// @dev `endsOn` (when not 0) before `effectiveFrom` or before today.
    error MraInvalidDates(uint16 effectiveFrom, uint16 endsOn);
    error MraInvalidTextHash();
    error MraUnknown(uint256 mraId);
    /// @dev The caller's authority `caller` is not a party (mraId 0: of the MRA being proposed).
    error MraNotParty(uint256 mraId, bytes4 caller);
    error MraAlreadySigned(uint256 mraId, bytes4 party);
    /// @dev The operation does not apply to the MRA's effective status `status`.
    error MraStatusMismatch(uint256 mraId, MraStatus status);
    error MraNotSuspender(uint256 mraId, bytes4 suspendedBy, bytes4 caller);

    // ---------------------------------------------------------------- writes

    /// @notice Proposes an MRA; the caller's authority signs it at once.
    /// @param recognizedTiers recognizedTiers[i] = the tiers of parties[i] the others recognize
    /// @param effectiveFrom first day in force (days since 1970-01-01)
    /// @param endsOn last day in force, inclusive; 0 = open-ended
    /// @param textHash hash of the arrangement's text
    /// Requirements:
    /// - the caller is an OPERATOR of an Active authority that is one of `parties`;
    /// - 2 to 8 parties, no duplicates, each an Active authority; one tier set per party, no reserved bit;
    /// - `endsOn` is 0 or neither before `effectiveFrom` nor before today; `textHash` is not zero.
    function propose(
        bytes4[] calldata parties,
        uint8[] calldata recognizedTiers,
        uint16 effectiveFrom,
        uint16 endsOn,
        bytes32 textHash
    ) external returns (uint256 mraId);

    /// @notice Signs for the caller's authority; the last signature puts the MRA in force.
    /// Requirements:
    /// - the caller is an OPERATOR of an Active party that has not signed;
    /// - the MRA's status is Proposed (not ended, not terminated).
    function sign(uint256 mraId) external;

    /// @notice Suspends a signed MRA.
    /// Requirements:
    /// - the caller is an OPERATOR of an Active party;
    /// - the MRA's status is NotYetInForce or InForce.
    function suspend(uint256 mraId) external;

    /// @notice Resumes a suspended MRA.
    /// Requirements:
    /// - the caller is an OPERATOR of the Active party that suspended it;
    /// - the MRA's status is Suspended.
    function resume(uint256 mraId) external;

    /// @notice Terminates an MRA for good (a party may also withdraw a proposal this way).
    /// Requirements:
    /// - the caller is an OPERATOR of an Active party;
    /// - the MRA is neither Terminated nor Ended.
    function terminate(uint256 mraId) external;

    // ---------------------------------------------------------------- views

    /// @notice The AeoRegistry this contract reads authorities and certificates from.
    function registry() external view returns (address);

    /// @notice The MRA `mraId`; state None and status Unknown when there is none.
    function getMra(uint256 mraId) external view returns (MraView memory);

    /// @notice Ids of every MRA `party` is a party to, in proposal order.
    function mrasOf(bytes4 party) external view returns (uint256[] memory);

    function mraStatus(uint256 mraId) external view returns (MraStatus);

    /// @notice Does `authority` recognize certificate `certificateId` now?
    /// @return recognized true for Recognized and OwnCertificate
    /// @return reason why; with several MRAs between the two, the reason of the closest one
    /// @return mraId the MRA the reason is about (0 when none is)
    function recognizes(bytes4 authority, bytes32 certificateId)
        external
        view
        returns (bool recognized, RecognitionReason reason, uint256 mraId);
}
