// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title BaselineHashRegistry
/// @notice The comparison point for the gas report, not part of the product: the smallest useful
/// hash registry, shaped like OpenAttestation's DocumentStore (a role-checked issuer records a bare
/// 32-byte document hash with the block it was issued in, and later marks it revoked). It stores
/// no issuer, tier, validity, holder or version, so what AeoRegistry spends above it is the price
/// of those fields.
contract BaselineHashRegistry {
    /// @dev Same role shape as OpenZeppelin AccessControl, so the role check costs what
    /// DocumentStore's does (one nested-mapping SLOAD).
    bytes32 public constant ISSUER_ROLE = keccak256("ISSUER_ROLE");

    mapping(bytes32 role => mapping(address account => bool)) private _roles;
    mapping(bytes32 document => uint256 blockNumber) private _issued;
    mapping(bytes32 document => uint256 blockNumber) private _revoked;

    error BaselineUnauthorizedAccount(address account, bytes32 neededRole);
    error BaselineDocumentAlreadyIssued(bytes32 document);
    error BaselineDocumentNotIssued(bytes32 document);
    error BaselineDocumentAlreadyRevoked(bytes32 document);

    event DocumentIssued(bytes32 indexed document);
    event DocumentRevoked(bytes32 indexed document);

    constructor() {
        _roles[ISSUER_ROLE][msg.sender] = true;
    }

    modifier onlyIssuer() {
        if (!_roles[ISSUER_ROLE][msg.sender]) {
            revert BaselineUnauthorizedAccount(msg.sender, ISSUER_ROLE);
        }
        _;
    }

    /// @notice Records `document` as issued in the current block.
    /// Requirements:
    /// - the caller holds ISSUER_ROLE;
    /// - `document` was not issued before.
    function issue(bytes32 document) external onlyIssuer {
        if (_issued[document] != 0) revert BaselineDocumentAlreadyIssued(document);
        _issued[document] = block.number;
        emit DocumentIssued(document);
    }

    /// @notice Marks `document` revoked in the current block.
    /// Requirements:
    /// - the caller holds ISSUER_ROLE;
    /// - `document` was issued and is not revoked.
    function revoke(bytes32 document) external onlyIssuer {
        if (_issued[document] == 0) revert BaselineDocumentNotIssued(document);
        if (_revoked[document] != 0) revert BaselineDocumentAlreadyRevoked(document);
        _revoked[document] = block.number;
        emit DocumentRevoked(document);
    }

    /// @notice Whether `document` was issued.
    function isIssued(bytes32 document) external view returns (bool) {
        return _issued[document] != 0;
    }

    /// @notice Whether `document` was revoked.
    function isRevoked(bytes32 document) external view returns (bool) {
        return _revoked[document] != 0;
    }
}
