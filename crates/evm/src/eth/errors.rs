//! JSON-RPC errors with Geth's codes and messages, so wallets and tools recognise them.

use alloy_primitives::{Bytes, U256};
use jsonrpsee::types::{ErrorObject, ErrorObjectOwned};
use revm::context::result::{EVMError, HaltReason, InvalidTransaction, OutOfGasError};

/// Geth's generic server error code.
pub(crate) const SERVER_ERROR: i32 = -32000;
/// Code of a reverted execution (`eth_call`, `eth_estimateGas`).
pub(crate) const EXECUTION_REVERTED: i32 = 3;
/// Invalid method parameters.
pub(crate) const INVALID_PARAMS: i32 = -32602;
/// Internal error.
pub(crate) const INTERNAL_ERROR: i32 = -32603;
/// A limit of the server was exceeded (EIP-1474 "limit exceeded").
pub(crate) const LIMIT_EXCEEDED: i32 = -32005;

/// An error without data.
pub(crate) fn rpc_err(code: i32, message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObject::owned(code, message.into(), None::<()>)
}

/// Geth's `-32000` error with `message`.
pub(crate) fn server_err(message: impl Into<String>) -> ErrorObjectOwned {
    rpc_err(SERVER_ERROR, message)
}

/// `-32602 invalid params`.
pub(crate) fn invalid_params(message: impl Into<String>) -> ErrorObjectOwned {
    rpc_err(INVALID_PARAMS, message)
}

/// `-32603`, for failures of the node itself.
pub(crate) fn internal(e: impl std::fmt::Display) -> ErrorObjectOwned {
    rpc_err(INTERNAL_ERROR, e.to_string())
}

/// Geth's answer for an unknown block.
pub(crate) fn header_not_found() -> ErrorObjectOwned {
    server_err("header not found")
}

/// Solidity `Panic(uint256)` reasons as Geth's `abi.UnpackRevert` spells them.
fn panic_reason(code: U256) -> String {
    let known = match code.try_into() {
        Ok(0x00u64) => Some("generic panic"),
        Ok(0x01) => Some("assert(false)"),
        Ok(0x11) => Some("arithmetic underflow or overflow"),
        Ok(0x12) => Some("division or modulo by zero"),
        Ok(0x21) => Some("enum overflow"),
        Ok(0x22) => Some("invalid encoded storage byte array accessed"),
        Ok(0x31) => Some("out-of-bounds array access; popping on an empty array"),
        Ok(0x32) => Some("out-of-bounds access of an array or bytesN"),
        Ok(0x41) => Some("out of memory"),
        Ok(0x51) => Some("uninitialized function"),
        _ => None,
    };
    match known {
        Some(r) => r.to_string(),
        None => format!("unknown panic code: {code:#x}"),
    }
}

/// Decodes `Error(string)` and `Panic(uint256)` revert data; `None` for anything else (custom
/// errors, empty data).
pub(crate) fn decode_revert_reason(data: &[u8]) -> Option<String> {
    const ERROR: [u8; 4] = [0x08, 0xc3, 0x79, 0xa0];
    const PANIC: [u8; 4] = [0x4e, 0x48, 0x7b, 0x71];
    let (selector, body) = (data.get(..4)?, data.get(4..)?);
    if selector == PANIC {
        let word = body.get(..32)?;
        return Some(panic_reason(U256::from_be_slice(word)));
    }
    if selector != ERROR {
        return None;
    }
    let word = |i: usize| -> Option<usize> {
        let w = body.get(i..i.checked_add(32)?)?;
        usize::try_from(U256::from_be_slice(w)).ok()
    };
    let offset = word(0)?;
    let len = word(offset)?;
    let start = offset.checked_add(32)?;
    let bytes = body.get(start..start.checked_add(len)?)?;
    String::from_utf8(bytes.to_vec()).ok()
}

/// Geth's revert error: code 3, `execution reverted[: reason]`, `data` = the revert bytes.
pub(crate) fn revert_err(output: &Bytes) -> ErrorObjectOwned {
    let message = match decode_revert_reason(output) {
        Some(reason) => format!("execution reverted: {reason}"),
        None => "execution reverted".to_string(),
    };
    ErrorObject::owned(EXECUTION_REVERTED, message, Some(output.clone()))
}

