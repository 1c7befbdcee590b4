// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {ICertificates} from "./interfaces/ICertificates.sol";
import {ReasonCodes} from "./ReasonCodes.sol";
import {Tiers} from "./Tiers.sol";

/// @title AEO certificates, one storage slot each
/// @notice See {ICertificates}. Abstract: deployed as part of {AeoRegistry}, which supplies the
/// caller's authority through `_requireActiveOperator`.
abstract contract Certificates is ICertificates {
    /// @dev One slot per certificate (4 + 1 + 1 + 2 + 2 + 2 + 20 = 32 bytes), so issuing costs one
    /// fresh SSTORE and a transition one read and one rewrite. Packed by hand, low-order bits
    /// first, exactly where Solidity would place the fields of
    /// `struct { bytes4 issuer; uint8 tiers; CertificateStatus status; uint16 validFrom;
    /// uint16 validUntil; uint16 version; bytes20 digest; }`: the compiler's struct code re-reads
    /// and re-masks the slot for every field (with abi.encodePacked hashing, ~1,250 gas more per
    /// issuance). docs/contracts.md has the bit table.
    /// The holder reference and commitment are bound through `digest`; their full values are in events.
    struct PackedRecord {
        uint256 bits;
    }

    /// @dev A struct rather than a bare uint256 so that a transition computes the slot once and
    /// keeps a storage pointer to it.
    mapping(bytes32 id => PackedRecord) private _records;

    uint256 private constant _TIERS_SHIFT = 32;
    uint256 private constant _STATUS_SHIFT = 40;
    uint256 private constant _VALID_FROM_SHIFT = 48;
    uint256 private constant _VALID_UNTIL_SHIFT = 64;
    uint256 private constant _VERSION_SHIFT = 80;
    uint256 private constant _DIGEST_SHIFT = 96;
    /// @dev The stored status as a raw byte; comparing raw bytes skips the enum range checks.
    uint256 private constant _NONE = uint8(CertificateStatus.None);
    uint256 private constant _ACTIVE = uint8(CertificateStatus.Active);
    uint256 private constant _SUSPENDED = uint8(CertificateStatus.Suspended);
    uint256 private constant _REVOKED = uint8(CertificateStatus.Revoked);

    // ---------------------------------------------------------------- writes

    /// @inheritdoc ICertificates
    function issue(
        bytes32 number,
        uint8 tiers,
        uint16 validFrom,
        uint16 validUntil,
        bytes32 holderRef,
        bytes32 commitment
    ) external returns (bytes32 id) {
        bytes4 issuer = _requireActiveOperator(msg.sender);
        id = _issue(issuer, number, tiers, validFrom, validUntil, holderRef, commitment);
    }

    /// @inheritdoc ICertificates
    function issueBatch(Issuance[] calldata batch) external {
        bytes4 issuer = _requireActiveOperator(msg.sender);
        if (batch.length == 0) revert CertificateBatchEmpty();
        for (uint256 i = 0; i < batch.length; ++i) {
            Issuance calldata item = batch[i];
            _issue(issuer, item.number, item.tiers, item.validFrom, item.validUntil, item.holderRef, item.commitment);
        }
    }

    /// @inheritdoc ICertificates
    function amend(bytes32 id, uint8 tiers, bytes32 holderRef, bytes32 commitment, uint8 reason) external {
        (PackedRecord storage slot, uint256 record, bytes4 issuer) = _loadForWrite(id, reason, ReasonCodes.AMEND);
        if (!Tiers.isValidCertificateTiers(tiers)) revert CertificateInvalidTiers(tiers);
        uint16 version = uint16(record >> _VERSION_SHIFT) + 1;
        record = _with(record, _TIERS_SHIFT, 0xff, tiers);
        record = _with(record, _VERSION_SHIFT, 0xffff, version);
        record = _with(record, _DIGEST_SHIFT, type(uint160).max, uint160(_recordDigest(holderRef, commitment)));
        slot.bits = record;
        emit CertificateAmended(id, issuer, version, tiers, holderRef, commitment, reason, msg.sender);
    }

    /// @inheritdoc ICertificates
    function renew(bytes32 id, uint16 validUntil, uint8 reason) external {
        (PackedRecord storage slot, uint256 record, bytes4 issuer) = _loadForWrite(id, reason, ReasonCodes.RENEW);
        _requireStatus(id, record, _ACTIVE);
        uint16 current = uint16(record >> _VALID_UNTIL_SHIFT);
        if (validUntil <= current) revert CertificateRenewalNotLater(id, current, validUntil);
        slot.bits = _with(record, _VALID_UNTIL_SHIFT, 0xffff, validUntil);
        emit CertificateRenewed(id, issuer, validUntil, reason, msg.sender);
    }

    /// @inheritdoc ICertificates
    function suspend(bytes32 id, uint8 reason) external {
        (PackedRecord storage slot, uint256 record, bytes4 issuer) = _loadForWrite(id, reason, ReasonCodes.SUSPEND);
        _requireStatus(id, record, _ACTIVE);
        _setStatus(id, slot, record, issuer, _SUSPENDED, reason);
    }

    /// @inheritdoc ICertificates
    function reinstate(bytes32 id, uint8 reason) external {
        (PackedRecord storage slot, uint256 record, bytes4 issuer) = _loadForWrite(id, reason, ReasonCodes.REINSTATE);
        _requireStatus(id, record, _SUSPENDED);
        _setStatus(id, slot, record, issuer, _ACTIVE, reason);
    }

    /// @inheritdoc ICertificates
    function revoke(bytes32 id, uint8 reason) external {
        // Active or Suspended: _loadForWrite already refused a revoked certificate.
        (PackedRecord storage slot, uint256 record, bytes4 issuer) = _loadForWrite(id, reason, ReasonCodes.REVOKE);
        _setStatus(id, slot, record, issuer, _REVOKED, reason);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc ICertificates
    function getCertificate(bytes32 id) external view returns (CertificateView memory) {
        uint256 record = _records[id].bits;
        return CertificateView({
            id: id,
            issuer: bytes4(uint32(record)),
            tiers: uint8(record >> _TIERS_SHIFT),
            status: CertificateStatus(_status(record)),
            effectiveStatus: _effectiveStatus(record),
            validFrom: uint16(record >> _VALID_FROM_SHIFT),
            validUntil: uint16(record >> _VALID_UNTIL_SHIFT),
            version: uint16(record >> _VERSION_SHIFT),
            digest: bytes20(uint160(record >> _DIGEST_SHIFT))
        });
    }

    /// @inheritdoc ICertificates
    function statusOf(bytes32 id) external view returns (EffectiveStatus) {
        return _effectiveStatus(_records[id].bits);
    }

    /// @inheritdoc ICertificates
    function certificateId(bytes4 issuer, bytes32 number) external pure returns (bytes32) {
        return _certificateId(issuer, number);
    }

    /// @inheritdoc ICertificates
    function recordDigest(bytes32 holderRef, bytes32 commitment) external pure returns (bytes20) {
        return _recordDigest(holderRef, commitment);
    }

    // ---------------------------------------------------------------- internal

    /// @dev The Active authority `account` is an OPERATOR of; reverts otherwise.
    function _requireActiveOperator(address account) internal view virtual returns (bytes4);

    /// @dev Whether `code` was ever admitted (whatever its status now).
    function _isMemberCode(bytes4 code) internal view virtual returns (bool);

    function _issue(
        bytes4 issuer,
        bytes32 number,
        uint8 tiers,
        uint16 validFrom,
        uint16 validUntil,
        bytes32 holderRef,
        bytes32 commitment
    ) private returns (bytes32 id) {
        if (number == 0) revert CertificateInvalidNumber(number);
        bytes4 prefix = _codePrefix(number);
        // The usual number starts with the issuer's own code and costs no lookup.
        if (prefix != 0 && prefix != issuer && _isMemberCode(prefix)) {
            revert CertificateNumberOfAnotherMember(number, prefix, issuer);
        }
        if (!Tiers.isValidCertificateTiers(tiers)) revert CertificateInvalidTiers(tiers);
        if (validUntil < validFrom) revert CertificateInvalidValidity(validFrom, validUntil);
        id = _certificateId(issuer, number);
        PackedRecord storage slot = _records[id];
        // The issuer code is never zero, so a stored record is never zero.
        if (slot.bits != 0) revert CertificateAlreadyExists(id);
        slot.bits = uint256(uint32(issuer)) | (uint256(tiers) << _TIERS_SHIFT)
            | (_ACTIVE << _STATUS_SHIFT) | (uint256(validFrom) << _VALID_FROM_SHIFT)
            | (uint256(validUntil) << _VALID_UNTIL_SHIFT) | (uint256(1) << _VERSION_SHIFT)
            | (uint256(uint160(_recordDigest(holderRef, commitment))) << _DIGEST_SHIFT);
        emit CertificateIssued(id, issuer, number, tiers, validFrom, validUntil, holderRef, commitment, msg.sender);
    }

    /// @dev The checks every transition shares, in this order: the caller is an OPERATOR of an
    /// Active authority; `reason` is in `allowed`; the certificate exists, belongs to the
    /// caller's authority and is not revoked. Returns the slot, its record and the issuer.
    function _loadForWrite(bytes32 id, uint8 reason, uint64 allowed)
        private
        view
        returns (PackedRecord storage slot, uint256 record, bytes4 issuer)
    {
        bytes4 caller = _requireActiveOperator(msg.sender);
        if (!ReasonCodes.isAllowed(allowed, reason)) revert CertificateReasonNotAllowed(reason, allowed);
        slot = _records[id];
        record = slot.bits;
        if (record == 0) revert CertificateUnknown(id);
        issuer = bytes4(uint32(record));
        if (issuer != caller) revert CertificateNotIssuer(id, issuer, caller);
        if (_status(record) == _REVOKED) revert CertificateAlreadyRevoked(id);
    }

    function _requireStatus(bytes32 id, uint256 record, uint256 expected) private pure {
        uint256 current = _status(record);
        if (current != expected) {
            revert CertificateStatusMismatch(id, CertificateStatus(current), CertificateStatus(expected));
        }
    }

    function _setStatus(
        bytes32 id,
        PackedRecord storage slot,
        uint256 record,
        bytes4 issuer,
        uint256 status,
        uint8 reason
    ) private {
        slot.bits = _with(record, _STATUS_SHIFT, 0xff, status);
        emit CertificateStatusChanged(id, issuer, CertificateStatus(status), reason, msg.sender);
    }

    /// @dev The authority code `number` starts with, as `bytes4` (left-aligned, zero-padded): its
    /// leading upper-case letters when there are 2 to 4 of them and the next byte is not a letter
    /// (a separator, a digit, or the zero padding after the number's end); zero otherwise.
    /// `contracts/ids.py` (`number_prefix`) is the same rule in Python.
    function _codePrefix(bytes32 number) private pure returns (bytes4) {
        // The first five bytes tested at once (SWAR) rather than in a loop over `number[i]`: this
        // runs on every issuance, and the whole prefix check costs ~330 gas so, ~740 with the
        // loop (docs/contracts.md, "Gas"). For a byte x with its top bit
        // clear, x + 0x3f has it set from "A" (0x41) on, and x + 0x25 from "[" (0x5b) on; no sum
        // carries into the next byte. Bit 7 of each byte of `letters` is set for an upper-case
        // letter.
        uint256 top = uint256(number) >> 216;
        uint256 letters;
        unchecked {
            uint256 low = top & 0x7f7f7f7f7f;
            letters = (low + 0x3f3f3f3f3f) & ~(low + 0x2525252525) & ~top & 0x8080808080;
        }
        // A code of 2, 3 or 4 letters: that many flags set, then a clear one.
        bytes4 mask;
        if ((letters >> 16) & 0x808080 == 0x808000) mask = 0xffff0000;
        else if ((letters >> 8) & 0x80808080 == 0x80808000) mask = 0xffffff00;
        else if (letters == 0x8080808000) mask = 0xffffffff;
        else return 0;
        return bytes4(number) & mask;
    }

    /// @dev `record` with the field at `shift` (of width `mask`) replaced by `value`.
    function _with(uint256 record, uint256 shift, uint256 mask, uint256 value) private pure returns (uint256) {
        return (record & ~(mask << shift)) | (value << shift);
    }

    function _status(uint256 record) private pure returns (uint256) {
        return uint8(record >> _STATUS_SHIFT);
    }

    /// @dev Precedence Revoked > Expired > Suspended > NotYetValid > Active: a revoked certificate
    /// stays revoked after its end date, and an expired one reads expired even while suspended
    /// (reinstating it would not make it valid).
    function _effectiveStatus(uint256 record) private view returns (EffectiveStatus) {
        uint256 status = _status(record);
        if (status == _NONE) return EffectiveStatus.Unknown;
        if (status == _REVOKED) return EffectiveStatus.Revoked;
        uint256 today = block.timestamp / 1 days;
        if (today > uint16(record >> _VALID_UNTIL_SHIFT)) return EffectiveStatus.Expired;
        if (status == _SUSPENDED) return EffectiveStatus.Suspended;
        if (today < uint16(record >> _VALID_FROM_SHIFT)) return EffectiveStatus.NotYetValid;
        return EffectiveStatus.Active;
    }

    /// @dev keccak256(abi.encodePacked(issuer, number)), hashed in the scratch space so that the
    /// hot path allocates no memory.
    function _certificateId(bytes4 issuer, bytes32 certificateNumber) private pure returns (bytes32 id) {
        assembly ("memory-safe") {
            mstore(0x00, issuer)
            mstore(0x04, certificateNumber)
            id := keccak256(0x00, 0x24)
        }
    }

    /// @dev bytes20(keccak256(abi.encodePacked(holderRef, commitment))), in the scratch space.
    function _recordDigest(bytes32 holderRef, bytes32 commitment) private pure returns (bytes20 digest) {
        bytes32 hash;
        assembly ("memory-safe") {
            mstore(0x00, holderRef)
            mstore(0x20, commitment)
            hash := keccak256(0x00, 0x40)
        }
        digest = bytes20(hash);
    }
}
