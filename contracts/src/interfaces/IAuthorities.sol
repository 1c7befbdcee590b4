// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @dev Role bits of an account (IAuthorities.Account.roles).
uint8 constant ROLE_ADMIN = 1;
uint8 constant ROLE_OPERATOR = 2;

/// @title Consortium membership and the document-signing trust list
/// @notice A member authority is a customs administration identified by a `bytes4` code
/// (2 to 4 upper-case ASCII letters, left-aligned, zero-padded: `"MN\0\0"`). The deployer
/// registers the founding members; afterwards admitting, suspending, reinstating and removing a
/// member is decided by a vote: a strict majority of every member not removed (suspended ones
/// included), and never fewer than two approvals. Each member manages its own accounts (admins
/// and operators) and its own document-signing keys, and nobody else's.
interface IAuthorities {
    // ---------------------------------------------------------------- types

    /// @dev `None` means "never admitted". `Removed` is terminal: a removed code cannot be re-admitted.
    enum AuthorityStatus {
        None,
        Active,
        Suspended,
        Removed
    }

    enum MembershipAction {
        Admit,
        Suspend,
        Reinstate,
        Remove
    }

    /// @dev `None` = no such proposal; `Open` = collecting votes; `Expired` = lifetime passed
    /// unexecuted; `Stale` = another membership change executed since it opened, so the members it
    /// was put to are no longer the members (it can never execute; propose it again).
    enum ProposalStatus {
        None,
        Open,
        Executed,
        Expired,
        Stale
    }

    /// @notice One account's membership, packed in one storage slot so that a certificate write
    /// authorizes its caller with a single cold SLOAD.
    /// @param authority code of the authority the account acts for (zero if none)
    /// @param roles bit set: 1 = ADMIN (accounts, keys, votes), 2 = OPERATOR (certificates, MRAs)
    /// @param authorityActive copy of "the authority's status is Active", kept in step by every
    /// status change of the authority
    struct Account {
        bytes4 authority;
        uint8 roles;
        bool authorityActive;
    }

    struct AuthorityView {
        bytes4 code;
        string name;
        AuthorityStatus status;
        uint64 admittedAt;
        uint64 statusChangedAt;
        address[] accounts;
        bytes8[] signingKeys;
    }

    /// @param algorithm 1 = ES256 (33-byte compressed P-256 point), 2 = EdDSA (32-byte Ed25519 key),
    /// 0 = no such key
    /// @param validFrom unix time from which signatures by this key are trusted
    /// @param revokedAt unix time from which they are not (0 = not revoked)
    struct SigningKey {
        bytes4 authority;
        uint8 algorithm;
        uint64 validFrom;
        uint64 revokedAt;
        bytes publicKey;
    }

    /// @param required approvals that execute it, fixed when it opened (see `proposeMembership`)
    struct ProposalView {
        uint256 id;
        ProposalStatus status;
        MembershipAction action;
        bytes4 code;
        bytes4 proposer;
        uint16 approvals;
        uint16 required;
        uint64 createdAt;
        uint64 expiresAt;
        address admin;
        string name;
    }

    // ---------------------------------------------------------------- events

    event AuthorityAdmitted(bytes4 indexed code, string name, address admin);
    event AuthoritySuspended(bytes4 indexed code);
    event AuthorityReinstated(bytes4 indexed code);
    event AuthorityRemoved(bytes4 indexed code);
    /// @notice The deployer gave up its bootstrap power; from now on only votes change membership.
    event BootstrapClosed(uint256 memberCount);

    event AccountAdded(bytes4 indexed authority, address indexed account, uint8 roles, address by);
    event AccountRemoved(bytes4 indexed authority, address indexed account, address by);

    /// @notice `name` and `admin` are only meaningful for `Admit` (empty and zero otherwise).
    event MembershipProposed(
        uint256 indexed proposalId,
        MembershipAction action,
        bytes4 indexed code,
        bytes4 proposer,
        string name,
        address admin,
        uint64 expiresAt
    );
    /// @param approvals the approvals counted after this vote; `required` what execution needs (fixed
    /// when the proposal opened)
    event MembershipVoted(uint256 indexed proposalId, bytes4 indexed voter, uint16 approvals, uint16 required);
    event MembershipExecuted(uint256 indexed proposalId, MembershipAction action, bytes4 indexed code);

    event SigningKeyRegistered(
        bytes8 indexed kid, bytes4 indexed authority, uint8 algorithm, bytes publicKey, uint64 validFrom
    );
    event SigningKeyRevoked(bytes8 indexed kid, bytes4 indexed authority, uint64 revokedAt);

    // ---------------------------------------------------------------- errors

