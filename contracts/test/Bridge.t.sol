// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Vm} from "forge-std/Vm.sol";
import {Bridge} from "../src/Bridge.sol";

/// @notice Unit and fuzz tests of the Bridge as the genesis places it: runtime code at the
/// predeploy address, the minimum written into storage slot 0, no constructor.
///
/// Checks revert with a message (a revert fails the test); forge-std's npm distribution ships
/// without the `ds-test` library its `Test` contract builds on, so only its `Vm` cheatcode
/// interface is used.
contract BridgeTest {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    address internal constant BRIDGE = 0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB;
    uint256 internal constant MIN_SATS = 10_000;
    uint256 internal constant WEI_PER_SAT = 1e10;
    address internal constant USER = 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266;

    bytes internal constant REGTEST_P2WPKH = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";
    bytes internal constant REGTEST_P2TR = "bcrt1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqc8gma6";
    bytes internal constant REGTEST_P2PKH = "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn";
    bytes internal constant MAINNET_P2WSH = "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3";

    Bridge internal bridge;

    event RequestPegOut(address indexed evmAddress, bytes bitcoinAddress, uint256 value);

    function setUp() public {
        vm.etch(BRIDGE, address(new Bridge()).code);
        vm.store(BRIDGE, bytes32(0), bytes32(MIN_SATS));
        bridge = Bridge(BRIDGE);
        vm.deal(USER, 1_000_000 ether);
        vm.deal(address(this), 1_000_000 ether);
    }

    // ---- checks ----

    function check(bool ok, string memory what) internal pure {
        require(ok, what);
    }

    function eq(uint256 a, uint256 b, string memory what) internal pure {
        require(a == b, what);
    }

    /// Calls `requestPegOut` from this contract and returns the outcome and return data.
    function request(bytes memory btcAddress, uint256 value) internal returns (bool, bytes memory) {
        return BRIDGE.call{value: value}(abi.encodeCall(Bridge.requestPegOut, (btcAddress)));
    }

    /// Asserts that `requestPegOut(btcAddress)` with `value` reverts with exactly `expected`.
    function expectRejected(bytes memory btcAddress, uint256 value, bytes memory expected) internal {
        uint256 before = BRIDGE.balance;
        (bool ok, bytes memory ret) = request(btcAddress, value);
        check(!ok, "the request must revert");
        check(keccak256(ret) == keccak256(expected), "wrong revert reason");
        eq(BRIDGE.balance, before, "a rejected request leaves the Bridge balance unchanged");
    }

    function sats(uint256 n) internal pure returns (uint256) {
        return n * WEI_PER_SAT;
    }

    // ---- accepted requests ----

    function test_request_emits_the_event_and_keeps_the_value() public {
        uint256 value = sats(MIN_SATS);
        vm.expectEmit(true, true, true, true, BRIDGE);
        emit RequestPegOut(USER, REGTEST_P2WPKH, value);
        vm.prank(USER);
        bridge.requestPegOut{value: value}(REGTEST_P2WPKH);
        eq(BRIDGE.balance, value, "the burned value stays at the Bridge");
        eq(USER.balance, 1_000_000 ether - value, "the sender paid the value");
    }

    function test_every_address_format_is_accepted() public {
        bytes[4] memory addresses = [REGTEST_P2WPKH, REGTEST_P2TR, REGTEST_P2PKH, MAINNET_P2WSH];
        for (uint256 i = 0; i < addresses.length; ++i) {
            vm.expectEmit(true, true, true, true, BRIDGE);
            emit RequestPegOut(address(this), addresses[i], sats(MIN_SATS + i));
            bridge.requestPegOut{value: sats(MIN_SATS + i)}(addresses[i]);
        }
        eq(BRIDGE.balance, sats(4 * MIN_SATS + 6), "four burns kept");
    }

    function test_minimum_is_read_from_storage_slot_0() public {
        eq(bridge.minPegOutSats(), MIN_SATS, "minPegOutSats()");
        vm.store(BRIDGE, bytes32(0), bytes32(uint256(50_000)));
        eq(bridge.minPegOutSats(), 50_000, "minPegOutSats() after a new genesis value");
        expectRejected(
            REGTEST_P2WPKH, sats(49_999), abi.encodeWithSelector(Bridge.BelowMinimum.selector, sats(49_999), sats(50_000))
        );
        bridge.requestPegOut{value: sats(50_000)}(REGTEST_P2WPKH);
    }

    function test_address_length_bounds_are_inclusive() public {
        bytes memory shortest = "bc1qqqqqqqqqqq";
        eq(shortest.length, bridge.MIN_ADDRESS_LENGTH(), "shortest");
        bridge.requestPegOut{value: sats(MIN_SATS)}(shortest);
        bytes memory longest = new bytes(bridge.MAX_ADDRESS_LENGTH());
        for (uint256 i = 0; i < longest.length; ++i) {
            longest[i] = "q";
        }
        bridge.requestPegOut{value: sats(MIN_SATS)}(longest);
    }

    // ---- rejected requests ----

    function test_value_below_the_minimum_reverts() public {
        uint256 minimum = sats(MIN_SATS);
        expectRejected(
            REGTEST_P2WPKH,
            minimum - WEI_PER_SAT,
            abi.encodeWithSelector(Bridge.BelowMinimum.selector, minimum - WEI_PER_SAT, minimum)
        );
    }

    function test_zero_value_reverts_even_without_a_minimum() public {
        vm.store(BRIDGE, bytes32(0), bytes32(0));
        expectRejected(REGTEST_P2WPKH, 0, abi.encodeWithSelector(Bridge.BelowMinimum.selector, 0, 0));
        bridge.requestPegOut{value: sats(1)}(REGTEST_P2WPKH);
    }

    function test_value_that_is_not_whole_sats_reverts() public {
        uint256 value = sats(MIN_SATS) + 1;
        expectRejected(REGTEST_P2WPKH, value, abi.encodeWithSelector(Bridge.NotWholeSats.selector, value));
        expectRejected(REGTEST_P2WPKH, 1, abi.encodeWithSelector(Bridge.NotWholeSats.selector, 1));
    }

    function test_address_too_short_or_too_long_reverts() public {
        uint256 value = sats(MIN_SATS);
        expectRejected("", value, abi.encodeWithSelector(Bridge.AddressLength.selector, 0));
        expectRejected("bc1qqqqqqqqqq", value, abi.encodeWithSelector(Bridge.AddressLength.selector, 13));
        bytes memory tooLong = new bytes(91);
        for (uint256 i = 0; i < tooLong.length; ++i) {
            tooLong[i] = "q";
        }
        expectRejected(tooLong, value, abi.encodeWithSelector(Bridge.AddressLength.selector, 91));
    }

    function test_address_with_a_foreign_character_reverts() public {
        uint256 value = sats(MIN_SATS);
        expectRejected(
            " bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080",
            value,
            abi.encodeWithSelector(Bridge.AddressCharacter.selector, 0)
        );
        expectRejected(
            "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt08\x00",
            value,
            abi.encodeWithSelector(Bridge.AddressCharacter.selector, 43)
        );
        expectRejected(
            "bcrt1q-508d6qejxtdg4y5r3zarvary0c5xw7kygt080",
            value,
            abi.encodeWithSelector(Bridge.AddressCharacter.selector, 6)
        );
        expectRejected(
            hex"62637274317177353038643671656a787464673479357233c3a9",
            value,
            abi.encodeWithSelector(Bridge.AddressCharacter.selector, 24)
        );
    }

    function test_plain_transfer_reverts() public {
        (bool ok,) = BRIDGE.call{value: 1 ether}("");
        check(!ok, "a plain transfer must revert");
        eq(BRIDGE.balance, 0, "nothing kept");
    }

    function test_unknown_call_reverts_with_or_without_value() public {
        (bool ok,) = BRIDGE.call{value: 1 ether}(abi.encodeWithSignature("deposit()"));
        check(!ok, "an unknown call with value must revert");
        (ok,) = BRIDGE.call(abi.encodeWithSignature("withdraw(uint256)", 1));
        check(!ok, "an unknown call must revert");
        (ok,) = BRIDGE.call{value: 1 ether}(hex"00");
        check(!ok, "short calldata must revert");
        eq(BRIDGE.balance, 0, "nothing kept");
    }

    function test_view_function_refuses_value() public {
        (bool ok,) = BRIDGE.call{value: sats(1)}(abi.encodeWithSignature("minPegOutSats()"));
        check(!ok, "minPegOutSats() is not payable");
    }

    // ---- fuzzed ----

    /// Any whole number of sats at or above the minimum is accepted and kept in full.
    function testFuzz_whole_sats_at_or_above_the_minimum_are_accepted(uint64 amountSats, address sender) public {
        vm.assume(amountSats >= MIN_SATS);
        // An ordinary account: not the Bridge, a precompile, the cheatcode address or a contract.
        vm.assume(uint160(sender) > 0xff && sender != BRIDGE && sender != address(vm) && sender.code.length == 0);
        uint256 value = sats(amountSats);
        vm.deal(sender, value);
        vm.expectEmit(true, true, true, true, BRIDGE);
        emit RequestPegOut(sender, REGTEST_P2TR, value);
        vm.prank(sender);
        bridge.requestPegOut{value: value}(REGTEST_P2TR);
        eq(BRIDGE.balance, value, "the whole value is kept");
        eq(sender.balance, 0, "the sender paid it all");
    }

    /// Any value that is not a multiple of 10^10 wei reverts with `NotWholeSats`.
    function testFuzz_fractional_sats_revert(uint256 value) public {
        value = value % (100 ether);
        vm.assume(value % WEI_PER_SAT != 0);
        expectRejected(REGTEST_P2WPKH, value, abi.encodeWithSelector(Bridge.NotWholeSats.selector, value));
    }

    /// Any whole number of sats below the minimum reverts with `BelowMinimum`.
    function testFuzz_below_the_minimum_reverts(uint256 amountSats) public {
        amountSats = amountSats % MIN_SATS;
        expectRejected(
            REGTEST_P2WPKH,
            sats(amountSats),
            abi.encodeWithSelector(Bridge.BelowMinimum.selector, sats(amountSats), sats(MIN_SATS))
        );
    }

    /// Arbitrary address bytes: accepted exactly when the length is within bounds and every
    /// byte is an ASCII letter or digit, otherwise rejected with the error naming the rule.
    function testFuzz_arbitrary_address_bytes(bytes memory btcAddress) public {
        bytes memory expected = expectedAddressError(btcAddress);
        if (expected.length == 0) {
            uint256 before = BRIDGE.balance;
            (bool ok,) = request(btcAddress, sats(MIN_SATS));
            check(ok, "a well-formed address must be accepted");
            eq(BRIDGE.balance, before + sats(MIN_SATS), "value kept");
        } else {
            expectRejected(btcAddress, sats(MIN_SATS), expected);
        }
    }

    /// Random alphanumeric addresses of every accepted length are accepted.
    function testFuzz_alphanumeric_addresses_are_accepted(uint256 seed, uint8 lengthSeed) public {
        uint256 length = 14 + (uint256(lengthSeed) % 77);
        bytes memory alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        bytes memory btcAddress = new bytes(length);
        for (uint256 i = 0; i < length; ++i) {
            btcAddress[i] = alphabet[uint256(keccak256(abi.encode(seed, i))) % alphabet.length];
        }
        vm.expectEmit(true, true, true, true, BRIDGE);
        emit RequestPegOut(address(this), btcAddress, sats(MIN_SATS));
        bridge.requestPegOut{value: sats(MIN_SATS)}(btcAddress);
    }

    /// The error the Bridge must give for `btcAddress` (empty when it is well formed).
    function expectedAddressError(bytes memory btcAddress) internal pure returns (bytes memory) {
        if (btcAddress.length < 14 || btcAddress.length > 90) {
            return abi.encodeWithSelector(Bridge.AddressLength.selector, btcAddress.length);
        }
        for (uint256 i = 0; i < btcAddress.length; ++i) {
            uint8 c = uint8(btcAddress[i]);
            bool ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
            if (!ok) return abi.encodeWithSelector(Bridge.AddressCharacter.selector, i);
        }
        return "";
    }
}
