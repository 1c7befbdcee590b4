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

    /// @notice An MRA was proposed; a {MraSigned} event for the proposer follows.
    /// @param mraId the MRA's id (1, 2, ...)
    /// @param party code of the proposing authority
    /// @param parties the parties' codes (2 to 8)
    /// @param recognizedTiers recognizedTiers[i] = the tiers of parties[i] the other parties recognize
    /// @param effectiveFrom first day in force (days since 1970-01-01)
    /// @param endsOn last day in force, inclusive; 0 = open-ended
    /// @param textHash hash of the arrangement's text
    /// @param operator the account that sent the transaction
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
    /// @notice A party signed an MRA (the proposer when it proposed it).
    /// @param mraId the MRA's id
    /// @param party code of the signing authority
    /// @param operator the account that sent the transaction
    event MraSigned(uint256 indexed mraId, bytes4 indexed party, address operator);
    /// @notice The last party signed: the MRA applies from `effectiveFrom`.
    /// @param mraId the MRA's id
    /// @param party code of the authority that signed last
    /// @param effectiveFrom first day in force (days since 1970-01-01)
    /// @param operator the account that sent the transaction
    event MraInForce(uint256 indexed mraId, bytes4 indexed party, uint16 effectiveFrom, address operator);
    /// @notice A party suspended a signed MRA; only that party may resume it.
    /// @param mraId the MRA's id
    /// @param party code of the suspending authority
    /// @param operator the account that sent the transaction
    event MraSuspended(uint256 indexed mraId, bytes4 indexed party, address operator);
    /// @notice The party that suspended an MRA resumed it.
    /// @param mraId the MRA's id
    /// @param party code of the resuming authority
    /// @param operator the account that sent the transaction
    event MraResumed(uint256 indexed mraId, bytes4 indexed party, address operator);
    /// @notice A party terminated an MRA, for good (or withdrew a proposal).
    /// @param mraId the MRA's id
    /// @param party code of the terminating authority
    /// @param operator the account that sent the transaction
    event MraTerminated(uint256 indexed mraId, bytes4 indexed party, address operator);

    // ---------------------------------------------------------------- errors

    /// @dev The registry address given to the constructor holds no code.
    /// @param registry the address given
    error MraInvalidRegistry(address registry);
    /// @dev An MRA has 2 to 8 parties.
    /// @param count the parties given
    error MraInvalidPartyCount(uint256 count);
    /// @dev One tier set per party.
    /// @param parties the number of parties given
    /// @param tiers the number of tier sets given
    error MraTiersLengthMismatch(uint256 parties, uint256 tiers);
    /// @dev A party is listed twice.
    /// @param party its code
    error MraDuplicateParty(bytes4 party);
    /// @dev Every party must be an Active member when the MRA is proposed.
    /// @param party the party's code
    /// @param status its status (None for a code never admitted)
    error MraPartyNotActive(bytes4 party, IAuthorities.AuthorityStatus status);
    /// @dev Reserved tier bits (5..7) set.
    /// @param party the party whose tier set it is
    /// @param tiers the tier set given
    error MraInvalidTiers(bytes4 party, uint8 tiers);
    /// @dev `endsOn` (when not 0) before `effectiveFrom` or before today.
    /// @param effectiveFrom the first day in force given
    /// @param endsOn the last day in force given
    error MraInvalidDates(uint16 effectiveFrom, uint16 endsOn);
    /// @dev The arrangement's text hash must not be zero.
    error MraInvalidTextHash();
    /// @dev No MRA has this id.
    /// @param mraId the id given
    error MraUnknown(uint256 mraId);
    /// @dev The caller's authority is not a party.
    /// @param mraId the MRA's id (0: the MRA being proposed)
    /// @param caller code of the caller's authority
    error MraNotParty(uint256 mraId, bytes4 caller);
    /// @dev Each party signs once.
    /// @param mraId the MRA's id
    /// @param party code of the caller's authority, which signed already
    error MraAlreadySigned(uint256 mraId, bytes4 party);
    /// @dev The operation does not apply to the MRA's effective status.
    /// @param mraId the MRA's id
    /// @param status its effective status
    error MraStatusMismatch(uint256 mraId, MraStatus status);
    /// @dev Only the party that suspended an MRA resumes it.
    /// @param mraId the MRA's id
    /// @param suspendedBy code of the party that suspended it
    /// @param caller code of the caller's authority
    error MraNotSuspender(uint256 mraId, bytes4 suspendedBy, bytes4 caller);

    // ---------------------------------------------------------------- writes

    /// @notice Proposes an MRA; the caller's authority signs it at once.
    /// @dev Emits {MraProposed} and {MraSigned}.
    ///
    /// Requirements:
    ///
    /// - the caller is an OPERATOR of an Active authority that is one of `parties`;
    /// - 2 to 8 parties, no duplicates, each an Active authority; one tier set per party, no reserved bit;
    /// - `endsOn` is 0 or neither before `effectiveFrom` nor before today; `textHash` is not zero.
    /// @param parties the parties' codes, the caller's authority among them
    /// @param recognizedTiers recognizedTiers[i] = the tiers of parties[i] the others recognize
    /// @param effectiveFrom first day in force (days since 1970-01-01)
    /// @param endsOn last day in force, inclusive; 0 = open-ended
    /// @param textHash hash of the arrangement's text
    /// @return mraId the new MRA's id
    function propose(
        bytes4[] calldata parties,
        uint8[] calldata recognizedTiers,
        uint16 effectiveFrom,
        uint16 endsOn,
        bytes32 textHash
    ) external returns (uint256 mraId);

    /// @notice Signs for the caller's authority; the last signature puts the MRA in force.
    /// @dev Emits {MraSigned}, and {MraInForce} after the last signature.
    ///
    /// Requirements:
    ///
    /// - the caller is an OPERATOR of an Active party that has not signed;
    /// - the MRA's status is Proposed (not ended, not terminated).
    /// @param mraId the MRA's id
    function sign(uint256 mraId) external;

    /// @notice Suspends a signed MRA.
    /// @dev Emits a {MraSuspended} event.
    ///
    /// Requirements:
    ///
    /// - the caller is an OPERATOR of an Active party;
    /// - the MRA's status is NotYetInForce or InForce.
    /// @param mraId the MRA's id
    function suspend(uint256 mraId) external;

    /// @notice Resumes a suspended MRA.
    /// @dev Emits a {MraResumed} event.
    ///
    /// Requirements:
    ///
    /// - the caller is an OPERATOR of the Active party that suspended it;
    /// - the MRA's status is Suspended.
    /// @param mraId the MRA's id
    function resume(uint256 mraId) external;

    /// @notice Terminates an MRA for good (a party may also withdraw a proposal this way).
    /// @dev Emits a {MraTerminated} event.
    ///
    /// Requirements:
    ///
    /// - the caller is an OPERATOR of an Active party;
    /// - the MRA is neither Terminated nor Ended.
    /// @param mraId the MRA's id
    function terminate(uint256 mraId) external;

    // ---------------------------------------------------------------- views

    /// @notice The AeoRegistry this contract reads authorities and certificates from.
    /// @return the registry's address
    function registry() external view returns (address);

    /// @notice An MRA.
    /// @param mraId the MRA's id
    /// @return the MRA; state None and status Unknown when there is none
    function getMra(uint256 mraId) external view returns (MraView memory);

    /// @notice The MRAs an authority is a party to.
    /// @param party the authority's code
    /// @return their ids, in proposal order
    function mrasOf(bytes4 party) external view returns (uint256[] memory);

    /// @notice An MRA's effective status today (see MraStatus for the precedence).
    /// @param mraId the MRA's id
    /// @return its status; Unknown when there is none
    function mraStatus(uint256 mraId) external view returns (MraStatus);

    /// @notice Does `authority` recognize certificate `certificateId` now?
    /// @param authority code of the recognizing authority (the one at whose border the certificate is shown)
    /// @param certificateId the certificate's id
    /// @return recognized true for Recognized and OwnCertificate
    /// @return reason why; with several MRAs between the two, the reason of the closest one
    /// @return mraId the MRA the reason is about (0 when none is)
    function recognizes(bytes4 authority, bytes32 certificateId)
        external
        view
        returns (bool recognized, RecognitionReason reason, uint256 mraId);
}
