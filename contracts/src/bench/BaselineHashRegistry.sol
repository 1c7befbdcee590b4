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
    /// @return the role that may issue and revoke: keccak256("ISSUER_ROLE")
    bytes32 public constant ISSUER_ROLE = keccak256("ISSUER_ROLE");

    mapping(bytes32 role => mapping(address account => bool)) private _roles;
    mapping(bytes32 document => uint256 blockNumber) private _issued;
    mapping(bytes32 document => uint256 blockNumber) private _revoked;

    /// @dev The caller does not hold the role.
    /// @param account the caller
    /// @param neededRole the role it lacks (ISSUER_ROLE)
    error BaselineUnauthorizedAccount(address account, bytes32 neededRole);
    /// @dev The document was issued before.
    /// @param document the document hash given
    error BaselineDocumentAlreadyIssued(bytes32 document);
    /// @dev The document was never issued.
    /// @param document the document hash given
    error BaselineDocumentNotIssued(bytes32 document);
    /// @dev The document was revoked before.
    /// @param document the document hash given
    error BaselineDocumentAlreadyRevoked(bytes32 document);

    /// @notice A document was issued.
    /// @param document the document's hash
    event DocumentIssued(bytes32 indexed document);
    /// @notice A document was revoked.
    /// @param document the document's hash
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
    /// @dev Emits a {DocumentIssued} event.
    ///
    /// Requirements:
    ///
    /// - the caller holds ISSUER_ROLE;
    /// - `document` was not issued before.
    /// @param document the document's hash
    function issue(bytes32 document) external onlyIssuer {
        if (_issued[document] != 0) revert BaselineDocumentAlreadyIssued(document);
        _issued[document] = block.number;
        emit DocumentIssued(document);
    }

    /// @notice Marks `document` revoked in the current block.
    /// @dev Emits a {DocumentRevoked} event.
    ///
    /// Requirements:
    ///
    /// - the caller holds ISSUER_ROLE;
    /// - `document` was issued and is not revoked.
    /// @param document the document's hash
    function revoke(bytes32 document) external onlyIssuer {
        if (_issued[document] == 0) revert BaselineDocumentNotIssued(document);
        if (_revoked[document] != 0) revert BaselineDocumentAlreadyRevoked(document);
        _revoked[document] = block.number;
        emit DocumentRevoked(document);
    }

    /// @notice Whether `document` was issued.
    /// @param document the document's hash
    /// @return true once it was issued (revoked or not)
    function isIssued(bytes32 document) external view returns (bool) {
        return _issued[document] != 0;
    }

    /// @notice Whether `document` was revoked.
    /// @param document the document's hash
    /// @return true once it was revoked
    function isRevoked(bytes32 document) external view returns (bool) {
        return _revoked[document] != 0;
    }
}
