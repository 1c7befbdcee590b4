// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IAeoRegistry} from "./interfaces/IAeoRegistry.sol";
import {IAuthorities, ROLE_OPERATOR} from "./interfaces/IAuthorities.sol";
import {ICertificates} from "./interfaces/ICertificates.sol";
import {IMras} from "./interfaces/IMras.sol";
import {Tiers} from "./Tiers.sol";

/// @title Mutual Recognition Arrangements, and whether an authority recognizes a certificate
/// @notice See {IMras}. A separate contract from {AeoRegistry}: MRA writes are rare, and keeping
/// them out keeps the registry's certificate path small. Authorities and certificates are read
/// from the registry through its interface.
contract MraRegistry is IMras {
    uint256 private constant _MIN_PARTIES = 2;
    /// @dev Eight parties fill one slot of `bytes4[8]` and make `signedMask` a uint8.
    uint256 private constant _MAX_PARTIES = 8;

    /// @dev Four slots: the header, the parties, their tiers, the text hash.
    struct MraRecord {
        MraState state;
        uint8 partyCount;
        uint8 signedMask;
        uint16 effectiveFrom;
        uint16 endsOn;
        bytes4 proposer;
        bytes4 suspendedBy;
        uint64 proposedAt;
        bytes4[8] parties;
        uint8[8] recognizedTiers;
        bytes32 textHash;
    }

    /// @dev Not `immutable`: deployment checks compare the runtime code with the artifact's
    /// deployedBytecode byte for byte, and an immutable would be patched into that code.
    IAeoRegistry private _registry;
    uint256 private _mraCount;
    mapping(uint256 mraId => MraRecord) private _mras;
    mapping(bytes4 party => uint256[]) private _mrasOf;

    /// @param registry_ the AeoRegistry holding the authorities and certificates
    constructor(address registry_) {
        if (registry_.code.length == 0) revert MraInvalidRegistry(registry_);
        _registry = IAeoRegistry(registry_);
    }

    // ---------------------------------------------------------------- writes

    /// @inheritdoc IMras
    function propose(
        bytes4[] calldata parties,
        uint8[] calldata recognizedTiers,
        uint16 effectiveFrom,
        uint16 endsOn,
        bytes32 textHash
    ) external returns (uint256 mraId) {
        bytes4 caller = _requireActiveOperator();
        uint256 count = parties.length;
        if (count < _MIN_PARTIES || count > _MAX_PARTIES) revert MraInvalidPartyCount(count);
        if (recognizedTiers.length != count) revert MraTiersLengthMismatch(count, recognizedTiers.length);
        uint256 callerIndex = _MAX_PARTIES;
        for (uint256 i = 0; i < count; ++i) {
            if (parties[i] == caller) callerIndex = i;
        }
        if (callerIndex == _MAX_PARTIES) revert MraNotParty(0, caller);
        if (endsOn != 0 && (endsOn < effectiveFrom || endsOn < _today())) {
            revert MraInvalidDates(effectiveFrom, endsOn);
        }
        if (textHash == 0) revert MraInvalidTextHash();

        mraId = ++_mraCount;
        MraRecord storage mra = _mras[mraId];
        for (uint256 i = 0; i < count; ++i) {
            bytes4 party = parties[i];
            for (uint256 j = 0; j < i; ++j) {
                if (parties[j] == party) revert MraDuplicateParty(party);
            }
            IAuthorities.AuthorityStatus status = _registry.authorityStatus(party);
            if (status != IAuthorities.AuthorityStatus.Active) revert MraPartyNotActive(party, status);
            if (!Tiers.isValidRecognizedTiers(recognizedTiers[i])) {
                revert MraInvalidTiers(party, recognizedTiers[i]);
            }
            mra.parties[i] = party;
            mra.recognizedTiers[i] = recognizedTiers[i];
            _mrasOf[party].push(mraId);
        }
        mra.state = MraState.Proposed;
        mra.partyCount = uint8(count);
        mra.signedMask = uint8(1 << callerIndex);
        mra.effectiveFrom = effectiveFrom;
        mra.endsOn = endsOn;
        mra.proposer = caller;
        mra.proposedAt = uint64(block.timestamp);
        mra.textHash = textHash;
        emit MraProposed(mraId, caller, parties, recognizedTiers, effectiveFrom, endsOn, textHash, msg.sender);
        emit MraSigned(mraId, caller, msg.sender);
    }

    /// @inheritdoc IMras
    function sign(uint256 mraId) external {
        (bytes4 caller, MraRecord storage mra, uint256 index) = _loadForParty(mraId);
        _requireStatus(mraId, mra, MraStatus.Proposed, MraStatus.Proposed);
        uint8 bit = uint8(1 << index);
        if (mra.signedMask & bit != 0) revert MraAlreadySigned(mraId, caller);
        uint8 signedMask = mra.signedMask | bit;
        mra.signedMask = signedMask;
        bool complete = signedMask == (1 << mra.partyCount) - 1;
        if (complete) mra.state = MraState.Signed;
        emit MraSigned(mraId, caller, msg.sender);
        if (complete) emit MraInForce(mraId, caller, mra.effectiveFrom, msg.sender);
    }

    /// @inheritdoc IMras
    function suspend(uint256 mraId) external {
        (bytes4 caller, MraRecord storage mra,) = _loadForParty(mraId);
        _requireStatus(mraId, mra, MraStatus.NotYetInForce, MraStatus.InForce);
        mra.state = MraState.Suspended;
        mra.suspendedBy = caller;
        emit MraSuspended(mraId, caller, msg.sender);
    }

    /// @inheritdoc IMras
    function resume(uint256 mraId) external {
        (bytes4 caller, MraRecord storage mra,) = _loadForParty(mraId);
        _requireStatus(mraId, mra, MraStatus.Suspended, MraStatus.Suspended);
        bytes4 suspendedBy = mra.suspendedBy;
        if (suspendedBy != caller) revert MraNotSuspender(mraId, suspendedBy, caller);
        mra.state = MraState.Signed;
        mra.suspendedBy = 0;
        emit MraResumed(mraId, caller, msg.sender);
    }

    /// @inheritdoc IMras
    function terminate(uint256 mraId) external {
        (bytes4 caller, MraRecord storage mra,) = _loadForParty(mraId);
        MraStatus status = _status(mra);
        if (status == MraStatus.Terminated || status == MraStatus.Ended) revert MraStatusMismatch(mraId, status);
        mra.state = MraState.Terminated;
        mra.suspendedBy = 0;
        emit MraTerminated(mraId, caller, msg.sender);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IMras
    function registry() external view returns (address) {
        return address(_registry);
    }

    /// @inheritdoc IMras
    function getMra(uint256 mraId) external view returns (MraView memory view_) {
        MraRecord storage mra = _mras[mraId];
        uint256 count = mra.partyCount;
        view_.id = mraId;
        view_.state = mra.state;
        view_.status = _status(mra);
        view_.proposer = mra.proposer;
        view_.suspendedBy = mra.suspendedBy;
        view_.effectiveFrom = mra.effectiveFrom;
        view_.endsOn = mra.endsOn;
        view_.proposedAt = mra.proposedAt;
        view_.textHash = mra.textHash;
        view_.parties = new bytes4[](count);
        view_.recognizedTiers = new uint8[](count);
        view_.signed = new bool[](count);
        for (uint256 i = 0; i < count; ++i) {
            view_.parties[i] = mra.parties[i];
            view_.recognizedTiers[i] = mra.recognizedTiers[i];
            view_.signed[i] = mra.signedMask & (1 << i) != 0;
        }
    }

    /// @inheritdoc IMras
    function mrasOf(bytes4 party) external view returns (uint256[] memory) {
        return _mrasOf[party];
    }

    /// @inheritdoc IMras
    function mraStatus(uint256 mraId) external view returns (MraStatus) {
        return _status(_mras[mraId]);
    }

    /// @inheritdoc IMras
    /// @dev Order: the certificate (unknown, not active), then own certificate, then the issuer's
    /// membership, then the MRAs both authorities are parties to. Of several such MRAs, any
    /// that recognizes wins; otherwise the closest to recognizing is reported, from closest:
    /// TierNotCovered, MraNotYetInForce, MraSuspended, MraNotSigned, MraEnded, MraTerminated
    /// (the newest MRA on a tie).
    function recognizes(bytes4 authority, bytes32 certificateId)
        external
        view
        returns (bool recognized, RecognitionReason reason, uint256 mraId)
    {
        ICertificates.CertificateView memory certificate = _registry.getCertificate(certificateId);
        if (certificate.status == ICertificates.CertificateStatus.None) {
            return (false, RecognitionReason.UnknownCertificate, 0);
        }
        if (certificate.effectiveStatus != ICertificates.EffectiveStatus.Active) {
            return (false, RecognitionReason.CertificateNotActive, 0);
        }
        bytes4 issuer = certificate.issuer;
        if (issuer == authority) return (true, RecognitionReason.OwnCertificate, 0);
        if (_registry.authorityStatus(issuer) != IAuthorities.AuthorityStatus.Active) {
            return (false, RecognitionReason.IssuerNotActive, 0);
        }

        reason = RecognitionReason.NoMra;
        uint256[] storage candidates = _mrasOf[authority];
        for (uint256 i = 0; i < candidates.length; ++i) {
            MraRecord storage mra = _mras[candidates[i]];
            (bool shared, uint256 issuerIndex) = _indexOf(mra, issuer);
            if (!shared) continue;
            RecognitionReason candidate = _recognition(mra, certificate.tiers, issuerIndex);
            if (candidate == RecognitionReason.Recognized) return (true, candidate, candidates[i]);
            if (_closeness(candidate) >= _closeness(reason)) {
                reason = candidate;
                mraId = candidates[i];
            }
        }
        return (false, reason, mraId);
    }

    // ---------------------------------------------------------------- internal

    /// @dev The caller's authority, if the caller is an OPERATOR of an Active one.
    function _requireActiveOperator() private view returns (bytes4) {
        IAuthorities.Account memory account = _registry.accountOf(msg.sender);
        if (account.roles & ROLE_OPERATOR == 0) {
            revert IAuthorities.AuthorityUnauthorizedAccount(msg.sender, ROLE_OPERATOR);
        }
        if (!account.authorityActive) {
            revert IAuthorities.AuthorityNotActive(account.authority, _registry.authorityStatus(account.authority));
        }
        return account.authority;
    }

    /// @dev Checks shared by sign, suspend, resume and terminate: an Active caller, an existing
    /// MRA, the caller's authority a party to it.
    function _loadForParty(uint256 mraId)
        private
        view
        returns (bytes4 caller, MraRecord storage mra, uint256 index)
    {
        caller = _requireActiveOperator();
        mra = _mras[mraId];
        if (mra.state == MraState.None) revert MraUnknown(mraId);
        bool isParty;
        (isParty, index) = _indexOf(mra, caller);
        if (!isParty) revert MraNotParty(mraId, caller);
    }

    function _requireStatus(uint256 mraId, MraRecord storage mra, MraStatus allowed, MraStatus alsoAllowed)
        private
        view
    {
        MraStatus status = _status(mra);
        if (status != allowed && status != alsoAllowed) revert MraStatusMismatch(mraId, status);
    }

    function _indexOf(MraRecord storage mra, bytes4 party) private view returns (bool found, uint256 index) {
        uint256 count = mra.partyCount;
        for (uint256 i = 0; i < count; ++i) {
            if (mra.parties[i] == party) return (true, i);
        }
        return (false, 0);
    }

    /// @dev Precedence Terminated > Ended > Suspended > Proposed > NotYetInForce > InForce: an
    /// arrangement past its end day is over whatever else happened to it.
    function _status(MraRecord storage mra) private view returns (MraStatus) {
        MraState state = mra.state;
        if (state == MraState.None) return MraStatus.Unknown;
        if (state == MraState.Terminated) return MraStatus.Terminated;
        uint16 endsOn = mra.endsOn;
        uint256 today = _today();
        if (endsOn != 0 && today > endsOn) return MraStatus.Ended;
        if (state == MraState.Suspended) return MraStatus.Suspended;
        if (state == MraState.Proposed) return MraStatus.Proposed;
        if (today < mra.effectiveFrom) return MraStatus.NotYetInForce;
        return MraStatus.InForce;
    }

    function _recognition(MraRecord storage mra, uint8 tiers, uint256 issuerIndex)
        private
        view
        returns (RecognitionReason)
    {
        MraStatus status = _status(mra);
        if (status == MraStatus.Terminated) return RecognitionReason.MraTerminated;
        if (status == MraStatus.Ended) return RecognitionReason.MraEnded;
        if (status == MraStatus.Suspended) return RecognitionReason.MraSuspended;
        if (status == MraStatus.Proposed) return RecognitionReason.MraNotSigned;
        if (status == MraStatus.NotYetInForce) return RecognitionReason.MraNotYetInForce;
        if (tiers & mra.recognizedTiers[issuerIndex] == 0) return RecognitionReason.TierNotCovered;
        return RecognitionReason.Recognized;
    }

    /// @dev How close a refusal is to recognition (higher = closer), to pick among several MRAs.
    function _closeness(RecognitionReason reason) private pure returns (uint256) {
        if (reason == RecognitionReason.TierNotCovered) return 6;
        if (reason == RecognitionReason.MraNotYetInForce) return 5;
        if (reason == RecognitionReason.MraSuspended) return 4;
        if (reason == RecognitionReason.MraNotSigned) return 3;
        if (reason == RecognitionReason.MraEnded) return 2;
        if (reason == RecognitionReason.MraTerminated) return 1;
        return 0; // NoMra
    }

    function _today() private view returns (uint256) {
        return block.timestamp / 1 days;
    }
}