    /// @dev The threshold must be a strict majority: 5001 to 10000 basis points.
    error AuthorityInvalidVoteThreshold(uint16 voteThresholdBps);
    error AuthorityInvalidProposalLifetime(uint32 proposalLifetime);
    /// @dev Only the deployer may bootstrap, and only until `closeBootstrap`.
    error AuthorityNotBootstrapper(address caller);
    error AuthorityBootstrapClosed();
    /// @dev `closeBootstrap` with fewer than `minimum` members would leave a consortium that can
    /// never reach the two approvals a membership change needs.
    error AuthorityTooFewMembers(uint256 count, uint256 minimum);
    /// @dev Not 2 to 4 upper-case ASCII letters, left-aligned and zero-padded.
    error AuthorityInvalidCode(bytes4 code);
    /// @dev A name must be 1 to 64 bytes.
    error AuthorityInvalidName(bytes4 code, uint256 length);
    /// @dev The code was admitted before (any status, Removed included).
    error AuthorityAlreadyExists(bytes4 code, AuthorityStatus status);
    error AuthorityUnknown(bytes4 code);
    /// @dev The authority is not Active (suspended or removed members can do nothing).
    error AuthorityNotActive(bytes4 code, AuthorityStatus status);
    /// @dev `account` holds no role in `neededRole` (1 = ADMIN, 2 = OPERATOR) of any authority.
    error AuthorityUnauthorizedAccount(address account, uint8 neededRole);
    error AuthorityInvalidAccount(address account);
    error AuthorityInvalidRoles(uint8 roles);
    /// @dev An account belongs to at most one authority, once.
    error AuthorityAccountAlreadyRegistered(address account, bytes4 authority);
    /// @dev `account` is not an account of the caller's authority `authority`.
    error AuthorityAccountNotFound(bytes4 authority, address account);
    error AuthorityLastAdmin(bytes4 authority, address account);
    error AuthorityTooManyAccounts(bytes4 authority, uint256 max);

    error MembershipProposalUnknown(uint256 proposalId);
    error MembershipProposalExecuted(uint256 proposalId);
    error MembershipProposalExpired(uint256 proposalId, uint64 expiresAt);
    /// @dev A membership change executed after the proposal opened (`changesAtProposal` changes
    /// then, `changesNow` now): its votes were cast by another membership.
    error MembershipProposalStale(uint256 proposalId, uint64 changesAtProposal, uint64 changesNow);
    /// @dev Fewer members may vote on it (`eligible`: Active, the target of a Suspend/Remove
    /// excluded) than it needs (`required`), so it could never execute.
    error MembershipQuorumUnreachable(MembershipAction action, bytes4 code, uint256 eligible, uint256 required);
    error MembershipAlreadyVoted(uint256 proposalId, bytes4 voter);
    /// @dev The target of a Suspend or Remove neither proposes nor votes on it.
    error MembershipTargetCannotVote(bytes4 code);
    /// @dev The action does not apply to the target's current status (e.g. Reinstate an Active member).
    error MembershipActionNotApplicable(MembershipAction action, bytes4 code, AuthorityStatus status);

    error SigningKeyUnsupportedAlgorithm(uint8 algorithm);
    /// @dev Wrong length for the algorithm, or an ES256 key that is not a compressed point (0x02/0x03 prefix).
    error SigningKeyInvalidPublicKey(uint8 algorithm, uint256 length);
    error SigningKeyIdMismatch(bytes8 kid, bytes8 expected);
    error SigningKeyAlreadyRegistered(bytes8 kid);
    error SigningKeyUnknown(bytes8 kid);
    error SigningKeyNotOwned(bytes8 kid, bytes4 owner, bytes4 caller);
    error SigningKeyAlreadyRevoked(bytes8 kid, uint64 revokedAt);
    error SigningKeyRevokedBeforeValidFrom(bytes8 kid, uint64 revokedAt, uint64 validFrom);
    error SigningKeyRevokedInFuture(bytes8 kid, uint64 revokedAt, uint64 blockTime);

    // ---------------------------------------------------------------- bootstrap

    /// @notice Admits a founding member with one ADMIN account.
    /// Requirements:
    /// - the caller is the deployer and `closeBootstrap` has not been called;
    /// - `code` is well-formed and was never admitted; `name` is 1 to 64 bytes;
    /// - `admin` is not zero and belongs to no authority.
    function bootstrapMember(bytes4 code, string calldata name, address admin) external;

    /// @notice Ends the bootstrap: the deployer loses every power it had.
    /// Requirements:
    /// - the caller is the deployer, bootstrap still open, at least two members admitted (one member
    ///   alone could never reach the two approvals a membership change needs).
    function closeBootstrap() external;

    // ---------------------------------------------------------------- membership votes

