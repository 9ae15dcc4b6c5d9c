// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Bridge
/// @notice Peg-out requests of the Alys sidechain, predeployed at
/// 0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB by the chain's genesis.
///
/// A user burns sidechain BTC with `requestPegOut(bitcoinAddress)`; the federation reads the
/// `RequestPegOut` log from the block's receipts and pays the burned amount, less its share of
/// the Bitcoin fee, to that address.
///
/// Rules (each a custom error):
/// - the value is a whole number of sats (1 sat = 10^10 wei): nothing is rounded away;
/// - the value is at least `minPegOutSats` sats, and never zero;
/// - the address is 14 to 90 bytes of ASCII letters and digits (every Bitcoin address format:
///   base58, bech32 and bech32m); whether it is valid for the chain's Bitcoin network is
///   checked by the node, which refunds a request it cannot pay.
///
/// The burned value stays in this contract for good: the contract has no code path that moves
/// ether, no `receive` and no `fallback` (plain transfers and unknown calls revert), no owner and
/// no upgrade. The runtime code is placed in the genesis state, so no constructor ever runs: the
/// minimum lives in storage slot 0, written by the genesis `storage` of the account from the
/// chain spec's `minPegOutSats`.
contract Bridge {
    /// @notice Wei per satoshi.
    uint256 public constant WEI_PER_SAT = 1e10;
    /// @notice Shortest accepted Bitcoin address, in bytes ("bc1" + version + 2-byte program + checksum).
    uint256 public constant MIN_ADDRESS_LENGTH = 14;
    /// @notice Longest accepted Bitcoin address, in bytes (the bech32 limit of BIP-173).
    uint256 public constant MAX_ADDRESS_LENGTH = 90;

    /// @notice Smallest peg-out in sats (storage slot 0, set in the genesis state).
    uint256 public minPegOutSats;

    /// @notice A peg-out request: `value` wei (a whole number of sats) burned by `evmAddress`, to
    /// be paid to `bitcoinAddress` (the UTF-8 bytes of the address string).
    event RequestPegOut(address indexed evmAddress, bytes bitcoinAddress, uint256 value);

    /// @notice The value is not a whole number of sats.
    error NotWholeSats(uint256 value);
    /// @notice The value is zero or below the minimum (`minimum` in wei).
    error BelowMinimum(uint256 value, uint256 minimum);
    /// @notice The address is shorter than `MIN_ADDRESS_LENGTH` or longer than `MAX_ADDRESS_LENGTH`.
    error AddressLength(uint256 length);
    /// @notice The byte at `index` of the address is not an ASCII letter or digit.
    error AddressCharacter(uint256 index);

    /// @notice Burns `msg.value` and requests its payout to `bitcoinAddress` on Bitcoin.
    /// @param bitcoinAddress the Bitcoin address as a wallet shows it, as UTF-8 bytes.
    function requestPegOut(bytes calldata bitcoinAddress) external payable {
        uint256 value = msg.value;
        if (value % WEI_PER_SAT != 0) revert NotWholeSats(value);
        uint256 minimum = minPegOutSats * WEI_PER_SAT;
        if (value == 0 || value < minimum) revert BelowMinimum(value, minimum);
        uint256 length = bitcoinAddress.length;
        if (length < MIN_ADDRESS_LENGTH || length > MAX_ADDRESS_LENGTH) revert AddressLength(length);
        for (uint256 i = 0; i < length; ++i) {
            bytes1 c = bitcoinAddress[i];
            bool alphanumeric = (c >= "0" && c <= "9") || (c >= "A" && c <= "Z") || (c >= "a" && c <= "z");
            if (!alphanumeric) revert AddressCharacter(i);
        }
        emit RequestPegOut(msg.sender, bitcoinAddress, value);
    }
}
