//! Sequences of durable-handle operations (opens with and without
//! durability and caching, dropped connections, logoffs, reconnects with
//! right and wrong create GUID, lease key, user and id, closes, expiry)
//! checked step by step against the plain model the property test of
//! tests/durable.rs uses (tests/support/durable_model.rs).
#![no_main]

#[path = "../../tests/support/durable_model.rs"]
mod durable_model;

use durable_model::Op;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

/// [`Op`], as fuzz bytes give it (the model keeps each field in range).
#[derive(Arbitrary, Debug, Clone, Copy)]
enum FuzzOp {
    Open { client: u8, file: u8, cache: u8, durable: u8, share: u8, lock: bool },
    Disconnect(u8),
    Logoff(u8),
    Reconnect { client: u8, handle: u8, wrong: u8 },
    Close(u8),
    Expire,
}

impl FuzzOp {
    fn op(self) -> Op {
        let c = |x: u8| usize::from(x % 3);
        match self {
            FuzzOp::Open { client, file, cache, durable, share, lock } => Op::Open {
                client: c(client),
                file: u64::from(file % 3),
                cache: cache % 4,
                durable: durable % 3,
                share: share % 4,
                lock,
            },
            FuzzOp::Disconnect(x) => Op::Disconnect { client: c(x) },
            FuzzOp::Logoff(x) => Op::Logoff { client: c(x) },
            FuzzOp::Reconnect { client, handle, wrong } => {
                Op::Reconnect { client: c(client), handle: usize::from(handle), wrong: wrong % 5 }
            }
            FuzzOp::Close(h) => Op::Close { handle: usize::from(h) },
            FuzzOp::Expire => Op::Expire,
        }
    }
}

fuzz_target!(|ops: Vec<FuzzOp>| {
    let ops: Vec<Op> = ops.into_iter().take(64).map(FuzzOp::op).collect();
    if let Err(e) = durable_model::run(&ops) {
        panic!("the table and the durable model differ: {e}");
    }
});