    /// @notice Opens a membership vote and fixes the approvals it needs: max(2, ceil(members x
    /// voteThresholdBps / 10000)), where members counts every member not removed, suspended ones
    /// and the target included. The proposer's authority approves it at once. Any membership
    /// change that executes while it is open makes it Stale.
    /// @param name display name of the member to admit (`Admit` only; empty otherwise)
    /// @param admin first ADMIN account of the member to admit (`Admit` only; zero otherwise)
    /// Requirements:
    /// - the caller is an ADMIN of an Active authority, which is not the target of a Suspend/Remove;
    /// - Admit: `code` well-formed and never admitted, `name` 1 to 64 bytes, `admin` a fresh account;
    /// - Suspend: target Active. Reinstate: target Suspended. Remove: target Active or Suspended;
    /// - the members who may vote on it (Active, the target of a Suspend/Remove excluded) are at
    ///   least as many as the approvals it needs.
    function proposeMembership(MembershipAction action, bytes4 code, string calldata name, address admin)
        external
        returns (uint256 proposalId);

    /// @notice Approves an open proposal for the caller's authority and executes it as soon as the
    /// approvals reach the number fixed when it opened.
    /// Requirements:
    /// - the caller is an ADMIN of an Active authority that is not the target and has not voted on it;
    /// - the proposal exists, is not executed, not stale (no membership change executed since it
    ///   opened) and not expired;
    /// - the action still applies to the target's current status.
    function voteOnMembership(uint256 proposalId) external;

    // ---------------------------------------------------------------- own accounts

    /// @notice Adds an account to the caller's authority.
    /// @param roles 1 = ADMIN, 2 = OPERATOR, 3 = both
    /// Requirements:
    /// - the caller is an ADMIN of an Active authority having fewer than 16 accounts;
    /// - `account` is not zero and belongs to no authority; `roles` is 1, 2 or 3.
    function addAccount(address account, uint8 roles) external;

    /// @notice Removes an account of the caller's authority (the address may be added again later).
    /// Requirements:
    /// - the caller is an ADMIN of an Active authority and `account` belongs to that authority;
    /// - `account` is not the authority's last ADMIN.
    function removeAccount(address account) external;

    // ---------------------------------------------------------------- signing keys

    /// @notice Publishes a document-signing public key of the caller's authority.
    /// @param kid key id: the first 8 bytes of sha256(publicKey), checked on chain
    /// @param algorithm 1 = ES256 (33-byte compressed P-256 point), 2 = EdDSA (32-byte Ed25519 key)
    /// @param validFrom unix time from which signatures are trusted; a time more than an hour before
    /// this block (0 included) means this block's time, since a key must not vouch for what was
    /// signed before it was published (the hour allows for the registering service's clock
    /// trailing the block's). The `SigningKeyRegistered` event carries the time stored.
    /// Requirements:
    /// - the caller is an ADMIN of an Active authority;
    /// - `algorithm` is supported and `publicKey` has its form; `kid` matches and was never registered.
    function registerSigningKey(bytes8 kid, uint8 algorithm, bytes calldata publicKey, uint64 validFrom) external;

    /// @notice Revokes a document-signing key of the caller's authority.
    /// @param revokedAt unix time from which signatures are no longer trusted; 0 = now (or validFrom
    /// when the key is not valid yet). A compromised key may be revoked in the past.
    /// Revoking only withdraws trust, so an ADMIN of a Suspended or Removed authority may still do it.
    /// Requirements:
    /// - the caller is an ADMIN of the authority that registered `kid` (whatever its status);
    /// - the key is not revoked; validFrom <= `revokedAt` <= max(block.timestamp, validFrom).
    function revokeSigningKey(bytes8 kid, uint64 revokedAt) external;

    // ---------------------------------------------------------------- views

    /// @notice Basis points of the members not removed whose approval executes a proposal
    /// (5001 = strict majority, the least accepted).
    function voteThresholdBps() external view returns (uint16);

    /// @notice Seconds a membership proposal stays open.
    function proposalLifetime() external view returns (uint32);

    /// @notice The deployer while the bootstrap is open; zero afterwards.
    function bootstrapper() external view returns (address);

    /// @notice The authority with `code`; status None (and empty fields) when never admitted.
    function getAuthority(bytes4 code) external view returns (AuthorityView memory);

    /// @notice Cheap status lookup, for other contracts.
    function authorityStatus(bytes4 code) external view returns (AuthorityStatus);

    function accountOf(address account) external view returns (Account memory);

    /// @notice The key with id `kid`; algorithm 0 when unknown.
    function getSigningKey(bytes8 kid) external view returns (SigningKey memory);

    /// @notice Every code ever admitted, in admission order (Removed members included).
    function memberCodes() external view returns (bytes4[] memory);

    function activeMemberCount() external view returns (uint256);

    /// @notice Members not removed (Active or Suspended): what a membership vote's majority counts.
    function memberCount() external view returns (uint256);

    /// @notice The proposal `proposalId`; status None when unknown.
    function getProposal(uint256 proposalId) external view returns (ProposalView memory);

    function hasVoted(uint256 proposalId, bytes4 code) external view returns (bool);
}
