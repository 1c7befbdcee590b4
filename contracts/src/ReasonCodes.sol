// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title Reason codes of certificate transitions, and which operation accepts which
/// @notice A reason is a code from this table, never free text, so that partners and KPIs can
/// count them. The numbering leaves gaps between groups so a group can grow without renumbering.
/// The table with descriptions is docs/reason-codes.md.
library ReasonCodes {
    // Findings: suspension and revocation
    uint8 internal constant FAILED_AUDIT = 1; // failed post-authorization audit
    uint8 internal constant NON_COMPLIANCE = 2;
    uint8 internal constant HOLDER_REQUEST = 3;
    uint8 internal constant CEASED_TRADING = 4;
    uint8 internal constant FRAUD = 5;
    uint8 internal constant ADMINISTRATIVE_ERROR = 6;
    uint8 internal constant INSOLVENCY = 7;
    uint8 internal constant SECURITY_BREACH = 8;
    // Reinstatement
    uint8 internal constant REMEDIED = 16;
    uint8 internal constant SUSPENDED_IN_ERROR = 17;
    // Amendment
    uint8 internal constant DATA_CHANGE = 32; // name or address
    uint8 internal constant TIER_CHANGE = 33;
    uint8 internal constant SITES_CHANGE = 34;
    uint8 internal constant CORRECTION = 35;
    // Renewal
    uint8 internal constant REASSESSED = 48;

    uint64 private constant _BIT = 1;

    // Allowed sets: bit n set = code n accepted. Fraud and ceased trading are final, so they
    // revoke but never suspend.
    uint64 internal constant SUSPEND = (_BIT << FAILED_AUDIT) | (_BIT << NON_COMPLIANCE) | (_BIT << HOLDER_REQUEST)
        | (_BIT << ADMINISTRATIVE_ERROR) | (_BIT << INSOLVENCY) | (_BIT << SECURITY_BREACH);
    uint64 internal constant REVOKE = SUSPEND | (_BIT << CEASED_TRADING) | (_BIT << FRAUD);
    uint64 internal constant REINSTATE = (_BIT << REMEDIED) | (_BIT << SUSPENDED_IN_ERROR);
    uint64 internal constant AMEND = (_BIT << DATA_CHANGE) | (_BIT << TIER_CHANGE) | (_BIT << SITES_CHANGE) | (_BIT << CORRECTION);
    uint64 internal constant RENEW = _BIT << REASSESSED;

    /// @dev True when `allowed` contains `reason`. Codes of 64 and above are in no set: shifting a
    /// 64-bit mask by 64 or more leaves 0.
    function isAllowed(uint64 allowed, uint8 reason) internal pure returns (bool) {
        return (allowed >> reason) & 1 == 1;
    }
}
