//! Fuzz target: markup stripping, entity decoding, tokenisation and full classification must
//! never panic and must keep every score in range, whatever the bytes; the fast VADER must
//! equal the reference crate. The property lives in `check.rs`, which the stable test
//! `fuzz_property_holds_on_seeded_random_inputs` (tests/classify_cli.rs) also runs.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;

include!("check.rs");

static CHECKER: LazyLock<Checker> = LazyLock::new(Checker::new);

fuzz_target!(|data: &[u8]| {
    CHECKER.check_input(data);
});
