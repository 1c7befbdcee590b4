// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title The tiers bit set of a certificate, and of what an MRA recognizes
/// @notice One byte serves every program; each program documents which bits it uses
/// (docs/contracts.md has the table):
/// - EU: AEOC = CUSTOMS_SIMPLIFICATIONS, AEOS = SECURITY_SAFETY, AEOF = both bits.
/// - Graded programs (Korea A / AA / AAA): the certificate carries exactly one grade bit,
///   optionally with the C/S bits describing its scope.
/// - A generic national program with a single tier: SECURITY_SAFETY (the WCO SAFE tier), plus
///   CUSTOMS_SIMPLIFICATIONS when the program grants simplifications.
/// An MRA recognizes a certificate when its tiers and the recognized tiers of its issuer share at
/// least one bit (an MRA that recognizes "AA and above" sets GRADE_AA | GRADE_AAA).
library Tiers {
    uint8 internal constant CUSTOMS_SIMPLIFICATIONS = 1 << 0; // C
    uint8 internal constant SECURITY_SAFETY = 1 << 1; // S
    uint8 internal constant GRADE_A = 1 << 2;
    uint8 internal constant GRADE_AA = 1 << 3;
    uint8 internal constant GRADE_AAA = 1 << 4;
    /// @dev Bits 5..7 are reserved for future programs; the contracts refuse them today.
    uint8 internal constant RESERVED = 0xE0;

    /// @dev A certificate's tiers: at least one bit, none reserved.
    function isValidCertificateTiers(uint8 tiers) internal pure returns (bool) {
        return tiers != 0 && tiers & RESERVED == 0;
    }

    /// @dev An MRA's recognized tiers for one party: no reserved bit (0 = nothing of it recognized).
    function isValidRecognizedTiers(uint8 tiers) internal pure returns (bool) {
        return tiers & RESERVED == 0;
    }
}
