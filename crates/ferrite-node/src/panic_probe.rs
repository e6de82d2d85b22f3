//! `panicForTesting`: a panic made on purpose, for the test that a panic inside a binding call
//! reaches JS as an `InternalError` and leaves the process running (test/public-api.test.ts).
//! No input can make the binding panic, so that test needs this export. It panics only in a
//! process whose environment had `FERRITE_PANIC_PROBE=1` at its first call, and is an
//! `InvalidArgument` error everywhere else, so a stray call from an application cannot panic.

use std::sync::LazyLock;

use ferrite_core::Error;
use napi_derive::napi;

use crate::convert::guard;

#[napi]
pub fn panic_for_testing() -> napi::Result<(), String> {
    const OP: &str = "panicForTesting";
    const ENABLING_VARIABLE: &str = "FERRITE_PANIC_PROBE";
    // Read once: after the first call, changing the environment no longer turns the probe on or off.
    static ENABLED: LazyLock<bool> =
        LazyLock::new(|| std::env::var_os(ENABLING_VARIABLE).is_some_and(|value| value == "1"));
    guard(OP, || {
        if !*ENABLED {
            return Err(Error::invalid(
                OP,
                format!("exists only for Ferrite's own test of its panic guard; it panics only where {ENABLING_VARIABLE}=1 was in the environment at the first call"),
            ));
        }
        panic!("a deliberate panic, to test the binding's panic guard")
    })
}
