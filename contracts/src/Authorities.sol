// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IAuthorities, ROLE_ADMIN, ROLE_OPERATOR} from "./interfaces/IAuthorities.sol";

/// @title Consortium membership, accounts and the signing-key trust list
/// @notice See {IAuthorities}. Abstract: deployed as part of {AeoRegistry}.
abstract contract Authorities is IAuthorities {
    uint8 private constant _ALL_ROLES = ROLE_ADMIN | ROLE_OPERATOR;

    /// @dev Every status change of an authority rewrites `authorityActive` in each of its accounts
    /// (that copy is what lets a certificate write authorize with one SLOAD). The bound keeps that
    /// loop, and so a membership vote's gas, small and predictable.
    uint256 internal constant MAX_ACCOUNTS_PER_AUTHORITY = 16;
    uint256 private constant _MAX_NAME_LENGTH = 64;
    uint8 private constant _ES256 = 1;
    uint8 private constant _EDDSA = 2;
    /// @dev No membership change with fewer approvals, whatever the share: with two members, one
    /// alone must never decide about the other.
    uint256 private constant _MIN_APPROVALS = 2;
    /// @dev How far before its registration block a key's validity may start (see
    /// `registerSigningKey`): the issuing service's clock may trail the block's.
    uint64 private constant _KEY_BACKDATE_ALLOWANCE = 1 hours;

    struct AuthorityRecord {
        AuthorityStatus status;
        uint8 adminCount;
        uint64 admittedAt;
        uint64 statusChangedAt;
        string name;
    }

    /// @dev The first nine fields share one slot (1 + 4 + 4 + 1 + 2 + 2 + 5 + 5 + 8 = 32 bytes), so
    /// a vote reads and rewrites one slot. Times are uint40 here (good until the year 36812) and
    /// uint64 in the interface.
    struct Proposal {
        MembershipAction action;
        bytes4 code;
        bytes4 proposer;
        bool executed;
        uint16 approvals;
        uint16 required;
        uint40 createdAt;
        uint40 expiresAt;
        uint64 changes;
        address admin;
        string name;
    }

    mapping(address account => Account) private _accounts;
    mapping(bytes4 code => AuthorityRecord) private _authorities;
    mapping(bytes4 code => address[]) private _accountsOf;
    mapping(bytes4 code => bytes8[]) private _signingKeysOf;
    mapping(bytes8 kid => SigningKey) private _signingKeys;
    mapping(uint256 proposalId => Proposal) private _proposals;
    mapping(uint256 proposalId => mapping(bytes4 code => bool)) private _voted;
    bytes4[] private _memberCodes;
    // One slot: what proposing and executing a membership change read and write together.
    address private _bootstrapper;
    uint16 private _voteThresholdBps;
    uint32 private _proposalLifetime;
    uint16 private _activeMemberCount;
    /// @dev Members not removed (Active or Suspended): the denominator of every membership vote.
    uint16 private _memberCount;
    uint128 private _proposalCount;
    /// @dev Executed membership changes (bootstrap admissions included). A proposal records the
    /// count it opened at; once it moved, the proposal is stale.
    uint64 private _membershipChanges;

    /// @param voteThresholdBps_ share of the members not removed, in basis points, whose approval
    /// executes a membership proposal (5001 = strict majority, 6667 = two thirds, 10000 =
    /// unanimity); anything up to a half would let a minority decide, and is refused
    /// @param proposalLifetime_ seconds a membership proposal stays open
    constructor(uint16 voteThresholdBps_, uint32 proposalLifetime_) {
        if (voteThresholdBps_ <= 5_000 || voteThresholdBps_ > 10_000) {
            revert AuthorityInvalidVoteThreshold(voteThresholdBps_);
        }
        if (proposalLifetime_ == 0) revert AuthorityInvalidProposalLifetime(proposalLifetime_);
        _bootstrapper = msg.sender;
        _voteThresholdBps = voteThresholdBps_;
        _proposalLifetime = proposalLifetime_;
    }

    // ---------------------------------------------------------------- bootstrap

    /// @inheritdoc IAuthorities
    function bootstrapMember(bytes4 code, string calldata name, address admin) external {
        _requireBootstrapper();
        _requireAdmissible(code, name, admin);
        _admit(code, name, admin);
    }

    /// @inheritdoc IAuthorities
    function closeBootstrap() external {
        _requireBootstrapper();
        uint256 count = _memberCodes.length;
        if (count < _MIN_APPROVALS) revert AuthorityTooFewMembers(count, _MIN_APPROVALS);
        _bootstrapper = address(0);
        emit BootstrapClosed(count);
    }

    // ---------------------------------------------------------------- membership votes

    /// @inheritdoc IAuthorities
    function proposeMembership(MembershipAction action, bytes4 code, string calldata name, address admin)
        external
        returns (uint256 proposalId)
    {
        bytes4 proposer = _requireActiveRole(msg.sender, ROLE_ADMIN);
        if (_isTarget(action, code, proposer)) revert MembershipTargetCannotVote(code);
        _requireApplicable(action, code, name, admin);
        // Fixed now, and valid only while the membership stays as it is (`_membershipChanges`):
        // suspending members first can neither lower the bar nor leave old votes counting.
        uint256 required = _requiredApprovals(_memberCount);
        uint256 eligible = _activeMemberCount;
        if (
            action != MembershipAction.Admit && action != MembershipAction.Reinstate
                && _authorities[code].status == AuthorityStatus.Active
        ) {
            eligible -= 1; // the target of a Suspend or Remove may not approve it
        }
        if (eligible < required) revert MembershipQuorumUnreachable(action, code, eligible, required);

        proposalId = ++_proposalCount;
        Proposal storage proposal = _proposals[proposalId];
        uint40 expiresAt = uint40(block.timestamp) + _proposalLifetime;
        proposal.action = action;
        proposal.code = code;
        proposal.proposer = proposer;
        proposal.required = uint16(required);
        proposal.createdAt = uint40(block.timestamp);
        proposal.expiresAt = expiresAt;
        proposal.changes = _membershipChanges;
        if (action == MembershipAction.Admit) {
            proposal.name = name;
            proposal.admin = admin;
        }
        emit MembershipProposed(proposalId, action, code, proposer, proposal.name, proposal.admin, expiresAt);
        _approve(proposalId, proposal, proposer);
    }

    /// @inheritdoc IAuthorities
    function voteOnMembership(uint256 proposalId) external {
        bytes4 voter = _requireActiveRole(msg.sender, ROLE_ADMIN);
        Proposal storage proposal = _proposals[proposalId];
        if (proposal.createdAt == 0) revert MembershipProposalUnknown(proposalId);
        if (proposal.executed) revert MembershipProposalExecuted(proposalId);
        uint64 changes = _membershipChanges;
        if (proposal.changes != changes) revert MembershipProposalStale(proposalId, proposal.changes, changes);
        if (block.timestamp >= proposal.expiresAt) {
            revert MembershipProposalExpired(proposalId, proposal.expiresAt);
        }
        if (_isTarget(proposal.action, proposal.code, voter)) revert MembershipTargetCannotVote(proposal.code);
        if (_voted[proposalId][voter]) revert MembershipAlreadyVoted(proposalId, voter);
        // No membership change executed since it opened, but the admin account of an admission
        // may have been taken by another member meanwhile.
        _requireApplicable(proposal.action, proposal.code, proposal.name, proposal.admin);
        _approve(proposalId, proposal, voter);
    }

    // ---------------------------------------------------------------- own accounts

    /// @inheritdoc IAuthorities
    function addAccount(address account, uint8 roles) external {
        bytes4 code = _requireActiveRole(msg.sender, ROLE_ADMIN);
        if (roles == 0 || roles & ~_ALL_ROLES != 0) revert AuthorityInvalidRoles(roles);
        _requireFreshAccount(account);
        _addAccount(code, account, roles);
    }

    /// @inheritdoc IAuthorities
    function removeAccount(address account) external {
        bytes4 code = _requireActiveRole(msg.sender, ROLE_ADMIN);
        Account memory removed = _accounts[account];
        if (removed.authority != code) revert AuthorityAccountNotFound(code, account);
        AuthorityRecord storage authority = _authorities[code];
        if (removed.roles & ROLE_ADMIN != 0) {
            if (authority.adminCount == 1) revert AuthorityLastAdmin(code, account);
            authority.adminCount -= 1;
        }
        delete _accounts[account];
        address[] storage accounts = _accountsOf[code];
        uint256 last = accounts.length - 1;
        for (uint256 i = 0; i <= last; ++i) {
            if (accounts[i] == account) {
                accounts[i] = accounts[last];
                accounts.pop();
                break;
            }
        }
        emit AccountRemoved(code, account, msg.sender);
    }

    // ---------------------------------------------------------------- signing keys

    /// @inheritdoc IAuthorities
    function registerSigningKey(bytes8 kid, uint8 algorithm, bytes calldata publicKey, uint64 validFrom)
        external
    {
        bytes4 code = _requireActiveRole(msg.sender, ROLE_ADMIN);
        if (algorithm == _ES256) {
            // A compressed SEC1 point: the verifier's payload stays small and the form is unambiguous.
            if (publicKey.length != 33 || (publicKey[0] != 0x02 && publicKey[0] != 0x03)) {
                revert SigningKeyInvalidPublicKey(algorithm, publicKey.length);
            }
        } else if (algorithm == _EDDSA) {
            if (publicKey.length != 32) revert SigningKeyInvalidPublicKey(algorithm, publicKey.length);
        } else {
            revert SigningKeyUnsupportedAlgorithm(algorithm);
        }
        bytes8 expected = bytes8(sha256(publicKey));
        if (kid != expected) revert SigningKeyIdMismatch(kid, expected);
        if (_signingKeys[kid].algorithm != 0) revert SigningKeyAlreadyRegistered(kid);

        // A back-dated key would vouch for documents "signed" before it existed (validFrom = 1
        // once made a QR dated 2001 pass). The registry service asks for its own clock's now,
        // which the block may have passed (mining and outbox delay, clock skew, a development
        // chain's one second per block): within `_KEY_BACKDATE_ALLOWANCE` that time is kept,
        // anything earlier (0 included) is raised to the block's time rather than refused.
        uint64 from = validFrom;
        if (validFrom < block.timestamp && block.timestamp - validFrom > _KEY_BACKDATE_ALLOWANCE) {
            from = uint64(block.timestamp);
        }
        _signingKeys[kid] = SigningKey(code, algorithm, from, 0, publicKey);
        _signingKeysOf[code].push(kid);
        emit SigningKeyRegistered(kid, code, algorithm, publicKey, from);
    }

    /// @inheritdoc IAuthorities
    function revokeSigningKey(bytes8 kid, uint64 revokedAt) external {
        Account memory caller = _accounts[msg.sender];
        if (caller.roles & ROLE_ADMIN == 0) revert AuthorityUnauthorizedAccount(msg.sender, ROLE_ADMIN);
        SigningKey storage key = _signingKeys[kid];
        if (key.algorithm == 0) revert SigningKeyUnknown(kid);
        if (key.authority != caller.authority) revert SigningKeyNotOwned(kid, key.authority, caller.authority);
        if (key.revokedAt != 0) revert SigningKeyAlreadyRevoked(kid, key.revokedAt);

        uint64 validFrom = key.validFrom;
        // A key not valid yet can only be withdrawn as of its validFrom: it never becomes valid.
        uint64 latest = block.timestamp > validFrom ? uint64(block.timestamp) : validFrom;
        uint64 effectiveAt = revokedAt == 0 ? latest : revokedAt;
        if (effectiveAt < validFrom) revert SigningKeyRevokedBeforeValidFrom(kid, effectiveAt, validFrom);
        if (effectiveAt > latest) revert SigningKeyRevokedInFuture(kid, effectiveAt, uint64(block.timestamp));
        key.revokedAt = effectiveAt;
        emit SigningKeyRevoked(kid, caller.authority, effectiveAt);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IAuthorities
    function voteThresholdBps() external view returns (uint16) {
        return _voteThresholdBps;
    }

    /// @inheritdoc IAuthorities
    function proposalLifetime() external view returns (uint32) {
        return _proposalLifetime;
    }

    /// @inheritdoc IAuthorities
    function bootstrapper() external view returns (address) {
        return _bootstrapper;
    }

    /// @inheritdoc IAuthorities
    function getAuthority(bytes4 code) external view returns (AuthorityView memory) {
        AuthorityRecord storage authority = _authorities[code];
        return AuthorityView({
            code: code,
            name: authority.name,
            status: authority.status,
            admittedAt: authority.admittedAt,
            statusChangedAt: authority.statusChangedAt,
            accounts: _accountsOf[code],
            signingKeys: _signingKeysOf[code]
        });
    }

    /// @inheritdoc IAuthorities
    function authorityStatus(bytes4 code) external view returns (AuthorityStatus) {
        return _authorities[code].status;
    }

    /// @inheritdoc IAuthorities
    function accountOf(address account) external view returns (Account memory) {
        return _accounts[account];
    }

    /// @inheritdoc IAuthorities
    function getSigningKey(bytes8 kid) external view returns (SigningKey memory) {
        return _signingKeys[kid];
    }

    /// @inheritdoc IAuthorities
    function memberCodes() external view returns (bytes4[] memory) {
        return _memberCodes;
    }

    /// @inheritdoc IAuthorities
    function activeMemberCount() external view returns (uint256) {
        return _activeMemberCount;
    }

    /// @inheritdoc IAuthorities
    function memberCount() external view returns (uint256) {
        return _memberCount;
    }

    /// @inheritdoc IAuthorities
    function getProposal(uint256 proposalId) external view returns (ProposalView memory) {
        Proposal storage proposal = _proposals[proposalId];
        ProposalStatus status = ProposalStatus.None;
        if (proposal.createdAt != 0) {
            if (proposal.executed) status = ProposalStatus.Executed;
            else if (proposal.changes != _membershipChanges) status = ProposalStatus.Stale;
            else if (block.timestamp >= proposal.expiresAt) status = ProposalStatus.Expired;
            else status = ProposalStatus.Open;
        }
        return ProposalView({
            id: proposalId,
            status: status,
            action: proposal.action,
            code: proposal.code,
            proposer: proposal.proposer,
            approvals: proposal.approvals,
            required: proposal.required,
            createdAt: proposal.createdAt,
            expiresAt: proposal.expiresAt,
            admin: proposal.admin,
            name: proposal.name
        });
    }

    /// @inheritdoc IAuthorities
    function hasVoted(uint256 proposalId, bytes4 code) external view returns (bool) {
        return _voted[proposalId][code];
    }

    // ---------------------------------------------------------------- internal

    /// @dev The authority `account` acts for, if it holds `role` and the authority is Active.
    /// One SLOAD of the account's packed slot; the authority's record is read only to explain a refusal.
    function _requireActiveRole(address account, uint8 role) internal view returns (bytes4 authority) {
        Account storage acct = _accounts[account];
        // Read every field before branching so the optimizer keeps them from one SLOAD.
        authority = acct.authority;
        uint8 roles = acct.roles;
        bool active = acct.authorityActive;
        if (roles & role == 0) revert AuthorityUnauthorizedAccount(account, role);
        if (!active) revert AuthorityNotActive(authority, _authorities[authority].status);
    }

    function _authorityStatus(bytes4 code) internal view returns (AuthorityStatus) {
        return _authorities[code].status;
    }

    function _requireBootstrapper() private view {
        address bootstrapper_ = _bootstrapper;
        if (bootstrapper_ == address(0)) revert AuthorityBootstrapClosed();
        if (msg.sender != bootstrapper_) revert AuthorityNotBootstrapper(msg.sender);
    }

    function _requireFreshAccount(address account) private view {
        if (account == address(0)) revert AuthorityInvalidAccount(account);
        bytes4 current = _accounts[account].authority;
        if (current != 0) revert AuthorityAccountAlreadyRegistered(account, current);
    }

    function _requireAdmissible(bytes4 code, string memory name, address admin) private view {
        if (!_isWellFormedCode(code)) revert AuthorityInvalidCode(code);
        AuthorityStatus status = _authorities[code].status;
        if (status != AuthorityStatus.None) revert AuthorityAlreadyExists(code, status);
        uint256 length = bytes(name).length;
        if (length == 0 || length > _MAX_NAME_LENGTH) revert AuthorityInvalidName(code, length);
        _requireFreshAccount(admin);
    }

    function _requireApplicable(MembershipAction action, bytes4 code, string memory name, address admin)
        private
        view
    {
        if (action == MembershipAction.Admit) {
            _requireAdmissible(code, name, admin);
            return;
        }
        AuthorityStatus status = _authorities[code].status;
        if (status == AuthorityStatus.None) revert AuthorityUnknown(code);
        bool applies = (action == MembershipAction.Suspend && status == AuthorityStatus.Active)
            || (action == MembershipAction.Reinstate && status == AuthorityStatus.Suspended)
            || (action == MembershipAction.Remove && status != AuthorityStatus.Removed);
        if (!applies) revert MembershipActionNotApplicable(action, code, status);
    }

    /// @dev 2 to 4 upper-case ASCII letters, left-aligned, zero-padded (contracts/ids.py).
    function _isWellFormedCode(bytes4 code) private pure returns (bool) {
        bool ended = false;
        for (uint256 i = 0; i < 4; ++i) {
            bytes1 char = code[i];
            if (char == 0) {
                if (i < 2) return false;
                ended = true;
            } else if (ended || char < "A" || char > "Z") {
                return false;
            }
        }
        return true;
    }

    /// @dev The target of a Suspend or Remove has a conflict of interest: it neither proposes nor votes.
    function _isTarget(MembershipAction action, bytes4 code, bytes4 voter) private pure returns (bool) {
        return voter == code && (action == MembershipAction.Suspend || action == MembershipAction.Remove);
    }

    function _approve(uint256 proposalId, Proposal storage proposal, bytes4 voter) private {
        _voted[proposalId][voter] = true;
        uint16 approvals = proposal.approvals + 1;
        proposal.approvals = approvals;
        uint16 required = proposal.required;
        emit MembershipVoted(proposalId, voter, approvals, required);
        if (approvals < required) return;

        proposal.executed = true;
        MembershipAction action = proposal.action;
        bytes4 code = proposal.code;
        if (action == MembershipAction.Admit) {
            _admit(code, proposal.name, proposal.admin);
        } else if (action == MembershipAction.Suspend) {
            _setStatus(code, AuthorityStatus.Suspended);
            emit AuthoritySuspended(code);
        } else if (action == MembershipAction.Reinstate) {
            _setStatus(code, AuthorityStatus.Active);
            emit AuthorityReinstated(code);
        } else {
            _setStatus(code, AuthorityStatus.Removed);
            emit AuthorityRemoved(code);
        }
        emit MembershipExecuted(proposalId, action, code);
    }

    /// @dev max(2, ceil(members x threshold / 10000)), `members` being every member not removed:
    /// a suspended member still counts (it cannot approve, so it weighs as a "no"), and so does the
    /// target of a Suspend/Remove, which may not approve its own case. The threshold is above half
    /// (constructor), so this is always a strict majority of the members.
    function _requiredApprovals(uint256 members) private view returns (uint256) {
        uint256 required = (members * _voteThresholdBps + 9_999) / 10_000;
        return required < _MIN_APPROVALS ? _MIN_APPROVALS : required;
    }

    function _admit(bytes4 code, string memory name, address admin) private {
        AuthorityRecord storage authority = _authorities[code];
        authority.status = AuthorityStatus.Active;
        authority.admittedAt = uint64(block.timestamp);
        authority.statusChangedAt = uint64(block.timestamp);
        authority.name = name;
        _memberCodes.push(code);
        _activeMemberCount += 1;
        _memberCount += 1;
        _membershipChanges += 1;
        emit AuthorityAdmitted(code, name, admin);
        _addAccount(code, admin, ROLE_ADMIN);
    }

    function _addAccount(bytes4 code, address account, uint8 roles) private {
        address[] storage accounts = _accountsOf[code];
        if (accounts.length >= MAX_ACCOUNTS_PER_AUTHORITY) {
            revert AuthorityTooManyAccounts(code, MAX_ACCOUNTS_PER_AUTHORITY);
        }
        AuthorityRecord storage authority = _authorities[code];
        _accounts[account] = Account(code, roles, authority.status == AuthorityStatus.Active);
        accounts.push(account);
        if (roles & ROLE_ADMIN != 0) authority.adminCount += 1;
        emit AccountAdded(code, account, roles, msg.sender);
    }

    function _setStatus(bytes4 code, AuthorityStatus status) private {
        AuthorityRecord storage authority = _authorities[code];
        bool wasActive = authority.status == AuthorityStatus.Active;
        bool active = status == AuthorityStatus.Active;
        authority.status = status;
        authority.statusChangedAt = uint64(block.timestamp);
        if (wasActive && !active) _activeMemberCount -= 1;
        if (!wasActive && active) _activeMemberCount += 1;
        if (status == AuthorityStatus.Removed) _memberCount -= 1;
        _membershipChanges += 1;
        address[] storage accounts = _accountsOf[code];
        for (uint256 i = 0; i < accounts.length; ++i) {
            _accounts[accounts[i]].authorityActive = active;
        }
    }
}
