//! Chain-level helpers of the consensus tests, shared with the peg tests through
//! `alys_test_utils::blocks`.

#![allow(dead_code)]

// Each test file uses a part of these.
#[allow(unused_imports)]
pub(crate) use alys_test_utils::blocks::*;
#[allow(unused_imports)]
pub(crate) use alys_test_utils::el::Engine;
#[allow(unused_imports)]
pub(crate) use alys_test_utils::federation::{
    init_tracing, manual_time, open_chain as open_chain_on, run_federation, signer,
    RunningFederation, TestNode,
};
