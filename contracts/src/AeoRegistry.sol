// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Authorities} from "./Authorities.sol";
import {Certificates} from "./Certificates.sol";
import {IAeoRegistry} from "./interfaces/IAeoRegistry.sol";
import {ROLE_OPERATOR} from "./interfaces/IAuthorities.sol";

/// @title The AEO registry: consortium members, their accounts and keys, and their certificates
/// @notice One deployed contract so that a certificate write authorizes its caller with one cold
/// SLOAD of the caller's packed account slot, instead of a cross-contract call.
contract AeoRegistry is IAeoRegistry, Authorities, Certificates {
    /// @param voteThresholdBps_ share of the members not removed, in basis points, whose approval
    /// executes a membership proposal (5001 = strict majority, the least accepted)
    /// @param proposalLifetime_ seconds a membership proposal stays open
    constructor(uint16 voteThresholdBps_, uint32 proposalLifetime_)
        Authorities(voteThresholdBps_, proposalLifetime_)
    {}

    function _requireActiveOperator(address account) internal view override returns (bytes4) {
        return _requireActiveRole(account, ROLE_OPERATOR);
    }

    function _isMemberCode(bytes4 code) internal view override returns (bool) {
        return _authorityStatus(code) != AuthorityStatus.None;
    }
}
