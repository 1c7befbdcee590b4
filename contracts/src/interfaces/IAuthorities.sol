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

    /// @dev What a membership proposal does to the member it is about.
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

    /// @notice A member was admitted: by the deployer during the bootstrap, or by a vote.
    /// @param code the member's code
    /// @param name its display name
    /// @param admin its first ADMIN account
    event AuthorityAdmitted(bytes4 indexed code, string name, address admin);
    /// @notice A vote suspended a member: its accounts can do nothing but revoke its signing keys.
    /// @param code the member's code
    event AuthoritySuspended(bytes4 indexed code);
    /// @notice A vote reinstated a suspended member.
    /// @param code the member's code
    event AuthorityReinstated(bytes4 indexed code);
    /// @notice A vote removed a member, for good: its code can never be admitted again.
    /// @param code the member's code
    event AuthorityRemoved(bytes4 indexed code);
    /// @notice The deployer gave up its bootstrap power; from now on only votes change membership.
    /// @param memberCount the founding members admitted
    event BootstrapClosed(uint256 memberCount);

    /// @notice An account now acts for an authority.
    /// @param authority code of the authority
    /// @param account the account added
    /// @param roles its role bit set: 1 = ADMIN, 2 = OPERATOR, 3 = both
    /// @param by the account that sent the transaction: an ADMIN of `authority`, or for a new
    /// member's first ADMIN the deployer (bootstrap) or the account whose vote executed the admission
    event AccountAdded(bytes4 indexed authority, address indexed account, uint8 roles, address by);
    /// @notice An account no longer acts for an authority.
    /// @param authority code of the authority
    /// @param account the account removed
    /// @param by the ADMIN account of `authority` that removed it
    event AccountRemoved(bytes4 indexed authority, address indexed account, address by);

    /// @notice A membership vote was opened.
    /// @param proposalId the proposal's id (1, 2, ...)
    /// @param action what it proposes: Admit, Suspend, Reinstate or Remove
    /// @param code the code of the member it is about
    /// @param proposer code of the proposing authority (whose approval is counted at once)
    /// @param name display name of the member to admit (`Admit` only; empty otherwise)
    /// @param admin first ADMIN account of the member to admit (`Admit` only; zero otherwise)
    /// @param expiresAt unix time from which it can no longer be voted on
    event MembershipProposed(
        uint256 indexed proposalId,
        MembershipAction action,
        bytes4 indexed code,
        bytes4 proposer,
        string name,
        address admin,
        uint64 expiresAt
    );
    /// @notice A member approved a proposal (the proposer's approval included).
    /// @param proposalId the proposal's id
    /// @param voter code of the approving authority
    /// @param approvals the approvals counted after this vote
    /// @param required the approvals that execute it, fixed when the proposal opened
    event MembershipVoted(uint256 indexed proposalId, bytes4 indexed voter, uint16 approvals, uint16 required);
    /// @notice A proposal reached its approvals and took effect (the Authority event comes before it).
    /// @param proposalId the proposal's id
    /// @param action what it did: Admit, Suspend, Reinstate or Remove
    /// @param code the code of the member it was about
    event MembershipExecuted(uint256 indexed proposalId, MembershipAction action, bytes4 indexed code);

    /// @notice An authority published a document-signing key.
    /// @param kid key id: the first 8 bytes of sha256(publicKey)
    /// @param authority code of the authority that published it
    /// @param algorithm 1 = ES256 (33-byte compressed P-256 point), 2 = EdDSA (32-byte Ed25519 key)
    /// @param publicKey the public key
    /// @param validFrom unix time from which signatures by this key are trusted, as stored (a
    /// back-dated time is raised to the block's: see `registerSigningKey`)
    event SigningKeyRegistered(
        bytes8 indexed kid, bytes4 indexed authority, uint8 algorithm, bytes publicKey, uint64 validFrom
    );
    /// @notice An authority withdrew its trust in a document-signing key.
    /// @param kid key id
    /// @param authority code of the authority that published it
    /// @param revokedAt unix time from which signatures by this key are no longer trusted
    event SigningKeyRevoked(bytes8 indexed kid, bytes4 indexed authority, uint64 revokedAt);

    // ---------------------------------------------------------------- errors

    /// @dev The threshold must be a strict majority: 5001 to 10000 basis points.
    /// @param voteThresholdBps the threshold given to the constructor
    error AuthorityInvalidVoteThreshold(uint16 voteThresholdBps);
    /// @dev A membership proposal must stay open for at least one second.
    /// @param proposalLifetime the lifetime given to the constructor (zero)
    error AuthorityInvalidProposalLifetime(uint32 proposalLifetime);
    /// @dev Only the deployer may bootstrap, and only until `closeBootstrap`.
    /// @param caller the account that tried
    error AuthorityNotBootstrapper(address caller);
    /// @dev `closeBootstrap` was called: nobody bootstraps any more; votes change membership.
    error AuthorityBootstrapClosed();
    /// @dev `closeBootstrap` with so few members would leave a consortium that can never reach the
    /// two approvals a membership change needs.
    /// @param count the members admitted
    /// @param minimum the members needed (2)
    error AuthorityTooFewMembers(uint256 count, uint256 minimum);
    /// @dev Not 2 to 4 upper-case ASCII letters, left-aligned and zero-padded.
    /// @param code the code given
    error AuthorityInvalidCode(bytes4 code);
    /// @dev A name must be 1 to 64 bytes.
    /// @param code the code of the member to admit
    /// @param length the name's length in bytes
    error AuthorityInvalidName(bytes4 code, uint256 length);
    /// @dev The code was admitted before (any status, Removed included).
    /// @param code the code given
    /// @param status that member's status now
    error AuthorityAlreadyExists(bytes4 code, AuthorityStatus status);
    /// @dev No member was ever admitted with this code.
    /// @param code the code given
    error AuthorityUnknown(bytes4 code);
    /// @dev The authority is not Active (suspended or removed members can do nothing).
    /// @param code the authority's code
    /// @param status its status (Suspended or Removed)
    error AuthorityNotActive(bytes4 code, AuthorityStatus status);
    /// @dev The account holds the needed role in no authority.
    /// @param account the account that tried
    /// @param neededRole the role bit it lacks: 1 = ADMIN, 2 = OPERATOR
    error AuthorityUnauthorizedAccount(address account, uint8 neededRole);
    /// @dev An account must not be the zero address.
    /// @param account the account given (zero)
    error AuthorityInvalidAccount(address account);
    /// @dev Roles must be 1 (ADMIN), 2 (OPERATOR) or 3 (both).
    /// @param roles the role bit set given
    error AuthorityInvalidRoles(uint8 roles);
    /// @dev An account belongs to at most one authority, once.
    /// @param account the account given
    /// @param authority code of the authority it already belongs to
    error AuthorityAccountAlreadyRegistered(address account, bytes4 authority);
    /// @dev The account is not an account of the caller's authority.
    /// @param authority code of the caller's authority
    /// @param account the account given
    error AuthorityAccountNotFound(bytes4 authority, address account);
    /// @dev Removing the account would leave the authority without an ADMIN.
    /// @param authority code of the caller's authority
    /// @param account its last ADMIN account
    error AuthorityLastAdmin(bytes4 authority, address account);
    /// @dev The authority has as many accounts as it may have (the bound keeps the loop of a
    /// status change over them cheap).
    /// @param authority the authority's code
    /// @param max the most accounts an authority may have (16)
    error AuthorityTooManyAccounts(bytes4 authority, uint256 max);

    /// @dev No proposal has this id.
    /// @param proposalId the id given
    error MembershipProposalUnknown(uint256 proposalId);
    /// @dev The proposal already executed.
    /// @param proposalId the proposal's id
    error MembershipProposalExecuted(uint256 proposalId);
    /// @dev The proposal's lifetime passed before it reached its approvals.
    /// @param proposalId the proposal's id
    /// @param expiresAt unix time from which it could no longer be voted on
    error MembershipProposalExpired(uint256 proposalId, uint64 expiresAt);
    /// @dev A membership change executed after the proposal opened: its votes were cast by
    /// another membership.
    /// @param proposalId the proposal's id
    /// @param changesAtProposal the count of executed membership changes when it opened
    /// @param changesNow that count now
    error MembershipProposalStale(uint256 proposalId, uint64 changesAtProposal, uint64 changesNow);
    /// @dev Fewer members may vote on it than it needs, so it could never execute.
    /// @param action the action proposed
    /// @param code the code of the member it is about
    /// @param eligible the members who may approve it: Active, the target of a Suspend/Remove excluded
    /// @param required the approvals it would need
    error MembershipQuorumUnreachable(MembershipAction action, bytes4 code, uint256 eligible, uint256 required);
    /// @dev Each member approves a proposal once.
    /// @param proposalId the proposal's id
    /// @param voter code of the caller's authority, which approved it already
    error MembershipAlreadyVoted(uint256 proposalId, bytes4 voter);
    /// @dev The target of a Suspend or Remove neither proposes nor votes on it.
    /// @param code the target's code, the caller's authority
    error MembershipTargetCannotVote(bytes4 code);
    /// @dev The action does not apply to the target's current status (e.g. Reinstate an Active member).
    /// @param action the action proposed
    /// @param code the code of the member it is about
    /// @param status that member's status now
    error MembershipActionNotApplicable(MembershipAction action, bytes4 code, AuthorityStatus status);

    /// @dev Algorithms: 1 = ES256, 2 = EdDSA.
    /// @param algorithm the algorithm given
    error SigningKeyUnsupportedAlgorithm(uint8 algorithm);
    /// @dev Wrong length for the algorithm, or an ES256 key that is not a compressed point (0x02/0x03 prefix).
    /// @param algorithm the algorithm given
    /// @param length the public key's length in bytes
    error SigningKeyInvalidPublicKey(uint8 algorithm, uint256 length);
    /// @dev The key id is not the first 8 bytes of sha256(publicKey).
    /// @param kid the key id given
    /// @param expected the key id of the public key given
    error SigningKeyIdMismatch(bytes8 kid, bytes8 expected);
    /// @dev A key with this id was registered before, by any authority (a revoked key stays registered).
    /// @param kid the key id given
    error SigningKeyAlreadyRegistered(bytes8 kid);
    /// @dev No key has this id.
    /// @param kid the key id given
    error SigningKeyUnknown(bytes8 kid);
    /// @dev The key belongs to another authority than the caller's.
    /// @param kid the key id given
    /// @param owner code of the authority that registered it
    /// @param caller code of the caller's authority
    error SigningKeyNotOwned(bytes8 kid, bytes4 owner, bytes4 caller);
    /// @dev A key is revoked once; its revocation time never changes.
    /// @param kid the key id given
    /// @param revokedAt unix time of its revocation
    error SigningKeyAlreadyRevoked(bytes8 kid, uint64 revokedAt);
    /// @dev The revocation time is before the key's validity starts.
    /// @param kid the key id given
    /// @param revokedAt the revocation time asked for
    /// @param validFrom unix time from which the key is trusted
    error SigningKeyRevokedBeforeValidFrom(bytes8 kid, uint64 revokedAt, uint64 validFrom);
    /// @dev The revocation time is after this block's time (and after the key's validFrom, for a key
    /// not valid yet): a revocation takes effect now or in the past, never later.
    /// @param kid the key id given
    /// @param revokedAt the revocation time asked for
    /// @param blockTime this block's time
    error SigningKeyRevokedInFuture(bytes8 kid, uint64 revokedAt, uint64 blockTime);

    // ---------------------------------------------------------------- bootstrap

    /// @notice Admits a founding member with one ADMIN account.
    /// @dev Emits {AuthorityAdmitted} and {AccountAdded}.
    ///
    /// Requirements:
    ///
    /// - the caller is the deployer and `closeBootstrap` has not been called;
    /// - `code` is well-formed and was never admitted; `name` is 1 to 64 bytes;
    /// - `admin` is not zero and belongs to no authority.
    /// @param code the member's code: 2 to 4 upper-case ASCII letters, left-aligned, zero-padded
    /// @param name its display name
    /// @param admin its first ADMIN account
    function bootstrapMember(bytes4 code, string calldata name, address admin) external;

    /// @notice Ends the bootstrap: the deployer loses every power it had.
    /// @dev Emits a {BootstrapClosed} event.
    ///
    /// Requirements:
    ///
    /// - the caller is the deployer, bootstrap still open, at least two members admitted (one member
    ///   alone could never reach the two approvals a membership change needs).
    function closeBootstrap() external;

    // ---------------------------------------------------------------- membership votes

    /// @notice Opens a vote to admit, suspend, reinstate or remove a member; the caller's authority
    /// approves it at once.
    /// @dev Fixes the approvals the proposal needs: max(2, ceil(members x voteThresholdBps / 10000)),
    /// where members counts every member not removed, suspended ones and the target included. Any
    /// membership change that executes while it is open makes it Stale. Emits {MembershipProposed}
    /// and {MembershipVoted}.
    ///
    /// Requirements:
    ///
    /// - the caller is an ADMIN of an Active authority, which is not the target of a Suspend/Remove;
    /// - Admit: `code` well-formed and never admitted, `name` 1 to 64 bytes, `admin` a fresh account;
    /// - Suspend: target Active. Reinstate: target Suspended. Remove: target Active or Suspended;
    /// - the members who may vote on it (Active, the target of a Suspend/Remove excluded) are at
    ///   least as many as the approvals it needs.
    /// @param action Admit, Suspend, Reinstate or Remove
    /// @param code the code of the member it is about
    /// @param name display name of the member to admit (`Admit` only; empty otherwise)
    /// @param admin first ADMIN account of the member to admit (`Admit` only; zero otherwise)
    /// @return proposalId the new proposal's id
    function proposeMembership(MembershipAction action, bytes4 code, string calldata name, address admin)
        external
        returns (uint256 proposalId);

    /// @notice Approves an open proposal for the caller's authority and executes it as soon as the
    /// approvals reach the number fixed when it opened.
    /// @dev Emits {MembershipVoted}; on execution also the Authority event of the action
    /// ({AuthorityAdmitted} with {AccountAdded}, {AuthoritySuspended}, {AuthorityReinstated} or
    /// {AuthorityRemoved}) and {MembershipExecuted}.
    ///
    /// Requirements:
    ///
    /// - the caller is an ADMIN of an Active authority that is not the target and has not voted on it;
    /// - the proposal exists, is not executed, not stale (no membership change executed since it
    ///   opened) and not expired;
    /// - the action still applies to the target's current status.
    /// @param proposalId the proposal's id
    function voteOnMembership(uint256 proposalId) external;

    // ---------------------------------------------------------------- own accounts

    /// @notice Adds an account to the caller's authority.
    /// @dev Emits an {AccountAdded} event.
    ///
    /// Requirements:
    ///
    /// - the caller is an ADMIN of an Active authority having fewer than 16 accounts;
    /// - `account` is not zero and belongs to no authority; `roles` is 1, 2 or 3.
    /// @param account the account to add
    /// @param roles 1 = ADMIN, 2 = OPERATOR, 3 = both
    function addAccount(address account, uint8 roles) external;

    /// @notice Removes an account of the caller's authority (the address may be added again later).
    /// @dev Emits an {AccountRemoved} event.
    ///
    /// Requirements:
    ///
    /// - the caller is an ADMIN of an Active authority and `account` belongs to that authority;
    /// - `account` is not the authority's last ADMIN.
    /// @param account the account to remove
    function removeAccount(address account) external;

    // ---------------------------------------------------------------- signing keys

    /// @notice Publishes a document-signing public key of the caller's authority.
    /// @dev A key must not vouch for what was signed before it was published: a `validFrom` more
    /// than an hour before this block (0 included) is stored as this block's time (the hour allows
    /// for the registering service's clock trailing the block's). Emits a {SigningKeyRegistered}
    /// event with the time stored.
    ///
    /// Requirements:
    ///
    /// - the caller is an ADMIN of an Active authority;
    /// - `algorithm` is supported and `publicKey` has its form; `kid` matches and was never registered.
    /// @param kid key id: the first 8 bytes of sha256(publicKey), checked on chain
    /// @param algorithm 1 = ES256 (33-byte compressed P-256 point), 2 = EdDSA (32-byte Ed25519 key)
    /// @param publicKey the public key, in the form of its algorithm
    /// @param validFrom unix time from which signatures are trusted (raised to this block's time
    /// when more than an hour earlier)
    function registerSigningKey(bytes8 kid, uint8 algorithm, bytes calldata publicKey, uint64 validFrom) external;

    /// @notice Revokes a document-signing key of the caller's authority.
    /// @dev Revoking only withdraws trust, so an ADMIN of a Suspended or Removed authority may still
    /// do it. A compromised key may be revoked in the past. Emits a {SigningKeyRevoked} event.
    ///
    /// Requirements:
    ///
    /// - the caller is an ADMIN of the authority that registered `kid` (whatever its status);
    /// - the key is not revoked; validFrom <= `revokedAt` <= max(block.timestamp, validFrom).
    /// @param kid key id
    /// @param revokedAt unix time from which signatures are no longer trusted; 0 = now (or validFrom
    /// when the key is not valid yet)
    function revokeSigningKey(bytes8 kid, uint64 revokedAt) external;

    // ---------------------------------------------------------------- views

    /// @notice The share of the members whose approval executes a membership proposal.
    /// @return basis points of the members not removed (5001 = strict majority, the least accepted)
    function voteThresholdBps() external view returns (uint16);

    /// @notice How long a membership proposal stays open.
    /// @return seconds from its opening
    function proposalLifetime() external view returns (uint32);

    /// @notice Who may still bootstrap members.
    /// @return the deployer while the bootstrap is open; zero afterwards
    function bootstrapper() external view returns (address);

    /// @notice A member authority.
    /// @param code the member's code
    /// @return the authority; status None (and empty fields) when never admitted
    function getAuthority(bytes4 code) external view returns (AuthorityView memory);

    /// @notice Cheap status lookup, for other contracts.
    /// @param code the member's code
    /// @return its status; None when never admitted
    function authorityStatus(bytes4 code) external view returns (AuthorityStatus);

    /// @notice The authority an account acts for, and its roles.
    /// @param account the account
    /// @return its packed record; all zero when it acts for no authority
    function accountOf(address account) external view returns (Account memory);

    /// @notice A document-signing key.
    /// @param kid key id
    /// @return the key; algorithm 0 when unknown
    function getSigningKey(bytes8 kid) external view returns (SigningKey memory);

    /// @notice Every code ever admitted.
    /// @return the codes, in admission order (Removed members included)
    function memberCodes() external view returns (bytes4[] memory);

    /// @notice The members that are Active.
    /// @return their number
    function activeMemberCount() external view returns (uint256);

    /// @notice Members not removed (Active or Suspended): what a membership vote's majority counts.
    /// @return their number
    function memberCount() external view returns (uint256);

    /// @notice A membership proposal.
    /// @param proposalId the proposal's id
    /// @return the proposal; status None when unknown
    function getProposal(uint256 proposalId) external view returns (ProposalView memory);

    /// @notice Whether a member approved a proposal.
    /// @param proposalId the proposal's id
    /// @param code the member's code
    /// @return true once `code` approved it (the proposer included)
    function hasVoted(uint256 proposalId, bytes4 code) external view returns (bool);
}
