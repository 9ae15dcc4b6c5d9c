// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// A minimal ERC-20 plus functions that exercise the eth RPC's revert, gas and environment paths
/// (used by the RPC tests in crates/evm/tests and the end-to-end scripts in tests/e2e).
contract RpcTestToken {
    string public name = "Test Token";
    string public symbol = "TST";
    uint8 public constant decimals = 18;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    uint256 public scratch;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    error InsufficientBalance(uint256 available, uint256 required);

    constructor(uint256 supply) {
        totalSupply = supply;
        balanceOf[msg.sender] = supply;
        emit Transfer(address(0), msg.sender, supply);
    }

    function transfer(address to, uint256 value) external returns (bool) {
        uint256 bal = balanceOf[msg.sender];
        if (bal < value) revert InsufficientBalance(bal, value);
        unchecked {
            balanceOf[msg.sender] = bal - value;
        }
        balanceOf[to] += value;
        emit Transfer(msg.sender, to, value);
        return true;
    }

    function approve(address spender, uint256 value) external returns (bool) {
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        require(allowance[from][msg.sender] >= value, "allowance exceeded");
        require(balanceOf[from] >= value, "balance exceeded");
        allowance[from][msg.sender] -= value;
        balanceOf[from] -= value;
        balanceOf[to] += value;
        emit Transfer(from, to, value);
        return true;
    }

    /// Always reverts with `Error(string)`.
    function failRequire() external pure {
        require(false, "always fails");
    }

    /// Panics with code 0x12 when `d` is zero.
    function divide(uint256 n, uint256 d) external pure returns (uint256) {
        return n / d;
    }

    /// Needs far more gas available than it uses (the pattern that defeats naive estimates).
    function needsGas(uint256 minimum) external {
        require(gasleft() >= minimum, "not enough gas left");
        scratch += 1;
    }

    /// Sets then clears storage: the refund makes gas used lower than the gas needed.
    function setAndClear(uint256 n) external {
        for (uint256 i = 0; i < n; i++) {
            scratch = i + 1;
        }
        scratch = 0;
    }

    /// Reads the block's base fee and number (checks the eth_call environment).
    function env() external view returns (uint256 baseFee, uint256 number, uint256 chainId) {
        return (block.basefee, block.number, block.chainid);
    }
}