/// Geth's wording of an exceptional halt.
pub(crate) fn halt_message(reason: &HaltReason, gas_limit: u64) -> String {
    match reason {
        HaltReason::OutOfGas(OutOfGasError::Basic | OutOfGasError::ReentrancySentry) => {
            "out of gas".into()
        }
        HaltReason::OutOfGas(OutOfGasError::Memory | OutOfGasError::MemoryLimit) => {
            "out of gas: out of memory".into()
        }
        HaltReason::OutOfGas(OutOfGasError::InvalidOperand) => {
            "out of gas: gas uint64 overflow".into()
        }
        HaltReason::OutOfGas(OutOfGasError::Precompile) => "out of gas".into(),
        HaltReason::OpcodeNotFound | HaltReason::InvalidFEOpcode | HaltReason::NotActivated => {
            "invalid opcode".into()
        }
        HaltReason::InvalidJump => "invalid jump destination".into(),
        HaltReason::StackUnderflow => "stack underflow".into(),
        HaltReason::StackOverflow => "stack limit reached 1024 (1023)".into(),
        HaltReason::OutOfOffset => "return data out of bounds".into(),
        HaltReason::CreateCollision => "contract address collision".into(),
        HaltReason::CreateContractSizeLimit => "max code size exceeded".into(),
        HaltReason::CreateContractStartingWithEF => "invalid code: must not begin with 0xef".into(),
        HaltReason::CreateInitCodeSizeLimit => "max initcode size exceeded".into(),
        HaltReason::StateChangeDuringStaticCall | HaltReason::CallNotAllowedInsideStatic => {
            "write protection".into()
        }
        HaltReason::OutOfFunds => "insufficient balance for transfer".into(),
        HaltReason::CallTooDeep => "max call depth exceeded".into(),
        HaltReason::NonceOverflow => "nonce uint64 overflow".into(),
        other => format!("{other} (gas limit {gas_limit})"),
    }
}

/// Geth's wording of a transaction that cannot be executed at all.
pub(crate) fn invalid_tx_message(e: &InvalidTransaction) -> String {
    match e {
        InvalidTransaction::LackOfFundForMaxFee { fee, balance } => {
            format!("insufficient funds for gas * price + value: have {balance} want {fee}")
        }
        InvalidTransaction::GasPriceLessThanBasefee => {
            "max fee per gas less than block base fee".into()
        }
        InvalidTransaction::PriorityFeeGreaterThanMaxFee => {
            "max priority fee per gas higher than max fee per gas".into()
        }
        InvalidTransaction::CallerGasLimitMoreThanBlock => "exceeds block gas limit".into(),
        InvalidTransaction::CallGasCostMoreThanGasLimit {
            initial_gas,
            gas_limit,
        } => format!("intrinsic gas too low: have {gas_limit}, want {initial_gas}"),
        InvalidTransaction::GasFloorMoreThanGasLimit {
            gas_floor,
            gas_limit,
        } => {
            format!("insufficient gas for floor data gas cost: have {gas_limit}, want {gas_floor}")
        }
        InvalidTransaction::RejectCallerWithCode => "sender not an eoa".into(),
        InvalidTransaction::NonceTooHigh { tx, state } => {
            format!("nonce too high: tx {tx} state {state}")
        }
        InvalidTransaction::NonceTooLow { tx, state } => {
            format!("nonce too low: tx {tx} state {state}")
        }
        InvalidTransaction::CreateInitCodeSizeLimit => "max initcode size exceeded".into(),
        InvalidTransaction::InvalidChainId => "invalid chain id".into(),
        other => other.to_string(),
    }
}

/// Maps a failed EVM run (the transaction could not execute at all) to an RPC error.
pub(crate) fn evm_err<E: std::fmt::Display>(e: EVMError<E>) -> ErrorObjectOwned {
    match e {
        EVMError::Transaction(t) => server_err(invalid_tx_message(&t)),
        EVMError::Header(h) => server_err(h.to_string()),
        EVMError::Database(d) => internal(d),
        EVMError::Custom(c) => server_err(c),
        other => server_err(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::hex;

    #[test]
    fn decodes_error_string() {
        // Error("Insufficient balance")
        let data = hex::decode(concat!(
            "08c379a0",
            "0000000000000000000000000000000000000000000000000000000000000020",
            "0000000000000000000000000000000000000000000000000000000000000014",
            "496e73756666696369656e742062616c616e6365000000000000000000000000"
        ))
        .expect("hex");
        assert_eq!(
            decode_revert_reason(&data).as_deref(),
            Some("Insufficient balance")
        );
        let err = revert_err(&Bytes::from(data));
        assert_eq!(err.code(), 3);
        assert_eq!(err.message(), "execution reverted: Insufficient balance");
    }

    #[test]
    fn decodes_panic_and_ignores_custom_errors() {
        let mut data = hex::decode("4e487b71").expect("hex");
        data.extend_from_slice(&U256::from(0x11).to_be_bytes::<32>());
        assert_eq!(
            decode_revert_reason(&data).as_deref(),
            Some("arithmetic underflow or overflow")
        );
        let custom = Bytes::from(hex::decode("deadbeef").expect("hex"));
        assert_eq!(decode_revert_reason(&custom), None);
        assert_eq!(revert_err(&custom).message(), "execution reverted");
        assert_eq!(revert_err(&Bytes::new()).message(), "execution reverted");
        // Truncated or hostile offsets never panic.
        let mut bad = hex::decode("08c379a0").expect("hex");
        bad.extend_from_slice(&[0xff; 32]);
        assert_eq!(decode_revert_reason(&bad), None);
    }
}
