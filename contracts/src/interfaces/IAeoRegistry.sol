// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IAuthorities} from "./IAuthorities.sol";
import {ICertificates} from "./ICertificates.sol";

/// @title The deployed registry: authorities and certificates in one contract
/// @notice One contract so that a certificate write reads its caller's account with one cold
/// SLOAD instead of a cross-contract call.
interface IAeoRegistry is IAuthorities, ICertificates {}
